import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { waitForHealth, formatGoDuration, formatObjectId } from '../../shared/health/wait.js';
import type { GetObject } from '../../shared/health/wait.js';
import type { KubeObject, ObjectRef } from '../../shared/health/types.js';
import { ValidationError } from '../../shared/util/errors.js';

const webRef: ObjectRef = { group: 'apps', kind: 'Deployment', namespace: 'apps', name: 'web' };
const cfgRef: ObjectRef = { group: '', kind: 'ConfigMap', namespace: 'apps', name: 'web-config' };
const crdRef: ObjectRef = { group: 'apiextensions.k8s.io', kind: 'CustomResourceDefinition', name: 'widgets.example.com' };

function deploymentAt(ready: number, opts: { deadlineExceeded?: boolean } = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'apps', generation: 2 },
    spec: { replicas: 2, progressDeadlineSeconds: 600 },
    status: {
      observedGeneration: 2,
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: ready,
      availableReplicas: ready,
      conditions: [
        { type: 'Available', status: ready === 2 ? 'True' : 'False' },
        opts.deadlineExceeded
          ? { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-1" has timed out progressing.' }
          : { type: 'Progressing', status: 'True', reason: ready === 2 ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated' },
      ],
    },
  };
}

const configMap: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web-config', namespace: 'apps' }, data: {} };

/** A fake cluster: each ref has a list of states, one per call; the last one repeats. */
function fakeCluster(states: Map<ObjectRef, (KubeObject | null | Error)[]>) {
  const calls = new Map<ObjectRef, number>();
  const get: GetObject = async (ref) => {
    const list = states.get(ref);
    if (!list) throw new Error(`unexpected ref ${formatObjectId(ref)}`);
    const n = calls.get(ref) ?? 0;
    calls.set(ref, n + 1);
    const s = list[Math.min(n, list.length - 1)];
    if (s instanceof Error) throw s;
    return s === undefined ? null : s === null ? null : structuredClone(s);
  };
  return { get, calls };
}

describe('waitForHealth', () => {
  test('returns ok once every object becomes Current, polling all objects each round', async () => {
    const { get, calls } = fakeCluster(
      new Map<ObjectRef, (KubeObject | null | Error)[]>([
        [webRef, [deploymentAt(0), deploymentAt(1), deploymentAt(2)]],
        [cfgRef, [configMap]],
      ]),
    );
    const r = await waitForHealth([webRef, cfgRef], { get, timeoutMs: 5_000, intervalMs: 5 });
    assert.equal(r.ok, true);
    assert.equal(r.outcome, 'Current');
    assert.equal(r.message, '');
    assert.equal(r.rounds, 3);
    assert.equal(calls.get(webRef), 3);
    assert.equal(calls.get(cfgRef), 3);
    assert.deepEqual(
      r.objects.map((o) => [o.id, o.status, o.message]),
      [
        ['Deployment/apps/web', 'Current', 'Deployment is available. Replicas: 2'],
        ['ConfigMap/apps/web-config', 'Current', 'Resource is always ready'],
      ],
    );
  });

  test('fetches the objects of one round concurrently', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const get: GetObject = async (ref) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return ref === webRef ? deploymentAt(2) : configMap;
    };
    const r = await waitForHealth([webRef, cfgRef], { get, timeoutMs: 5_000, intervalMs: 5 });
    assert.equal(r.ok, true);
    assert.equal(maxInFlight, 2);
  });

  test('fails fast on a Failed object and names it with its message', async () => {
    const { get, calls } = fakeCluster(
      new Map<ObjectRef, (KubeObject | null | Error)[]>([
        [webRef, [deploymentAt(0), deploymentAt(0, { deadlineExceeded: true })]],
        [cfgRef, [configMap]],
      ]),
    );
    const r = await waitForHealth([webRef, cfgRef], { get, timeoutMs: 60_000, intervalMs: 5 });
    assert.equal(r.ok, false);
    assert.equal(r.outcome, 'Failed');
    assert.equal(r.rounds, 2);
    assert.equal(calls.get(webRef), 2);
    assert.equal(r.message, "failed early due to stalled resources: [Deployment/apps/web status: 'Failed': Progress deadline exceeded]");
  });

  test('lists every failed object', async () => {
    const job: KubeObject = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'migrate', namespace: 'apps' },
      spec: {},
      status: { startTime: '2025-03-01T11:00:00Z', failed: 2, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] },
    };
    const jobRef: ObjectRef = { group: 'batch', kind: 'Job', namespace: 'apps', name: 'migrate' };
    const { get } = fakeCluster(
      new Map<ObjectRef, (KubeObject | null | Error)[]>([
        [webRef, [deploymentAt(0, { deadlineExceeded: true })]],
        [jobRef, [job]],
        [cfgRef, [configMap]],
      ]),
    );
    const r = await waitForHealth([webRef, jobRef, cfgRef], { get, timeoutMs: 60_000, intervalMs: 5 });
    assert.equal(r.outcome, 'Failed');
    assert.equal(
      r.message,
      "failed early due to stalled resources: [Deployment/apps/web status: 'Failed': Progress deadline exceeded, " +
        "Job/apps/migrate status: 'Failed': Job Failed. failed: 2/1]",
    );
  });

  test('times out listing objects not ready, Flux style; NotFound is not ready', async () => {
    const { get } = fakeCluster(
      new Map<ObjectRef, (KubeObject | null | Error)[]>([
        [webRef, [deploymentAt(1)]],
        [cfgRef, [configMap]],
        [crdRef, [null]],
      ]),
    );
    const r = await waitForHealth([webRef, cfgRef, crdRef], { get, timeoutMs: 60, intervalMs: 10 });
    assert.equal(r.ok, false);
    assert.equal(r.outcome, 'Timeout');
    assert.equal(
      r.message,
      "timeout waiting for: [Deployment/apps/web status: 'InProgress', CustomResourceDefinition/widgets.example.com status: 'NotFound']",
    );
    assert.deepEqual(
      r.objects.map((o) => o.status),
      ['InProgress', 'Current', 'NotFound'],
    );
    // kstatus checks available before ready replicas.
    assert.equal(r.objects[0]!.message, 'Available: 1/2');
  });

  test('an object that appears later is waited for', async () => {
    const { get } = fakeCluster(new Map<ObjectRef, (KubeObject | null | Error)[]>([[webRef, [null, null, deploymentAt(2)]]]));
    const r = await waitForHealth([webRef], { get, timeoutMs: 5_000, intervalMs: 5 });
    assert.equal(r.ok, true);
    assert.equal(r.rounds, 3);
  });

  test('fetch errors are Unknown, the wait goes on, and the error shows on timeout', async () => {
    const { get } = fakeCluster(
      new Map<ObjectRef, (KubeObject | null | Error)[]>([[webRef, [new Error('connection refused'), deploymentAt(2)]]]),
    );
    const recovered = await waitForHealth([webRef], { get, timeoutMs: 5_000, intervalMs: 5 });
    assert.equal(recovered.ok, true);

    const broken = fakeCluster(new Map<ObjectRef, (KubeObject | null | Error)[]>([[webRef, [new Error('forbidden: cannot get deployments')]]]));
    const r = await waitForHealth([webRef], { get: broken.get, timeoutMs: 40, intervalMs: 10 });
    assert.equal(r.outcome, 'Timeout');
    assert.equal(r.message, "timeout waiting for: [Deployment/apps/web status: 'Unknown': forbidden: cannot get deployments]");
  });

  test('a fetch that never answers is cut off by the timeout and reported as undetermined', async () => {
    let sawAbort = false;
    const get: GetObject = (_ref, signal) =>
      new Promise((_resolve, reject) => {
        signal?.addEventListener('abort', () => {
          sawAbort = true;
          reject(new Error('aborted'));
        });
      });
    const r = await waitForHealth([webRef], { get, timeoutMs: 30, intervalMs: 10 });
    assert.equal(r.outcome, 'Timeout');
    assert.equal(r.rounds, 1);
    assert.equal(r.message, "timeout waiting for: [can't determine status for Deployment/apps/web]");
    assert.equal(r.objects[0]!.observed, false);
    assert.equal(sawAbort, true);
  });

  test('the caller can cancel', async () => {
    const ctl = new AbortController();
    const { get } = fakeCluster(new Map<ObjectRef, (KubeObject | null | Error)[]>([[webRef, [deploymentAt(1)]]]));
    setTimeout(() => ctl.abort(), 30);
    const r = await waitForHealth([webRef], { get, timeoutMs: 60_000, intervalMs: 10, signal: ctl.signal });
    assert.equal(r.ok, false);
    assert.equal(r.outcome, 'Cancelled');
    assert.equal(r.message, "health check cancelled while waiting for: [Deployment/apps/web status: 'InProgress']");
  });

  test('duplicate refs are checked once; an empty list is healthy', async () => {
    const { get, calls } = fakeCluster(new Map<ObjectRef, (KubeObject | null | Error)[]>([[cfgRef, [configMap]]]));
    const r = await waitForHealth([cfgRef, { ...cfgRef }], { get, timeoutMs: 1_000, intervalMs: 5 });
    assert.equal(r.ok, true);
    assert.equal(r.objects.length, 1);
    assert.equal(calls.get(cfgRef), 1);

    const empty = await waitForHealth([], { get, timeoutMs: 1_000 });
    assert.equal(empty.ok, true);
    assert.equal(empty.rounds, 0);
  });

  test('status options reach computeStatus', async () => {
    const svc: KubeObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'lb', namespace: 'apps' },
      spec: { type: 'LoadBalancer', clusterIP: '10.96.0.20' },
      status: { loadBalancer: {} },
    };
    const svcRef: ObjectRef = { group: '', kind: 'Service', namespace: 'apps', name: 'lb' };
    const { get } = fakeCluster(new Map<ObjectRef, (KubeObject | null | Error)[]>([[svcRef, [svc]]]));
    assert.equal((await waitForHealth([svcRef], { get, timeoutMs: 1_000, intervalMs: 5 })).ok, true);
    const strict = await waitForHealth([svcRef], { get, timeoutMs: 30, intervalMs: 10, statusOptions: { requireLoadBalancerIngress: true } });
    assert.equal(strict.outcome, 'Timeout');
  });

  test('rejects bad options', async () => {
    const get: GetObject = async () => null;
    await assert.rejects(waitForHealth([webRef], { get, timeoutMs: -1 }), ValidationError);
    await assert.rejects(waitForHealth([webRef], { get, timeoutMs: 10, intervalMs: 0 }), ValidationError);
  });
});

test('formatGoDuration matches Go time.Duration.String', () => {
  assert.equal(formatGoDuration(0), '0s');
  assert.equal(formatGoDuration(34.971383), '34.971383ms');
  assert.equal(formatGoDuration(0.0015), '1.5µs');
  assert.equal(formatGoDuration(0.000001), '1ns');
  assert.equal(formatGoDuration(1_000), '1s');
  assert.equal(formatGoDuration(1_500), '1.5s');
  assert.equal(formatGoDuration(600_038.239667), '10m0.038239667s');
  assert.equal(formatGoDuration(180_000), '3m0s');
  assert.equal(formatGoDuration(3_723_000), '1h2m3s');
  assert.equal(formatGoDuration(-2_000), '-2s');
});

test('formatObjectId', () => {
  assert.equal(formatObjectId(webRef), 'Deployment/apps/web');
  assert.equal(formatObjectId(crdRef), 'CustomResourceDefinition/widgets.example.com');
});

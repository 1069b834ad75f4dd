import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { waitForHealth, formatObjectId } from '../../shared/health/wait.js';
import { formatGoDuration } from '../../shared/util/duration.js';
import type { GetObject } from '../../shared/health/wait.js';
import type { KubeObject, ObjectRef } from '../../shared/health/types.js';
import { ValidationError } from '../../shared/util/errors.js';

const webRef: ObjectRef = { group: 'apps', kind: 'Deployment', namespace: 'apps', name: 'web' };
const cfgRef: ObjectRef = { group: '', kind: 'ConfigMap', namespace: 'apps', name: 'web-config' };
const crdRef: ObjectRef = { group: 'apiextensions.k8s.io', kind: 'CustomResourceDefinition', namespace: '', name: 'widgets.example.com' };

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

  test('initial: the first round uses the known object instead of fetching it', async () => {
    const { get, calls } = fakeCluster(
      new Map<ObjectRef, (KubeObject | null | Error)[]>([
        [webRef, [deploymentAt(0)]],
        [cfgRef, [configMap]],
      ]),
    );
    const asked: string[] = [];
    const initial = (ref: ObjectRef) => {
      asked.push(formatObjectId(ref));
      return ref === webRef ? deploymentAt(2) : undefined;
    };
    const r = await waitForHealth([webRef, cfgRef, { ...webRef }], { get, timeoutMs: 5_000, intervalMs: 5, initial });
    assert.equal(r.ok, true, r.message);
    assert.equal(r.rounds, 1);
    // The live Deployment (not ready) was never fetched: the known, ready one decided.
    assert.equal(calls.get(webRef), undefined);
    // No known object: fetched as usual.
    assert.equal(calls.get(cfgRef), 1);
    assert.deepEqual(asked, ['Deployment/apps/web', 'ConfigMap/apps/web-config'], 'asked once per (deduplicated) object');
  });

  test('initial is used in the first round only; later rounds fetch', async () => {
    const { get, calls } = fakeCluster(new Map<ObjectRef, (KubeObject | null | Error)[]>([[webRef, [deploymentAt(1), deploymentAt(2)]]]));
    let asked = 0;
    const initial = () => {
      asked++;
      return deploymentAt(0);
    };
    const r = await waitForHealth([webRef], { get, timeoutMs: 5_000, intervalMs: 5, initial });
    assert.equal(r.ok, true, r.message);
    // Round 1: the known object (0 ready); round 2: fetch (1 ready); round 3: fetch (2 ready).
    assert.equal(r.rounds, 3);
    assert.equal(calls.get(webRef), 2);
    assert.equal(asked, 1);
  });

  test('initial: a known Failed object fails fast without a fetch', async () => {
    const { get, calls } = fakeCluster(new Map<ObjectRef, (KubeObject | null | Error)[]>([[webRef, [deploymentAt(2)]]]));
    const r = await waitForHealth([webRef], { get, timeoutMs: 5_000, intervalMs: 5, initial: () => deploymentAt(0, { deadlineExceeded: true }) });
    assert.equal(r.outcome, 'Failed');
    assert.equal(r.rounds, 1);
    assert.equal(calls.get(webRef), undefined);
  });

  test('recheckCurrent: false does not fetch an object again once it was seen Current', async () => {
    const states = () =>
      new Map<ObjectRef, (KubeObject | null | Error)[]>([
        [webRef, [deploymentAt(0), deploymentAt(1), deploymentAt(2)]],
        [cfgRef, [configMap]],
      ]);
    const once = fakeCluster(states());
    const r = await waitForHealth([webRef, cfgRef], { get: once.get, timeoutMs: 5_000, intervalMs: 5, recheckCurrent: false });
    assert.equal(r.ok, true, r.message);
    assert.equal(r.rounds, 3);
    assert.equal(once.calls.get(webRef), 3);
    assert.equal(once.calls.get(cfgRef), 1, 'Current in round 1, not fetched in rounds 2 and 3');
    assert.equal(r.objects[1]!.status, 'Current');

    // The default (Flux's behaviour) fetches every object every round.
    const every = fakeCluster(states());
    const d = await waitForHealth([webRef, cfgRef], { get: every.get, timeoutMs: 5_000, intervalMs: 5 });
    assert.equal(d.rounds, 3);
    assert.equal(every.calls.get(cfgRef), 3);
  });

  test('recheckCurrent: false keeps an object Current even if it would regress; the default sees the regression', async () => {
    const states = () =>
      new Map<ObjectRef, (KubeObject | null | Error)[]>([
        [webRef, [deploymentAt(2), deploymentAt(1)]],
        [cfgRef, [null, null, configMap]],
      ]);
    const once = fakeCluster(states());
    const r = await waitForHealth([webRef, cfgRef], { get: once.get, timeoutMs: 5_000, intervalMs: 5, recheckCurrent: false });
    assert.equal(r.ok, true, r.message);
    assert.equal(r.rounds, 3);
    assert.equal(once.calls.get(webRef), 1);

    const every = fakeCluster(states());
    const d = await waitForHealth([webRef, cfgRef], { get: every.get, timeoutMs: 80, intervalMs: 5 });
    assert.equal(d.outcome, 'Timeout');
    assert.equal(d.message, "timeout waiting for: [Deployment/apps/web status: 'InProgress']");
  });

  test('initial + recheckCurrent: false: an object known Current is never fetched', async () => {
    const { get, calls } = fakeCluster(
      new Map<ObjectRef, (KubeObject | null | Error)[]>([
        [webRef, [deploymentAt(0)]],
        [cfgRef, [null, null, configMap]],
      ]),
    );
    const r = await waitForHealth([webRef, cfgRef], {
      get,
      timeoutMs: 5_000,
      intervalMs: 5,
      recheckCurrent: false,
      initial: (ref) => (ref === webRef ? deploymentAt(2) : undefined),
    });
    assert.equal(r.ok, true, r.message);
    assert.equal(r.rounds, 3);
    assert.equal(calls.get(webRef), undefined);
    assert.equal(calls.get(cfgRef), 3);
  });

  test('initialIntervalMs: the time between rounds starts there and doubles up to intervalMs', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { get, calls } = fakeCluster(new Map<ObjectRef, (KubeObject | null | Error)[]>([[webRef, [deploymentAt(1)]]]));
    const ctl = new AbortController();
    const waiting = waitForHealth([webRef], { get, timeoutMs: 60_000, intervalMs: 40, initialIntervalMs: 5, signal: ctl.signal });
    // Runs everything that is ready without moving the (mocked) clock.
    const settle = async () => {
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    };
    await settle();
    assert.equal(calls.get(webRef), 1);
    const rounds: number[] = [];
    for (const sleep of [5, 10, 20, 40, 40, 40]) {
      t.mock.timers.tick(sleep - 1);
      await settle();
      assert.equal(calls.get(webRef), rounds.length + 1, `no new round 1 ms before the ${sleep} ms sleep ends`);
      t.mock.timers.tick(1);
      await settle();
      rounds.push(calls.get(webRef)!);
    }
    assert.deepEqual(rounds, [2, 3, 4, 5, 6, 7]);
    ctl.abort();
    const r = await waiting;
    assert.equal(r.outcome, 'Cancelled');
    assert.equal(r.rounds, 7);
  });

  test('initialIntervalMs above intervalMs is capped at intervalMs', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { get, calls } = fakeCluster(new Map<ObjectRef, (KubeObject | null | Error)[]>([[webRef, [deploymentAt(1)]]]));
    const ctl = new AbortController();
    const waiting = waitForHealth([webRef], { get, timeoutMs: 60_000, intervalMs: 10, initialIntervalMs: 1_000, signal: ctl.signal });
    const settle = async () => {
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    };
    await settle();
    for (let i = 2; i <= 4; i++) {
      t.mock.timers.tick(10);
      await settle();
      assert.equal(calls.get(webRef), i);
    }
    ctl.abort();
    assert.equal((await waiting).rounds, 4);
  });

  test('initialIntervalMs: a backing-off wait polls fewer rounds than a constant short interval', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const constant = fakeCluster(new Map<ObjectRef, (KubeObject | null | Error)[]>([[webRef, [deploymentAt(1)]]]));
    const backoff = fakeCluster(new Map<ObjectRef, (KubeObject | null | Error)[]>([[webRef, [deploymentAt(1)]]]));
    const ctl = new AbortController();
    const waits = Promise.all([
      waitForHealth([webRef], { get: constant.get, timeoutMs: 60_000, intervalMs: 5, signal: ctl.signal }),
      waitForHealth([webRef], { get: backoff.get, timeoutMs: 60_000, intervalMs: 40, initialIntervalMs: 5, signal: ctl.signal }),
    ]);
    const settle = async () => {
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    };
    // 400 ms of (mocked) time, a millisecond at a time.
    await settle();
    for (let ms = 0; ms < 400; ms++) {
      t.mock.timers.tick(1);
      await settle();
    }
    ctl.abort();
    const [c, b] = await waits;
    assert.equal(constant.calls.get(webRef), c.rounds);
    assert.equal(backoff.calls.get(webRef), b.rounds);
    // Constant 5 ms sleeps: 81 rounds. Backoff 5, 10, 20, then 40 ms: 3 + (400 - 35) / 40 rounds.
    assert.equal(c.rounds, 1 + 400 / 5);
    assert.equal(b.rounds, 1 + 3 + Math.floor((400 - 35) / 40));
  });

  // 0 or a negative initialIntervalMs would never back off (0 * 2 = 0).
  test('rejects a bad initialIntervalMs', async () => {
    const get: GetObject = async () => null;
    for (const initialIntervalMs of [0, -5, Number.NaN]) {
      await assert.rejects(waitForHealth([webRef], { get, timeoutMs: 50, intervalMs: 10, initialIntervalMs }), ValidationError, `initialIntervalMs ${initialIntervalMs}`);
    }
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

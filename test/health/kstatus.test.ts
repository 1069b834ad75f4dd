import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { computeStatus, groupOf, POD_SCHEDULE_WINDOW_MS } from '../../shared/health/kstatus.js';
import type { KubeObject } from '../../shared/health/types.js';

const NOW = Date.parse('2025-03-01T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

function deployment(over: { spec?: Record<string, unknown>; status?: Record<string, unknown>; generation?: number } = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'apps', generation: over.generation ?? 3, uid: 'u1', resourceVersion: '100' },
    spec: { replicas: 3, progressDeadlineSeconds: 600, selector: { matchLabels: { app: 'web' } }, ...over.spec },
    status: {
      observedGeneration: 3,
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
      conditions: [
        { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' },
        { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: 'ReplicaSet "web-7d9c" has successfully progressed.' },
      ],
      ...over.status,
    },
  };
}

describe('generic properties', () => {
  test('deletionTimestamp wins over everything else', () => {
    const d = deployment();
    d.metadata.deletionTimestamp = '2025-03-01T11:59:00Z';
    assert.deepEqual(computeStatus(d), { status: 'Terminating', message: 'Resource scheduled for deletion' });
  });

  test('unobserved generation is InProgress with the kstatus message', () => {
    const r = computeStatus(deployment({ generation: 4 }));
    assert.deepEqual(r, { status: 'InProgress', message: 'Deployment generation is 4, but latest observed generation is 3' });
  });

  test('missing observedGeneration skips the generation check', () => {
    const cm: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', generation: 2 }, data: { a: '1' } };
    assert.equal(computeStatus(cm).status, 'Current');
  });

  test('Reconciling=True is InProgress with the condition message', () => {
    const ks: KubeObject = {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: 'apps', namespace: 'flux-system', generation: 1 },
      status: {
        observedGeneration: 1,
        conditions: [
          { type: 'Reconciling', status: 'True', reason: 'Progressing', message: 'Reconciliation in progress' },
          { type: 'Ready', status: 'Unknown', reason: 'Progressing', message: 'Reconciliation in progress' },
        ],
      },
    };
    assert.deepEqual(computeStatus(ks), { status: 'InProgress', message: 'Reconciliation in progress' });
  });

  test('Stalled=True is Failed with the condition message', () => {
    const hr: KubeObject = {
      apiVersion: 'helm.toolkit.fluxcd.io/v2',
      kind: 'HelmRelease',
      metadata: { name: 'podinfo', namespace: 'apps', generation: 2 },
      status: {
        observedGeneration: 2,
        conditions: [
          { type: 'Ready', status: 'False', reason: 'InstallFailed', message: 'install retries exhausted' },
          { type: 'Stalled', status: 'True', reason: 'RetriesExceeded', message: 'Failed to install after 1 attempt(s)' },
        ],
      },
    };
    assert.deepEqual(computeStatus(hr), { status: 'Failed', message: 'Failed to install after 1 attempt(s)' });
  });

  test('Stalled on a built-in kind is honoured before the kind rule', () => {
    const d = deployment();
    (d.status!.conditions as unknown[]).push({ type: 'Stalled', status: 'True', reason: 'X', message: 'stuck' });
    assert.deepEqual(computeStatus(d), { status: 'Failed', message: 'stuck' });
  });

  test('malformed conditions give Unknown instead of throwing', () => {
    const cr: KubeObject = {
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: 'w' },
      status: { conditions: { Ready: true } },
    };
    const r = computeStatus(cr);
    assert.equal(r.status, 'Unknown');
    assert.match(r.message, /conditions/);
  });

  test('non-integer generation gives Unknown', () => {
    const cr: KubeObject = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', generation: '2' as unknown as number } };
    assert.equal(computeStatus(cr).status, 'Unknown');
  });
});

describe('Deployment', () => {
  test('fully rolled out is Current', () => {
    assert.deepEqual(computeStatus(deployment()), { status: 'Current', message: 'Deployment is available. Replicas: 3' });
  });

  test('fresh Deployment without status is InProgress (default 1 replica)', () => {
    const d: KubeObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', generation: 1 }, spec: {} };
    assert.deepEqual(computeStatus(d), { status: 'InProgress', message: 'Replicas: 0/1' });
  });

  test('rolling update: too few updated', () => {
    const r = computeStatus(deployment({ status: { updatedReplicas: 1 } }));
    assert.deepEqual(r, { status: 'InProgress', message: 'Updated: 1/3' });
  });

  test('rolling update: old pods still terminating', () => {
    const r = computeStatus(deployment({ status: { replicas: 4 } }));
    assert.deepEqual(r, { status: 'InProgress', message: 'Pending termination: 1' });
  });

  test('updated pods not yet available', () => {
    const r = computeStatus(deployment({ status: { availableReplicas: 2, readyReplicas: 2 } }));
    assert.deepEqual(r, { status: 'InProgress', message: 'Available: 2/3' });
  });

  test('ProgressDeadlineExceeded is Failed', () => {
    const r = computeStatus(
      deployment({
        status: {
          availableReplicas: 0,
          readyReplicas: 0,
          conditions: [
            { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' },
            { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-7d9c" has timed out progressing.' },
          ],
        },
      }),
    );
    assert.deepEqual(r, { status: 'Failed', message: 'Progress deadline exceeded' });
  });

  test('replicas match but new ReplicaSet not reported available yet', () => {
    const r = computeStatus(
      deployment({
        status: {
          conditions: [
            { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
            { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: 'ReplicaSet "web-8f" is progressing.' },
          ],
        },
      }),
    );
    assert.deepEqual(r, { status: 'InProgress', message: 'ReplicaSet not Available' });
  });

  test('without progressDeadlineSeconds the Progressing condition is not required', () => {
    const r = computeStatus(
      deployment({
        spec: { progressDeadlineSeconds: undefined },
        status: { conditions: [{ type: 'Available', status: 'True' }] },
      }),
    );
    assert.equal(r.status, 'Current');
  });

  test('Available=False is InProgress', () => {
    const r = computeStatus(
      deployment({
        status: {
          conditions: [
            { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' },
            { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' },
          ],
        },
      }),
    );
    assert.deepEqual(r, { status: 'InProgress', message: 'Deployment not Available' });
  });

  test('scaled to zero is Current', () => {
    const r = computeStatus(
      deployment({ spec: { replicas: 0 }, status: { replicas: 0, updatedReplicas: 0, readyReplicas: 0, availableReplicas: 0 } }),
    );
    assert.deepEqual(r, { status: 'Current', message: 'Deployment is available. Replicas: 0' });
  });

  test('a custom kind named Deployment in another group uses the generic rules', () => {
    const cr: KubeObject = {
      apiVersion: 'example.com/v1',
      kind: 'Deployment',
      metadata: { name: 'x', generation: 1 },
      spec: { replicas: 5 },
      status: { observedGeneration: 1 },
    };
    assert.deepEqual(computeStatus(cr), { status: 'Current', message: 'Resource is current' });
  });
});

describe('StatefulSet', () => {
  function sts(spec: Record<string, unknown>, status: Record<string, unknown>): KubeObject {
    return {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db', namespace: 'data', generation: 2 },
      spec: { replicas: 3, serviceName: 'db', ...spec },
      status: { observedGeneration: 2, ...status },
    };
  }
  const settled = { replicas: 3, readyReplicas: 3, currentReplicas: 3, updatedReplicas: 3, currentRevision: 'db-5d8', updateRevision: 'db-5d8' };

  test('settled is Current', () => {
    assert.deepEqual(computeStatus(sts({}, settled)), { status: 'Current', message: 'All replicas scheduled as expected. Replicas: 3' });
  });

  test('not all replicas created', () => {
    assert.deepEqual(computeStatus(sts({}, { ...settled, replicas: 1 })), { status: 'InProgress', message: 'Replicas: 1/3' });
  });

  test('not all ready', () => {
    assert.deepEqual(computeStatus(sts({}, { ...settled, readyReplicas: 2 })), { status: 'InProgress', message: 'Ready: 2/3' });
  });

  test('scale down pending', () => {
    assert.deepEqual(computeStatus(sts({}, { ...settled, replicas: 5, readyReplicas: 5 })), {
      status: 'InProgress',
      message: 'Pending termination: 2',
    });
  });

  test('rolling update in progress: revisions differ', () => {
    const r = computeStatus(sts({}, { ...settled, updatedReplicas: 1, updateRevision: 'db-6f1' }));
    assert.deepEqual(r, { status: 'InProgress', message: 'Waiting for updated revision to match current' });
  });

  test('too few current replicas', () => {
    assert.deepEqual(computeStatus(sts({}, { ...settled, currentReplicas: 2 })), { status: 'InProgress', message: 'current: 2/3' });
  });

  test('partitioned rollout waits only for the replicas above the partition', () => {
    const spec = { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } };
    const rolling = { ...settled, updatedReplicas: 0, currentReplicas: 3, updateRevision: 'db-6f1' };
    assert.deepEqual(computeStatus(sts(spec, rolling)), { status: 'InProgress', message: 'updated: 0/1' });
    // One pod (ordinal 2) updated: done, although revisions still differ.
    assert.deepEqual(computeStatus(sts(spec, { ...rolling, updatedReplicas: 1 })), {
      status: 'Current',
      message: 'Partition rollout complete. updated: 1',
    });
  });

  test('OnDelete strategy is always Current', () => {
    const r = computeStatus(sts({ updateStrategy: { type: 'OnDelete' } }, { replicas: 0 }));
    assert.deepEqual(r, { status: 'Current', message: 'StatefulSet is using the ondelete update strategy' });
  });
});

describe('DaemonSet', () => {
  function ds(status: Record<string, unknown> | undefined, generation: number | null = 1): KubeObject {
    return {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'agent', namespace: 'kube-system', ...(generation !== null ? { generation } : {}) },
      spec: { selector: { matchLabels: { app: 'agent' } } },
      ...(status ? { status } : {}),
    };
  }
  const ok = { observedGeneration: 1, desiredNumberScheduled: 4, currentNumberScheduled: 4, updatedNumberScheduled: 4, numberAvailable: 4, numberReady: 4 };

  test('all nodes scheduled and ready is Current', () => {
    assert.deepEqual(computeStatus(ds(ok)), { status: 'Current', message: 'All replicas scheduled as expected. Replicas: 4' });
  });

  test('no status yet: observedGeneration required', () => {
    assert.deepEqual(computeStatus(ds(undefined)), { status: 'InProgress', message: 'DaemonSet status.observedGeneration not found' });
  });

  test('no generation: InProgress', () => {
    assert.deepEqual(computeStatus(ds(ok, null)), { status: 'InProgress', message: 'DaemonSet metadata.generation not found' });
  });

  test('desiredNumberScheduled missing', () => {
    assert.deepEqual(computeStatus(ds({ observedGeneration: 1 })), { status: 'InProgress', message: 'Missing .status.desiredNumberScheduled' });
  });

  test('each counter is checked in kstatus order', () => {
    assert.equal(computeStatus(ds({ ...ok, currentNumberScheduled: 3 })).message, 'Current: 3/4');
    assert.equal(computeStatus(ds({ ...ok, updatedNumberScheduled: 2 })).message, 'Updated: 2/4');
    assert.equal(computeStatus(ds({ ...ok, numberAvailable: 1 })).message, 'Available: 1/4');
    assert.equal(computeStatus(ds({ ...ok, numberReady: 0 })).message, 'Ready: 0/4');
    assert.equal(computeStatus(ds({ ...ok, numberReady: 0 })).status, 'InProgress');
  });
});

describe('ReplicaSet', () => {
  function rs(status: Record<string, unknown>): KubeObject {
    return {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'web-7d9c', namespace: 'apps', generation: 1 },
      spec: { replicas: 2 },
      status: { observedGeneration: 1, ...status },
    };
  }
  const ok = { replicas: 2, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 2 };

  test('available is Current', () => {
    assert.deepEqual(computeStatus(rs(ok)), { status: 'Current', message: 'ReplicaSet is available. Replicas: 2' });
  });

  test('ReplicaFailure condition is InProgress', () => {
    const r = computeStatus(rs({ ...ok, conditions: [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'quota exceeded' }] }));
    assert.deepEqual(r, { status: 'InProgress', message: 'Replica Failure condition. Check Pods' });
  });

  test('counters', () => {
    assert.equal(computeStatus(rs({ ...ok, fullyLabeledReplicas: 1 })).message, 'Labelled: 1/2');
    assert.equal(computeStatus(rs({ ...ok, availableReplicas: 1 })).message, 'Available: 1/2');
    assert.equal(computeStatus(rs({ ...ok, readyReplicas: 1 })).message, 'Ready: 1/2');
    assert.equal(computeStatus(rs({ ...ok, replicas: 3 })).message, 'Pending termination: 1');
  });
});

describe('Pod', () => {
  function pod(status: Record<string, unknown>, created = NOW - 60_000): KubeObject {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-7d9c-abcde', namespace: 'apps', creationTimestamp: iso(created) },
      spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] },
      status,
    };
  }

  test('running and ready', () => {
    const r = computeStatus(pod({ phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] }), { now: NOW });
    assert.deepEqual(r, { status: 'Current', message: 'Pod is Ready' });
  });

  test('completed pods are Current whatever the exit', () => {
    assert.deepEqual(computeStatus(pod({ phase: 'Succeeded' })), { status: 'Current', message: 'Pod has completed successfully' });
    assert.deepEqual(computeStatus(pod({ phase: 'Failed' })), { status: 'Current', message: 'Pod has completed, but not successfully' });
  });

  test('CrashLoopBackOff containers are Failed and named', () => {
    const r = computeStatus(
      pod({
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'False', reason: 'ContainersNotReady' }],
        containerStatuses: [
          { name: 'web', ready: false, restartCount: 5, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 2m40s restarting failed container' } } },
          { name: 'sidecar', ready: true, state: { running: { startedAt: '2025-03-01T11:00:00Z' } } },
          { name: 'metrics', ready: false, state: { waiting: { reason: 'CrashLoopBackOff' } } },
        ],
      }),
    );
    assert.deepEqual(r, { status: 'Failed', message: 'Containers in CrashLoop state: web,metrics' });
  });

  test('running but not ready, other waiting reasons are InProgress', () => {
    const r = computeStatus(
      pod({
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'False' }],
        containerStatuses: [{ name: 'web', state: { waiting: { reason: 'ContainerCreating' } } }],
      }),
    );
    assert.deepEqual(r, { status: 'InProgress', message: 'Pod is running but is not Ready' });
  });

  test('ImagePullBackOff while Pending is InProgress (kstatus only fails on CrashLoopBackOff)', () => {
    const r = computeStatus(
      pod({
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'True' }],
        containerStatuses: [{ name: 'web', state: { waiting: { reason: 'ImagePullBackOff' } } }],
      }),
    );
    assert.deepEqual(r, { status: 'InProgress', message: 'Pod is in the Pending phase' });
  });

  test('unschedulable: grace window, then Failed', () => {
    const status = {
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available' }],
    };
    const young = computeStatus(pod(status, NOW - 5_000), { now: NOW });
    assert.deepEqual(young, { status: 'InProgress', message: 'Pod has not been scheduled' });
    const old = computeStatus(pod(status, NOW - POD_SCHEDULE_WINDOW_MS - 1_000), { now: NOW });
    assert.deepEqual(old, { status: 'Failed', message: 'Pod could not be scheduled' });
  });

  test('no phase yet', () => {
    assert.deepEqual(computeStatus(pod({})), { status: 'InProgress', message: 'Pod phase not available' });
  });

  test('unknown phase is Unknown', () => {
    assert.deepEqual(computeStatus(pod({ phase: 'Weird' })), { status: 'Unknown', message: 'unknown phase Weird' });
  });
});

describe('Job', () => {
  function job(spec: Record<string, unknown>, status: Record<string, unknown>): KubeObject {
    return {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'migrate', namespace: 'apps', generation: 1 },
      spec: { backoffLimit: 2, template: { spec: { restartPolicy: 'Never' } }, ...spec },
      status,
    };
  }

  test('not started', () => {
    assert.deepEqual(computeStatus(job({}, {})), { status: 'InProgress', message: 'Job not started' });
  });

  test('running counts as Current', () => {
    const r = computeStatus(job({ completions: 3, parallelism: 2 }, { startTime: '2025-03-01T11:00:00Z', active: 2, succeeded: 1 }));
    assert.deepEqual(r, { status: 'Current', message: 'Job in progress. success:1, active: 2, failed: 0' });
  });

  test('Complete', () => {
    const r = computeStatus(
      job({ completions: 1 }, {
        startTime: '2025-03-01T11:00:00Z',
        completionTime: '2025-03-01T11:01:00Z',
        succeeded: 1,
        conditions: [{ type: 'Complete', status: 'True' }],
      }),
    );
    assert.deepEqual(r, { status: 'Current', message: 'Job Completed. succeeded: 1/1' });
  });

  test('Failed', () => {
    const r = computeStatus(
      job({}, {
        startTime: '2025-03-01T11:00:00Z',
        failed: 3,
        conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }],
      }),
    );
    // completions defaults to parallelism (1).
    assert.deepEqual(r, { status: 'Failed', message: 'Job Failed. failed: 3/1' });
  });

  test('suspended', () => {
    const r = computeStatus(job({ suspend: true }, { conditions: [{ type: 'Suspended', status: 'True', reason: 'JobSuspended' }] }));
    assert.deepEqual(r, { status: 'Current', message: 'Job is suspended' });
  });
});

describe('PersistentVolumeClaim', () => {
  const pvc = (status?: Record<string, unknown>): KubeObject => ({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'data', namespace: 'apps' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    ...(status ? { status } : {}),
  });
  test('Bound is Current', () => {
    assert.deepEqual(computeStatus(pvc({ phase: 'Bound' })), { status: 'Current', message: 'PVC is Bound' });
  });
  test('Pending / no status', () => {
    assert.deepEqual(computeStatus(pvc({ phase: 'Pending' })), { status: 'InProgress', message: 'PVC is not Bound. phase: Pending' });
    assert.deepEqual(computeStatus(pvc()), { status: 'InProgress', message: 'PVC is not Bound. phase: unknown' });
  });
});

describe('Service', () => {
  const svc = (spec: Record<string, unknown>, status: Record<string, unknown> = { loadBalancer: {} }): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'apps' },
    spec: { ports: [{ port: 80, targetPort: 8080 }], selector: { app: 'web' }, ...spec },
    status,
  });

  test('ClusterIP is Current', () => {
    assert.deepEqual(computeStatus(svc({ type: 'ClusterIP', clusterIP: '10.96.0.12' })), { status: 'Current', message: 'Service is ready' });
  });

  test('LoadBalancer without cluster IP is InProgress', () => {
    assert.deepEqual(computeStatus(svc({ type: 'LoadBalancer' })), {
      status: 'InProgress',
      message: 'ClusterIP not set. Service type: LoadBalancer',
    });
  });

  test('LoadBalancer with a cluster IP is Current under kstatus rules, even without ingress', () => {
    assert.equal(computeStatus(svc({ type: 'LoadBalancer', clusterIP: '10.96.0.13' })).status, 'Current');
  });

  test('requireLoadBalancerIngress waits for status.loadBalancer.ingress', () => {
    const opts = { requireLoadBalancerIngress: true };
    const pending = computeStatus(svc({ type: 'LoadBalancer', clusterIP: '10.96.0.13' }), opts);
    assert.equal(pending.status, 'InProgress');
    const ready = computeStatus(svc({ type: 'LoadBalancer', clusterIP: '10.96.0.13' }, { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } }), opts);
    assert.equal(ready.status, 'Current');
    // Only LoadBalancer Services are affected.
    assert.equal(computeStatus(svc({ type: 'NodePort', clusterIP: '10.96.0.14' }), opts).status, 'Current');
  });
});

describe('PodDisruptionBudget', () => {
  test('observed PDB is Current; unobserved is InProgress', () => {
    const pdb: KubeObject = {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'web', namespace: 'apps', generation: 2 },
      spec: { minAvailable: 1 },
      status: { observedGeneration: 2, currentHealthy: 3, desiredHealthy: 1, disruptionsAllowed: 2, expectedPods: 3 },
    };
    assert.deepEqual(computeStatus(pdb), { status: 'Current', message: 'AllowedDisruptions has been computed.' });
    pdb.metadata.generation = 3;
    assert.equal(computeStatus(pdb).status, 'InProgress');
  });
});

describe('CustomResourceDefinition', () => {
  const crd = (conditions: unknown[]): KubeObject => ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'widgets.example.com', generation: 1 },
    spec: { group: 'example.com', names: { kind: 'Widget', plural: 'widgets' }, scope: 'Namespaced' },
    status: { conditions },
  });

  test('Established is Current', () => {
    const r = computeStatus(
      crd([
        { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found' },
        { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' },
      ]),
    );
    assert.deepEqual(r, { status: 'Current', message: 'CRD is established' });
  });

  test('NamesAccepted=False is Failed with the API server message', () => {
    const r = computeStatus(
      crd([
        { type: 'NamesAccepted', status: 'False', reason: 'ListKindConflict', message: '"WidgetList" is already in use' },
        { type: 'Established', status: 'False', reason: 'NotAccepted', message: 'not all names are accepted' },
      ]),
    );
    assert.deepEqual(r, { status: 'Failed', message: '"WidgetList" is already in use' });
  });

  test('Installing and no conditions are InProgress', () => {
    assert.deepEqual(computeStatus(crd([{ type: 'Established', status: 'False', reason: 'Installing', message: 'installing' }])), {
      status: 'InProgress',
      message: 'Install in progress',
    });
    assert.equal(computeStatus(crd([])).status, 'InProgress');
  });
});

describe('always-ready kinds and the generic fallback', () => {
  test('Secret, ConfigMap and CronJob are always ready', () => {
    for (const [apiVersion, kind] of [['v1', 'Secret'], ['v1', 'ConfigMap'], ['batch/v1', 'CronJob']] as const) {
      assert.deepEqual(computeStatus({ apiVersion, kind, metadata: { name: 'x', namespace: 'apps' } }), {
        status: 'Current',
        message: 'Resource is always ready',
      });
    }
  });

  test('other kinds without conditions are Current', () => {
    const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' }, status: { phase: 'Active' } };
    assert.deepEqual(computeStatus(ns), { status: 'Current', message: 'Resource is current' });
  });

  test('Ready condition decides for custom resources', () => {
    const cert = (ready: string, message: string): KubeObject => ({
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: 'web-tls', namespace: 'apps', generation: 1 },
      status: { conditions: [{ type: 'Ready', status: ready, reason: 'Issuing', message }] },
    });
    assert.deepEqual(computeStatus(cert('True', 'Certificate is up to date')), { status: 'Current', message: 'Resource is Ready' });
    assert.deepEqual(computeStatus(cert('False', 'Issuing certificate as Secret does not exist')), {
      status: 'InProgress',
      message: 'Issuing certificate as Secret does not exist',
    });
    assert.equal(computeStatus(cert('Unknown', 'waiting')).status, 'InProgress');
  });

  test('Flux object freshly created (observedGeneration -1) is InProgress', () => {
    const gr: KubeObject = {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name: 'repo', namespace: 'flux-system', generation: 1 },
      status: { observedGeneration: -1 },
    };
    assert.deepEqual(computeStatus(gr), {
      status: 'InProgress',
      message: 'GitRepository generation is 1, but latest observed generation is -1',
    });
  });
});

test('groupOf', () => {
  assert.equal(groupOf('v1'), '');
  assert.equal(groupOf('apps/v1'), 'apps');
  assert.equal(groupOf('apiextensions.k8s.io/v1'), 'apiextensions.k8s.io');
  assert.equal(groupOf(''), '');
});

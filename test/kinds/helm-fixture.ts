/**
 * Fixture for the Helm kind tests: real stores (filesystem state and artifacts), the
 * harness cluster (its own namespace), definitions written as the fleet recursion writes
 * them, and a `settle` that runs the reconciler of a key and then of everything it wakes,
 * as the worker and the queue would, until nothing is left to run.
 */
import type { TestContext } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ArtifactCache } from '../../shared/artifacts/cache.js';
import { FsArtifactStore } from '../../shared/artifacts/fs-store.js';
import { registerHelmKubeConfig, helmRunnerFor } from '../../shared/kinds/helmrelease/runner.js';
import { isKnownKind, kindReconciler } from '../../shared/kinds/registry.js';
import { createKubeClient, type KubeClient } from '../../shared/kube/client.js';
import { RestMapper } from '../../shared/kube/mapper.js';
import type { KubeObject, ObjectKey } from '../../shared/kube/object.js';
import { createSecretReader } from '../../shared/kube/secrets.js';
import type { ReconcileResult, ReconcileServices } from '../../shared/reconcile/contract.js';
import { FsStateStore } from '../../shared/state/index.js';
import { readRecord, type ObjectRecord } from '../../shared/state/records.js';
import { log } from '../../shared/util/log.js';
import { testEnv } from '../harness/index.js';

/** What a Helm kind test gets. */
export interface HelmFixture {
  ns: string;
  client: KubeClient;
  kubeconfigPath: string;
  state: FsStateStore;
  artifacts: FsArtifactStore;
  svc: ReconcileServices;
  /** Stores a definition (as the fleet recursion would: origin Kustomization, generation bumped on change). */
  define(obj: KubeObject): Promise<void>;
  /** Marks a definition deleted (removed from Git). */
  remove(kind: string, name: string, ns?: string): Promise<void>;
  /** Reconciles `kind/name`, then everything woken, until quiet (or `max` runs). Returns the runs in order. */
  settle(kind: string, name: string, opts?: { ns?: string; max?: number; skip?: (k: ObjectKey) => boolean }): Promise<Array<{ key: ObjectKey; result: ReconcileResult }>>;
  /** Reconciles one object once (no wakes followed). */
  once(kind: string, name: string, ns?: string): Promise<ReconcileResult>;
  record(kind: string, name: string, ns?: string): Promise<ObjectRecord | undefined>;
  /** Counts helm commands run from now on (by verb). */
  countHelm(): Promise<{ calls: string[] }>;
}

/** Builds the fixture for one test (a fresh namespace and stores). */
export async function helmFixture(t: TestContext, prefix = 'hr'): Promise<HelmFixture> {
  const env = await testEnv();
  const cluster = await env.cluster();
  const ns = await env.namespace(t, prefix);
  const kc = cluster.kubeConfig();
  const client = createKubeClient(kc);
  registerHelmKubeConfig(client, kc);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-helmkind-'));
  const state = new FsStateStore(path.join(dir, 'state'), { durable: false });
  const artifacts = new FsArtifactStore(path.join(dir, 'artifacts'), { durable: false });
  const artifactCache = new ArtifactCache({ fetch: (a) => artifacts.get(a.key, a.digest) });
  t.after(async () => {
    client.close();
    await artifactCache.close();
    await rm(dir, { recursive: true, force: true });
  });
  const svc: ReconcileServices = {
    state,
    artifacts,
    artifactCache,
    client,
    mapper: new RestMapper(client),
    secrets: createSecretReader(client, { ttlMs: 0 }),
    fieldManager: 'fluxless',
    settings: { healthIntervalMs: 200, allowRemoteBases: false, toolMemoryMiB: 1024, applyFluxComponents: false },
    isKnownKind,
    now: () => new Date(),
  };
  const run = async (key: ObjectKey): Promise<ReconcileResult> => {
    const rec = await readRecord(state, key);
    if (!rec?.object) return { ready: false, reason: 'NotFound', message: `${key.kind} ${key.namespace}/${key.name} is not defined`, wake: [] };
    const kind = kindReconciler(key.kind);
    if (!kind) throw new Error(`no reconciler for ${key.kind}`);
    const req = { key, record: rec, reason: 'test', log: log.child({ test: `${key.kind}/${key.name}` }) };
    return rec.deleted ? kind.finalize(svc, req) : kind.reconcile(svc, req);
  };
  return {
    ns,
    client,
    kubeconfigPath: cluster.kubeconfigPath,
    state,
    artifacts,
    svc,
    async define(obj) {
      const key = { kind: obj.kind, namespace: obj.metadata.namespace ?? ns, name: obj.metadata.name };
      await state.update<ObjectRecord>(key, (cur) => {
        const prev = cur?.object;
        const same = prev && !cur?.deleted && JSON.stringify(prev.spec) === JSON.stringify(obj.spec) && JSON.stringify(prev.metadata.annotations ?? {}) === JSON.stringify(obj.metadata.annotations ?? {});
        const generation = same ? Number(prev.metadata.generation ?? 1) : Number(prev?.metadata.generation ?? 0) + 1;
        return {
          status: {},
          ...cur,
          object: { ...obj, metadata: { ...obj.metadata, namespace: key.namespace, generation } },
          origin: { by: 'Kustomization', namespace: ns, name: 'fleet' },
          deleted: false,
        };
      });
    },
    async remove(kind, name, n2) {
      await state.update<ObjectRecord>({ kind, namespace: n2 ?? ns, name }, (cur) => (cur ? { ...cur, deleted: true } : undefined));
    },
    async settle(kind, name, opts = {}) {
      const runs: Array<{ key: ObjectKey; result: ReconcileResult }> = [];
      const queue: ObjectKey[] = [{ kind, namespace: opts.ns ?? ns, name }];
      const max = opts.max ?? 30;
      while (queue.length && runs.length < max) {
        const key = queue.shift()!;
        const result = await run(key);
        runs.push({ key, result });
        for (const w of result.wake) {
          if (opts.skip?.(w.key)) continue;
          if (!queue.some((q) => q.kind === w.key.kind && q.namespace === w.key.namespace && q.name === w.key.name)) queue.push(w.key);
        }
      }
      return runs;
    },
    once: (kind, name, n2) => run({ kind, namespace: n2 ?? ns, name }),
    record: (kind, name, n2) => readRecord(state, { kind, namespace: n2 ?? ns, name }),
    async countHelm() {
      const runner = await helmRunnerFor(svc);
      const calls: string[] = [];
      const exec = runner.exec.bind(runner);
      runner.exec = (verb, args, call) => {
        calls.push(verb);
        return exec(verb, args, call);
      };
      t.after(() => {
        runner.exec = exec;
      });
      return { calls };
    },
  };
}

/** A HelmRepository definition. */
export function helmRepository(name: string, url: string, spec: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', metadata: { name }, spec: { interval: '10m', url, ...spec } };
}

/** A HelmRelease definition with `spec.chart` from a HelmRepository `repo`. */
export function helmRelease(name: string, spec: Record<string, unknown>, meta: { annotations?: Record<string, string> } = {}): KubeObject {
  return { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name, ...meta }, spec: { interval: '10m', ...spec } };
}

/** `spec.chart` for chart `chart` (version) from HelmRepository `repo`. */
export function chartFrom(repo: string, chart: string, version = '*'): Record<string, unknown> {
  return { spec: { chart, version, sourceRef: { kind: 'HelmRepository', name: repo } } };
}

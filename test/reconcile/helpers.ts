import type { TestContext } from 'node:test';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildArtifact } from '../../shared/artifacts/build.js';
import { verifyDigest } from '../../shared/artifacts/digest.js';
import { ArtifactCache } from '../../shared/artifacts/cache.js';
import { createKubeClient, type KubeClient } from '../../shared/kube/client.js';
import type { KubeObject } from '../../shared/kube/object.js';
import { FsArtifactStore } from '../../shared/artifacts/fs-store.js';
import { isKnownKind } from '../../shared/kinds/registry.js';
import { kustomizationKind } from '../../shared/kinds/kustomization/reconciler.js';
import { RestMapper } from '../../shared/kube/mapper.js';
import { createSecretReader } from '../../shared/kube/secrets.js';
import type { ReconcileResult, ReconcileServices } from '../../shared/reconcile/contract.js';
import { log } from '../../shared/util/log.js';
import { readRecord, type ObjectRecord } from '../../shared/state/records.js';
import { FsStateStore } from '../../shared/state/index.js';
import { testEnv } from '../harness/index.js';

export interface Fixture {
  ns: string;
  client: KubeClient;
  state: FsStateStore;
  svc: ReconcileServices;
  /** Publishes files as a new artifact revision of GitRepository <ns>/repo. */
  publish(files: Record<string, string>, revision: string): Promise<void>;
  define(obj: KubeObject): Promise<void>;
  /** Reconciles (or, when removed, finalizes) Kustomization <ns>/<name> as the worker would. */
  reconcile(name: string): Promise<ReconcileResult>;
  record(kind: string, name: string, ns?: string): Promise<ObjectRecord | undefined>;
  get(apiVersion: string, kind: string, name: string, ns?: string): Promise<KubeObject | undefined>;
}

export function kustomization(ns: string, name: string, spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name, namespace: ns, generation: 1 },
    spec: { interval: '10m', prune: true, sourceRef: { kind: 'GitRepository', name: 'repo' }, ...spec },
  };
}

export async function fixture(t: TestContext): Promise<Fixture> {
  const env = await testEnv();
  const ns = await env.namespace(t, 'ks');
  const client = createKubeClient((await env.cluster()).kubeConfig());
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-rec-'));
  t.after(async () => {
    client.close();
    await rm(dir, { recursive: true, force: true });
  });
  const state = new FsStateStore(path.join(dir, 'state'), { durable: false });
  // Artifacts by key; the real stores are tested on their own (test/artifacts).
  const blobs = new Map<string, Buffer>();
  const artifacts = new ArtifactCache({
    async fetch(a) {
      const data = blobs.get(a.key);
      if (!data) throw new Error(`no artifact ${a.key}`);
      verifyDigest(data, a.digest);
      return data;
    },
  });
  t.after(() => artifacts.close());
  const svc: ReconcileServices = {
    state,
    artifacts: new FsArtifactStore(path.join(dir, 'artifacts')),
    artifactCache: artifacts,
    client,
    mapper: new RestMapper(client),
    secrets: createSecretReader(client),
    fieldManager: 'fluxless',
    settings: { healthIntervalMs: 200, allowRemoteBases: false, toolMemoryMiB: 1024, applyFluxComponents: false },
    isKnownKind,
    now: () => new Date(),
  };
  let n = 0;
  return {
    ns,
    client,
    state,
    svc,
    async publish(files, revision) {
      const src = path.join(dir, `src-${n++}`);
      for (const [f, content] of Object.entries(files)) {
        await mkdir(path.dirname(path.join(src, f)), { recursive: true });
        await writeFile(path.join(src, f), content);
      }
      const art = await buildArtifact(src);
      const key = `GitRepository/${ns}/repo/${art.digest.slice(7)}.tar.gz`;
      blobs.set(key, art.tarGz);
      await state.update<ObjectRecord>({ kind: 'GitRepository', namespace: ns, name: 'repo' }, (cur) => ({
        object: {
          apiVersion: 'source.toolkit.fluxcd.io/v1',
          kind: 'GitRepository',
          metadata: { name: 'repo', namespace: ns, generation: 1 },
          spec: { url: 'https://example.invalid/repo.git', interval: '1m', ref: { branch: 'main' } },
        },
        ...cur,
        status: { ...(cur?.status ?? {}), artifact: { revision, digest: art.digest, key, size: art.size, lastUpdateTime: new Date().toISOString() } },
      }));
    },
    async define(obj) {
      await state.update<ObjectRecord>({ kind: obj.kind, namespace: obj.metadata.namespace!, name: obj.metadata.name }, (cur) => ({
        status: {},
        ...cur,
        object: obj,
        origin: { by: 'bootstrap' },
        deleted: false,
      }));
    },
    async reconcile(name) {
      const key = { kind: 'Kustomization', namespace: ns, name };
      const record = await readRecord(state, key);
      if (!record?.object) return { ready: false, reason: 'NotFound', message: `Kustomization ${ns}/${name} is not defined`, wake: [] };
      const req = { key, record, reason: 'test', log: log.child({ test: name }) };
      return record.deleted ? kustomizationKind.finalize(svc, req) : kustomizationKind.reconcile(svc, req);
    },
    record: (kind, name, n2) => readRecord(state, { kind, namespace: n2 ?? ns, name }),
    async get(apiVersion, kind, name, n2) {
      const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
      const version = apiVersion.split('/').pop()!;
      const plural = kind.toLowerCase() + 's';
      const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
      const p = n2 === '' ? `${base}/${plural}/${name}` : `${base}/namespaces/${n2 ?? ns}/${plural}/${name}`;
      return client.request<KubeObject>('GET', p).catch(() => undefined);
    },
  };
}

export const rev = (n: number) => `main@sha1:${String(n).repeat(40).slice(0, 40)}`;

export function cm(name: string, data: Record<string, string>, extra = ''): string {
  return [
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    `  name: ${name}`,
    extra,
    'data:',
    ...Object.entries(data).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
    '',
  ]
    .filter((l) => l !== '')
    .join('\n') + '\n';
}

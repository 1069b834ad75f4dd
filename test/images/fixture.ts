/**
 * A fixture for the image kinds: real state store (filesystem), the reconcilers called as
 * the worker calls them, and secrets from an in-memory map (the registry and the git server
 * are the harness's real ones). The cluster is only used where a test asks for it.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ArtifactCache } from '../../shared/artifacts/cache.js';
import type { ArtifactStore } from '../../shared/artifacts/store.js';
import { isKnownKind, kindReconciler } from '../../shared/kinds/registry.js';
import type { KubeClient } from '../../shared/kube/client.js';
import type { RestMapper } from '../../shared/kube/mapper.js';
import type { KubeObject, ObjectKey } from '../../shared/kube/object.js';
import type { SecretReader } from '../../shared/kube/secrets.js';
import type { ReconcileResult, ReconcileServices } from '../../shared/reconcile/contract.js';
import { FsStateStore } from '../../shared/state/index.js';
import { readRecord, type ObjectRecord } from '../../shared/state/records.js';
import { NotFoundError } from '../../shared/util/errors.js';
import { log } from '../../shared/util/log.js';

/** Secrets kept in memory, read as the SecretReader reads them (decoded data). */
export class MemorySecrets implements SecretReader {
  private readonly map = new Map<string, Record<string, string>>();
  set(ns: string, name: string, data: Record<string, string>): void {
    this.map.set(`${ns}/${name}`, data);
  }
  async get(ns: string, name: string): Promise<Record<string, string>> {
    const d = this.map.get(`${ns}/${name}`);
    if (!d) throw new NotFoundError(`Secret '${ns}/${name}' not found`);
    return d;
  }
  invalidate(): void {}
}

/** A definition as a test writes it (namespace defaults to the fixture's). */
export interface Definition {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
}

/** What the image kind tests need. */
export interface ImageFixture {
  ns: string;
  state: FsStateStore;
  secrets: MemorySecrets;
  svc: ReconcileServices;
  /** Stores (or replaces) a definition; `generation` bumps with each call for the same object. */
  define(obj: Definition): Promise<ObjectKey>;
  /** Marks an object requested now (what a webhook does). */
  request(key: ObjectKey): Promise<void>;
  reconcile(key: ObjectKey): Promise<ReconcileResult>;
  record(key: ObjectKey): Promise<ObjectRecord>;
}

const noCluster = new Proxy({}, { get: () => () => assert.fail('this test must not use the cluster') });

/** A fixture in a fresh state directory; `client` is the cluster client when the test needs one. */
export async function imageFixture(t: TestContext, opts: { ns?: string; client?: KubeClient; now?: () => Date } = {}): Promise<ImageFixture> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-images-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const state = new FsStateStore(path.join(dir, 'state'), { durable: false });
  const secrets = new MemorySecrets();
  const ns = opts.ns ?? 'apps';
  const svc: ReconcileServices = {
    state,
    artifacts: noCluster as ArtifactStore,
    artifactCache: noCluster as ArtifactCache,
    client: opts.client ?? (noCluster as KubeClient),
    mapper: noCluster as RestMapper,
    secrets,
    fieldManager: 'fluxless',
    settings: { healthIntervalMs: 200, allowRemoteBases: false, toolMemoryMiB: 1024, applyFluxComponents: false },
    isKnownKind,
    now: opts.now ?? (() => new Date()),
  };
  let seq = 0;
  return {
    ns,
    state,
    secrets,
    svc,
    async define(obj) {
      const namespace = obj.metadata.namespace ?? ns;
      const key = { kind: obj.kind, namespace, name: obj.metadata.name };
      await state.update<ObjectRecord>(key, (cur) => {
        const generation = Number(cur?.object?.metadata.generation ?? 0) + 1;
        const object: KubeObject = { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { ...obj.metadata, namespace, generation }, ...(obj.spec ? { spec: obj.spec } : {}) };
        return { status: {}, ...cur, object, origin: { by: 'bootstrap' } };
      });
      return key;
    },
    async request(key) {
      const requestedAt = new Date(Date.now() + ++seq).toISOString();
      await state.update<ObjectRecord>(key, (cur) => (cur ? { ...cur, requestedAt } : undefined));
    },
    async reconcile(key) {
      const record = (await readRecord(state, key))!;
      const kind = kindReconciler(key.kind)!;
      const req = { key, record, reason: 'test', log: log.child({ test: `${key.kind}/${key.name}` }) };
      return record.deleted ? kind.finalize(svc, req) : kind.reconcile(svc, req);
    },
    record: async (key) => (await readRecord(state, key))!,
  };
}

/** An ImageRepository definition. */
export function imageRepository(name: string, spec: Record<string, unknown>): Definition {
  return { apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImageRepository', metadata: { name }, spec: { interval: '5m', ...spec } };
}

/** An ImagePolicy definition. */
export function imagePolicy(name: string, spec: Record<string, unknown>, labels?: Record<string, string>): Definition {
  return { apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImagePolicy', metadata: { name, ...(labels ? { labels } : {}) }, spec };
}

/**
 * The server-side apply engine, following fluxcd/pkg/ssa: per object GET + server-side
 * dry-run apply, write only what drifted, staged (cluster definitions, then `*Class`
 * kinds, each waited for, then the rest), in Flux's sort order.
 *
 * Validation first: every object that can be dry-run is dry-run before anything is
 * written; if any fails, nothing is written and the error lists every failing object.
 * Objects that cannot be dry-run yet (their CRD or Namespace is created by the same
 * batch) are validated right after the stage that creates what they need.
 */
import { FluxlessError } from '../util/errors.js';
import { log } from '../util/log.js';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError, isNotFound } from '../kube/client.js';
import { NoKindMatchError, RestMapper, type ResourceMapping } from '../kube/mapper.js';
import {
  fmtObject,
  fmtRef,
  inMetadata,
  refOf,
  splitApiVersion,
  type KubeObject,
  type ManagedFieldsEntry,
  type ObjectRef,
} from '../kube/object.js';
import { fieldDiff, hasDrifted, type FieldChange } from './diff.js';
import { normalizeForApply } from './normalize.js';
import { compareObjects, compareRefs, kindRank, stageOf } from './sort.js';

export const FLUX_PREFIX = 'kustomize.toolkit.fluxcd.io';
export const SSA_ANNOTATION = `${FLUX_PREFIX}/ssa`;
export const FORCE_ANNOTATION = `${FLUX_PREFIX}/force`;
export const RECONCILE_ANNOTATION = `${FLUX_PREFIX}/reconcile`;
export const PRUNE_ANNOTATION = `${FLUX_PREFIX}/prune`;
export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export type Action = 'created' | 'configured' | 'unchanged' | 'skipped' | 'deleted';

export interface ChangeEntry {
  /** `Kind/namespace/name` */
  subject: string;
  ref: ObjectRef;
  /** The API version of the object (`v1`, `v1beta1`), for the inventory. */
  version: string;
  action: Action;
  /** Field-level changes (diff mode, and for configured objects). */
  changes?: FieldChange[];
}

export interface ApplyOptions {
  fieldManager?: string;
  /** Recreate objects on immutable-field errors (spec.force). */
  force?: boolean;
  /** Concurrent API requests (default 24). */
  concurrency?: number;
  /** How long to wait for CRDs / Namespaces / Classes to be ready (default 60s). */
  waitTimeoutMs?: number;
  waitIntervalMs?: number;
  signal?: AbortSignal;
}

/** A batch failed validation: nothing was written. */
export class ValidationFailedError extends FluxlessError {
  readonly failures: Array<{ subject: string; reason: string }>;
  constructor(failures: Array<{ subject: string; reason: string }>) {
    super(
      'ValidationFailed',
      `${failures.length} object(s) failed validation, nothing was applied:\n` +
        failures.map((f) => `${f.subject}: ${f.reason}`).join('\n'),
    );
    this.failures = failures;
  }
}

export class ApplyFailedError extends FluxlessError {
  constructor(message: string, cause?: unknown) {
    super('ApplyFailed', message, { cause });
  }
}

interface Planned {
  obj: KubeObject;
  subject: string;
  mapping?: ResourceMapping;
  path?: string;
  existing?: KubeObject;
  dryRun?: KubeObject;
  action?: Action;
  recreate?: boolean;
  cleanup?: unknown[];
  deferred?: boolean;
  error?: string;
}

/** Runs `fn` over items with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return out;
}

function isImmutableError(err: unknown): boolean {
  if (!(err instanceof KubeApiError)) return false;
  if (err.status === 409 || err.status === 422) return true;
  return /is\simmutable|immutable\sfield/.test(err.message);
}

function reasonOf(err: unknown): string {
  if (err instanceof KubeApiError) return `${err.reason ? `(${err.reason}) ` : ''}${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** Flux's takeover: managers whose fields we adopt (kustomize-controller defaults). */
const TAKEOVER: Array<{ name: string; op: 'Apply' | 'Update' }> = [
  { name: 'kubectl', op: 'Apply' },
  { name: 'kubectl', op: 'Update' },
  { name: 'before-first-apply', op: 'Update' },
];

function refKey(r: ObjectRef): string {
  return `${r.group}|${r.kind}|${r.namespace ?? ''}|${r.name}`;
}

export class ApplyEngine {
  readonly mapper: RestMapper;
  private readonly manager: string;
  private readonly concurrency: number;
  /** The live objects as last seen by this engine (apply responses, GETs of unchanged ones). */
  private readonly seen = new Map<string, KubeObject>();

  constructor(
    readonly client: KubeClient,
    private readonly opts: ApplyOptions = {},
    mapper?: RestMapper,
  ) {
    this.mapper = mapper ?? new RestMapper(client);
    this.manager = opts.fieldManager ?? 'fluxless';
    this.concurrency = opts.concurrency ?? 24;
  }

  async get(obj: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): Promise<KubeObject | undefined> {
    const mapping = await this.mapper.mapping(obj.apiVersion, obj.kind);
    try {
      return await this.client.request<KubeObject>('GET', RestMapper.path(mapping, obj.metadata.namespace, obj.metadata.name), {
        signal: this.opts.signal,
      });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * The object as this engine last saw it live (the response of its apply, or the GET that
   * found it unchanged), if it did: a health check's first look without another request.
   */
  observed(ref: ObjectRef): KubeObject | undefined {
    return this.seen.get(refKey(ref));
  }

  async getRef(ref: ObjectRef, version?: string): Promise<KubeObject | undefined> {
    const mapping = await this.mapper.mappingForGroupKind(ref.group, ref.kind, version);
    try {
      return await this.client.request<KubeObject>('GET', RestMapper.path(mapping, ref.namespace, ref.name), {
        signal: this.opts.signal,
      });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private applyPatch(p: Planned, dryRun: boolean): Promise<KubeObject> {
    return this.client.request<KubeObject>('PATCH', p.path!, {
      query: { fieldManager: this.manager, force: true, dryRun: dryRun ? 'All' : undefined },
      body: p.obj,
      contentType: 'application/apply-patch+yaml',
      signal: this.opts.signal,
    });
  }

  private shouldSkip(desired: KubeObject, existing: KubeObject | undefined): boolean {
    for (const o of [desired, existing]) {
      if (inMetadata(o, RECONCILE_ANNOTATION, 'disabled') || inMetadata(o, SSA_ANNOTATION, 'Ignore')) return true;
    }
    return Boolean(existing?.metadata.uid) && inMetadata(desired, SSA_ANNOTATION, 'IfNotPresent');
  }

  private shouldForce(desired: KubeObject, existing: KubeObject | undefined): boolean {
    return Boolean(this.opts.force) || inMetadata(desired, FORCE_ANNOTATION, 'Enabled') || inMetadata(existing, FORCE_ANNOTATION, 'Enabled');
  }

  /** JSON patch that hands kubectl's fields to us and drops last-applied (Flux's cleanup). */
  private cleanupPatch(desired: KubeObject, existing: KubeObject | undefined): unknown[] | undefined {
    if (!existing) return undefined;
    if (inMetadata(desired, SSA_ANNOTATION, 'Merge') || inMetadata(existing, SSA_ANNOTATION, 'Merge')) return undefined;
    const patches: unknown[] = [];
    if (existing.metadata.annotations && LAST_APPLIED in existing.metadata.annotations) {
      patches.push({ op: 'remove', path: `/metadata/annotations/${LAST_APPLIED.replace(/~/g, '~0').replace(/\//g, '~1')}` });
    }
    const entries = existing.metadata.managedFields ?? [];
    let renamed = false;
    const merged: ManagedFieldsEntry[] = [];
    const ours = new Map<string, ManagedFieldsEntry>();
    for (const e of entries) {
      const take =
        !e.subresource && TAKEOVER.some((t) => (e.manager ?? '').startsWith(t.name) && e.operation === t.op);
      const entry: ManagedFieldsEntry = take ? { ...e, manager: this.manager, operation: 'Apply' } : { ...e };
      if (take) renamed = true;
      if (entry.manager === this.manager && entry.operation === 'Apply' && !entry.subresource) {
        const key = entry.apiVersion ?? '';
        const prev = ours.get(key);
        if (prev) {
          prev.fieldsV1 = mergeFields(prev.fieldsV1 ?? {}, entry.fieldsV1 ?? {});
          continue;
        }
        ours.set(key, entry);
      }
      merged.push(entry);
    }
    if (renamed) patches.push({ op: 'replace', path: '/metadata/managedFields', value: merged });
    return patches.length ? patches : undefined;
  }

  /** GET + dry-run one object and decide what to do with it. Never throws. */
  private async plan(p: Planned, deferrable: (p: Planned, err: unknown) => boolean, likelyNew?: (ref: ObjectRef) => boolean): Promise<void> {
    try {
      const { mapping, path } = await this.mapper.objectPath(p.obj);
      p.mapping = mapping;
      p.path = path;
      if (!mapping.namespaced && p.obj.metadata.namespace) {
        // kustomize may set a namespace on cluster-scoped objects; the API ignores it.
        p.obj = { ...p.obj, metadata: { ...p.obj.metadata, namespace: undefined } };
        delete p.obj.metadata.namespace;
      } else if (mapping.namespaced && !p.obj.metadata.namespace) {
        p.error = 'namespace not specified: set metadata.namespace or the Kustomization spec.targetNamespace';
        return;
      }
      if (likelyNew?.(refOf(p.obj))) {
        // Not applied before: dry-run straight away; a GET would only say "not found".
        if (this.shouldSkip(p.obj, undefined)) {
          p.action = 'skipped';
          return;
        }
        const dry = await this.applyPatch(p, true).catch(() => undefined);
        if (dry && !dry.metadata.resourceVersion) {
          p.existing = undefined;
          p.dryRun = dry;
          p.action = 'created';
          return;
        }
        // It exists after all, or the dry-run failed: the usual path decides, live object in hand.
      }
      try {
        p.existing = await this.client.request<KubeObject>('GET', path, { signal: this.opts.signal });
      } catch (err) {
        if (!isNotFound(err)) throw err;
        p.existing = undefined;
      }
      if (this.shouldSkip(p.obj, p.existing)) {
        p.action = 'skipped';
        return;
      }
      try {
        p.dryRun = await this.applyPatch(p, true);
      } catch (err) {
        if (p.existing && isImmutableError(err) && this.shouldForce(p.obj, p.existing)) {
          p.recreate = true;
          p.action = 'created';
          return;
        }
        if (isImmutableError(err) && p.existing && err instanceof KubeApiError && /immutable/i.test(err.message)) {
          p.error = `${reasonOf(err)}; set spec.force: true or annotate the object with ${FORCE_ANNOTATION}: Enabled to recreate it`;
          return;
        }
        throw err;
      }
      p.cleanup = this.cleanupPatch(p.obj, p.existing);
      if (
        !p.cleanup &&
        p.existing &&
        p.dryRun.metadata.resourceVersion !== p.existing.metadata.resourceVersion &&
        hasDrifted(p.existing, p.dryRun)
      ) {
        // The object changed between our GET and the dry-run (a controller wrote to it):
        // compare against the version the dry-run was based on.
        p.existing = await this.client.request<KubeObject>('GET', path, { signal: this.opts.signal });
        p.dryRun = await this.applyPatch(p, true);
      }
      if (p.cleanup || hasDrifted(p.existing, p.dryRun)) {
        p.action = p.dryRun.metadata.resourceVersion ? 'configured' : 'created';
      } else {
        p.action = 'unchanged';
        if (p.existing) this.seen.set(refKey(refOf(p.obj)), p.existing);
      }
    } catch (err) {
      if (deferrable(p, err)) {
        p.deferred = true;
        return;
      }
      p.error = err instanceof NoKindMatchError ? err.message : reasonOf(err);
    }
  }

  private async write(p: Planned): Promise<void> {
    if (p.action === 'unchanged' || p.action === 'skipped') return;
    try {
      if (p.recreate && p.existing) {
        await this.client
          .request('DELETE', p.path!, { body: { propagationPolicy: 'Background' }, signal: this.opts.signal })
          .catch((err: unknown) => {
            if (!isNotFound(err)) throw err;
          });
        await this.waitGone(p);
      }
      if (p.cleanup && p.existing) {
        await this.client.request('PATCH', p.path!, {
          body: p.cleanup,
          contentType: 'application/json-patch+json',
          query: { fieldManager: this.manager },
          signal: this.opts.signal,
        });
      }
      this.seen.set(refKey(refOf(p.obj)), await this.applyPatch(p, false));
    } catch (err) {
      throw new ApplyFailedError(`${p.subject} apply failed: ${reasonOf(err)}`, err);
    }
  }

  private async waitGone(p: Planned): Promise<void> {
    const deadline = Date.now() + (this.opts.waitTimeoutMs ?? 60_000);
    for (;;) {
      try {
        await this.client.request('GET', p.path!, { signal: this.opts.signal });
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      if (Date.now() > deadline) throw new ApplyFailedError(`${p.subject} immutable field detected, timed out waiting for it to be deleted`);
      await new Promise((r) => setTimeout(r, this.opts.waitIntervalMs ?? 200));
    }
  }

  /** Writes planned objects in sort order: same rank concurrently, ranks one after another. */
  private async writeOrdered(items: Planned[]): Promise<void> {
    const byRank = new Map<number, Planned[]>();
    for (const p of items) {
      const r = kindRank(p.obj.kind);
      if (!byRank.has(r)) byRank.set(r, []);
      byRank.get(r)!.push(p);
    }
    for (const r of [...byRank.keys()].sort((a, b) => a - b)) {
      await mapLimit(byRank.get(r)!, this.concurrency, (p) => this.write(p));
    }
  }

  private async waitReady(items: Planned[]): Promise<void> {
    const deadline = Date.now() + (this.opts.waitTimeoutMs ?? 60_000);
    const pending = items.filter((p) => p.action !== 'skipped' && p.path);
    while (pending.length) {
      const states = await mapLimit(pending, this.concurrency, async (p) => {
        const live = await this.client.request<KubeObject>('GET', p.path!).catch(() => undefined);
        if (!live) return false;
        if (p.obj.kind === 'CustomResourceDefinition') {
          const conds = ((live.status as { conditions?: Array<{ type: string; status: string }> })?.conditions ?? []);
          return conds.some((c) => c.type === 'Established' && c.status === 'True');
        }
        if (p.obj.kind === 'Namespace') return (live.status as { phase?: string })?.phase !== 'Terminating';
        return true;
      });
      for (let i = pending.length - 1; i >= 0; i--) if (states[i]) pending.splice(i, 1);
      if (!pending.length) break;
      if (Date.now() > deadline) {
        throw new ApplyFailedError(`timeout waiting for: [${pending.map((p) => p.subject).join(', ')}] to become ready`);
      }
      await new Promise((r) => setTimeout(r, this.opts.waitIntervalMs ?? 200));
    }
  }

  private entry(p: Planned, withChanges: boolean): ChangeEntry {
    const ref = refOf(p.obj);
    const e: ChangeEntry = {
      subject: fmtObject(p.obj),
      ref,
      version: splitApiVersion(p.obj.apiVersion).version,
      action: p.action ?? 'unchanged',
    };
    if (withChanges && (p.action === 'configured' || p.action === 'created')) {
      e.changes = fieldDiff(p.recreate ? undefined : p.existing, p.dryRun ?? p.obj);
    }
    return e;
  }

  private async planAll(items: Planned[], deferrable: (p: Planned, err: unknown) => boolean, likelyNew?: (ref: ObjectRef) => boolean): Promise<void> {
    await mapLimit(items, this.concurrency, (p) => this.plan(p, deferrable, likelyNew));
  }

  private static failures(items: Planned[]): Array<{ subject: string; reason: string }> {
    return items.filter((p) => p.error).map((p) => ({ subject: p.subject, reason: p.error! }));
  }

  /**
   * Applies the objects. Returns one entry per object in apply order.
   * Throws ValidationFailedError (nothing written) or ApplyFailedError.
   */
  async applyAll(
    objects: KubeObject[],
    opts: {
      diffOnly?: boolean;
      withChanges?: boolean;
      /** Objects probably not in the cluster yet (not in the last inventory): skip the GET. */
      likelyNew?: (ref: ObjectRef) => boolean;
    } = {},
  ): Promise<ChangeEntry[]> {
    const sorted = objects.map(normalizeForApply).sort(compareObjects);
    const items: Planned[] = sorted.map((obj) => ({ obj, subject: fmtObject(obj) }));
    const seen = new Set<string>();
    for (const p of items) {
      const id = `${p.obj.apiVersion.split('/')[0]}|${p.obj.kind}|${p.obj.metadata.namespace ?? ''}|${p.obj.metadata.name}`;
      if (seen.has(id)) p.error = 'the object is defined more than once';
      seen.add(id);
    }
    // What this batch itself creates: CRD kinds and Namespaces.
    const batchKinds = new Set<string>();
    const batchNamespaces = new Set<string>();
    for (const o of sorted) {
      if (o.kind === 'CustomResourceDefinition') {
        const spec = o.spec as { group?: string; names?: { kind?: string } } | undefined;
        if (spec?.group && spec.names?.kind) batchKinds.add(`${spec.group}|${spec.names.kind}`);
      }
      if (o.kind === 'Namespace') batchNamespaces.add(o.metadata.name);
    }
    const deferrable = (p: Planned, err: unknown) => {
      if (err instanceof NoKindMatchError) return batchKinds.has(`${splitApiVersion(p.obj.apiVersion).group}|${p.obj.kind}`);
      if (isNotFound(err) && p.obj.metadata.namespace && batchNamespaces.has(p.obj.metadata.namespace)) return true;
      return false;
    };
    await this.planAll(items.filter((p) => !p.error), deferrable, opts.likelyNew);
    const failed = ApplyEngine.failures(items);
    if (failed.length) throw new ValidationFailedError(failed);

    const withChanges = opts.withChanges ?? opts.diffOnly ?? false;
    if (opts.diffOnly) {
      // Deferred objects cannot be dry-run without writing their CRD/Namespace: report them as created.
      for (const p of items) if (p.deferred) p.action = 'created';
      return items.map((p) => this.entry(p, withChanges));
    }

    for (const stage of [1, 2, 3] as const) {
      const inStage = items.filter((p) => stageOf(p.obj.kind) === stage);
      if (!inStage.length) continue;
      const deferred = inStage.filter((p) => p.deferred);
      if (deferred.length) {
        for (const p of deferred) p.deferred = false;
        this.mapper.invalidate();
        await this.planAll(deferred, () => false);
        const f = ApplyEngine.failures(deferred);
        if (f.length) throw new ValidationFailedError(f);
      }
      const toWrite = inStage.filter((p) => p.action !== 'unchanged' && p.action !== 'skipped');
      await this.writeOrdered(toWrite);
      if (stage < 3 && toWrite.length) {
        await this.waitReady(inStage);
        if (toWrite.some((p) => p.obj.kind === 'CustomResourceDefinition')) this.mapper.invalidate();
      }
    }
    const entries = items.map((p) => this.entry(p, withChanges));
    log.debug('applied', { objects: entries.length, changed: entries.filter((e) => e.action !== 'unchanged').length });
    return entries;
  }

  /**
   * Deletes objects (prune), in reverse apply order. Only objects whose labels match
   * `ownerLabels` and that are not annotated `prune: disabled` are deleted.
   */
  async deleteAll(
    refs: Array<ObjectRef & { version?: string }>,
    opts: { ownerLabels?: Record<string, string>; propagation?: 'Background' | 'Foreground' | 'Orphan' } = {},
  ): Promise<{ entries: ChangeEntry[]; failed: Array<{ ref: ObjectRef; version?: string; reason: string }> }> {
    const sorted = [...refs].sort(compareRefs).reverse();
    const entries: ChangeEntry[] = [];
    const failed: Array<{ ref: ObjectRef; version?: string; reason: string }> = [];
    const byRank = new Map<number, typeof sorted>();
    for (const r of sorted) {
      const k = kindRank(r.kind);
      if (!byRank.has(k)) byRank.set(k, []);
      byRank.get(k)!.push(r);
    }
    for (const rank of [...byRank.keys()].sort((a, b) => b - a)) {
      await mapLimit(byRank.get(rank)!, this.concurrency, async (ref) => {
        const subject = fmtRef(ref);
        const base = { subject, ref: { group: ref.group, kind: ref.kind, namespace: ref.namespace, name: ref.name }, version: ref.version ?? '' };
        try {
          let mapping: ResourceMapping;
          try {
            mapping = await this.mapper.mappingForGroupKind(ref.group, ref.kind, ref.version);
          } catch (err) {
            if (err instanceof NoKindMatchError) {
              entries.push({ ...base, action: 'deleted' }); // the kind is gone, so is the object
              return;
            }
            throw err;
          }
          const path = RestMapper.path(mapping, ref.namespace, ref.name);
          let live: KubeObject | undefined;
          try {
            live = await this.client.request<KubeObject>('GET', path);
          } catch (err) {
            if (!isNotFound(err)) throw err;
          }
          if (!live) {
            entries.push({ ...base, action: 'deleted' });
            return;
          }
          const owned = Object.entries(opts.ownerLabels ?? {}).every(([k, v]) => live!.metadata.labels?.[k] === v);
          if (!owned || inMetadata(live, PRUNE_ANNOTATION, 'disabled') || inMetadata(live, RECONCILE_ANNOTATION, 'disabled') || inMetadata(live, SSA_ANNOTATION, 'Ignore')) {
            entries.push({ ...base, action: 'skipped' });
            return;
          }
          if (live.metadata.deletionTimestamp) {
            entries.push({ ...base, action: 'deleted' });
            return;
          }
          await this.client.request('DELETE', path, { body: { propagationPolicy: opts.propagation ?? 'Background' } }).catch((err: unknown) => {
            if (!isNotFound(err)) throw err;
          });
          entries.push({ ...base, action: 'deleted' });
        } catch (err) {
          failed.push({ ref: base.ref, version: ref.version, reason: `${subject} delete failed: ${reasonOf(err)}` });
        }
      });
    }
    return { entries, failed };
  }
}

function mergeFields(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      cur && typeof cur === 'object' && v && typeof v === 'object'
        ? mergeFields(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

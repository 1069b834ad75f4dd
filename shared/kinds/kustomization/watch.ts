/**
 * The config watch (Flux 2.7 `reconcile.fluxcd.io/watch: Enabled`) without watches.
 *
 * kustomize-controller reconciles a Kustomization as soon as a ConfigMap or Secret it
 * reads through `postBuild.substituteFrom` changes, if that object carries the watch
 * label. Fluxless has no watches, so:
 * - every reconcile reads the substituteFrom objects again: any change is applied by the
 *   next drift run (the Kustomization's interval) at the latest;
 * - for labelled objects (and optional ones that do not exist yet) the reconcile records,
 *   per namespace, which Kustomization read which object at which resourceVersion
 *   (`ConfigWatchIndex/<namespace>/substitute-from`, written only when it changed);
 * - `watchedConfigWakes`, run on every scheduler tick, does one LIST per namespace and
 *   kind of the labelled objects and wakes the Kustomizations whose recorded
 *   resourceVersion no longer matches (changed, created or deleted), so a change lands
 *   within a scheduler tick. A fleet without watched configs pays one state LIST per tick
 *   and nothing on the reconcile path.
 */
import type { KubeClient } from '../../kube/client.js';
import type { ObjectKey } from '../../kube/object.js';
import type { ReconcileServices, Wake } from '../../reconcile/contract.js';
import type { StateStore } from '../../state/store.js';
import { readRecordSafe } from '../../state/records.js';
import { errorMessage } from '../../util/errors.js';
import { log } from '../../util/log.js';

/** A `substituteFrom` ConfigMap/Secret as a build read it. */
export interface ConfigVersion {
  kind: 'ConfigMap' | 'Secret';
  name: string;
  /** Its resourceVersion; '' when it does not exist (an optional reference). */
  resourceVersion: string;
  /** Labelled `reconcile.fluxcd.io/watch: Enabled`: a change reconciles the Kustomization without waiting for its interval. */
  watched: boolean;
}

/** Label that opts a ConfigMap/Secret into change notifications (Flux 2.7 `--watch-configs-label-selector` default). */
export const WATCH_LABEL = 'reconcile.fluxcd.io/watch';
/** The value of WATCH_LABEL that enables it. */
export const WATCH_ENABLED = 'Enabled';

/** Kind of the index records (one per namespace). */
export const CONFIG_WATCH_INDEX = 'ConfigWatchIndex';
const INDEX_NAME = 'substitute-from';

/** One Kustomization's watched configs. */
interface Member {
  name: string;
  configs: Array<Pick<ConfigVersion, 'kind' | 'name' | 'resourceVersion'>>;
}

interface WatchDoc {
  members: Member[];
}

function indexKey(namespace: string): ObjectKey {
  return { kind: CONFIG_WATCH_INDEX, namespace, name: INDEX_NAME };
}

function sameConfigs(a: Member['configs'], b: Member['configs']): boolean {
  return a.length === b.length && a.every((c, i) => c.kind === b[i]!.kind && c.name === b[i]!.name && c.resourceVersion === b[i]!.resourceVersion);
}

/**
 * Records the watched configs a reconcile of Kustomization `namespace/name` read (one
 * read, and a write only when they changed). Call only for Kustomizations with
 * `substituteFrom` (or that had watched configs before, to clear them).
 */
export async function recordWatchedConfigs(svc: Pick<ReconcileServices, 'state'>, namespace: string, name: string, configs: readonly ConfigVersion[]): Promise<void> {
  const watched = configs.filter((c) => c.watched).map((c) => ({ kind: c.kind, name: c.name, resourceVersion: c.resourceVersion }));
  const key = indexKey(namespace);
  const cur = (await svc.state.get<WatchDoc>(key))?.value;
  const mine = cur?.members.find((m) => m.name === name);
  if (mine ? sameConfigs(mine.configs, watched) : !watched.length) return;
  await svc.state.update<WatchDoc>(key, (c) => {
    const others = (c?.members ?? []).filter((m) => m.name !== name);
    const members = watched.length ? [...others, { name, configs: watched }] : others;
    return members.length || c ? { members } : undefined;
  });
}

/** Drops a Kustomization from the watch index (it was finalized). */
export async function forgetWatchedConfigs(svc: Pick<ReconcileServices, 'state'>, namespace: string, name: string): Promise<void> {
  const key = indexKey(namespace);
  if (!(await svc.state.get<WatchDoc>(key))?.value.members.some((m) => m.name === name)) return;
  await svc.state.update<WatchDoc>(key, (c) => (c ? { members: c.members.filter((m) => m.name !== name) } : undefined));
}

/** resourceVersions of the labelled objects of one kind in one namespace. */
async function labelledVersions(client: KubeClient, namespace: string, kind: 'ConfigMap' | 'Secret'): Promise<Map<string, string>> {
  const plural = kind === 'Secret' ? 'secrets' : 'configmaps';
  const out = new Map<string, string>();
  let cont: string | undefined;
  do {
    const page = await client.request<{ items?: Array<{ metadata: { name: string; resourceVersion?: string } }>; metadata?: { continue?: string } }>(
      'GET',
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/${plural}`,
      { query: { labelSelector: `${WATCH_LABEL}=${WATCH_ENABLED}`, limit: 500, continue: cont } },
    );
    for (const it of page.items ?? []) out.set(it.metadata.name, it.metadata.resourceVersion ?? '');
    cont = page.metadata?.continue || undefined;
  } while (cont);
  return out;
}

/** True when Kustomization `rec` still reads `config` through substituteFrom. */
function stillReads(spec: unknown, config: Member['configs'][number]): boolean {
  const from = ((spec ?? {}) as { postBuild?: { substituteFrom?: Array<{ kind?: string; name?: string }> } }).postBuild?.substituteFrom ?? [];
  return from.some((f) => f.kind === config.kind && f.name === config.name);
}

/** True when some Kustomization reads a watched ConfigMap or Secret (one state LIST). */
export async function hasWatchedConfigs(state: StateStore): Promise<boolean> {
  return (await state.list({ kind: CONFIG_WATCH_INDEX })).length > 0;
}

/**
 * One scheduler tick of the config watch: the Kustomizations whose watched ConfigMaps or
 * Secrets changed since they last read them. A namespace that cannot be listed is skipped
 * (logged) and tried again next tick.
 */
export async function watchedConfigWakes(svc: Pick<ReconcileServices, 'state' | 'client'>): Promise<Wake[]> {
  const wakes: Wake[] = [];
  for (const key of await svc.state.list({ kind: CONFIG_WATCH_INDEX })) {
    const doc = (await svc.state.get<WatchDoc>(key).catch(() => undefined))?.value;
    if (!doc?.members.length) continue;
    const ns = key.namespace;
    const kinds = new Set(doc.members.flatMap((m) => m.configs.map((c) => c.kind)));
    const live = new Map<string, Map<string, string>>();
    try {
      for (const k of kinds) live.set(k, await labelledVersions(svc.client, ns, k));
    } catch (err) {
      log.warn('config watch: could not list watched ConfigMaps/Secrets; trying again next tick', { namespace: ns, error: errorMessage(err) });
      continue;
    }
    const gone: string[] = [];
    for (const m of doc.members) {
      const changed = m.configs.filter((c) => (live.get(c.kind)?.get(c.name) ?? '') !== c.resourceVersion);
      if (!changed.length) continue;
      const read = await readRecordSafe(svc.state, { kind: 'Kustomization', namespace: ns, name: m.name });
      const rec = read.record;
      if (read.corrupt) continue;
      if (!rec?.object || rec.deleted || !m.configs.some((c) => stillReads(rec.object!.spec, c))) {
        gone.push(m.name);
        continue;
      }
      // Reads others still: its next reconcile rewrites its entry.
      if (!changed.some((c) => stillReads(rec.object!.spec, c))) continue;
      const versions = changed.map((c) => `${c.kind}/${c.name}@${live.get(c.kind)?.get(c.name) ?? 'deleted'}`).join(',');
      wakes.push({ key: { kind: 'Kustomization', namespace: ns, name: m.name }, reason: 'config', dedupKey: `config-${versions}` });
    }
    if (gone.length) await svc.state.update<WatchDoc>(key, (c) => (c ? { members: c.members.filter((x) => !gone.includes(x.name)) } : undefined));
  }
  return wakes;
}

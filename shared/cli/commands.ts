/**
 * Flux's verbs on Fluxless's state: get, reconcile, suspend, resume, events, tree. They find
 * kinds through the registry and work against whatever store the configuration names (the
 * local runtime's data directory, or S3 + SQS on AWS). build and diff are in render-cmds.ts.
 */
import { fmtRef, type ObjectKey } from '../kube/object.js';
import type { ReceivedMessage } from '../queue/index.js';
import { reconcileMessage } from '../queue/index.js';
import type { KindReconciler } from '../reconcile/contract.js';
import { KINDS, kindByWord, kindReconciler } from '../kinds/registry.js';
import { MANAGEMENT_CLUSTER } from '../kube/targets.js';
import { deliveryEventRows } from '../notify/records.js';
import { enqueue } from '../runtime/enqueue.js';
import type { Runtime } from '../runtime/runtime.js';
import { handleMessage } from '../runtime/worker.js';
import { corruptMessage, getCondition, listRecords, readRecord, type ObjectRecord } from '../state/records.js';
import { FluxlessError, NotFoundError } from '../util/errors.js';
import { sleep } from '../util/time.js';
import { output, renderTable, runningServer } from './context.js';
import { trimEnd } from '../util/trim.js';

/** The kind a CLI word names; a usage error listing the known words otherwise. */
export function kindOf(word: string): KindReconciler {
  const k = kindByWord(word);
  if (!k) {
    throw new FluxlessError('Usage', `unknown kind '${word}'`, {
      hint: `use one of: ${KINDS.map((x) => x.names.singular).join(', ')}`,
    });
  }
  return k;
}

/** The kinds `get WHAT` lists: all, sources, or one kind. */
export function kindsFor(what: string): KindReconciler[] {
  if (what === 'all') return [...KINDS];
  if (what === 'sources' || what === 'source') return KINDS.filter((k) => k.names.source);
  return [kindOf(what)];
}

/** One row of `get`. */
export interface StatusRow {
  kind: string;
  namespace: string;
  name: string;
  /** The cluster the object applies to: `in-cluster`, a remote cluster's name, `-` for kinds that apply nothing. */
  cluster: string;
  /** The remote cluster's API server, when the object targets one. */
  clusterServer?: string;
  revision: string;
  suspended: boolean;
  ready: string;
  reason: string;
  message: string;
}

/**
 * Where an object applies, from its record: the remote cluster its last reconcile resolved
 * (`status.targetCluster`), the reference it names when not resolved yet, `in-cluster` for
 * appliers without one, and `-` for kinds that apply nothing (sources, notifications).
 */
export function targetClusterOf(kind: KindReconciler, rec: ObjectRecord): { cluster: string; server?: string } {
  const t = rec.status.targetCluster as { name?: string; server?: string } | undefined;
  if (t?.name) return { cluster: t.name, server: t.server };
  const kc = (rec.object?.spec as { kubeConfig?: { secretRef?: { name?: string }; configMapRef?: { name?: string } } } | undefined)?.kubeConfig;
  if (kc?.secretRef?.name) return { cluster: `secret/${kc.secretRef.name}` };
  if (kc?.configMapRef?.name) return { cluster: `configmap/${kc.configMapRef.name}` };
  return { cluster: kind.schedule === 'drift' ? MANAGEMENT_CLUSTER : '-' };
}

/** True when `row` targets the cluster `want` (its name, server URL or host:port; `in-cluster` or `management` for the management cluster). */
export function onCluster(row: Pick<StatusRow, 'cluster' | 'clusterServer'>, want: string): boolean {
  if (row.cluster === '-') return false;
  if (want === 'management' || want === MANAGEMENT_CLUSTER) return row.cluster === MANAGEMENT_CLUSTER;
  if (row.cluster === want) return true;
  if (!row.clusterServer) return false;
  const server = trimEnd(row.clusterServer, '/');
  return server === trimEnd(want, '/') || server.replace(/^https?:\/\//, '') === want;
}

function statusRow(kind: KindReconciler, key: ObjectKey, rec: ObjectRecord): StatusRow {
  const ready = getCondition(rec, 'Ready');
  const target = targetClusterOf(kind, rec);
  const suspended = Boolean((rec.object?.spec as { suspend?: boolean } | undefined)?.suspend || rec.suspended);
  const overrides = rec.bootstrap?.conflicts?.length ? ` (fluxless.yaml overrides Git: ${rec.bootstrap.conflicts.length} field(s))` : '';
  return {
    kind: kind.kind,
    namespace: key.namespace,
    name: key.name,
    cluster: target.cluster,
    ...(target.server ? { clusterServer: target.server } : {}),
    revision: kind.summary(rec).revision,
    suspended,
    ready: rec.deleted ? 'Deleting' : ready?.status ?? 'Unknown',
    reason: ready?.reason ?? '',
    message: (rec.deleted ? 'removed from Git, being finalized' : ready?.message ?? 'not reconciled yet') + overrides,
  };
}

/**
 * `fluxless get`: a table (or JSON/YAML) of objects and their Ready status; corrupt records
 * are listed as such. `cluster` keeps the objects that apply to that cluster; the table has
 * a CLUSTER column when it is given or when any object targets a remote cluster.
 */
export async function getCmd(rt: Runtime, what: string, opts: { namespace?: string; output: string; cluster?: string }): Promise<string> {
  let rows: StatusRow[] = [];
  for (const kind of kindsFor(what)) {
    for (const read of await listRecords(rt.state, opts.namespace ? { kind: kind.kind, namespace: opts.namespace } : { kind: kind.kind })) {
      if (read.corrupt) {
        rows.push({ kind: kind.kind, namespace: read.key.namespace, name: read.key.name, cluster: '?', revision: '', suspended: false, ready: 'Corrupt', reason: 'StateCorrupt', message: corruptMessage(read) });
      } else if (read.record?.object) {
        rows.push(statusRow(kind, read.key, read.record));
      }
    }
  }
  if (opts.cluster) rows = rows.filter((r) => onCluster(r, opts.cluster!));
  return output(opts.output, rows as unknown as Record<string, unknown>[], () => {
    if (!rows.length) return opts.cluster ? `no objects found on cluster '${opts.cluster}'` : 'no objects found';
    const withCluster = Boolean(opts.cluster) || rows.some((r) => r.cluster !== MANAGEMENT_CLUSTER && r.cluster !== '-');
    // Two remote clusters with the same kubeconfig name are told apart by their server.
    const servers = new Map<string, Set<string>>();
    for (const r of rows) if (r.clusterServer) servers.set(r.cluster, (servers.get(r.cluster) ?? new Set()).add(r.clusterServer));
    const clusterCell = (r: StatusRow) => ((servers.get(r.cluster)?.size ?? 0) > 1 ? `${r.cluster} (${r.clusterServer})` : r.cluster);
    return renderTable(
      ['NAMESPACE', 'NAME', ...(withCluster ? ['CLUSTER'] : []), 'REVISION', 'SUSPENDED', 'READY', 'MESSAGE'],
      rows.map((r) => [r.namespace, `${r.kind.toLowerCase()}/${r.name}`, ...(withCluster ? [clusterCell(r)] : []), r.revision, String(r.suspended), r.ready, r.message.split('\n')[0]]),
    );
  });
}

/** `fluxless suspend|resume`: like `flux suspend` patching spec.suspend outside Git. */
export async function setSuspended(rt: Runtime, kind: KindReconciler, ns: string, name: string, suspended: boolean): Promise<string> {
  const key = { kind: kind.kind, namespace: ns, name };
  const res = await rt.state.update<ObjectRecord>(key, (cur) => (cur?.object ? { ...cur, suspended } : undefined));
  if (!res?.value.object) throw new NotFoundError(`${kind.kind} ${ns}/${name} not found`, { hint: "list objects with 'fluxless get all -A'" });
  if (!suspended) await enqueue(rt, key, 'manual', { dedupKey: `resume-${Date.now()}` });
  return `✔ ${kind.names.singular} ${ns}/${name} ${suspended ? 'suspended' : 'resumed'}`;
}

function isSuspended(rec: ObjectRecord | undefined): boolean {
  return Boolean(rec?.object && ((rec.object.spec as { suspend?: boolean } | undefined)?.suspend || rec.suspended));
}

/**
 * `fluxless reconcile`: asks for a reconcile and waits for it. With a running `fluxless
 * serve`, the request goes through its queue; without one, this process does the work
 * with the same handler. Returns the exit code (1 when not Ready afterwards).
 */
export async function reconcileCmd(
  rt: Runtime,
  dataDir: string,
  kind: KindReconciler,
  ns: string,
  name: string,
  opts: { withSource: boolean; timeoutMs: number; log: (s: string) => void },
): Promise<number> {
  const key = { kind: kind.kind, namespace: ns, name };
  const rec = await readRecord(rt.state, key);
  if (!rec?.object) throw new NotFoundError(`${kind.kind} ${ns}/${name} not found`, { hint: "list objects with 'fluxless get all'" });
  const steps: ObjectKey[] = [];
  const src = opts.withSource ? kind.sourceOf?.(rec) : undefined;
  if (src) steps.push(src);
  steps.push(key);
  // Like `flux reconcile`: a suspended object is refused before anything runs.
  for (const step of steps) {
    const cur = step === key ? rec : await readRecord(rt.state, step);
    if (isSuspended(cur)) {
      const word = kindReconciler(step.kind)?.names.singular ?? step.kind.toLowerCase();
      throw new FluxlessError('Suspended', `${step.kind} ${step.namespace}/${step.name} is suspended`, {
        hint: `resume it with 'fluxless resume ${word} ${step.name} -n ${step.namespace}'`,
      });
    }
  }
  const server = runningServer(dataDir);
  for (const step of steps) {
    const requestedAt = new Date().toISOString();
    await rt.state.update<ObjectRecord>(step, (cur) => (cur ? { ...cur, requestedAt } : undefined));
    opts.log(`► annotating ${step.kind} ${step.namespace}/${step.name}`);
    if (server) {
      await enqueue(rt, step, 'manual', { dedupKey: requestedAt });
      opts.log(`◎ waiting for ${step.kind} reconciliation (by the server at ${server.url})`);
      const deadline = Date.now() + opts.timeoutMs;
      for (;;) {
        const cur = await readRecord(rt.state, step);
        if (cur?.status.lastHandledReconcileAt && cur.status.lastHandledReconcileAt >= requestedAt) break;
        if (!cur?.object) throw new NotFoundError(`${step.kind} ${step.namespace}/${step.name} no longer exists (removed from Git and finalized)`, { hint: "list objects with 'fluxless get all'" });
        // A definition that cannot succeed (invalid spec, removed API version) is reported at once.
        const stalled = getCondition(cur, 'Stalled');
        if (stalled?.status === 'True' && cur.status.observedGeneration === Number(cur.object.metadata.generation ?? 1)) {
          opts.log(`✗ ${stalled.message}`);
          return 1;
        }
        if (Date.now() > deadline) {
          throw new FluxlessError('Timeout', `timed out waiting for ${step.kind} ${step.namespace}/${step.name} to be reconciled`, { hint: `see its events: 'fluxless events --for ${step.kind}/${step.name} -n ${step.namespace}'` });
        }
        await sleep(300);
      }
    } else {
      opts.log(`◎ reconciling ${step.kind} in this process (no 'fluxless serve' running)`);
      const msg = reconcileMessage(step, 'manual');
      const received: ReceivedMessage = { message: msg, receipt: 'inline', receiveCount: 1, raw: JSON.stringify(msg), messageId: msg.id, groupId: fmtRef(step) };
      await handleMessage(rt, received);
    }
    const after = await readRecord(rt.state, step);
    const ready = getCondition(after, 'Ready');
    if (ready?.status !== 'True') {
      opts.log(`✗ ${ready?.message ?? 'not ready'}`);
      return 1;
    }
    opts.log(`✔ ${ready.message}`);
  }
  return 0;
}

/** `fluxless events`: every object's events, oldest first (`--for Kind/name` filters, and adds its notification deliveries). */
export async function eventsCmd(rt: Runtime, opts: { namespace?: string; forObj?: string }): Promise<string> {
  let kinds: KindReconciler[] = [...KINDS];
  let only: string | undefined;
  if (opts.forObj) {
    const [k, n] = opts.forObj.split('/');
    if (!k || !n) throw new FluxlessError('Usage', `--for takes Kind/name, got '${opts.forObj}'`);
    kinds = [kindOf(k)];
    only = n;
  }
  const all: Array<{ t: string; row: string[] }> = [];
  for (const kind of kinds) {
    for (const read of await listRecords(rt.state, opts.namespace ? { kind: kind.kind, namespace: opts.namespace } : { kind: kind.kind })) {
      if (only && read.key.name !== only) continue;
      for (const e of read.record?.events ?? []) {
        const times = e.count && e.count > 1 ? ` (x${e.count})` : '';
        all.push({ t: e.timestamp, row: [e.timestamp, e.severity === 'error' ? 'Warning' : 'Normal', e.reason, `${kind.kind}/${read.key.name}`, e.message.replace(/\n/g, '; ') + times] });
      }
      if (only && read.record?.object) {
        for (const d of await deliveryEventRows(rt.state, read.key)) all.push({ t: d.timestamp, row: [d.timestamp, d.type, d.reason, `${kind.kind}/${read.key.name}`, d.message.replace(/\n/g, '; ')] });
      }
    }
  }
  all.sort((a, b) => a.t.localeCompare(b.t));
  return all.length ? renderTable(['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'], all.map((a) => a.row)) : 'no events found';
}

/** `fluxless tree`: the objects an object manages, recursively through the kinds that manage objects. */
export async function treeCmd(rt: Runtime, kind: KindReconciler, ns: string, name: string): Promise<string> {
  const root = { kind: kind.kind, namespace: ns, name };
  if (!(await readRecord(rt.state, root))?.object) throw new NotFoundError(`${kind.kind} ${ns}/${name} not found`, { hint: `list them with 'fluxless get ${kind.names.plural} -A'` });
  const lines: string[] = [fmtRef(root)];
  const visited = new Set<string>([fmtRef(root)]);
  const walk = async (key: ObjectKey, prefix: string) => {
    const k = kindReconciler(key.kind);
    const rec = await readRecord(rt.state, key);
    if (!k?.children || !rec) return;
    const children = k.children(rec);
    for (let i = 0; i < children.length; i++) {
      const c = children[i];
      const last = i === children.length - 1;
      lines.push(`${prefix}${last ? '└── ' : '├── '}${fmtRef(c)}`);
      const ck = kindReconciler(c.kind);
      // Recurse into Flux objects that manage objects; each object is shown expanded once.
      if (ck?.children && c.group === ck.group && !visited.has(fmtRef(c))) {
        visited.add(fmtRef(c));
        await walk(c, prefix + (last ? '    ' : '│   '));
      }
    }
  };
  await walk(root, '');
  return lines.join('\n');
}

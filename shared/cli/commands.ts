/**
 * Flux's verbs on Fluxless's state: get, reconcile, suspend, resume, events, tree, build,
 * diff. They work against whatever store the configuration names (the local runtime's data
 * directory, or S3 + SQS on AWS).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { extractArtifact } from '../artifacts/extract.js';
import { ApplyEngine } from '../apply/engine.js';
import { renderDiff } from '../apply/diff.js';
import { fmtRef, inventoryId, parseInventoryId } from '../kube/object.js';
import type { ReceivedMessage } from '../queue/index.js';
import { reconcileMessage } from '../queue/index.js';
import { buildKustomization, isFluxObject } from '../reconcile/kustomization.js';
import { parseKustomization } from '../reconcile/kustomization-spec.js';
import { getCondition, readRecord, type ObjectRecord } from '../reconcile/records.js';
import { enqueue } from '../runtime/enqueue.js';
import type { Runtime } from '../runtime/runtime.js';
import { handleMessage } from '../runtime/worker.js';
import { FluxlessError, NotFoundError } from '../util/errors.js';
import { output, renderTable, runningServer } from './context.js';

export const KIND_ALIASES: Record<string, string> = {
  kustomization: 'Kustomization',
  kustomizations: 'Kustomization',
  ks: 'Kustomization',
  source: 'GitRepository',
  'source git': 'GitRepository',
  gitrepository: 'GitRepository',
  gitrepositories: 'GitRepository',
  git: 'GitRepository',
  receiver: 'Receiver',
  receivers: 'Receiver',
};

export function kindOf(word: string): string {
  const k = KIND_ALIASES[word.toLowerCase()];
  if (!k) throw new FluxlessError('Usage', `unknown kind '${word}'`, { hint: 'use kustomization, source git (gitrepository) or receiver' });
  return k;
}

const KS_HINT = "list Kustomizations with 'fluxless get kustomizations -A'";

async function records(rt: Runtime, kind: string, ns?: string): Promise<Array<{ key: { kind: string; namespace: string; name: string }; rec: ObjectRecord }>> {
  const out = [];
  for (const key of await rt.state.list(ns ? { kind, namespace: ns } : { kind })) {
    const rec = await readRecord(rt.state, key);
    if (rec?.object) out.push({ key, rec });
  }
  return out;
}

function statusRow(kind: string, key: { namespace: string; name: string }, rec: ObjectRecord) {
  const ready = getCondition(rec, 'Ready');
  const suspended = Boolean((rec.object?.spec as { suspend?: boolean } | undefined)?.suspend || rec.suspended);
  return {
    kind,
    namespace: key.namespace,
    name: key.name,
    revision: kind === 'Kustomization' ? rec.status.lastAppliedRevision ?? '' : rec.status.artifact?.revision ?? '',
    suspended,
    ready: rec.deleted ? 'Deleting' : ready?.status ?? 'Unknown',
    reason: ready?.reason ?? '',
    message: rec.deleted ? 'removed from Git, being finalized' : ready?.message ?? 'not reconciled yet',
  };
}

export async function getCmd(rt: Runtime, what: string, opts: { namespace?: string; output: string; allNamespaces?: boolean }): Promise<string> {
  const kinds = what === 'all' ? ['GitRepository', 'Kustomization'] : what === 'sources' ? ['GitRepository'] : [kindOf(what)];
  const rows: Array<ReturnType<typeof statusRow>> = [];
  for (const kind of kinds) for (const { key, rec } of await records(rt, kind, opts.namespace)) rows.push(statusRow(kind, key, rec));
  return output(opts.output, rows, () => {
    if (!rows.length) return 'no objects found';
    return renderTable(
      ['NAMESPACE', 'NAME', 'REVISION', 'SUSPENDED', 'READY', 'MESSAGE'],
      rows.map((r) => [r.namespace, `${r.kind === 'GitRepository' ? 'gitrepository' : 'kustomization'}/${r.name}`, r.revision, String(r.suspended), r.ready, r.message.split('\n')[0]]),
    );
  });
}

export async function setSuspended(rt: Runtime, kind: string, ns: string, name: string, suspended: boolean): Promise<string> {
  const res = await rt.state.update<ObjectRecord>({ kind, namespace: ns, name }, (cur) => (cur?.object ? { ...cur, suspended } : undefined));
  if (!res?.value.object) throw new NotFoundError(`${kind} ${ns}/${name} not found`, { hint: "list objects with 'fluxless get all -A'" });
  if (!suspended) await enqueue(rt, { kind, namespace: ns, name }, 'manual', { dedupKey: `resume-${Date.now()}` });
  return `✔ ${kind.toLowerCase()} ${ns}/${name} ${suspended ? 'suspended' : 'resumed'}`;
}

/**
 * Asks for a reconcile and waits for it. With a running `fluxless serve`, the request goes
 * through its queue; without one, this process does the work with the same handler.
 */
export async function reconcileCmd(
  rt: Runtime,
  dataDir: string,
  kind: string,
  ns: string,
  name: string,
  opts: { withSource: boolean; timeoutMs: number; log: (s: string) => void },
): Promise<number> {
  const key = { kind, namespace: ns, name };
  const rec = await readRecord(rt.state, key);
  if (!rec?.object) throw new NotFoundError(`${kind} ${ns}/${name} not found`, { hint: "list objects with 'fluxless get all'" });
  const steps: Array<{ kind: string; namespace: string; name: string }> = [];
  if (opts.withSource && kind === 'Kustomization') {
    const sr = (rec.object.spec as { sourceRef?: { kind: string; name: string; namespace?: string } }).sourceRef;
    if (sr) steps.push({ kind: sr.kind, namespace: sr.namespace ?? ns, name: sr.name });
  }
  steps.push(key);
  // Like `flux reconcile`: a suspended object is refused before anything runs (nothing would
  // happen, and waiting for the server to handle the request would only time out).
  for (const step of [key, ...steps.slice(0, -1)]) {
    const cur = step === key ? rec : await readRecord(rt.state, step);
    if (cur?.object && ((cur.object.spec as { suspend?: boolean } | undefined)?.suspend || cur.suspended)) {
      const word = step.kind === 'GitRepository' ? 'source git' : step.kind.toLowerCase();
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
        // Removed from Git: the server finalized it and dropped its record (nothing to wait for).
        if (!cur?.object) throw new NotFoundError(`${step.kind} ${step.namespace}/${step.name} no longer exists (removed from Git and finalized)`, { hint: "list objects with 'fluxless get all'" });
        if (Date.now() > deadline) throw new FluxlessError('Timeout', `timed out waiting for ${step.kind} ${step.namespace}/${step.name} to be reconciled`, { hint: 'is the server busy? see its logs' });
        await new Promise((r) => setTimeout(r, 300));
      }
    } else {
      opts.log(`◎ reconciling ${step.kind} in this process (no 'fluxless serve' running)`);
      const msg = reconcileMessage(step, 'manual');
      const received: ReceivedMessage = { message: msg, receipt: 'inline', receiveCount: 1, raw: JSON.stringify(msg), messageId: msg.id, groupId: `${step.kind}/${step.namespace}/${step.name}` };
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

export async function eventsCmd(rt: Runtime, opts: { namespace?: string; forObj?: string }): Promise<string> {
  const rows: string[][] = [];
  let kinds = ['GitRepository', 'Kustomization'];
  let only: string | undefined;
  if (opts.forObj) {
    const [k, n] = opts.forObj.split('/');
    if (!k || !n) throw new FluxlessError('Usage', `--for takes Kind/name, got '${opts.forObj}'`);
    kinds = [kindOf(k)];
    only = n;
  }
  const all: Array<{ t: string; row: string[] }> = [];
  for (const kind of kinds) {
    for (const { key, rec } of await records(rt, kind, opts.namespace)) {
      if (only && key.name !== only) continue;
      for (const e of rec.events ?? []) {
        all.push({ t: e.timestamp, row: [e.timestamp, e.severity === 'error' ? 'Warning' : 'Normal', e.reason, `${kind}/${key.name}`, e.message.replace(/\n/g, '; ')] });
      }
    }
  }
  all.sort((a, b) => a.t.localeCompare(b.t));
  for (const a of all) rows.push(a.row);
  return rows.length ? renderTable(['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'], rows) : 'no events found';
}

export async function treeCmd(rt: Runtime, ns: string, name: string): Promise<string> {
  const lines: string[] = [`Kustomization/${ns}/${name}`];
  const walk = async (kns: string, kname: string, prefix: string, depth: number) => {
    const rec = await readRecord(rt.state, { kind: 'Kustomization', namespace: kns, name: kname });
    if (!rec) return;
    const entries = rec.status.inventory?.entries ?? [];
    for (let i = 0; i < entries.length; i++) {
      const ref = parseInventoryId(entries[i].id);
      const last = i === entries.length - 1;
      lines.push(`${prefix}${last ? '└── ' : '├── '}${fmtRef(ref)}`);
      if (ref.kind === 'Kustomization' && ref.group === 'kustomize.toolkit.fluxcd.io' && depth < 10) {
        await walk(ref.namespace, ref.name, prefix + (last ? '    ' : '│   '), depth + 1);
      }
    }
  };
  if (!(await readRecord(rt.state, { kind: 'Kustomization', namespace: ns, name }))) {
    throw new NotFoundError(`Kustomization ${ns}/${name} not found`, { hint: KS_HINT });
  }
  await walk(ns, name, '', 0);
  return lines.join('\n');
}

/** Renders a Kustomization from a local directory (--path) or its current artifact. */
async function renderFor(rt: Runtime, ns: string, name: string, localPath: string | undefined) {
  const rec = await readRecord(rt.state, { kind: 'Kustomization', namespace: ns, name });
  if (!rec?.object) throw new NotFoundError(`Kustomization ${ns}/${name} not found`, { hint: KS_HINT });
  const spec = parseKustomization(rec.object);
  const work = await mkdtemp(path.join(os.tmpdir(), 'fluxless-cli-'));
  try {
    let root: string;
    if (localPath) {
      // --path is the directory of spec.path on disk, like `flux build --path`.
      const { cp } = await import('node:fs/promises');
      root = path.join(work, 'src');
      await cp(path.resolve(localPath), root, { recursive: true });
      spec.path = './';
    } else {
      const src = await readRecord(rt.state, { kind: spec.sourceRef.kind, namespace: spec.sourceRef.namespace, name: spec.sourceRef.name });
      const a = src?.status.artifact;
      if (!a) throw new FluxlessError('ArtifactFailed', `the source of Kustomization ${ns}/${name} has no artifact yet`, { hint: 'reconcile the source first, or give --path' });
      root = path.join(work, 'src');
      await extractArtifact(await rt.artifacts.get(a.key, a.digest), root);
    }
    const objects = await buildKustomization(rt.client, spec, root);
    return { spec, rec, objects };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export async function buildCmd(rt: Runtime, ns: string, name: string, localPath?: string): Promise<string> {
  const { objects } = await renderFor(rt, ns, name, localPath);
  return objects.map((o) => toYaml(o)).join('---\n');
}

/** `flux diff` exit codes: 0 no diff, 1 diff, >1 error (thrown). */
export async function diffCmd(rt: Runtime, ns: string, name: string, localPath?: string): Promise<{ code: number; text: string }> {
  const { spec, rec, objects } = await renderFor(rt, ns, name, localPath);
  const engine = new ApplyEngine(rt.client, { fieldManager: rt.fieldManager, force: spec.force });
  const cluster = objects.filter((o) => !isFluxObject(o));
  const entries = await engine.applyAll(cluster, { diffOnly: true });
  const lines: string[] = [];
  for (const e of entries) {
    if (e.action === 'created') lines.push(`► ${e.subject} created`);
    else if (e.action === 'configured') lines.push(`► ${e.subject} drifted`, renderDiff(e.changes ?? []));
  }
  const newIds = new Set(entries.map((e) => inventoryId(e.ref)));
  if (spec.prune) {
    for (const inv of rec.status.inventory?.entries ?? []) {
      const ref = parseInventoryId(inv.id);
      if (!newIds.has(inv.id) && !ref.group.endsWith('.toolkit.fluxcd.io')) lines.push(`► ${fmtRef(ref)} deleted`);
    }
  }
  return { code: lines.length ? 1 : 0, text: lines.join('\n') };
}

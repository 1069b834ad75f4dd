/**
 * The worker's side of a pull-request preview (a `preview` queue message):
 *
 * 1. the Receiver (its GitRepository targets, its Secret for the API) and the
 *    GitRepositories that follow the pull request's repository;
 * 2. GitHub: the check run is found or created (in_progress) first, so the pull request
 *    shows the preview is running;
 * 3. per GitRepository, the head and the base are fetched with its URL and Secret and
 *    built into artifact trees; the Kustomizations whose inputs changed are rendered and
 *    dry-run against the live cluster (render.ts) — nothing is written to any cluster;
 * 4. the report goes to the check run (completed: success, or failure when a build or a
 *    validation fails) or to the merge request note.
 * A failure to reach the API, the Git host or the cluster is thrown: the queue retries the
 * preview and, after the last try, dead-letters it (the check run is then completed as a
 * failure with the reason, and the Receiver gets a Warning event).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ObjectKey } from '../kube/object.js';
import { PermanentDeliveryError } from '../notify/errors.js';
import type { PreviewMessage, PreviewRequest } from '../queue/message.js';
import { parseReceiverObject, type ResourceSelector } from '../receivers/spec.js';
import { transientCause } from '../reconcile/failure.js';
import { recordEvent } from '../reconcile/status.js';
import type { Runtime } from '../runtime/runtime.js';
import { GitAuthError, GitRefNotFoundError } from '../sources/git-errors.js';
import { readRecord } from '../state/records.js';
import { errorMessage, FluxlessError } from '../util/errors.js';
import { log } from '../util/log.js';
import { apiAccess, type ApiAccess } from './access.js';
import { parsePreviewTarget, PREVIEW_TARGET_KIND } from './enqueue.js';
import { completeCheckRun, startCheckRun, upsertNote } from './publish.js';
import { previewSource } from './render.js';
import { buildReport, truncate, type PreviewReport, type SourcePreview } from './report.js';
import { baseCommit, changedFiles, checkoutTree, previewSources, type PreviewSource } from './sources.js';
import { withCel } from '../cel/load.js';

export { PREVIEW_TARGET_KIND } from './enqueue.js';

/** Options of a preview run beyond the runtime. */
export interface PreviewContext {
  attempt: number;
  signal?: AbortSignal;
}

interface Setup {
  receiver: { namespace: string; name: string };
  sources: PreviewSource[];
  access: ApiAccess;
}

/** What a preview left for the dead-letter hook (no secret in it). */
interface PreviewState {
  request: PreviewRequest;
  checkRunId?: number;
}

function stateKey(target: { namespace: string; name: string }): ObjectKey {
  return { kind: 'PreviewState', namespace: target.namespace, name: target.name };
}

async function setup(rt: Runtime, target: { namespace: string; name: string }, req: PreviewRequest, signal?: AbortSignal): Promise<Setup | undefined> {
  const { receiver } = parsePreviewTarget(target);
  const rec = await readRecord(rt.state, { kind: 'Receiver', namespace: receiver.namespace, name: receiver.name });
  if (!rec?.object || rec.deleted) return undefined;
  const parsed = await withCel(() => parseReceiverObject(rec.object));
  const secret = parsed.spec.secretRef.name ? await rt.secrets.get(receiver.namespace, parsed.spec.secretRef.name) : {};
  const targets: ResourceSelector[] = parsed.spec.resources;
  const sources = await previewSources(rt, receiver.namespace, targets, req);
  if (!sources.length) return { receiver, sources, access: { host: req.host, baseUrl: '', token: '', transport: {} } };
  return { receiver, sources, access: await apiAccess(secret, sources[0], req, signal) };
}

async function publish(s: Setup, req: PreviewRequest, report: PreviewReport, checkRunId: number | undefined, now: Date, signal?: AbortSignal): Promise<void> {
  if (req.host === 'github') await completeCheckRun(s.access, req, checkRunId!, report, now, signal);
  else await upsertNote(s.access, req, s.receiver, report, signal);
}

/** Runs one preview message; see the module comment. */
export async function runPreview(rt: Runtime, msg: PreviewMessage, ctx: PreviewContext): Promise<void> {
  const req = msg.preview;
  const logger = log.child({ preview: `${req.repository}#${req.number}`, commit: req.headSha, delivery: ctx.attempt });
  const { receiver } = parsePreviewTarget(msg.target);
  let s: Setup | undefined;
  try {
    s = await setup(rt, msg.target, req, ctx.signal);
  } catch (err) {
    if (err instanceof PermanentDeliveryError || (err instanceof FluxlessError && err.code === 'ValidationFailed')) {
      await recordEvent(rt.state, { kind: 'Receiver', ...receiver }, { severity: 'error', reason: 'PreviewFailed', message: `preview of ${req.repository}#${req.number}: ${errorMessage(err)}` }, rt.now());
      return;
    }
    throw err;
  }
  if (!s) return logger.info('preview dropped: the Receiver no longer exists');
  if (!s.sources.length) return logger.warn('preview skipped: the Receiver targets no GitRepository');
  let checkRunId: number | undefined;
  if (req.host === 'github') checkRunId = await startCheckRun(s.access, req, `${receiver.namespace}/${receiver.name}#${req.number}`, rt.now(), ctx.signal);
  await rt.state.put<PreviewState>(stateKey(msg.target), { request: req, ...(checkRunId !== undefined ? { checkRunId } : {}) });
  const work = await mkdtemp(path.join(os.tmpdir(), 'fluxless-preview-'));
  try {
    const results: SourcePreview[] = [];
    for (const [i, src] of s.sources.entries()) {
      const dir = path.join(work, String(i));
      const head = path.join(dir, 'head');
      const base = path.join(dir, 'base');
      try {
        await checkoutTree(src, req.headSha, path.join(dir, 'git-head'), head, ctx.signal);
        await checkoutTree(src, await baseCommit(src, req, ctx.signal), path.join(dir, 'git-base'), base, ctx.signal);
      } catch (err) {
        if (err instanceof GitRefNotFoundError || err instanceof GitAuthError) {
          results.push({ source: src.key, kustomizations: [], error: errorMessage(err) });
          continue;
        }
        throw err;
      }
      const changed = await changedFiles(base, head);
      const kustomizations = await previewSource(rt, src, { head, base, changed }, path.join(dir, 'ks'), ctx.signal, { untrusted: req.fork === true });
      results.push({ source: src.key, kustomizations });
    }
    const report = buildReport(req, results);
    await publish(s, req, report, checkRunId, rt.now(), ctx.signal);
    await rt.state.delete(stateKey(msg.target));
    logger.info('pull request preview posted', { conclusion: report.conclusion, title: report.title });
  } catch (err) {
    const t = transientCause(err);
    logger.warn('preview failed; the queue retries it', { error: errorMessage(t ?? err) });
    throw err;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A preview was dead-lettered: the check run says so (failure, with the reason) and the Receiver gets a Warning event. */
export async function deadLetteredPreview(rt: Runtime, target: ObjectKey, reason: string): Promise<void> {
  const { receiver, number } = parsePreviewTarget(target);
  const why = reason.replace(new RegExp(`^reconcile of ${PREVIEW_TARGET_KIND}/\\S+ `), 'the preview ');
  try {
    await recordEvent(rt.state, { kind: 'Receiver', ...receiver }, { severity: 'error', reason: 'PreviewFailed', message: `preview of pull request #${number} moved to the dead-letter queue: ${why}` }, rt.now());
    const st = (await rt.state.get<PreviewState>(stateKey(target)))?.value;
    if (!st) return;
    await rt.state.delete(stateKey(target));
    if (st.request.host !== 'github' || st.checkRunId === undefined) return;
    const s = await setup(rt, target, st.request);
    if (!s?.sources.length) return;
    const report: PreviewReport = { conclusion: 'failure', title: 'The preview could not be completed', summary: truncate(`Fluxless gave up on this preview:\n\n${why}`) };
    await completeCheckRun(s.access, st.request, st.checkRunId, report, rt.now());
  } catch (err) {
    log.warn('could not record the dead-lettered preview', { receiver: `${receiver.namespace}/${receiver.name}`, number, error: errorMessage(err) });
  }
}

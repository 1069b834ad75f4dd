/**
 * The release actions (helm-controller internal/reconcile/install.go and upgrade.go) on
 * the helm CLI: CRDs by policy first, then `helm install` / `helm upgrade` with Flux's
 * settings (full composed values, `--reset-values` unless preserveValues, take-ownership,
 * server-side apply with forced conflicts, `--history-max`, `--skip-crds`, the post-render
 * plugin adding Flux's chain and origin labels), then the poller wait; what the action
 * wrote to storage becomes history and inventory. Released is marked True or False with
 * Flux's messages and events; a failure counts toward remediation only when a release
 * was written (otherwise the error is returned and the reconcile retried).
 */
import { HelmCommandError } from '../../helm/errors.js';
import type { PostRenderConfig } from '../../helm/postrender.js';
import type { WaitMode } from '../../helm/runner.js';
import { formatGoDuration } from '../../util/duration.js';
import { errorMessage } from '../../util/errors.js';
import { actionTimeoutMs, retryOf, remediationOf, type ReleaseContext } from './context.js';
import { applyCrds, crdPolicyOf } from './crds.js';
import { eventMeta } from './drift.js';
import { waitForRelease } from './health.js';
import { fullReleaseName, hasBeenTested, latest, versionedChartName } from './history.js';
import { readAfter, recordInventory, recordOnHistory, writtenSince } from './observe.js';
import { summarize } from './summarize.js';

/** The post-render configuration of a HelmRelease (Flux's chain, origin labels always). */
export function postRenderOf(ctx: Pick<ReleaseContext, 'hr'>): PostRenderConfig {
  const s = ctx.hr.spec;
  return {
    postRenderers: s.postRenderers,
    ...(s.commonMetadata ? { commonMetadata: s.commonMetadata } : {}),
    origin: { name: ctx.hr.metadata.name, namespace: ctx.hr.metadata.namespace },
    strategy: s.postRenderStrategy,
  };
}

/** How helm waits: no resource wait (hookOnly) with the poller, which Fluxless runs itself; `--wait=legacy` for the legacy strategy. */
export function waitModeOf(ctx: Pick<ReleaseContext, 'hr'>, disableWait: boolean): { helm?: WaitMode; poll: boolean } {
  if (disableWait) return { poll: false };
  return ctx.hr.spec.waitStrategy === 'legacy' ? { helm: 'legacy', poll: false } : { helm: 'hookOnly', poll: true };
}

/** A message of an error, without Secret values. */
export function cleanMessage(ctx: Pick<ReleaseContext, 'redact'>, err: unknown): string {
  let m = errorMessage(err).trim();
  for (const s of ctx.redact) if (s.length >= 3) m = m.split(s).join('***');
  return m;
}

/** Runs `helm install` or `helm upgrade` for the context (see the module comment). */
export async function runRelease(ctx: ReleaseContext, action: 'install' | 'upgrade'): Promise<void> {
  const { hr, w } = ctx;
  const spec = action === 'install' ? hr.spec.install : hr.spec.upgrade;
  const started = Date.now();
  try {
    w.f.lastAttemptedReleaseAction = action;
    if (action === 'install') w.history = [];
    w.delete('TestSuccess');
    w.delete('Remediated');
    const before = ctx.lastSet;
    let err: unknown;
    let serverSide = true;
    // The storage read after helm, when nothing changed it since (the wait reuses it).
    let read: Awaited<ReturnType<typeof readAfter>> | undefined;
    try {
      if (action === 'upgrade') {
        const mode = hr.spec.upgrade.serverSideApply;
        serverSide = mode === 'enabled' ? true : mode === 'disabled' ? false : before?.latest()?.applyMethod === 'ssa';
      } else serverSide = hr.spec.install.serverSideApply;
      await applyCrds(ctx, crdPolicyOf(ctx, action));
      const runner = await ctx.runner();
      const timeoutMs = actionTimeoutMs(ctx, action);
      const wait = waitModeOf(ctx, spec.disableWait);
      const common = {
        releaseName: hr.releaseName,
        namespace: hr.releaseNamespace,
        chartPath: ctx.chart.path,
        values: ctx.values,
        timeoutMs,
        ...(wait.helm ? { wait: wait.helm } : {}),
        waitForJobs: !spec.disableWaitForJobs,
        disableHooks: spec.disableHooks,
        disableOpenAPIValidation: spec.disableOpenAPIValidation,
        disableSchemaValidation: spec.disableSchemaValidation,
        takeOwnership: !spec.disableTakeOwnership,
        skipCrds: true,
        postRender: postRenderOf(ctx),
        redact: ctx.redact,
        signal: ctx.signal,
      };
      if (action === 'install') {
        await runner.install({
          ...common,
          serverSide,
          replace: hr.spec.install.replace,
          createNamespace: Boolean(hr.spec.targetNamespace) && hr.spec.install.createNamespace,
        });
      } else {
        await runner.upgrade({
          ...common,
          serverSide: serverSide ? 'true' : 'false',
          force: hr.spec.upgrade.force,
          cleanupOnFail: hr.spec.upgrade.cleanupOnFail,
          maxHistory: hr.spec.maxHistory,
          reuseValues: hr.spec.upgrade.preserveValues,
        });
      }
      if (wait.poll) {
        read = await readAfter(ctx);
        const rel = read.latest();
        if (rel) {
          const ms = Math.max(1000, timeoutMs - (Date.now() - started));
          await waitForRelease(ctx, rel, { timeoutMs: ms, waitForJobs: !spec.disableWaitForJobs }).catch((e: unknown) => {
            read = undefined;
            throw e;
          });
        }
      }
    } catch (e) {
      err = e;
    }
    w.f.lastAttemptedReleaseActionDuration = formatGoDuration(Date.now() - started);
    const after = read ?? (await readAfter(ctx));
    ctx.settledSet = after;
    const written = writtenSince(before, after);
    recordOnHistory(ctx, written, { action, ociDigest: w.f.lastAttemptedRevisionDigest });
    await recordInventory(ctx, written[0]);
    if (err !== undefined) {
      failure(ctx, action, err);
      // Nothing written: nothing to remediate; the reconcile is retried.
      if (written.length === 0) throw err;
      remediationOf(ctx, action).increment();
      return;
    }
    success(ctx, action);
  } finally {
    summarize(w, { spec: hr.spec, rawSpec: ctx.rawSpec });
  }
}

function failure(ctx: ReleaseContext, action: 'install' | 'upgrade', err: unknown): void {
  const verb = action === 'install' ? 'install' : 'upgrade';
  const reason = action === 'install' ? 'InstallFailed' : 'UpgradeFailed';
  const msg = `Helm ${verb} failed for release ${ctx.hr.releaseNamespace}/${ctx.hr.releaseName} with chart ${ctx.chart.name}@${ctx.chart.version}: ${cleanMessage(ctx, err)}`;
  ctx.w.increment('failures');
  ctx.w.mark('Released', 'False', reason, msg);
  const hint = err instanceof HelmCommandError && err.hint ? `\n\nhint: ${err.hint}` : '';
  ctx.w.event({
    severity: 'error',
    reason,
    message: msg + hint,
    revision: ctx.chart.version,
    metadata: eventMeta(ctx.chart.version, ctx.valuesDigest, ctx.chart.appVersion, ctx.w.f.lastAttemptedRevisionDigest),
  });
  ctx.log.warn(`helm ${verb} failed`, { error: msg });
}

function success(ctx: ReleaseContext, action: 'install' | 'upgrade'): void {
  const cur = latest(ctx.w.history);
  const verb = action === 'install' ? 'install' : 'upgrade';
  const reason = action === 'install' ? 'InstallSucceeded' : 'UpgradeSucceeded';
  const msg = `Helm ${verb} succeeded for release ${fullReleaseName(cur)} with chart ${versionedChartName(cur)}`;
  ctx.w.mark('Released', 'True', reason, msg);
  if (ctx.hr.spec.test.enable && !hasBeenTested(cur)) {
    ctx.w.mark('TestSuccess', 'Unknown', 'AwaitingTests', `Helm release ${fullReleaseName(cur)} with chart ${versionedChartName(cur)} is awaiting tests`);
  }
  if (retryOf(ctx, action)) ctx.w.clearFailures();
  ctx.w.event({
    severity: 'info',
    reason,
    message: msg,
    revision: cur?.chartVersion,
    metadata: eventMeta(cur?.chartVersion ?? '', cur?.configDigest ?? '', cur?.appVersion, cur?.ociDigest),
  });
}

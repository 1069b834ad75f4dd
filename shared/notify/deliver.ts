/**
 * The delivery of one `notify` message: one event to the Provider of one Alert, as
 * notification-controller's dispatchNotification / getNotificationParams do it, run by the
 * worker from the queue (so a provider that is down never blocks a reconcile):
 *
 * 1. the Alert (gone, invalid or suspended: nothing to do) and its Provider (missing:
 *    retried, it may appear; suspended: nothing to do);
 * 2. Flux's provider filters: commit-status updates only to git and generic providers;
 *    commit-status providers only events with a commit, a commit-status update or an
 *    error; change-request providers only events with `change_request`;
 * 3. the metadata merge (RFC 0008; conflicts raise `MetadataAppendFailed` on the Alert),
 *    the commit status id, the Secrets, the notifier, the post within the Provider's
 *    `timeout`;
 * 4. the outcome goes to the object's delivery log. A failure that retrying cannot fix is
 *    recorded on the Alert as `NotificationDispatchFailed` and the message is acked; any
 *    other is thrown, so the queue retries it with backoff and, after the last try,
 *    dead-letters it (deadLetteredNotification records that on the Alert).
 */
import type { KubeObject, ObjectKey } from '../kube/object.js';
import type { NotifyMessage } from '../queue/message.js';
import { recordEvent } from '../reconcile/status.js';
import type { Runtime } from '../runtime/runtime.js';
import { readRecord } from '../state/records.js';
import { errorMessage, FluxlessError } from '../util/errors.js';
import { log } from '../util/log.js';
import { defaultCommitStatus, evalCommitStatus } from './commit-status.js';
import { providerCredentials } from './credentials.js';
import { PermanentDeliveryError, TransientDeliveryError, maskTokens } from './errors.js';
import { hasChangeRequestKey, hasCommitKey, involvedObjectString, isCommitStatusUpdate, type NotificationEvent } from './event.js';
import { combineEventMetadata, METADATA_CONFLICT_MESSAGE } from './metadata.js';
import { createNotifier, type ProviderEndpoints } from './providers/index.js';
import { ensureProviderUid, recordDelivery, rememberFailure, takeFailure, type DeliveryEntry } from './records.js';
import { CHANGE_REQUEST_TYPES, COMMIT_STATUS_TYPES, parseAlert, parseProvider, type AlertSpec, type ProviderSpec } from './spec.js';
import { loadCel, withCel } from '../cel/load.js';

/** The pseudo-kind of notify message targets (`Notification/<alert ns>/<alert name>`). */
export const NOTIFY_TARGET_KIND = 'Notification';

/** Options of a delivery beyond the runtime. */
export interface DeliveryContext {
  /** This delivery's attempt (the queue's receive count). */
  attempt: number;
  signal?: AbortSignal;
  /** Hard-coded provider endpoints, overridden (tests, private mirrors). */
  endpoints?: ProviderEndpoints;
}

/**
 * Why a provider of `type` does not get `e`, or undefined when it does (getNotificationParams):
 * KS's commit-status updates go only to git and generic providers, commit-status
 * providers need a commit key, an update or an error, change-request ones the key.
 */
export function providerSkips(type: string, e: NotificationEvent): string | undefined {
  const commitStatus = COMMIT_STATUS_TYPES.includes(type);
  if (!commitStatus && type !== 'generic' && type !== 'generic-hmac' && isCommitStatusUpdate(e)) return 'commit status update for a provider that does not set commit statuses';
  if (commitStatus && !hasCommitKey(e) && !isCommitStatusUpdate(e) && e.severity !== 'error') return 'event dropped for commit status providers due to missing commit metadata key';
  if (CHANGE_REQUEST_TYPES.includes(type) && !hasChangeRequestKey(e)) return 'event dropped for change request providers due to missing change request metadata key';
  return undefined;
}

function firstLine(s: string): string {
  const l = s.split('\n')[0];
  return l.length > 200 ? `${l.slice(0, 197)}...` : l;
}

function objectKey(e: NotificationEvent): ObjectKey {
  return { kind: e.involvedObject.kind, namespace: e.involvedObject.namespace, name: e.involvedObject.name };
}

/** Delivers one notify message; see the module comment. Throws to have the queue retry it. */
export async function deliverNotification(rt: Runtime, msg: NotifyMessage, ctx: DeliveryContext): Promise<void> {
  const alertKey: ObjectKey = { kind: 'Alert', namespace: msg.target.namespace, name: msg.target.name };
  const e = msg.event;
  const what = involvedObjectString(e);
  const logger = log.child({ alert: `${alertKey.namespace}/${alertKey.name}`, object: what, reason: e.reason, delivery: ctx.attempt });
  const alertRec = await readRecord(rt.state, alertKey);
  if (!alertRec?.object || alertRec.deleted) {
    logger.info('notification dropped: the Alert no longer exists');
    return;
  }
  let alert: AlertSpec;
  try {
    alert = await withCel(() => parseAlert(alertRec.object));
  } catch (err) {
    logger.warn('notification dropped: the Alert is invalid', { error: errorMessage(err) });
    return;
  }
  if (alert.suspend || alertRec.suspended) return;
  const providerKey: ObjectKey = { kind: 'Provider', namespace: alert.namespace, name: alert.providerRef };
  const base: Omit<DeliveryEntry, 'outcome' | 'at'> = { alert: `${alert.namespace}/${alert.name}`, provider: alert.providerRef, providerType: '', reason: e.reason, message: firstLine(e.message), attempt: ctx.attempt };
  let tokens: Array<string | undefined> = [];
  try {
    const providerRec = await readRecord(rt.state, providerKey);
    if (!providerRec?.object || providerRec.deleted) {
      throw new TransientDeliveryError(`failed to read provider: Provider '${providerKey.namespace}/${providerKey.name}' not found`, { hint: `define Provider ${providerKey.name} in namespace ${providerKey.namespace}` });
    }
    let provider: ProviderSpec;
    try {
      provider = await withCel(() => parseProvider(providerRec.object));
    } catch (err) {
      throw new PermanentDeliveryError(`failed to read provider: ${errorMessage(err)}`, { cause: err });
    }
    base.providerType = provider.type;
    if (provider.suspend || providerRec.suspended) return;
    const skip = providerSkips(provider.type, e);
    if (skip) {
      logger.debug(skip, { provider: provider.name });
      return;
    }
    const { event, conflicts } = combineEventMetadata(e, alert);
    if (conflicts.length) {
      logger.info(`warning: ${METADATA_CONFLICT_MESSAGE}`, { conflictingKeys: conflicts });
      await recordEvent(rt.state, alertKey, { severity: 'error', reason: 'MetadataAppendFailed', message: METADATA_CONFLICT_MESSAGE, metadata: Object.fromEntries(conflicts.map((c) => [c.key, c.sources.join(', ')])) }, rt.now());
    }
    const uid = await ensureProviderUid(rt.state, providerKey, providerRec);
    let commitStatus = '';
    if (COMMIT_STATUS_TYPES.includes(provider.type)) {
      const providerObj: KubeObject = { ...providerRec.object, metadata: { ...providerRec.object.metadata, uid } };
      if (provider.commitStatusExpr) await loadCel();
      commitStatus = provider.commitStatusExpr ? evalCommitStatus(provider.commitStatusExpr, event, providerObj, alertRec.object) : defaultCommitStatus(uid, event);
    }
    const cred = await providerCredentials(rt.secrets, provider);
    tokens = [cred.token, cred.password, cred.transport.proxy?.password];
    const timeout = AbortSignal.timeout(provider.timeoutMs);
    const signal = ctx.signal ? AbortSignal.any([timeout, ctx.signal]) : timeout;
    const notify = createNotifier({
      type: provider.type,
      url: cred.url,
      channel: provider.channel,
      username: cred.username,
      token: cred.token,
      password: cred.password,
      headers: cred.headers,
      commitStatus,
      providerUid: uid,
      secretData: cred.secretData,
      transport: cred.transport,
      signal,
      endpoints: ctx.endpoints ?? {},
    });
    const posted = await notify(event);
    // A commit status that already says the same is not posted again: nothing to log either.
    if (posted !== false || ctx.attempt > 1) await recordDelivery(rt.state, objectKey(e), { ...base, at: rt.now().toISOString(), outcome: 'sent' });
    if (ctx.attempt > 1) await takeFailure(rt.state, alert);
    logger.info(posted === false ? 'notification not needed: the provider already has it' : 'notification sent', { provider: provider.name, type: provider.type });
  } catch (err) {
    const reason = maskTokens(errorMessage(err), tokens);
    const entry: DeliveryEntry = { ...base, at: rt.now().toISOString(), outcome: 'failed', error: reason };
    if (err instanceof PermanentDeliveryError || (err instanceof FluxlessError && err.code === 'ValidationFailed')) {
      const message = `failed to send notification for ${what}: ${reason}`;
      logger.warn('notification failed', { error: reason });
      await recordDelivery(rt.state, objectKey(e), entry);
      await recordEvent(rt.state, alertKey, { severity: 'error', reason: 'NotificationDispatchFailed', message }, rt.now());
      return;
    }
    entry.outcome = 'retrying';
    await recordDelivery(rt.state, objectKey(e), entry).catch(() => undefined);
    await rememberFailure(rt.state, alert, { object: objectKey(e), entry }).catch(() => undefined);
    logger.warn('notification not delivered; the queue retries it', { error: reason });
    throw new TransientDeliveryError(`failed to send notification for ${what}: ${reason}`);
  }
}

/**
 * A notify message was dead-lettered (the last try failed): the Alert gets a Warning
 * `NotificationDispatchFailed` event with the reason, and the object's delivery log says so.
 */
export async function deadLetteredNotification(rt: Runtime, target: ObjectKey, reason: string): Promise<void> {
  const alert = { namespace: target.namespace, name: target.name };
  try {
    const failed = await takeFailure(rt.state, alert);
    const why = reason.replace(/^reconcile of \S+ /, 'delivery ');
    if (failed) await recordDelivery(rt.state, failed.object, { ...failed.entry, at: rt.now().toISOString(), outcome: 'dead-lettered', error: why });
    const subject = failed ? ` for ${failed.object.kind}/${failed.object.namespace}/${failed.object.name}` : '';
    await recordEvent(rt.state, { kind: 'Alert', namespace: alert.namespace, name: alert.name }, { severity: 'error', reason: 'NotificationDispatchFailed', message: `notification${subject} moved to the dead-letter queue: ${why}` }, rt.now());
  } catch (err) {
    log.warn('could not record the dead-lettered notification on its Alert', { alert: `${alert.namespace}/${alert.name}`, error: errorMessage(err) });
  }
}

/**
 * Queues the preview of a pull request for the worker: one `preview` message per
 * Receiver, pull request and head commit. Previews of one pull request run one at a time
 * and in order (one FIFO group per pull request); a webhook delivered twice for the same
 * head is deduplicated by the queue.
 */
import { groupIdFor, previewMessage, toQueueId, type PreviewRequest } from '../queue/message.js';
import type { Runtime } from '../runtime/runtime.js';
import { log } from '../util/log.js';

/** The pseudo-kind of preview message targets (`PullRequestPreview/<receiver ns>/<receiver name>.<number>`). */
export const PREVIEW_TARGET_KIND = 'PullRequestPreview';

/** The queue target of a pull request's previews: one FIFO group per Receiver and pull request. */
export function previewTarget(receiver: { namespace: string; name: string }, number: number): { kind: string; namespace: string; name: string } {
  return { kind: PREVIEW_TARGET_KIND, namespace: receiver.namespace, name: `${receiver.name}.${number}` };
}

/** The Receiver and pull request number of a preview target. */
export function parsePreviewTarget(target: { namespace: string; name: string }): { receiver: { namespace: string; name: string }; number: number } {
  const i = target.name.lastIndexOf('.');
  return { receiver: { namespace: target.namespace, name: target.name.slice(0, i) }, number: Number(target.name.slice(i + 1)) };
}

/** Enqueues the preview of `req` for the Receiver `receiver`. */
export async function requestPreview(rt: Runtime, receiver: { namespace: string; name: string }, req: PreviewRequest): Promise<void> {
  const target = previewTarget(receiver, req.number);
  const group = groupIdFor(target);
  await rt.queue.send(previewMessage(target, req, { requestedAt: rt.now() }), { groupId: group, dedupId: toQueueId(`${group}@${req.headSha}`) });
  log.info('pull request preview requested', { receiver: `${receiver.namespace}/${receiver.name}`, repository: req.repository, number: req.number, commit: req.headSha });
}

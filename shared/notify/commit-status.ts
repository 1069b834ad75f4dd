/**
 * What commit-status providers need from an event (notifier/util.go,
 * server/provider_commit_status.go): the commit status id (`commitStatusExpr`, else
 * `<kind>/<name>/<first segment of the Provider's UID>` lowercased), the commit hash from
 * the revision, and the description made of the reason.
 */
import { CelEvaluationError } from '../cel/errors.js';
import { cel } from '../cel/load.js';
import type { KubeObject } from '../kube/object.js';
import { META, type NotificationEvent } from './event.js';
import { PermanentDeliveryError } from './errors.js';
import { COMMIT_STATUS_VARIABLES } from './spec.js';

/** The default commit status id: `kind/name/<uid prefix>`, lowercased. */
export function defaultCommitStatus(providerUid: string, e: NotificationEvent): string {
  return `${e.involvedObject.kind}/${e.involvedObject.name}/${providerUid.split('-')[0]}`.toLowerCase();
}

/**
 * Evaluates `spec.commitStatusExpr` over `event` (metadata merged), `provider` and `alert`
 * (the objects as stored). A result that is not a string is an error, as Flux's
 * WithOutputType(StringType) makes it.
 */
export function evalCommitStatus(expr: string, e: NotificationEvent, provider: KubeObject, alert: KubeObject): string {
  const api = cel(); // outside the try: not loading CEL is a caller's bug, not a delivery failure
  try {
    const out = api.compileCel(expr, { variables: COMMIT_STATUS_VARIABLES }).evaluate({ event: e, provider, alert });
    if (typeof out !== 'string') throw new Error(`the result must be a string, got ${out === null ? 'null' : typeof out}`);
    return out;
  } catch (err) {
    const why = err instanceof CelEvaluationError || err instanceof Error ? err.message : String(err);
    throw new PermanentDeliveryError(`failed to evaluate the spec.commitStatusExpr CEL expression for the event: ${why}`);
  }
}

/** The revision the event is about: metadata `commit`, else `originRevision`, else `revision` (eventv1 GetRevision). */
export function eventRevision(e: NotificationEvent): string | undefined {
  const m = e.metadata ?? {};
  return m[META.commit] ?? m[META.originRevision] ?? m[META.revision];
}

/** The 40-character commit hash of a revision (`main@sha1:<hash>`, `main/<hash>`, `<hash>`), else a PermanentDeliveryError. */
export function commitHash(rev: string): string {
  let h: string;
  const colon = rev.lastIndexOf(':');
  if (colon >= 0) h = rev.slice(colon + 1);
  else if (rev.includes('/')) h = rev.slice(rev.lastIndexOf('/') + 1);
  else h = rev;
  if (h.length !== 40) throw new PermanentDeliveryError(`failed to extract commit hash from '${rev}' revision`);
  return h;
}

/** The hash of the event's revision; `missing revision metadata` when it has none. */
export function eventCommit(e: NotificationEvent): string {
  const rev = eventRevision(e);
  if (rev === undefined) throw new PermanentDeliveryError('missing revision metadata');
  return commitHash(rev);
}

function classOf(ch: string): number {
  if (/\p{Ll}/u.test(ch)) return 1;
  if (/\p{Lu}/u.test(ch)) return 2;
  if (/\p{Nd}/u.test(ch)) return 3;
  return 4;
}

/** Go's splitCamelcase (fatih/camelcase): `HealthCheckFailed` -> [Health, Check, Failed], `PDFLoader` -> [PDF, Loader]. */
export function splitCamelcase(src: string): string[] {
  const runes: string[][] = [];
  let last = 0;
  for (const ch of src) {
    const c = classOf(ch);
    if (c === last && runes.length) runes[runes.length - 1].push(ch);
    else runes.push([ch]);
    last = c;
  }
  for (let i = 0; i < runes.length - 1; i++) {
    if (classOf(runes[i][0]) === 2 && classOf(runes[i + 1][0]) === 1) {
      runes[i + 1].unshift(runes[i].pop()!);
    }
  }
  return runes.filter((r) => r.length > 0).map((r) => r.join(''));
}

/** formatNameAndDescription: `kind/name` lowercased, and the reason split at camel case, lowercased. */
export function nameAndDescription(e: NotificationEvent): { name: string; description: string } {
  return {
    name: `${e.involvedObject.kind}/${e.involvedObject.name}`.toLowerCase(),
    description: splitCamelcase(e.reason).join(' ').toLowerCase(),
  };
}

/** The Progressing reason commit-status notifiers skip (gitea reports it as pending). */
export const PROGRESSING_REASON = 'Progressing';

/** The `event.toolkit.fluxcd.io/change_request` number of a merged event, as Flux parses it. */
export function changeRequestNumber(e: NotificationEvent): number {
  const v = e.metadata?.[META.changeRequest];
  if (v === undefined) throw new PermanentDeliveryError(`missing "${META.changeRequest}" metadata key`);
  if (!/^[+-]?\d+$/.test(v)) throw new PermanentDeliveryError(`invalid "${META.changeRequest}" metadata value "${v}": strconv.Atoi: parsing "${v}": invalid syntax`);
  return Number(v);
}

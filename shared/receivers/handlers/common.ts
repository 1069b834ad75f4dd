/** Pieces shared by the Git-hosting handlers (GitHub and Bitbucket Server sign the same way). */
import { verifyHmacSignature } from '../signature.js';
import type { HookRequest, Verdict } from '../handler.js';
import { reject } from '../handler.js';
import { mediaType, parseJsonObject } from '../payload.js';
import type { JsonObject } from '../payload.js';

/**
 * go-github ValidatePayload: the `X-Hub-Signature-256` header first, then
 * `X-Hub-Signature` (sha1, or sha256 as Bitbucket sends it); the algorithm comes from the
 * value's prefix. Then the JSON payload (application/json or form-encoded `payload=`).
 * Returns the payload or the refusal.
 */
export async function hubSignedPayload(
  req: HookRequest,
  token: string,
  sender: string,
): Promise<{ ok: true; payload: JsonObject } | { ok: false; verdict: Verdict }> {
  const text = req.text();
  const sigHeader = req.header('x-hub-signature-256') ?? req.header('x-hub-signature');
  const sig = await verifyHmacSignature(sigHeader, req.body, text, token);
  if (!sig.ok) return { ok: false, verdict: reject(401, `the ${sender} signature header is invalid: ${sig.reason}`) };
  const payload = decodePayload(req.header('content-type'), text, sender);
  if (typeof payload === 'string') return { ok: false, verdict: reject(400, payload) };
  return { ok: true, payload };
}

/** The JSON payload of a GitHub/Bitbucket hook, or the reason it is malformed. */
export function decodePayload(contentType: string | undefined, text: string | undefined, sender: string): JsonObject | string {
  const type = mediaType(contentType);
  if (text === undefined) return `the ${sender} payload is not valid UTF-8`;
  if (type === 'application/json') return parseJsonObject(text, sender);
  if (type === 'application/x-www-form-urlencoded') {
    const form = new URLSearchParams(text).get('payload');
    if (form === null) return `the form-encoded ${sender} payload has no "payload" field`;
    return parseJsonObject(form, sender);
  }
  return `unsupported Content-Type ${JSON.stringify(contentType ?? '')}: send application/json or application/x-www-form-urlencoded`;
}

/** Non-secret facts worth logging: repository, ref, new commit. */
export function payloadDetails(p: JsonObject): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const repo = p.repository as Record<string, unknown> | undefined;
  if (repo && typeof repo === 'object') {
    if (typeof repo.full_name === 'string') out.repository = repo.full_name;
    else if (typeof repo.slug === 'string') {
      const project = repo.project as Record<string, unknown> | undefined;
      out.repository = project && typeof project.key === 'string' ? `${project.key}/${repo.slug}` : repo.slug;
    }
  }
  if (typeof p.ref === 'string') out.ref = p.ref;
  if (typeof p.after === 'string') out.commit = p.after;
  const changes = p.changes;
  if (Array.isArray(changes) && changes.length > 0 && typeof changes[0] === 'object' && changes[0] !== null) {
    const ch = changes[0] as Record<string, unknown>;
    const ref = ch.ref as Record<string, unknown> | undefined;
    if (ref && typeof ref.id === 'string') out.ref = ref.id;
    if (typeof ch.toHash === 'string') out.commit = ch.toHash;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Non-secret facts about registry artifacts, for the log line. */
export function artifactDetails(artifacts: ReadonlyArray<{ image: string; tag?: string; digest?: string }>): Record<string, string> | undefined {
  if (artifacts.length === 0) return undefined;
  const first = artifacts[0];
  const out: Record<string, string> = { image: first.image };
  if (first.tag) out.tag = first.tag;
  if (first.digest) out.digest = first.digest;
  if (artifacts.length > 1) out.artifacts = String(artifacts.length);
  return out;
}

/**
 * Read a request body without ever holding more than `cap` bytes or waiting longer than a
 * deadline: a declared Content-Length over the cap is refused before reading, the stream
 * is counted while it is read (chunked uploads have no Content-Length), and a sender that
 * trickles or stalls gets 408 when the deadline passes, so a slow client cannot hold a
 * connection (and its file descriptor) for minutes.
 */

/** Flux notification-controller's maxRequestSizeBytes: 3 MiB. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

/**
 * Default time allowed to receive a whole webhook body. GitHub and GitLab give up on a
 * delivery after 10 s, so a legitimate sender never needs more.
 */
export const BODY_DEADLINE_MS = 10_000;

/** The body, or the refusal (status and reason) to answer with. */
export type BodyResult =
  | { ok: true; bytes: Uint8Array }
  | { ok: false; status: 400 | 408 | 413; reason: string };

/** Limits for readBodyCapped. */
export interface BodyLimits {
  /** Most bytes accepted. Default MAX_BODY_BYTES. */
  cap?: number;
  /** Time allowed for the whole body from the call (ms); 0 disables. Default BODY_DEADLINE_MS. */
  deadlineMs?: number;
}

const EMPTY = new Uint8Array(0);

/**
 * Read `req`'s body within the limits (a number is the cap, for compatibility). After a
 * refusal the rest of the upload is not read: answer with `Connection: close`.
 */
export async function readBodyCapped(req: Request, limits: number | BodyLimits = {}): Promise<BodyResult> {
  const { cap = MAX_BODY_BYTES, deadlineMs = BODY_DEADLINE_MS } = typeof limits === 'number' ? { cap: limits } : limits;
  const declared = req.headers.get('content-length');
  if (declared !== null) {
    if (!/^\s*\d+\s*$/.test(declared)) return { ok: false, status: 400, reason: 'invalid Content-Length header' };
    if (Number(declared) > cap) return tooLarge(cap);
  }
  const stream = req.body;
  if (stream === null) return { ok: true, bytes: EMPTY };

  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = deadlineMs > 0
    ? new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), deadlineMs);
      timer.unref?.();
    })
    : undefined;
  try {
    for (;;) {
      const next = expired ? await Promise.race([reader.read(), expired]) : await reader.read();
      if (next === 'expired') {
        // Stop waiting (the pending read is rejected); the answer closes the connection.
        reader.releaseLock();
        return { ok: false, status: 408, reason: `the request body was not received within ${deadlineMs} ms` };
      }
      if (next.done) break;
      total += next.value.byteLength;
      if (total > cap) {
        // Stop reading; the answer closes the connection instead of reading the rest.
        reader.releaseLock();
        return tooLarge(cap);
      }
      chunks.push(next.value);
    }
  } catch {
    return { ok: false, status: 400, reason: 'unable to read the request body' };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
  if (chunks.length === 0) return { ok: true, bytes: EMPTY };
  if (chunks.length === 1) return { ok: true, bytes: chunks[0] };
  return { ok: true, bytes: Buffer.concat(chunks, total) };
}

function tooLarge(cap: number): BodyResult {
  return { ok: false, status: 413, reason: `request body exceeds the maximum size of ${cap} bytes` };
}

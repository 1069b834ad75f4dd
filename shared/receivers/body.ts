/**
 * Read a request body without ever holding more than `cap` bytes: a declared
 * Content-Length over the cap is refused before reading, and the stream is counted while
 * it is read (chunked uploads have no Content-Length).
 */

/** Flux notification-controller's maxRequestSizeBytes: 3 MiB. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export type BodyResult =
  | { ok: true; bytes: Uint8Array }
  | { ok: false; status: 400 | 413; reason: string };

const EMPTY = new Uint8Array(0);

export async function readBodyCapped(req: Request, cap: number = MAX_BODY_BYTES): Promise<BodyResult> {
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
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > cap) {
        // Stop reading; the HTTP layer discards (or closes) the rest of the upload.
        reader.releaseLock();
        return tooLarge(cap);
      }
      chunks.push(value);
    }
  } catch {
    return { ok: false, status: 400, reason: 'unable to read the request body' };
  }
  if (chunks.length === 0) return { ok: true, bytes: EMPTY };
  if (chunks.length === 1) return { ok: true, bytes: chunks[0] };
  return { ok: true, bytes: Buffer.concat(chunks, total) };
}

function tooLarge(cap: number): BodyResult {
  return { ok: false, status: 413, reason: `request body exceeds the maximum size of ${cap} bytes` };
}

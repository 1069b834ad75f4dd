/**
 * Webhook authentication helpers: the secret path, HMAC signatures over the raw body and
 * constant-time token comparison. Never log the values these functions see.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { verify as octokitVerify } from '@octokit/webhooks-methods';

/** Flux's ReceiverWebhookPath. */
export const WEBHOOK_PATH_PREFIX = '/hook/';

/** sha256hex(token + name + namespace), exactly as Flux's Receiver.GetWebhookPath. */
export function webhookDigest(token: string, name: string, namespace: string): string {
  return createHash('sha256').update(token + name + namespace, 'utf8').digest('hex');
}

/** `/hook/<sha256hex(token + name + namespace)>`, the path Flux reports in status.webhookPath. */
export function webhookPath(token: string, name: string, namespace: string): string {
  return WEBHOOK_PATH_PREFIX + webhookDigest(token, name, namespace);
}

/** Constant-time string equality that does not leak the length of either value. */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/** HMAC algorithms a signature header may name. */
export type HmacAlgorithm = 'sha1' | 'sha256' | 'sha512';
const HEX_LEN: Record<HmacAlgorithm, number> = { sha1: 40, sha256: 64, sha512: 128 };

/** The outcome of verifyHmacSignature. */
export type SignatureCheck =
  | { ok: true; algorithm: HmacAlgorithm }
  | { ok: false; reason: string };

/**
 * Verify `<algo>=<hex>` (algo sha1, sha256 or sha512, like go-github ValidateSignature)
 * as the HMAC of the raw body with `secret`. `text` is the body decoded as strict UTF-8
 * when available; the sha256 case then goes through @octokit/webhooks-methods, which
 * signs strings (it is exact only when the bytes round-trip through UTF-8).
 */
export async function verifyHmacSignature(
  header: string | undefined,
  body: Uint8Array,
  text: string | undefined,
  secret: string,
): Promise<SignatureCheck> {
  if (header === undefined || header === '') return { ok: false, reason: 'missing signature' };
  const eq = header.indexOf('=');
  if (eq <= 0) return { ok: false, reason: 'malformed signature: expected <algorithm>=<hex>' };
  const algorithm = header.slice(0, eq).toLowerCase();
  const hex = header.slice(eq + 1).toLowerCase();
  if (algorithm !== 'sha1' && algorithm !== 'sha256' && algorithm !== 'sha512') {
    return { ok: false, reason: `unsupported signature algorithm "${algorithm.slice(0, 16)}" (expected sha1, sha256 or sha512)` };
  }
  if (hex.length !== HEX_LEN[algorithm] || !/^[0-9a-f]+$/.test(hex)) {
    return { ok: false, reason: `malformed ${algorithm} signature` };
  }
  if (secret === '') return { ok: false, reason: 'the receiver token is empty' };

  let ok: boolean;
  if (algorithm === 'sha256' && text !== undefined && text !== '') {
    ok = await octokitVerify(secret, text, `sha256=${hex}`);
  } else {
    const expected = createHmac(algorithm, secret).update(body).digest();
    ok = timingSafeEqual(expected, Buffer.from(hex, 'hex'));
  }
  return ok ? { ok: true, algorithm } : { ok: false, reason: `${algorithm} signature does not match the payload` };
}

/** HMAC header value `<algo>=<hex>` for a body (used by tests and by senders we control). */
export function signBody(algorithm: HmacAlgorithm, secret: string, body: string | Uint8Array): string {
  return `${algorithm}=${createHmac(algorithm, secret).update(body).digest('hex')}`;
}

/**
 * SOPS value decryption (getsops/sops `aes/cipher.go`): values are
 * `ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:<t>]`, AES-GCM with the file's data key,
 * a 32-byte IV, a 16-byte tag and the value's path as additional data. Also the Go text form
 * of plain values (`sops.ToBytes`), which is what the MAC hashes.
 */
import { isUtf8 } from 'node:buffer';
import { createDecipheriv } from 'node:crypto';
import { GoRegexp } from '../util/go-regexp.js';
import { decodeStdBase64 } from './base64.js';
import { formatFloatF, parseGoAtoi, parseGoBool, parseGoFloat } from './go-strconv.js';
import { canonicalTimeText } from './go-time.js';
import { Branch, Comment, SopsTime, type TreeValue } from './types.js';

// RE2 (linear time), sops' own Go regexp: as a backtracking RegExp its four `(.+)` made one
// value of a few thousand characters (`,iv:,tag:,type:` repeated, no `]`) take seconds.
const ENC_RE = GoRegexp.compile('^ENC\\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\\]');
const TAG_SIZE = 16;

/** True when a string has the shape of an encrypted sops value. */
export function isEncryptedValue(s: string): boolean {
  return ENC_RE.test(s);
}

/** A value decryption failure; `reason` never contains the value or its plaintext. */
export class ValueDecryptError extends Error {
  constructor(
    readonly reason: string,
    /** True when the ciphertext itself is malformed (as opposed to failing authentication). */
    readonly malformed: boolean,
  ) {
    super(reason);
  }
}

/** A decrypted value and the bytes it contributes to the MAC. */
export interface DecryptedValue {
  value: TreeValue;
  /** `sops.ToBytes(value)`; undefined for comments (never hashed). */
  macBytes: Buffer | undefined;
}

function gcmAlgorithm(key: Uint8Array): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  switch (key.length) {
    case 16: return 'aes-128-gcm';
    case 24: return 'aes-192-gcm';
    case 32: return 'aes-256-gcm';
    default: throw new ValueDecryptError(`crypto/aes: invalid key size ${key.length}`, false);
  }
}

/** Decrypts the raw bytes of one `ENC[...]` value; throws ValueDecryptError. */
export function decryptValueBytes(ciphertext: string, key: Uint8Array, aad: string): { plain: Buffer; type: string } {
  const m = ENC_RE.exec(ciphertext);
  if (!m) throw new ValueDecryptError("Input string <redacted> does not match sops' data format", true);
  const data = decodeStdBase64(m[1]!);
  if (!data) throw new ValueDecryptError('Error base64-decoding data', true);
  const iv = decodeStdBase64(m[2]!);
  if (!iv) throw new ValueDecryptError('Error base64-decoding iv', true);
  const tag = decodeStdBase64(m[3]!);
  if (!tag) throw new ValueDecryptError('Error base64-decoding tag', true);
  if (iv.length === 0) throw new ValueDecryptError("cipher: the nonce can't have zero length", true);
  // Go opens data||tag and takes the last 16 bytes as the tag, whatever the split in the text.
  const sealed = Buffer.concat([data, tag]);
  if (sealed.length < TAG_SIZE) throw new ValueDecryptError('Could not decrypt with AES_GCM: cipher: message authentication failed', false);
  const body = sealed.subarray(0, sealed.length - TAG_SIZE);
  const authTag = sealed.subarray(sealed.length - TAG_SIZE);
  let plain: Buffer;
  try {
    const decipher = createDecipheriv(gcmAlgorithm(key), key, iv, { authTagLength: TAG_SIZE });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(authTag);
    plain = Buffer.concat([decipher.update(body), decipher.final()]);
  } catch (err) {
    if (err instanceof ValueDecryptError) throw err;
    throw new ValueDecryptError('Could not decrypt with AES_GCM: cipher: message authentication failed', false);
  }
  return { plain, type: m[4]! };
}

/**
 * sops `Cipher.Decrypt`: decrypts and converts by `type`. The empty string stays empty
 * (sops stores "" unencrypted). Throws ValueDecryptError.
 */
export function decryptValue(ciphertext: string, key: Uint8Array, aad: string): DecryptedValue {
  if (ciphertext === '') return { value: '', macBytes: Buffer.alloc(0) };
  const { plain, type } = decryptValueBytes(ciphertext, key, aad);
  const text = plain.toString('utf8');
  switch (type) {
    case 'str':
      // Go strings hold any bytes; keep non-UTF-8 plaintext (binary files) as bytes.
      return { value: isUtf8(plain) ? text : new Uint8Array(plain), macBytes: plain };
    case 'int': {
      const v = parseGoAtoi(text);
      if (v === undefined) throw new ValueDecryptError('the decrypted value is not a valid int', false);
      return { value: v, macBytes: Buffer.from(v.toString()) };
    }
    case 'float': {
      const v = parseGoFloat(text);
      if (v === undefined) throw new ValueDecryptError('the decrypted value is not a valid float', false);
      return { value: v, macBytes: Buffer.from(formatFloatF(v)) };
    }
    case 'bool': {
      const v = parseGoBool(text);
      if (v === undefined) throw new ValueDecryptError('the decrypted value is not a valid bool', false);
      return { value: v, macBytes: Buffer.from(v ? 'True' : 'False') };
    }
    case 'bytes':
      return { value: new Uint8Array(plain), macBytes: plain };
    case 'time': {
      const t = canonicalTimeText(text);
      if (t === undefined) throw new ValueDecryptError('the decrypted value is not a valid RFC 3339 time', false);
      return { value: new SopsTime(t), macBytes: Buffer.from(t) };
    }
    case 'comment':
      return { value: new Comment(text), macBytes: undefined };
    default:
      throw new ValueDecryptError(`Unknown datatype: ${type}`, true);
  }
}

/** sops `ToBytes`: the Go text of a plain leaf, as hashed into the MAC. */
export function valueToMacBytes(v: TreeValue): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (typeof v === 'bigint') return Buffer.from(v.toString());
  if (typeof v === 'number') return Buffer.from(formatFloatF(v));
  if (typeof v === 'boolean') return Buffer.from(v ? 'True' : 'False');
  if (v instanceof Uint8Array) return Buffer.from(v);
  if (v instanceof SopsTime) return Buffer.from(v.text);
  if (v instanceof Comment) return Buffer.from(v.value, 'utf8');
  throw new Error(`Could not convert unknown type ${v instanceof Branch ? 'TreeBranch' : Array.isArray(v) ? 'list' : 'null'} to bytes`);
}

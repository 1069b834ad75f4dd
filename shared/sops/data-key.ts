/**
 * Recovering a file's data key from its key groups (getsops/sops `Metadata.GetDataKeyWithKeyServices`
 * with `DefaultDecryptionOrder`): within a group, age keys are tried first, then PGP, then the
 * rest in file order; the first key that decrypts gives the group's part. One group holds the
 * whole key; several groups are Shamir shares, `shamir_threshold` of them needed. Failure
 * messages are sops's user error ("Failed to get the data key required to decrypt the SOPS
 * file." with a section per group and key), which Flux shows as is.
 */
import { SopsError } from './errors.js';
import { shamirCombine } from './shamir.js';
import type { MasterKey, MasterKeyType, SopsMetadata } from './types.js';

/** Decrypts one master key's `enc`, or throws an Error whose message explains why. */
export type MasterKeyDecrypter = (key: MasterKey) => Promise<Buffer>;

const ORDER: Partial<Record<MasterKeyType, number>> = { age: 0, pgp: 1 };

/** sops `MasterKey.ToString`: how a key is named in messages. */
export function masterKeyName(key: MasterKey): string {
  switch (key.type) {
    case 'age': return key.recipient;
    case 'pgp': return key.fingerprint;
    case 'kms': {
      let s = key.role ? `${key.arn}+${key.role}` : key.arn;
      const ctx = Object.keys(key.context).sort().map((k) => `${k}:${key.context[k]}`).join(',');
      if (key.awsProfile) return `${s}|${ctx}|${key.awsProfile}`;
      if (ctx) s += `|${ctx}`;
      return s;
    }
    case 'gcp_kms': return key.resourceId;
    case 'azure_kv': return `${key.vaultUrl}/keys/${key.name}/${key.version}`;
    case 'hc_vault': return `${key.vaultAddress}/v1/${key.enginePath}/keys/${key.keyName}`;
    case 'hckms': return key.keyId;
  }
}

/** mitchellh/go-wordwrap `WrapString`. */
export function wordWrap(s: string, lim: number): string {
  let buf = '';
  let current = 0;
  let word = '';
  let space = '';
  for (const ch of s) {
    if (ch === '\n') {
      if (word.length === 0) {
        if (current + space.length <= lim) buf += space;
      } else {
        buf += space + word;
      }
      space = '';
      word = '';
      buf += ch;
      current = 0;
    } else if (/\s/.test(ch) && ch !== '\u00a0') {
      if (space.length === 0 || word.length > 0) {
        current += space.length + word.length;
        buf += space + word;
        space = '';
        word = '';
      }
      space += ch;
    } else {
      word += ch;
      if (current + space.length + word.length > lim && word.length < lim) {
        buf += '\n';
        current = 0;
        space = '';
      }
    }
  }
  if (word.length === 0) {
    if (current + space.length <= lim) buf += space;
  } else {
    buf += space + word;
  }
  return buf;
}

/** goware/prefixer: `prefix` before every line. */
function prefixLines(s: string, prefix: string): string {
  const lines = s.split('\n');
  const last = lines.length - 1;
  return lines.map((l, i) => (i === last && l === '' ? '' : prefix + l)).join('\n');
}

interface KeyFailure {
  name: string;
  error: string;
}

function keyErrorText(f: KeyFailure): string {
  let msg = prefixLines(wordWrap(f.error, 60), '  | ');
  msg = '-' + msg.slice(1);
  return `${f.name}: FAILED\n${prefixLines(msg, '  ')}`;
}

function groupText(i: number, failures: KeyFailure[] | undefined): string {
  if (!failures) return `Group ${i}: SUCCESS`;
  const body = failures.length ? failures.map(keyErrorText).join('\n\n') : 'no master keys in this group';
  return `Group ${i}: FAILED\n${prefixLines(body, '  ')}`;
}

function dataKeyError(threshold: number, results: (KeyFailure[] | undefined)[]): SopsError {
  const ok = results.filter((r) => r === undefined).length;
  let trailer = threshold === 0
    ? 'Recovery failed because no master key was able to decrypt the file. In order for SOPS to recover the file, at least one key has to be successful, but none were.'
    : `Recovery failed because the file was encrypted with a Shamir threshold of ${threshold}, but only ${ok} part(s) were successfully recovered, one for each successful key group. In order for SOPS to recover the file, at least ${threshold} groups have to be successful. In order for a group to be successful, decryption has to succeed with any of the keys in that key group.`;
  trailer = wordWrap(trailer, 75);
  const groups = results.map((r, i) => groupText(i, r)).join('\n\n');
  return new SopsError('SopsDataKeyUnavailable', `Failed to get the data key required to decrypt the SOPS file.\n\n${groups}\n\n${trailer}`, {
    hint: 'add a matching key to the Secret named by spec.decryption.secretRef (*.agekey, *.asc or sops.aws-kms), or re-encrypt the file for a key you hold',
  });
}

/** Tries the keys of one group in sops's order; the first success wins. */
async function decryptGroup(group: readonly MasterKey[], decrypt: MasterKeyDecrypter): Promise<{ part?: Buffer; failures: KeyFailure[] }> {
  const ordered = group
    .map((k, i) => ({ k, i }))
    .sort((a, b) => (ORDER[a.k.type] ?? 2) - (ORDER[b.k.type] ?? 2) || a.i - b.i)
    .map((x) => x.k);
  const failures: KeyFailure[] = [];
  for (const key of ordered) {
    try {
      return { part: await decrypt(key), failures };
    } catch (err) {
      failures.push({ name: masterKeyName(key), error: err instanceof Error ? err.message : String(err) });
    }
  }
  return { failures };
}

/** Recovers the data key of a file; throws SopsError('SopsDataKeyUnavailable') with sops's report. */
export async function recoverDataKey(meta: SopsMetadata, decrypt: MasterKeyDecrypter): Promise<Buffer> {
  const groups = meta.keyGroups;
  const results: (KeyFailure[] | undefined)[] = [];
  const parts: Buffer[] = [];
  for (const group of groups) {
    // With Shamir, stop asking key services once enough parts are in hand.
    if (groups.length > 1 && meta.shamirThreshold > 0 && parts.length >= meta.shamirThreshold) break;
    const r = await decryptGroup(group, decrypt);
    if (r.part) {
      parts.push(r.part);
      results.push(undefined);
    } else {
      results.push(r.failures);
    }
  }
  if (groups.length > 1) {
    if (parts.length < meta.shamirThreshold) throw dataKeyError(meta.shamirThreshold, results);
    try {
      return shamirCombine(parts);
    } catch (err) {
      throw new SopsError('SopsDataKeyUnavailable', `could not get data key from shamir parts: ${(err as Error).message}`, { cause: err });
    }
  }
  if (parts.length !== 1) throw dataKeyError(meta.shamirThreshold, results);
  return parts[0];
}

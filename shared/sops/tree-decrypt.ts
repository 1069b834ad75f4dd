/**
 * The decrypting walk over a sops tree (getsops/sops `Tree.Decrypt`): values are visited in
 * document order across all documents; each leaf the rules mark as encrypted is decrypted with
 * the path AAD (`key:key:`), and every leaf (or only the encrypted ones with
 * `mac_only_encrypted`) is hashed into the SHA-512 MAC. Comments are decrypted when they can
 * be and never hashed. Errors name the key path, never the value.
 */
import { createHash } from 'node:crypto';
import { decryptValue, valueToMacBytes, ValueDecryptError } from './cipher.js';
import { SopsError } from './errors.js';
import { shouldBeEncrypted } from './rules.js';
import { Branch, Comment, SopsTime, type SopsMetadata, type TreeItem, type TreeValue } from './types.js';

/** sha256("sops"): the MAC's first input when `mac_only_encrypted` is set. */
export const MAC_ONLY_ENCRYPTED_INIT = Buffer.from('8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69', 'hex');

/** The decrypted documents and the MAC computed over them (uppercase hex). */
export interface TreeDecryptResult {
  branches: Branch[];
  mac: string;
}

function typeName(v: TreeValue): string {
  if (v === null) return 'nil';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'float64';
  if (v instanceof SopsTime) return 'time.Time';
  if (v instanceof Uint8Array) return '[]uint8';
  return typeof v;
}

/** Shows a key path for messages: `app2.db.password`, `an_array[1]`. */
export function showPath(display: readonly (string | number)[]): string {
  let out = '';
  for (const p of display) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? p : `.${p}`;
  }
  return out === '' ? '(top level)' : out;
}

/** Decrypts every encrypted leaf of the tree with `key` and computes the MAC. */
export function decryptTree(branches: readonly Branch[], metadata: SopsMetadata, key: Uint8Array): TreeDecryptResult {
  const hash = createHash('sha512');
  if (metadata.macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_INIT);

  const fail = (display: readonly (string | number)[], reason: string, code: 'SopsValueDecryptFailed' | 'SopsFormatInvalid') =>
    new SopsError(code, `Error walking tree: Could not decrypt value at '${showPath(display)}': ${reason}`, {
      hint: code === 'SopsValueDecryptFailed'
        ? 'the value was changed, moved to another key, or copied from another sops file; re-encrypt the file with sops'
        : undefined,
    });

  const leaf = (input: TreeValue, path: string[], display: (string | number)[], stack: string[][]): TreeValue => {
    const isComment = input instanceof Comment;
    const encrypted = shouldBeEncrypted(metadata, path, stack, isComment);
    let out: TreeValue = input;
    let macBytes: Buffer | undefined;
    if (encrypted) {
      const aad = path.join(':') + ':';
      if (input instanceof Comment) {
        try {
          const d = decryptValue(input.value, key, aad);
          const text = d.value instanceof Comment ? d.value.value : typeof d.value === 'string' ? d.value : input.value;
          out = new Comment(text, input.inline);
        } catch {
          // sops assumes such a comment was never encrypted and keeps it as it is.
          out = input;
        }
      } else if (typeof input === 'string') {
        try {
          const d = decryptValue(input, key, aad);
          out = d.value;
          macBytes = d.macBytes;
        } catch (err) {
          if (err instanceof ValueDecryptError) {
            throw fail(display, err.reason, err.malformed ? 'SopsFormatInvalid' : 'SopsValueDecryptFailed');
          }
          throw err;
        }
      } else {
        throw fail(display, `Expected encrypted value as string, but got ${typeName(input)}`, 'SopsFormatInvalid');
      }
    }
    if ((!metadata.macOnlyEncrypted || encrypted) && !isComment) {
      hash.update(macBytes ?? valueToMacBytes(out));
    }
    return out;
  };

  const walkValue = (v: TreeValue, path: string[], display: (string | number)[], stack: string[][]): TreeValue => {
    if (v === null) return null;
    if (v instanceof Branch) return walkBranch(v, path, display, stack);
    if (Array.isArray(v)) return walkSlice(v, path, display, stack);
    return leaf(v, path, display, stack);
  };

  const walkSlice = (list: TreeValue[], path: string[], display: (string | number)[], parent: string[][]): TreeValue[] => {
    const stack = [...parent, []];
    const level = stack.length - 1;
    const out: TreeValue[] = [];
    let index = 0;
    for (const v of list) {
      const isComment = v instanceof Comment;
      if (isComment) stack[level] = [...stack[level], v.value];
      out.push(walkValue(v, path, isComment ? display : [...display, index], stack));
      if (!isComment) {
        stack[level] = [];
        index++;
      }
    }
    return out;
  };

  const walkBranch = (branch: Branch, path: string[], display: (string | number)[], parent: string[][]): Branch => {
    const stack = [...parent, []];
    const level = stack.length - 1;
    const out: TreeItem[] = [];
    for (const item of branch.items) {
      if (item.key instanceof Comment) {
        stack[level] = [...stack[level], item.key.value];
        const c = walkValue(item.key, path, display, stack);
        out.push({ key: c instanceof Comment ? c : item.key, value: item.value });
        continue;
      }
      const valueIsComment = item.value instanceof Comment;
      if (item.value instanceof Comment) stack[level] = [...stack[level], item.value.value];
      const value = walkValue(item.value, [...path, item.key], [...display, item.key], stack);
      out.push({ key: item.key, value });
      if (!valueIsComment) stack[level] = [];
    }
    return new Branch(out);
  };

  const out = branches.map((b) => walkBranch(b, [], [], []));
  return { branches: out, mac: hash.digest('hex').toUpperCase() };
}

/**
 * The dotenv store (getsops/sops `stores/dotenv`): `KEY=VALUE` split at the first `=`, one per
 * line; blank lines skipped; `#` lines are comments; no quoting; `\n` in a value is a newline.
 */
import { SopsError } from './errors.js';
import { formatFloatForText } from './go-strconv.js';
import { Branch, Comment, SopsTime, type TreeItem, type TreeValue } from './types.js';

/** Parses a dotenv file into a single branch. Line numbers, never contents, appear in errors. */
export function parseDotenvBranch(bytes: Uint8Array): Branch {
  const text = Buffer.from(bytes).toString('utf8');
  const items: TreeItem[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.length === 0) continue;
    if (line[0] === '#') {
      items.push({ key: new Comment(line.slice(1)), value: null });
      continue;
    }
    const pos = line.indexOf('=');
    if (pos === -1) {
      throw new SopsError('SopsFormatInvalid', `invalid dotenv input line ${i + 1}: no '=' between a key and its value`);
    }
    items.push({ key: line.slice(0, pos), value: line.slice(pos + 1).replaceAll('\\n', '\n') });
  }
  return new Branch(items);
}

/** sops `stores.ValToString` for non-string scalars. */
export function valueToText(v: TreeValue): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatFloatForText(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v === null) return '<nil>';
  if (v instanceof SopsTime) return v.text.replace(/\.\d+(?=Z|[+-])/, '');
  if (v instanceof Uint8Array) return `[${[...v].join(' ')}]`;
  if (v instanceof Comment) return v.value;
  return '';
}

/** Writes a branch as a dotenv file; nested values are an error, as in sops. */
export function emitDotenvBranch(branch: Branch): Buffer {
  const out: Buffer[] = [];
  for (const item of branch.items) {
    if (item.value instanceof Branch || Array.isArray(item.value)) {
      throw new SopsError('SopsFormatInvalid', `cannot use complex value in dotenv file; offending key ${String(item.key instanceof Comment ? item.key.value : item.key)}`);
    }
    if (item.key instanceof Comment) {
      out.push(Buffer.from(`#${item.key.value}\n`, 'utf8'));
      continue;
    }
    if (item.value instanceof Uint8Array) {
      // A str value whose plaintext is not UTF-8: written as its bytes, as Go does.
      out.push(Buffer.from(`${item.key}=`, 'utf8'), Buffer.from(item.value), Buffer.from('\n'));
      continue;
    }
    const value = typeof item.value === 'string' ? item.value.replaceAll('\n', '\\n') : valueToText(item.value);
    out.push(Buffer.from(`${item.key}=${value}\n`, 'utf8'));
  }
  return Buffer.concat(out);
}

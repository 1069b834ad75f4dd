/**
 * Where each store keeps the `sops` metadata (getsops/sops `stores.ExtractMetadata`): a
 * nested `sops` key in every YAML/JSON document (only the first document's is read), a
 * `[sops]` section of flattened keys with `\n` escapes (INI), or `sops_`-prefixed flattened
 * keys (dotenv).
 */
import { SopsError } from './errors.js';
import { unflattenBranch } from './flatten.js';
import { parseMetadata } from './metadata.js';
import { Branch, Comment, type SopsTree, type TreeItem } from './types.js';

/** The key sops stores its metadata under. */
export const SOPS_KEY = 'sops';

function notFound(): SopsError {
  return new SopsError('SopsFormatInvalid', 'sops metadata not found', {
    hint: 'the file has no sops metadata block; encrypt it with sops, or remove it from the decrypted paths',
  });
}

function unflatten(items: TreeItem[]): Branch {
  try {
    return unflattenBranch(items);
  } catch (err) {
    throw new SopsError('SopsFormatInvalid', `invalid sops metadata: ${(err as Error).message}`, { cause: err });
  }
}

/** YAML and JSON: removes `sops` from every document and reads the first document's. */
export function extractNestedMetadata(branches: Branch[]): SopsTree {
  let meta: Branch | undefined;
  let seen = false;
  const out = branches.map((b, bi) => {
    const items: TreeItem[] = [];
    for (const item of b.items) {
      if (item.key === SOPS_KEY) {
        if (bi === 0) {
          if (seen) throw new SopsError('SopsFormatInvalid', `Found duplicate ${SOPS_KEY} entry`);
          seen = true;
          if (!(item.value instanceof Branch)) throw new SopsError('SopsFormatInvalid', `Found ${SOPS_KEY} entry that is not a mapping`);
          meta = item.value;
        }
        continue;
      }
      items.push(item);
    }
    return new Branch(items);
  });
  if (!meta) throw notFound();
  return { branches: out, metadata: parseMetadata(meta) };
}

/** INI: the `[sops]` section, flattened, with `\n` written as `\\n`. */
export function extractSectionMetadata(branches: Branch[]): SopsTree {
  let meta: Branch | undefined;
  let seen = false;
  const out = branches.map((b, bi) => {
    const items: TreeItem[] = [];
    for (const item of b.items) {
      if (item.key === SOPS_KEY) {
        if (bi === 0) {
          if (seen) throw new SopsError('SopsFormatInvalid', `Found duplicate ${SOPS_KEY} entry`);
          seen = true;
          if (!(item.value instanceof Branch)) throw new SopsError('SopsFormatInvalid', `Found ${SOPS_KEY} entry that is not a mapping`);
          meta = item.value;
        }
        continue;
      }
      items.push(item);
    }
    return new Branch(items);
  });
  if (!meta) throw notFound();
  const unescaped = meta.items.map((item) =>
    typeof item.value === 'string' ? { key: item.key, value: item.value.replaceAll('\\n', '\n') } : item);
  return { branches: out, metadata: parseMetadata(unflatten(unescaped)) };
}

/** dotenv: every `sops_` key of the first document, prefix removed. */
export function extractPrefixedMetadata(branches: Branch[]): SopsTree {
  const prefix = `${SOPS_KEY}_`;
  const metaItems: TreeItem[] = [];
  const out = branches.map((b, bi) => {
    if (bi !== 0) return b;
    const items: TreeItem[] = [];
    for (const item of b.items) {
      if (!(item.key instanceof Comment) && item.key.startsWith(prefix)) {
        metaItems.push({ key: item.key.slice(prefix.length), value: item.value });
        continue;
      }
      items.push(item);
    }
    return new Branch(items);
  });
  if (metaItems.length === 0) throw notFound();
  return { branches: out, metadata: parseMetadata(unflatten(metaItems)) };
}

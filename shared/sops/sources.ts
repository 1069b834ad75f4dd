/**
 * Decrypting the files a kustomize build reads, in place in the work tree, before the build
 * (kustomize-controller `DecryptSources` / `decryptKustomizationSources`). From the build
 * path, every kustomization file is read and its local `resources` and `components`
 * directories are walked (missing and remote entries skipped, paths clamped to the root with
 * symlinks resolved). In each:
 *  - `secretGenerator[].files` (`key=path` or `path`): format from the key's extension
 *    (`.yaml`/`.yml`, `.json`/`.dockerconfigjson`, `.env`, `.ini`, else binary);
 *  - `secretGenerator[].envs` (and the deprecated `env`): format from the file name, binary
 *    read as dotenv;
 *  - `patches[].path` (not remote URLs): format from the file name.
 * A file is decrypted only if it carries its format's marker; it must be a regular file of at
 * most 5 MiB. The decrypted file replaces the encrypted one (new inode, mode 0600), so other
 * hard links to it, such as an artifact cache, keep the encrypted bytes. Beyond Flux, `verifyResources` (default on) checks the MAC of every encrypted
 * manifest listed in `resources`, so a file tampered with in Git fails the build before
 * anything is applied (Flux decrypts those after the build without any MAC check).
 */
import { lstat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, parseAllDocuments } from 'yaml';
import type { SopsDecrypter } from './decrypt-types.js';
import { formatForPath, isSopsEncrypted } from './detect.js';
import { SopsError, wrapSopsError } from './errors.js';
import { isDecryptionDisabled } from './resource.js';
import { SOPS_KEY } from './store-metadata.js';
import { extractNestedMetadata } from './store-metadata.js';
import { loadPlain } from './stores.js';
import { securePaths, stripRoot } from './secure-join.js';
import { Branch, Comment, type SopsFormat } from './types.js';
import { writeFileAtomic } from '../util/fs-atomic.js';
import { isRecord } from '../util/guards.js';
import { yamlNestingProblem } from '../util/yaml-depth.js';

/** kustomize's recognised kustomization file names, in its order. */
export const KUSTOMIZATION_FILE_NAMES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/** Options of decryptSources. */
export interface DecryptSourcesOptions {
  /** Check the MAC of encrypted manifests listed in `resources` (default true). */
  verifyResources?: boolean;
}

/** What decryptSources did, as root-relative paths. */
export interface DecryptSourcesResult {
  /** Files decrypted in place. */
  decrypted: string[];
  /** Encrypted manifests whose MAC was verified (left encrypted for decryptResource). */
  verified: string[];
}

/** A recursion dead end Flux ignores below the build path (missing path, not a directory). */
class Ignore extends Error {
  constructor(readonly reason: SopsError) {
    super(reason.message);
  }
}

/** encoding/json field matching: exact, else case-insensitive (with Go's simple folds). */
function field(obj: Record<string, unknown>, name: string): unknown {
  if (Object.prototype.hasOwnProperty.call(obj, name)) return obj[name];
  const fold = (s: string) => s.toLowerCase().replace(/ſ/g, 's').replace(/\u212a/g, 'k');
  const want = fold(name);
  let found: unknown;
  for (const [k, v] of Object.entries(obj)) if (fold(k) === want) found = v;
  return found;
}

function stringList(v: unknown, what: string, file: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw new SopsError('SopsFormatInvalid', `failed to unmarshal kustomization file from '${file}': ${what} must be a list of strings`);
  }
  return v as string[];
}

function list(v: unknown, what: string, file: string): Record<string, unknown>[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => !isRecord(x))) {
    throw new SopsError('SopsFormatInvalid', `failed to unmarshal kustomization file from '${file}': ${what} must be a list of objects`);
  }
  return v as Record<string, unknown>[];
}

interface KustomizationRefs {
  files: string[];
  envs: string[];
  patches: string[];
  resources: string[];
}

function isRemoteUrl(p: string): boolean {
  try {
    const u = new URL(p);
    return u.protocol !== '' && u.host !== '';
  } catch {
    return false;
  }
}

function fsError(op: string, rel: string, err: unknown): SopsError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason = code === 'ENOENT' ? 'no such file or directory' : code === 'ENOTDIR' ? 'not a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
  return new SopsError('SopsFileRejected', `${op} ${rel}: ${reason}`, { cause: err, where: rel });
}

async function loadKustomization(root: string, rel: string): Promise<KustomizationRefs> {
  let loadPath: string | undefined;
  for (const name of KUSTOMIZATION_FILE_NAMES) {
    const { abs } = await securePaths(root, path.join(rel, name));
    let st;
    try {
      st = await lstat(abs);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw wrapSopsError(fsError('lstat', stripRoot(root, abs), err), `failed to lstat ${name}`);
    }
    if (!st.isFile()) throw new SopsError('SopsFileRejected', `expected ${name} to be a regular file`);
    if (loadPath) throw new SopsError('SopsFormatInvalid', 'found multiple kustomization files');
    loadPath = abs;
  }
  if (!loadPath) throw new SopsError('SopsFormatInvalid', `no kustomization file found in '${rel}'`);
  const shown = stripRoot(root, loadPath);
  let doc: unknown;
  try {
    const text = await readFile(loadPath, 'utf8');
    const deep = yamlNestingProblem(text);
    if (deep) throw new Error(deep);
    const docs = parseAllDocuments(text, { prettyErrors: false });
    const first = Array.isArray(docs) ? docs[0] : undefined;
    if (first && first.errors.length > 0) throw new Error(first.errors[0].message.split('\n')[0]);
    doc = first ? first.toJS({ maxAliasCount: 100 }) : null;
  } catch (err) {
    throw new SopsError('SopsFormatInvalid', `failed to unmarshal kustomization file from '${shown}': ${(err as Error).message}`, { cause: err });
  }
  const k = isRecord(doc) ? doc : {};
  const refs: KustomizationRefs = { files: [], envs: [], patches: [], resources: [] };
  for (const gen of list(field(k, 'secretGenerator'), 'secretGenerator', shown)) {
    refs.files.push(...stringList(field(gen, 'files'), 'secretGenerator.files', shown));
    refs.envs.push(...stringList(field(gen, 'envs'), 'secretGenerator.envs', shown));
    const env = field(gen, 'env');
    if (typeof env === 'string' && env !== '') refs.envs.push(env);
  }
  for (const p of list(field(k, 'patches'), 'patches', shown)) {
    const v = field(p, 'path');
    if (typeof v === 'string' && v !== '') refs.patches.push(v);
  }
  refs.resources.push(...stringList(field(k, 'resources'), 'resources', shown), ...stringList(field(k, 'components'), 'components', shown));
  return refs;
}

/** Reads a file for decryption with Flux's checks: regular, at most `max` bytes. */
async function readCandidate(abs: string, rel: string, max: number): Promise<Buffer> {
  let st;
  try {
    st = await lstat(abs);
  } catch (err) {
    throw fsError('lstat', rel, err);
  }
  if (!st.isFile()) throw new SopsError('SopsFileRejected', `cannot decrypt irregular file as it has file mode type bits set: ${rel}`, { where: rel });
  if (max > 0 && st.size > max) {
    throw new SopsError('SopsFileRejected', `cannot decrypt file with size (${st.size} bytes) exceeding limit (${max}): ${rel}`, { where: rel });
  }
  try {
    return await readFile(abs);
  } catch (err) {
    throw fsError('read', rel, err);
  }
}

/**
 * The documents of a manifest that carry a sops block, each loaded from its own source text
 * (so an unrelated document sops could not load, e.g. one with integer keys, is not read).
 */
function sopsDocuments(bytes: Buffer, format: SopsFormat): Branch[] {
  if (format === 'json') return loadPlain(bytes, 'json');
  const text = bytes.toString('utf8');
  const out: Branch[] = [];
  // Too deep to read safely: the sops store's own parse refuses it with the message.
  if (yamlNestingProblem(text)) return loadPlain(bytes, 'yaml');
  for (const d of parseAllDocuments(text, { schema: 'failsafe', prettyErrors: false })) {
    const c = d.contents;
    if (!isMap(c) || !c.items.some((p) => isScalar(p.key) && p.key.value === SOPS_KEY)) continue;
    const [start, , end] = d.range;
    out.push(...loadPlain(Buffer.from(text.slice(start, end), 'utf8'), 'yaml'));
  }
  return out;
}

/** Verifies the MAC of every sops-encrypted document group of a manifest file. */
async function verifyManifest(dec: SopsDecrypter, bytes: Buffer, format: SopsFormat, rel: string): Promise<boolean> {
  let docs: Branch[];
  try {
    docs = sopsDocuments(bytes, format);
  } catch (err) {
    throw wrapSopsError(err, `'${rel}': failed to load encrypted ${format === 'json' ? 'JSON' : 'YAML'} data`, rel);
  }
  // One sops file holds the same metadata in each of its documents; concatenated files differ.
  const groups = new Map<string, Branch[]>();
  for (const doc of docs) {
    const sops = doc.items.find((i) => i.key === SOPS_KEY)?.value;
    if (!(sops instanceof Branch)) continue;
    const mac = sops.items.find((i) => i.key === 'mac')?.value;
    if (typeof mac !== 'string' || mac === '') continue;
    const metaItem = doc.items.find((i) => i.key === 'metadata')?.value;
    const annotations = metaItem instanceof Branch ? metaItem.items.find((i) => i.key === 'annotations')?.value : undefined;
    if (annotations instanceof Branch) {
      const a: Record<string, unknown> = {};
      for (const i of annotations.items) if (!(i.key instanceof Comment)) a[i.key] = i.value;
      if (isDecryptionDisabled(a)) continue;
    }
    const g = groups.get(mac);
    if (g) g.push(doc);
    else groups.set(mac, [doc]);
  }
  for (const group of groups.values()) {
    let tree;
    try {
      tree = extractNestedMetadata(group);
    } catch (err) {
      throw wrapSopsError(err, `'${rel}': failed to load encrypted YAML data`, rel);
    }
    await dec.decryptLoaded(tree, { where: rel, verifyMac: true });
  }
  return groups.size > 0;
}

/**
 * Decrypts, in place, the encrypted files the kustomization at `buildPath` (relative to
 * `root`, or absolute inside it) makes kustomize read. Throws SopsError with Flux's messages;
 * on error, files decrypted before it stay decrypted (the work tree is private to one build).
 */
export async function decryptSources(dec: SopsDecrypter, root: string, buildPath: string, opts: DecryptSourcesOptions = {}): Promise<DecryptSourcesResult> {
  if (!path.isAbsolute(root)) throw new SopsError('SopsFileRejected', `root '${root}' must be absolute`);
  const realRoot = path.resolve(root);
  const visitedDirs = new Set<string>();
  const done = new Set<string>();
  const result: DecryptSourcesResult = { decrypted: [], verified: [] };
  const verify = opts.verifyResources ?? true;

  const visitRef = async (dir: string, ref: string, format: SopsFormat) => {
    const joined = path.isAbsolute(ref) ? ref : path.join(dir, ref);
    const { abs, rel } = await securePaths(realRoot, joined);
    if (done.has(abs)) return;
    const bytes = await readCandidate(abs, rel, dec.maxFileSize);
    if (!isSopsEncrypted(bytes, format)) return;
    const out = await dec.decrypt(bytes, format, { where: rel });
    try {
      // A new file renamed over the old one: a work tree hard-linked from an artifact cache
      // keeps the cache's copy encrypted (writing in place would change every link).
      await writeFileAtomic(abs, out, { durable: false, mode: 0o600 });
    } catch (err) {
      throw wrapSopsError(fsError('write', rel, err), `error writing sops decrypted ${format} data to ${format} file`);
    }
    done.add(abs);
    result.decrypted.push(rel);
  };

  const verifyResourceFile = async (abs: string, rel: string) => {
    if (done.has(abs)) return;
    done.add(abs);
    const format = formatForPath(abs);
    const bytes = await readCandidate(abs, rel, dec.maxFileSize);
    const marker = format === 'json' ? isSopsEncrypted(bytes, 'json') : isSopsEncrypted(bytes, 'yaml') || isSopsEncrypted(bytes, 'json');
    if (!marker) return;
    if (await verifyManifest(dec, bytes, format, rel)) result.verified.push(rel);
  };

  const recurse = async (p: string): Promise<void> => {
    const { abs, rel } = await securePaths(realRoot, p);
    if (visitedDirs.has(abs)) return;
    visitedDirs.add(abs);
    let st;
    try {
      st = await lstat(abs);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new Ignore(fsError('lstat', rel, err));
      throw fsError('lstat', rel, err);
    }
    if (!st.isDirectory()) {
      if (verify && st.isFile()) await verifyResourceFile(abs, rel);
      throw new Ignore(new SopsError('SopsFileRejected', `${rel}: not a directory`, { where: rel }));
    }
    const k = await loadKustomization(realRoot, rel);
    for (const entry of k.files) {
      const eq = entry.indexOf('=');
      const key = eq === -1 ? entry : entry.slice(0, eq);
      const file = eq === -1 ? entry : entry.slice(eq + 1);
      await visitRef(p, file, formatForPath(key));
    }
    for (const env of k.envs) {
      const f = formatForPath(env);
      await visitRef(p, env, f === 'binary' ? 'dotenv' : f);
    }
    for (const patch of k.patches) {
      if (isRemoteUrl(patch)) continue;
      await visitRef(p, patch, formatForPath(patch));
    }
    for (const res of k.resources) {
      try {
        await recurse(path.isAbsolute(res) ? res : path.join(p, res));
      } catch (err) {
        if (!(err instanceof Ignore)) throw err;
      }
    }
  };

  try {
    await recurse(path.isAbsolute(buildPath) ? buildPath : buildPath || '.');
  } catch (err) {
    // Flux returns the dead end of the build path itself as an error.
    throw wrapSopsError(err instanceof Ignore ? err.reason : err, 'error decrypting sources');
  }
  return result;
}

/**
 * Where a pull request's files come from: the GitRepositories the Receiver targets that
 * follow the pull request's repository (matched by URL; all of them when none matches),
 * each fetched at the head commit and at the base commit with its own URL and Secret,
 * turned into artifact trees exactly as the GitRepository reconciler builds them (its
 * ignore rules, Flux's default excludes), and compared file by file.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { buildArtifact } from '../artifacts/build.js';
import { extractArtifact } from '../artifacts/extract.js';
import { gitCredentials } from '../kinds/gitrepository/credentials.js';
import type { ObjectKey } from '../kube/object.js';
import type { PreviewRequest } from '../queue/message.js';
import type { ResourceSelector } from '../receivers/spec.js';
import type { Runtime } from '../runtime/runtime.js';
import { fetchGitRepository, parseGitRepository, resolveRemote } from '../sources/git.js';
import type { GitCredentials, GitRepositorySpec } from '../sources/types.js';
import { readRecord } from '../state/records.js';
import { trimEnd } from '../util/trim.js';

/** A GitRepository the preview renders from. */
export interface PreviewSource {
  key: ObjectKey;
  spec: GitRepositorySpec;
  auth?: GitCredentials;
  /** Its Secret (for API credentials: GitHub App keys, password, bearerToken). */
  secret: Record<string, string>;
}

/** `host/path` of a repository URL (https, ssh, scp-like), lowercased, without `.git`. */
export function repoIdentity(url: string): string | undefined {
  let host: string;
  let p: string;
  const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/\/)(.+)$/.exec(url);
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && scp) {
    host = scp[1];
    p = scp[2];
  } else {
    try {
      const u = new URL(url);
      host = u.hostname;
      p = u.pathname;
    } catch {
      return undefined;
    }
  }
  p = trimEnd(p.replace(/^\/+/, ''), '/').replace(/\.git$/, '');
  return `${host}/${p}`.toLowerCase();
}

/** The Receiver's GitRepository targets that follow the pull request's repository. */
export async function previewSources(rt: Runtime, receiverNamespace: string, targets: readonly ResourceSelector[], req: PreviewRequest): Promise<PreviewSource[]> {
  const keys: ObjectKey[] = [];
  for (const t of targets) {
    if (t.kind !== 'GitRepository') continue;
    const ns = t.namespace ?? receiverNamespace;
    if (t.name === '*') {
      for (const k of await rt.state.list({ kind: 'GitRepository', namespace: ns })) keys.push(k);
    } else keys.push({ kind: 'GitRepository', namespace: ns, name: t.name });
  }
  const all: PreviewSource[] = [];
  const wanted = new Set(req.cloneUrls.map(repoIdentity).filter((x): x is string => x !== undefined));
  const matching: PreviewSource[] = [];
  for (const key of keys) {
    const rec = await readRecord(rt.state, key);
    if (!rec?.object || rec.deleted) continue;
    const sel = targets.find((t) => t.kind === 'GitRepository' && (t.name === key.name || t.name === '*'));
    if (sel?.name === '*' && sel.matchLabels && !Object.entries(sel.matchLabels).every(([k, v]) => rec.object!.metadata.labels?.[k] === v)) continue;
    const repo = parseGitRepository(rec.object, { defaultNamespace: key.namespace });
    const secret = repo.spec.secretRef ? await rt.secrets.get(key.namespace, repo.spec.secretRef.name) : {};
    const src: PreviewSource = { key, spec: repo.spec, secret, ...(repo.spec.secretRef ? { auth: gitCredentials(secret) } : {}) };
    all.push(src);
    const id = repoIdentity(repo.spec.url);
    if (id && wanted.has(id)) matching.push(src);
  }
  return matching.length ? matching : all;
}

/** Fetches `commit` of the source and builds its artifact tree into `dest` (ignore rules applied). */
export async function checkoutTree(src: PreviewSource, commit: string, work: string, dest: string, signal?: AbortSignal): Promise<void> {
  const res = await fetchGitRepository({ ...src.spec, ref: { kind: 'commit', commit } }, src.auth, { dir: work, signal });
  if (!res.changed) throw new Error(`fetching ${commit} returned no checkout`);
  const art = await buildArtifact(res.dir, { ignore: src.spec.ignore });
  await extractArtifact(art.tarGz, dest);
}

/** The commit the base branch points to now (GitLab payloads carry no base commit). */
export async function baseCommit(src: PreviewSource, req: PreviewRequest, signal?: AbortSignal): Promise<string> {
  if (req.baseSha) return req.baseSha;
  return (await resolveRemote({ ...src.spec, ref: { kind: 'branch', branch: req.baseRef } }, src.auth, { signal })).commit;
}

async function fileHashes(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.set(path.relative(root, p).split(path.sep).join('/'), createHash('sha256').update(await readFile(p)).digest('hex'));
    }
  };
  await walk(root);
  return out;
}

/** Files that differ between two artifact trees (added, removed or modified), as `a/b.yaml` paths. */
export async function changedFiles(baseRoot: string, headRoot: string): Promise<Set<string>> {
  const [a, b] = await Promise.all([fileHashes(baseRoot), fileHashes(headRoot)]);
  const out = new Set<string>();
  for (const [f, h] of a) if (b.get(f) !== h) out.add(f);
  for (const f of b.keys()) if (!a.has(f)) out.add(f);
  return out;
}

/** Every file under `root`, as relative `a/b.yaml` paths (nothing when it does not exist). */
export async function listFiles(root: string): Promise<Set<string>> {
  const out = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.add(path.relative(root, p).split(path.sep).join('/'));
    }
  };
  await walk(root);
  return out;
}

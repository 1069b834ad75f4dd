/**
 * GitRepository fetcher with isomorphic-git over smart HTTP, or over SSH through
 * git-ssh-transport.ts (git-upload-pack on the server, bridged to isomorphic-git's http
 * plugin interface), following source-controller and fluxcd/pkg git/gogit:
 * - resolveRemote asks the server for its refs (protocol v2 ls-refs, limited by prefix,
 *   tags peeled; over SSH v2 when the server accepts GIT_PROTOCOL, else the v0
 *   advertisement) and computes the revision Flux would report, without fetching objects.
 * - fetchGitRepository skips the fetch when that revision equals the last one; otherwise it
 *   does a shallow (depth 1), single-ref fetch and checks out the commit.
 * - A pinned commit is fetched directly by its hash at depth 1 (smart-HTTP servers accept
 *   wants for any commit reachable from a ref; SSH servers only for advertised tips); if
 *   the server refuses, it falls back to Flux's approach: the full history of
 *   spec.ref.branch, or of all branches.
 * - Remotes whose HEAD names a missing branch work (see patchUnbornHead).
 */
import { inlinePromiseFs } from '../util/fs-inline.js';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import git from 'isomorphic-git';
import type { GitHttpResponse, HttpClient, ServerRef } from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import { FluxlessError, ValidationError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { GitAuthError, GitHostKeyError, GitOperationError, GitRefNotFoundError, GitTimeoutError } from './git-errors.js';
import { pickSemverTag, parseSemverConstraint } from './git-semver.js';
import { formatRevision, normalizeRevision, redactUrl } from './git-spec.js';
import { pktLine, pktText, splitPkts, type Pkt } from './git-ssh-pktline.js';
import { splitCommitSignature, splitTagSignature } from './git-verify.js';
import { isSshUrl } from './git-ssh-url.js';
import type { GitCredentials, GitFetchOptions, GitFetchResult, GitRef, GitRepositorySpec, ResolvedGitRevision, SignedGitObject } from './types.js';
import { basicAuth } from '../util/basic-auth.js';

export { parseGitRepository, formatRevision, normalizeRevision, commitFromRevision, parseDuration, redactUrl } from './git-spec.js';
export { GitAuthError, GitHostKeyError, GitOperationError, GitRefNotFoundError, GitTimeoutError } from './git-errors.js';
/**
 * The file system isomorphic-git writes the checkout with: local disk, each call inline
 * (shared/util/fs-inline.ts) rather than a thread-pool round trip.
 */
const fs = { promises: inlinePromiseFs };

/** Source types: GitRepository and its spec, refs, credentials, and fetch options and results. */
export type * from './types.js';

interface Session {
  spec: GitRepositorySpec;
  /** URL without credentials, shown to users. */
  url: string;
  /** The URL given to isomorphic-git (for SSH, the bridge's placeholder http URL). */
  gitUrl: string;
  headers: Record<string, string>;
  /** Where credentials came from, for error messages. */
  credentialSource: 'secret' | 'url' | 'none';
  http: HttpClient;
  signal: AbortSignal;
  cache: object;
  /** Releases the connection (SSH); a no-op for HTTP. */
  close(): void;
}

/**
 * The GitCredentials in a decoded Secret (`username`, `password`, `bearerToken`, `identity`,
 * `known_hosts`), as fluxcd/pkg git.NewAuthOptions reads them.
 */
export function gitCredentialsFromSecret(data: Record<string, string | undefined>): GitCredentials {
  const out: GitCredentials = {};
  if (data.username) out.username = data.username;
  if (data.password) out.password = data.password;
  if (data.bearerToken) out.bearerToken = data.bearerToken;
  if (data.identity) out.identity = data.identity;
  if (data.known_hosts) out.knownHosts = data.known_hosts;
  return out;
}

/*
 * A fix for isomorphic-git's fetch on remotes whose HEAD names a missing branch (an
 * "unborn" HEAD, common for bare repositories pushed one branch at a time).
 *
 * git's upload-pack leaves HEAD out of the v0/v1 ref advertisement when HEAD does not
 * resolve, and sends no `symref=HEAD:` capability either. isomorphic-git's fetch then
 * guesses the remote's default branch by looking HEAD up in the advertised refs, and that
 * lookup throws NotFoundError("Could not find HEAD") after the pack was requested, so every
 * fetch fails, whatever ref was asked for. go-git (Flux) never looks at HEAD for an
 * explicit branch. The wrapper below adds a `symref=HEAD:<first branch>` capability to such
 * an advertisement: isomorphic-git only uses it for the `defaultBranch` it returns (which we
 * ignore); the ref we fetch, its commit and the revision are untouched.
 */
const OID_LINE = /^[0-9a-f]{40}(?:[0-9a-f]{24})? (\S+)$/;

/**
 * Returns the advertisement with `symref=HEAD:<ref>` added to its capabilities when it is a
 * v0/v1 upload-pack advertisement that lists refs but neither HEAD nor a HEAD symref;
 * otherwise returns `body` itself. Throws PktLineFormatError when `body` is not pkt-lines.
 */
export function patchUnbornHead(body: Buffer): Buffer {
  const pkts = splitPkts(body);
  let first = -1;
  const refs: string[] = [];
  for (let i = 0; i < pkts.length; i++) {
    const p = pkts[i];
    if (p.kind !== 'data') continue;
    const text = pktText(p.data);
    if (text.startsWith('# service=') || text === 'version 1') continue;
    if (text === 'version 2') return body; // v2 capability advertisement: refs come from ls-refs
    const nul = text.indexOf('\0');
    const m = OID_LINE.exec(nul < 0 ? text : text.slice(0, nul));
    if (!m) continue;
    if (first < 0) {
      first = i;
      if (nul < 0) return body; // capabilities must be on the first ref line; leave odd input alone
      if (text.slice(nul + 1).split(' ').some((c) => c.startsWith('symref=HEAD:'))) return body;
    }
    if (m[1] === 'HEAD') return body;
    if (m[1] !== 'capabilities^{}' && !m[1].endsWith('^{}')) refs.push(m[1]);
  }
  if (first < 0 || refs.length === 0) return body; // empty repository: nothing to fix
  const target = refs.find((r) => r.startsWith('refs/heads/')) ?? refs[0];
  const line = pktText((pkts[first] as Extract<Pkt, { kind: 'data' }>).data);
  const out: Buffer[] = [];
  for (let i = 0; i < pkts.length; i++) {
    const p = pkts[i];
    if (i === first) out.push(pktLine(`${line} symref=HEAD:${target}\n`));
    else if (p.kind === 'data') out.push(pktLine(p.data));
    else out.push(Buffer.from(p.kind === 'flush' ? '0000' : p.kind === 'delim' ? '0001' : '0002'));
  }
  return Buffer.concat(out);
}

async function collect(body: AsyncIterableIterator<Uint8Array> | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  if (body) for await (const c of body) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

async function* once(buf: Buffer): AsyncIterableIterator<Uint8Array> {
  yield buf;
}

function isUploadPackAdvertisement(method: string | undefined, url: string): boolean {
  if ((method ?? 'GET').toUpperCase() !== 'GET') return false;
  const q = url.indexOf('?');
  return q > 0 && url.slice(0, q).endsWith('/info/refs') && new URLSearchParams(url.slice(q + 1)).get('service') === 'git-upload-pack';
}

/** Wraps an isomorphic-git HTTP client so that upload-pack advertisements get patchUnbornHead. */
function withUnbornHeadFix(http: HttpClient): HttpClient {
  return {
    async request(req): Promise<GitHttpResponse> {
      const res = await http.request(req);
      if (res.statusCode !== 200 || !isUploadPackAdvertisement(req.method, req.url)) return res;
      const body = await collect(res.body);
      let patched = body;
      try {
        patched = patchUnbornHead(body);
      } catch {
        // Not pkt-lines (e.g. an HTML page): let isomorphic-git report it as it does.
      }
      return { ...res, body: once(patched) };
    },
  };
}

function describeRef(ref: GitRef): string {
  switch (ref.kind) {
    case 'branch':
      return `branch '${ref.branch}'`;
    case 'tag':
      return `tag '${ref.tag}'`;
    case 'semver':
      return `semver '${ref.semver}'`;
    case 'name':
      return `reference '${ref.name}'`;
    case 'commit':
      return `commit '${ref.commit}'${ref.branch ? ` on branch '${ref.branch}'` : ''}`;
  }
}

async function makeSession(spec: GitRepositorySpec, auth: GitCredentials | undefined, signal: AbortSignal): Promise<Session> {
  if (isSshUrl(spec.url)) {
    // The SSH transport (ssh2) is loaded only for ssh:// remotes.
    const { openSshRemote } = await import('./git-ssh.js');
    const r = openSshRemote(spec, auth, signal);
    return { spec, url: r.url, gitUrl: r.gitUrl, headers: {}, credentialSource: 'secret', http: withUnbornHeadFix(r.http), signal, cache: {}, close: r.close };
  }
  const u = new URL(spec.url);
  const urlUser = decodeURIComponent(u.username);
  const urlPass = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  const url = u.toString();
  const headers: Record<string, string> = {};
  let credentialSource: Session['credentialSource'] = 'none';
  // Like fluxcd/pkg git.NewAuthOptions: a bearerToken in the Secret wins; otherwise
  // username/password from the Secret, falling back to the ones in the URL.
  if (auth?.bearerToken) {
    headers.Authorization = `Bearer ${auth.bearerToken}`;
    credentialSource = 'secret';
  } else {
    const username = auth?.username || urlUser;
    const password = auth?.password || urlPass;
    if (password && !username) {
      throw new ValidationError(
        spec.secretRef
          ? `Secret '${spec.secretRef.namespace}/${spec.secretRef.name}' has a password but no username: set 'username' too (or use 'bearerToken')`
          : `spec.url has a password but no username`,
      );
    }
    if (username) {
      headers.Authorization = basicAuth(username, password);
      credentialSource = auth?.username ? 'secret' : 'url';
    }
  }
  const http: HttpClient = withUnbornHeadFix({ request: (req) => nodeHttp.request({ ...req, signal }) });
  return { spec, url, gitUrl: url, headers, credentialSource, http, signal, cache: {}, close: () => undefined };
}

function codeOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** Turns an isomorphic-git / network error into one of ours, with a message a user can act on. */
function translateError(s: Session, err: unknown, doing: string): Error {
  if (err instanceof FluxlessError) return err;
  const code = codeOf(err);
  if (code === 'HttpError') {
    const status = (err as { data?: { statusCode?: number } }).data?.statusCode ?? 0;
    if (status === 401 || status === 403) {
      const secret = s.spec.secretRef ? `'${s.spec.secretRef.namespace}/${s.spec.secretRef.name}'` : undefined;
      if (s.credentialSource === 'none') {
        return new GitAuthError(`authentication required for ${s.url} (HTTP ${status}): set spec.secretRef to a Secret with 'username' and 'password' or 'bearerToken'`, {
          cause: err,
        });
      }
      const where = s.credentialSource === 'secret' && secret ? `check the Secret ${secret}` : 'check the credentials in spec.url';
      return new GitAuthError(`authentication failed for ${s.url} (HTTP ${status}): ${where}`, {
        cause: err,
        hint: status === 403 ? 'the credentials were accepted but do not grant read access to this repository' : undefined,
      });
    }
    if (status === 404) {
      return new GitRefNotFoundError(`repository ${s.url} not found (HTTP 404)`, {
        cause: err,
        hint: 'check spec.url; some hosts answer 404 for private repositories when credentials are missing or wrong',
      });
    }
    return new GitOperationError(`${doing} ${s.url} failed: the server answered HTTP ${status}`, { cause: err });
  }
  if (code === 'SmartHttpError') {
    return new GitOperationError(`${s.url} is not a git smart-HTTP endpoint: check spec.url`, { cause: err });
  }
  if (code && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|UND_ERR_.*|CERT_.*|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_.*|ERR_TLS_.*)$/.test(code)) {
    return new GitOperationError(`cannot reach ${s.url}: ${errorMessage(err)}`, { cause: err });
  }
  return new GitOperationError(`${doing} ${s.url} failed: ${errorMessage(err)}`, { cause: err });
}

/** Runs fn under spec.timeout (and the caller's signal); on expiry rejects at once with GitTimeoutError. */
async function withTimeout<T>(spec: GitRepositorySpec, external: AbortSignal | undefined, what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  external?.throwIfAborted();
  const timeoutSignal = AbortSignal.timeout(spec.timeoutMs);
  const signal = external ? AbortSignal.any([timeoutSignal, external]) : timeoutSignal;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([fn(signal), aborted]);
  } catch (err) {
    if (timeoutSignal.aborted) {
      throw new GitTimeoutError(`${what} ${redactUrl(spec.url)} timed out after ${spec.timeout} (spec.timeout)`, {
        cause: err,
        hint: 'raise spec.timeout, or check that the git server is reachable and answering',
      });
    }
    if (external?.aborted) throw external.reason;
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}

async function listRefs(s: Session, prefix: string, peelTags: boolean): Promise<ServerRef[]> {
  try {
    return await git.listServerRefs({ http: s.http, url: s.gitUrl, headers: { ...s.headers }, protocolVersion: 2, prefix, peelTags });
  } catch (err) {
    throw translateError(s, err, 'listing references of');
  }
}

const tagCommit = (r: ServerRef): string => r.peeled ?? r.oid;

async function resolveWith(s: Session): Promise<ResolvedGitRevision> {
  const ref = s.spec.ref;
  const notFound = (msg: string, hint?: string) => new GitRefNotFoundError(msg, hint ? { hint } : undefined);
  switch (ref.kind) {
    case 'branch': {
      const full = `refs/heads/${ref.branch}`;
      const hit = (await listRefs(s, full, false)).find((r) => r.ref === full);
      if (!hit) throw notFound(`branch '${ref.branch}' not found in ${s.url}`, 'check spec.ref.branch (Flux defaults to master when spec.ref is empty)');
      return { revision: formatRevision(ref, hit.oid, full), commit: hit.oid, ref: full };
    }
    case 'tag': {
      const full = `refs/tags/${ref.tag}`;
      const hit = (await listRefs(s, full, true)).find((r) => r.ref === full);
      if (!hit) throw notFound(`tag '${ref.tag}' not found in ${s.url}`, 'check spec.ref.tag');
      const commit = tagCommit(hit);
      return { revision: formatRevision(ref, commit, full), commit, ref: full };
    }
    case 'semver': {
      const constraint = parseSemverConstraint(ref.semver);
      const tags = new Map<string, ServerRef>();
      for (const r of await listRefs(s, 'refs/tags/', true)) {
        if (!r.ref.endsWith('^{}')) tags.set(r.ref.slice('refs/tags/'.length), r);
      }
      const tag = pickSemverTag(tags.keys(), constraint);
      if (!tag) throw notFound(`no tag in ${s.url} matches semver '${ref.semver}' (${tags.size} tags found)`, 'check spec.ref.semver and that the tags are pushed');
      const full = `refs/tags/${tag}`;
      const commit = tagCommit(tags.get(tag)!);
      return { revision: formatRevision(ref, commit, full), commit, ref: full };
    }
    case 'name': {
      // Like fluxcd/pkg filterRefs: for tags prefer the peeled commit.
      const base = ref.name.endsWith('^{}') ? ref.name.slice(0, -3) : ref.name;
      const hit = (await listRefs(s, base, true)).find((r) => r.ref === base);
      if (!hit) throw notFound(`reference '${ref.name}' not found in ${s.url}`, 'check spec.ref.name (a full reference such as refs/heads/main or refs/pull/1/head)');
      const commit = base.startsWith('refs/tags/') || base !== ref.name ? tagCommit(hit) : hit.oid;
      return { revision: formatRevision(ref, commit, base), commit, ref: base };
    }
    case 'commit': {
      // The revision is known; still check that we can read the repository (and the branch, if given).
      if (ref.branch) {
        const full = `refs/heads/${ref.branch}`;
        if (!(await listRefs(s, full, false)).some((r) => r.ref === full)) {
          throw notFound(`branch '${ref.branch}' (spec.ref.branch, for commit ${ref.commit}) not found in ${s.url}`);
        }
      } else {
        await listRefs(s, 'HEAD', false);
      }
      return { revision: formatRevision(ref, ref.commit), commit: ref.commit, ...(ref.name ? { ref: ref.name } : ref.branch ? { ref: `refs/heads/${ref.branch}` } : {}) };
    }
  }
}

/**
 * Asks the remote which commit the GitRepository's ref points to now, and returns the
 * revision Flux would record for it. Fetches no objects. Honours spec.timeout.
 */
export async function resolveRemote(spec: GitRepositorySpec, auth?: GitCredentials, opts: { signal?: AbortSignal } = {}): Promise<ResolvedGitRevision> {
  return withTimeout(spec, opts.signal, 'resolving', async (signal) => {
    const s = await makeSession(spec, auth, signal);
    try {
      const resolved = await resolveWith(s);
      log.debug('git remote resolved', { url: s.url, revision: resolved.revision });
      return resolved;
    } finally {
      s.close();
    }
  });
}

async function ensureEmptyDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const entries = await readdir(dir);
  if (entries.length > 0) {
    throw new ValidationError(`checkout directory ${dir} is not empty (${entries.length} entries): give fetchGitRepository a new or empty directory`);
  }
}

/** Follows annotated tags to the commit they point at. */
async function peelToCommit(s: Session, dir: string, oid: string): Promise<string> {
  for (let i = 0; i < 10; i++) {
    const obj = await git.readObject({ fs, dir, oid, cache: s.cache });
    if (obj.type === 'commit') return oid;
    if (obj.type !== 'tag') throw new GitOperationError(`${describeRef(s.spec.ref)} in ${s.url} points to a ${obj.type}, not a commit`);
    oid = (await git.readTag({ fs, dir, oid, cache: s.cache })).tag.object;
  }
  throw new GitOperationError(`${describeRef(s.spec.ref)} in ${s.url}: too many nested tags`);
}

async function hasCommit(s: Session, dir: string, oid: string): Promise<boolean> {
  try {
    await git.readCommit({ fs, dir, oid, cache: s.cache });
    return true;
  } catch {
    return false;
  }
}

async function fetchRef(s: Session, dir: string, remoteRef: string, depth: number | undefined, singleBranch = true): Promise<string | null> {
  const res = await git.fetch({
    fs,
    http: s.http,
    dir,
    url: s.gitUrl,
    headers: { ...s.headers },
    ref: remoteRef,
    remoteRef,
    singleBranch,
    depth,
    tags: false,
    cache: s.cache,
  });
  return res.fetchHead;
}

/** Fetches a pinned commit: by hash at depth 1, else the history of its branch (or all branches). */
async function fetchCommit(s: Session, dir: string, ref: Extract<GitRef, { kind: 'commit' }>): Promise<void> {
  try {
    await fetchRef(s, dir, ref.commit, 1);
    if (await hasCommit(s, dir, ref.commit)) return;
    log.debug('git fetch by commit hash did not deliver it; fetching full history', { url: s.url, commit: ref.commit });
  } catch (err) {
    const e = translateError(s, err, 'fetching from');
    // Auth, host key and reachability problems will not go away with a bigger fetch.
    if (e instanceof GitAuthError || e instanceof GitHostKeyError || e instanceof GitRefNotFoundError || codeOf(err) === 'HttpError' || s.signal.aborted) throw e;
    log.debug('git server refused a fetch by commit hash; fetching full history', { url: s.url, commit: ref.commit, error: errorMessage(err) });
  }
  try {
    if (ref.branch) await fetchRef(s, dir, `refs/heads/${ref.branch}`, undefined);
    // All branches. Naming the commit (not HEAD) as the remote ref keeps this working when HEAD is unborn.
    else await fetchRef(s, dir, ref.commit, undefined, false);
  } catch (err) {
    if (codeOf(err) === 'NotFoundError' && ref.branch) {
      throw new GitRefNotFoundError(`branch '${ref.branch}' (spec.ref.branch, for commit ${ref.commit}) not found in ${s.url}`, { cause: err });
    }
    throw translateError(s, err, 'fetching from');
  }
  if (!(await hasCommit(s, dir, ref.commit))) {
    throw new GitRefNotFoundError(`commit ${ref.commit} not found in ${ref.branch ? `branch '${ref.branch}' of ` : ''}${s.url}`, {
      hint: 'check spec.ref.commit (a full hash of a commit that was pushed)',
    });
  }
}

/**
 * Fetches the GitRepository's ref into opts.dir and checks out its commit (detached HEAD,
 * git dir at `<dir>/.git`; with opts.checkout false, the work tree stays empty). When opts.lastRevision is given and the remote still resolves
 * to it, returns `{ changed: false }` without fetching anything. The whole operation is
 * bounded by spec.timeout; after a timeout the directory may be half written (discard it).
 */
export async function fetchGitRepository(spec: GitRepositorySpec, auth: GitCredentials | undefined, opts: GitFetchOptions): Promise<GitFetchResult> {
  const dir = path.resolve(opts.dir);
  return withTimeout(spec, opts.signal, 'fetching', async (signal) => {
    const s = await makeSession(spec, auth, signal);
    try {
      return await fetchWith(s, dir, opts.lastRevision, opts.checkout ?? true);
    } finally {
      s.close();
    }
  });
}

/** fetchGitRepository's work within one session (one connection for SSH). */
async function fetchWith(s: Session, dir: string, lastRevision: string | undefined, checkout: boolean): Promise<GitFetchResult> {
  const { signal, spec } = s;
  const ref = spec.ref;
  let resolved: ResolvedGitRevision | undefined;
  // Ask for the refs first when it can save the fetch, or when the fetch needs the answer.
  if (lastRevision || ref.kind === 'semver' || ref.kind === 'commit') {
    resolved = await resolveWith(s);
    if (lastRevision && normalizeRevision(lastRevision) === resolved.revision) {
      log.debug('git remote unchanged', { url: s.url, revision: resolved.revision });
      return { changed: false, revision: resolved.revision, commit: resolved.commit };
    }
  }
  signal.throwIfAborted();
  await ensureEmptyDir(dir);
  await git.init({ fs, dir, defaultBranch: 'main' });
  await git.addRemote({ fs, dir, remote: 'origin', url: s.url });

  let commit: string;
  let followed: string | undefined;
  let tag: (SignedGitObject & { name: string; oid: string }) | undefined;
  if (ref.kind === 'commit') {
    await fetchCommit(s, dir, ref);
    commit = ref.commit;
    followed = resolved?.ref;
  } else {
    followed =
      ref.kind === 'branch'
        ? `refs/heads/${ref.branch}`
        : ref.kind === 'tag'
          ? `refs/tags/${ref.tag}`
          : ref.kind === 'name'
            ? ref.name.replace(/\^\{\}$/, '')
            : resolved!.ref!;
    let oid: string | null;
    try {
      oid = await fetchRef(s, dir, followed, 1);
    } catch (err) {
      // isomorphic-git's NotFoundError names what it looked up; only the ref we asked for means "not found".
      if (codeOf(err) === 'NotFoundError' && ((err as { data?: { what?: string } }).data?.what ?? followed) === followed) {
        throw new GitRefNotFoundError(`${describeRef(ref)} not found in ${s.url}`, { cause: err });
      }
      throw translateError(s, err, 'fetching from');
    }
    if (!oid) throw new GitRefNotFoundError(`repository ${s.url} is empty: push a commit to ${describeRef(ref)} first`);
    commit = await peelToCommit(s, dir, oid);
    if (oid !== commit && followed.startsWith('refs/tags/')) {
      const raw = await git.readObject({ fs, dir, oid, format: 'content', cache: s.cache });
      tag = { name: followed.slice('refs/tags/'.length), oid, ...splitTagSignature(Buffer.from(raw.object as Uint8Array)) };
    }
  }
  signal.throwIfAborted();
  if (checkout) await git.checkout({ fs, dir, ref: commit, force: true, cache: s.cache });
  const { commit: c } = await git.readCommit({ fs, dir, oid: commit, cache: s.cache });
  const rawCommit = await git.readObject({ fs, dir, oid: commit, format: 'content', cache: s.cache });
  const revision = formatRevision(ref, commit, followed);
  log.debug('git checkout done', { url: s.url, revision });
  return {
    changed: true,
    revision,
    commit,
    ...(followed ? { ref: followed } : {}),
    dir,
    signed: splitCommitSignature(Buffer.from(rawCommit.object as Uint8Array)),
    ...(tag ? { tag } : {}),
    message: c.message,
    author: { name: c.author.name, email: c.author.email, timestamp: c.author.timestamp },
    committer: { name: c.committer.name, email: c.committer.email, timestamp: c.committer.timestamp },
  };
}

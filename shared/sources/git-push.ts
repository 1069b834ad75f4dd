/**
 * `git push` for commits made in a local clone (ImageUpdateAutomation), over smart HTTP and
 * over SSH (git-ssh-transport.ts runs `git-receive-pack` on the server), speaking the
 * receive-pack protocol directly (gitprotocol-pack) so that we control exactly what is sent:
 *
 * - compare-and-swap: every update names the old object id it expects. When the advertised
 *   ref is not that id (someone pushed meanwhile), nothing is sent and GitPushRaceError is
 *   thrown; the server checks the old id again when it applies the update, so a race in
 *   between is refused by the server (reported the same way). Nobody's commit is ever
 *   overwritten: a caller retries on the new head.
 * - the pack holds only the new objects: the commit and the trees and blobs that differ
 *   from its parent (which the remote has: we cloned it from there).
 * - `report-status` and `side-band-64k`; `push-options` (GitLab merge request options) when
 *   the server advertises them.
 */
import fs from 'node:fs';
import git from 'isomorphic-git';
import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import { ValidationError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { GitAuthError, GitOperationError, GitRefNotFoundError, GitTimeoutError } from './git-errors.js';
import { redactUrl } from './git-spec.js';
import { FLUSH_PKT, PktLineFormatError, pktLine, pktText, readPkt } from './git-ssh-pktline.js';
import { isSshUrl } from './git-ssh-url.js';
import type { GitCredentials, GitRepositorySpec } from './types.js';
import { basicAuth } from '../util/basic-auth.js';
import { trimEnd } from '../util/trim.js';

/** The object id of "no object" (a ref to create, or to delete). */
export const ZERO_OID = '0000000000000000000000000000000000000000';

/** One ref update: `oldOid` is what the remote must have now (ZERO_OID: the ref must not exist). */
export interface RefUpdate {
  /** Full remote ref, e.g. refs/heads/main, refs/for/main. */
  ref: string;
  oldOid: string;
  newOid: string;
  /** Skip the old-id check (a refspec with `+`); the server still applies it atomically. */
  force?: boolean;
}

/** What the push sends besides the updates. */
export interface PushOptions {
  /** The local repository holding the objects (`<dir>/.git`). */
  dir: string;
  /** Object ids to pack (objectsToPush). */
  objects: string[];
  /** git push-options (`-o key=value`); the server must advertise `push-options`. */
  pushOptions?: string[];
  signal?: AbortSignal;
}

/** The remote's refs as receive-pack advertises them. */
export interface ReceivePackAdvertisement {
  refs: Map<string, string>;
  capabilities: Set<string>;
}

/** The remote ref moved since we read it: nothing was overwritten; retry on the new head. */
export class GitPushRaceError extends GitOperationError {
  constructor(
    readonly ref: string,
    readonly expected: string,
    readonly actual: string | undefined,
    message: string,
  ) {
    super(message, { hint: 'the branch moved while the commit was made: it is made again on the new head' });
  }
}

/** The server refused an update for another reason (hooks, protected branches, permissions). */
export class GitPushRejectedError extends GitOperationError {
  constructor(
    readonly ref: string,
    readonly reason: string,
    message: string,
  ) {
    super(message, { hint: 'check the branch protection rules and that the credentials may push to this branch' });
  }
}

interface PushSession {
  url: string;
  gitUrl: string;
  http: HttpClient;
  headers: Record<string, string>;
  close(): void;
}

async function openSession(spec: GitRepositorySpec, auth: GitCredentials | undefined, signal: AbortSignal): Promise<PushSession> {
  if (isSshUrl(spec.url)) {
    // The SSH transport (ssh2) is loaded only for ssh:// remotes.
    const { openSshRemote } = await import('./git-ssh.js');
    const r = openSshRemote(spec, auth, signal);
    return { url: r.url, gitUrl: r.gitUrl, http: r.http, headers: {}, close: r.close };
  }
  const u = new URL(spec.url);
  const urlUser = decodeURIComponent(u.username);
  const urlPass = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  const headers: Record<string, string> = {};
  if (auth?.bearerToken) headers.Authorization = `Bearer ${auth.bearerToken}`;
  else {
    const username = auth?.username || urlUser;
    const password = auth?.password || urlPass;
    if (username) headers.Authorization = basicAuth(username, password);
  }
  const http: HttpClient = { request: (req: GitHttpRequest) => nodeHttp.request({ ...req, signal } as GitHttpRequest) };
  return { url: u.toString(), gitUrl: trimEnd(u.toString(), '/'), http, headers, close: () => undefined };
}

async function collect(body: AsyncIterableIterator<Uint8Array> | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  if (body) for await (const c of body) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

function statusError(s: PushSession, res: GitHttpResponse, doing: string): Error {
  const status = res.statusCode;
  if (status === 401 || status === 403) {
    return new GitAuthError(`${doing} ${s.url}: the server answered HTTP ${status}`, {
      hint: "the GitRepository's spec.secretRef must grant write access to push (a token with write scope, or a deploy key with write access)",
    });
  }
  if (status === 404) return new GitRefNotFoundError(`repository ${s.url} not found (HTTP 404) when pushing`);
  return new GitOperationError(`${doing} ${s.url} failed: the server answered HTTP ${status} ${res.statusMessage ?? ''}`.trim());
}

/** Parses a receive-pack advertisement (after the smart-HTTP service header, if any). */
export function parseAdvertisement(body: Buffer): ReceivePackAdvertisement {
  const refs = new Map<string, string>();
  const capabilities = new Set<string>();
  let off = 0;
  let first = true;
  for (;;) {
    const r = readPkt(body, off);
    if (!r) break;
    off = r.next;
    if (r.pkt.kind !== 'data') {
      if (first) continue; // the flush after `# service=...`
      break;
    }
    const text = pktText(r.pkt.data);
    if (text.startsWith('# service=')) continue;
    const nul = text.indexOf('\0');
    const line = nul >= 0 ? text.slice(0, nul) : text;
    if (nul >= 0) for (const c of text.slice(nul + 1).split(' ')) if (c) capabilities.add(c);
    first = false;
    const m = /^([0-9a-f]{40}) (\S+)$/.exec(line);
    if (!m || m[2] === 'capabilities^{}') continue;
    refs.set(m[2], m[1]);
  }
  return { refs, capabilities };
}

/** The report-status of a push (inside side-band 1 when side-band-64k was asked for). */
function parseReport(body: Buffer, sideband: boolean): { unpack: string; refs: Map<string, string | true>; errors: string[] } {
  let status = body;
  const errors: string[] = [];
  if (sideband) {
    const parts: Buffer[] = [];
    let off = 0;
    for (;;) {
      const r = readPkt(body, off);
      if (!r) break;
      off = r.next;
      if (r.pkt.kind !== 'data') continue;
      const band = r.pkt.data[0];
      if (band === 1) parts.push(r.pkt.data.subarray(1));
      else if (band === 3) errors.push(r.pkt.data.subarray(1).toString('utf8').trim());
    }
    status = Buffer.concat(parts);
  }
  const refs = new Map<string, string | true>();
  let unpack = '';
  let off = 0;
  for (;;) {
    const r = readPkt(status, off);
    if (!r) break;
    off = r.next;
    if (r.pkt.kind !== 'data') continue;
    const text = pktText(r.pkt.data);
    if (text.startsWith('unpack ')) unpack = text.slice(7);
    else if (text.startsWith('ok ')) refs.set(text.slice(3), true);
    else if (text.startsWith('ng ')) {
      const rest = text.slice(3);
      const sp = rest.indexOf(' ');
      refs.set(sp < 0 ? rest : rest.slice(0, sp), sp < 0 ? 'rejected' : rest.slice(sp + 1));
    }
  }
  return { unpack, refs, errors };
}

function isStale(reason: string): boolean {
  return /stale info|fetch first|non-fast-forward|failed to update ref|cannot lock ref|failed to lock|already exists|but expected|is at [0-9a-f]+ but/i.test(reason);
}

async function advertisement(s: PushSession): Promise<ReceivePackAdvertisement> {
  let res: GitHttpResponse;
  try {
    res = await s.http.request({ url: `${s.gitUrl}/info/refs?service=git-receive-pack`, method: 'GET', headers: { ...s.headers, 'user-agent': 'git/fluxless' } });
  } catch (err) {
    if (err instanceof GitOperationError || err instanceof GitAuthError) throw err;
    throw new GitOperationError(`cannot reach ${s.url} to push: ${errorMessage(err)}`, { cause: err });
  }
  const body = await collect(res.body);
  if (res.statusCode !== 200) throw statusError(s, res, 'listing references for a push to');
  try {
    return parseAdvertisement(body);
  } catch (err) {
    if (err instanceof PktLineFormatError) throw new GitOperationError(`${s.url} is not a git smart-HTTP endpoint that accepts pushes: check spec.url`, { cause: err });
    throw err;
  }
}

/**
 * Lists the refs the remote would update on a push (one receive-pack advertisement). For
 * SSH the connection is closed afterwards.
 */
export async function listPushRefs(spec: GitRepositorySpec, auth: GitCredentials | undefined, opts: { signal?: AbortSignal } = {}): Promise<ReceivePackAdvertisement> {
  return withTimeout(spec, opts.signal, async (signal) => {
    const s = await openSession(spec, auth, signal);
    try {
      return await advertisement(s);
    } finally {
      s.close();
    }
  });
}

async function withTimeout<T>(spec: GitRepositorySpec, external: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  external?.throwIfAborted();
  const timeout = AbortSignal.timeout(spec.timeoutMs);
  const signal = external ? AbortSignal.any([timeout, external]) : timeout;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([fn(signal), aborted]);
  } catch (err) {
    if (timeout.aborted) throw new GitTimeoutError(`pushing to ${redactUrl(spec.url)} timed out after ${spec.timeout} (the GitRepository's spec.timeout)`, { cause: err });
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}

/**
 * Pushes `updates` with the objects in `opts.objects`. Throws GitPushRaceError when a ref
 * is not at its expected old id (before anything is sent, or as the server reported it),
 * GitPushRejectedError for other refusals, GitAuthError / GitOperationError otherwise.
 */
export async function pushRefs(spec: GitRepositorySpec, auth: GitCredentials | undefined, updates: RefUpdate[], opts: PushOptions): Promise<void> {
  if (updates.length === 0) return;
  return withTimeout(spec, opts.signal, async (signal) => {
    const s = await openSession(spec, auth, signal);
    try {
      const adv = await advertisement(s);
      for (const u of updates) {
        const actual = adv.refs.get(u.ref);
        if (!u.force && (actual ?? ZERO_OID) !== u.oldOid) {
          throw new GitPushRaceError(
            u.ref,
            u.oldOid,
            actual,
            u.oldOid === ZERO_OID
              ? `${u.ref} was created on ${s.url} meanwhile (now at ${actual?.slice(0, 7)})`
              : `${u.ref} on ${s.url} moved from ${u.oldOid.slice(0, 7)} to ${actual ? actual.slice(0, 7) : '(deleted)'} meanwhile`,
          );
        }
      }
      if (opts.pushOptions?.length && !adv.capabilities.has('push-options')) {
        throw new ValidationError(`${s.url} does not accept push options (spec.git.push.options): the server does not advertise 'push-options'`, {
          hint: 'remove spec.git.push.options, or enable receive.advertisePushOptions on the server',
        });
      }
      const caps = ['report-status'];
      const sideband = adv.capabilities.has('side-band-64k');
      if (sideband) caps.push('side-band-64k');
      if (opts.pushOptions?.length) caps.push('push-options');
      if (adv.capabilities.has('atomic') && updates.length > 1) caps.push('atomic');
      caps.push('agent=git/fluxless');
      const lines: Buffer[] = [];
      updates.forEach((u, i) => {
        const oldOid = u.force ? (adv.refs.get(u.ref) ?? ZERO_OID) : u.oldOid;
        lines.push(pktLine(`${oldOid} ${u.newOid} ${u.ref}${i === 0 ? `\0${caps.join(' ')}` : ''}\n`));
      });
      lines.push(FLUSH_PKT);
      if (opts.pushOptions?.length) {
        for (const o of opts.pushOptions) lines.push(pktLine(`${o}\n`));
        lines.push(FLUSH_PKT);
      }
      const { packfile } = await git.packObjects({ fs, dir: opts.dir, oids: opts.objects });
      const body = [Buffer.concat(lines), Buffer.from(packfile!)];
      let res: GitHttpResponse;
      try {
        res = await s.http.request({
          url: `${s.gitUrl}/git-receive-pack`,
          method: 'POST',
          headers: {
            ...s.headers,
            'content-type': 'application/x-git-receive-pack-request',
            accept: 'application/x-git-receive-pack-result',
            'user-agent': 'git/fluxless',
          },
          body: body as unknown as GitHttpRequest['body'],
        });
      } catch (err) {
        if (err instanceof GitOperationError || err instanceof GitAuthError) throw err;
        throw new GitOperationError(`pushing to ${s.url} failed: ${errorMessage(err)}`, { cause: err });
      }
      const answer = await collect(res.body);
      if (res.statusCode !== 200) throw statusError(s, res, 'pushing to');
      const report = parseReport(answer, sideband);
      if (report.errors.length) throw new GitOperationError(`pushing to ${s.url} failed: ${report.errors.join('; ')}`);
      if (report.unpack !== 'ok') throw new GitOperationError(`pushing to ${s.url} failed: the server could not unpack the objects: ${report.unpack || 'no report-status answer'}`);
      for (const u of updates) {
        const st = report.refs.get(u.ref);
        if (st === true) continue;
        const reason = st ?? 'no status reported';
        if (isStale(reason)) throw new GitPushRaceError(u.ref, u.oldOid, undefined, `${u.ref} on ${s.url} moved meanwhile: the server refused the update (${reason})`);
        throw new GitPushRejectedError(u.ref, reason, `the server refused the push to ${u.ref} of ${s.url}: ${reason}`);
      }
      log.debug('git push done', { url: s.url, refs: updates.map((u) => `${u.ref}@${u.newOid.slice(0, 7)}`), objects: opts.objects.length });
    } finally {
      s.close();
    }
  });
}

/**
 * The objects a remote that has `base` (the commit's parent) lacks for `commit`: the commit
 * and the trees and blobs that differ from `base`'s. Without a base, the whole tree.
 */
export async function objectsToPush(dir: string, commit: string, base: string | undefined, cache: object = {}): Promise<string[]> {
  const out = new Set<string>([commit]);
  const { commit: c } = await git.readCommit({ fs, dir, oid: commit, cache });
  const baseTree = base ? (await git.readCommit({ fs, dir, oid: base, cache })).commit.tree : undefined;
  const walk = async (tree: string, old: string | undefined): Promise<void> => {
    if (tree === old) return;
    out.add(tree);
    const entries = (await git.readTree({ fs, dir, oid: tree, cache })).tree;
    const oldEntries = old ? new Map((await git.readTree({ fs, dir, oid: old, cache })).tree.map((e) => [e.path, e])) : new Map();
    for (const e of entries) {
      const prev = oldEntries.get(e.path);
      if (prev && prev.oid === e.oid) continue;
      if (e.type === 'tree') await walk(e.oid, prev?.type === 'tree' ? prev.oid : undefined);
      else if (e.type === 'blob') out.add(e.oid);
      // commits (submodules) are not objects of this repository
    }
  };
  await walk(c.tree, baseTree);
  return [...out];
}

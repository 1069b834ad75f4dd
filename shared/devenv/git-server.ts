/**
 * A git smart-HTTP server: a small Node HTTP server on 127.0.0.1 that runs `git http-backend`
 * (CGI) per request, so clients talk to real git (upload-pack and receive-pack, protocol v0/v1
 * and v2). Used by `fluxless start` to serve examples/fleet and by the tests. Repositories are
 * bare repos directly under `root`.
 *
 * Per-repository options live in files inside the bare repo, so any process that knows
 * `root` can create repositories (createTestRepo) and the server picks them up:
 * - `fluxless-auth` (JSON `{ username, password }` and/or `{ bearerToken }`): every request
 *   to that repo needs matching HTTP Basic or Bearer credentials, else 401.
 * - `fluxless-requests.log`: the server appends one JSON line per request (method, service,
 *   v2 command or `want` for fetches, status), read with readRequestLog().
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createGunzip, createInflate } from 'node:zlib';
import { timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';

const execFileP = promisify(execFile);

/** Where a git smart-HTTP server listens and where its bare repositories live. */
export interface GitServerInfo {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Directory holding the bare repositories (`<name>.git`). */
  root: string;
}

/** File in a bare repository whose credentials the git server then requires for every request to it. */
export const AUTH_FILE = 'fluxless-auth';
/** File in a bare repository where the git server appends one JSON line per request. */
export const REQUEST_LOG_FILE = 'fluxless-requests.log';

/** One line of a repository's request log. */
export interface GitRequestLogEntry {
  method: string;
  /** upload-pack, receive-pack, or the dumb path (e.g. HEAD). */
  service: string;
  /** Protocol version the client asked for (Git-Protocol header), 0 when none. */
  protocol: number;
  /** For POSTs: the v2 command (ls-refs, fetch) or, for v0/v1, `fetch` when the body wants objects. */
  command?: string;
  user?: string;
  status: number;
}

const SERVICE_RE = /^\/(.+?\.git)(\/.*)?$/;

function parseAuthFile(text: string): { username?: string; password?: string; bearerToken?: string } {
  const v = JSON.parse(text) as Record<string, unknown>;
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  return { username: str('username'), password: str('password'), bearerToken: str('bearerToken') };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Returns the authenticated user name ('' for a token), or undefined when not allowed. */
function checkAuth(header: string | undefined, want: ReturnType<typeof parseAuthFile>): string | undefined {
  if (!header) return undefined;
  const [scheme, value = ''] = header.split(/\s+/, 2);
  if (/^basic$/i.test(scheme) && want.username !== undefined) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    const user = i < 0 ? decoded : decoded.slice(0, i);
    const pass = i < 0 ? '' : decoded.slice(i + 1);
    if (safeEqual(user, want.username) && safeEqual(pass, want.password ?? '')) return user;
  }
  if (/^bearer$/i.test(scheme) && want.bearerToken !== undefined && safeEqual(value, want.bearerToken)) return '';
  return undefined;
}

/** Looks at the start of a (decompressed) upload-pack request body to tell ls-refs from fetch. */
function sniffCommand(head: string): string | undefined {
  const m = /command=([a-z-]+)/.exec(head);
  if (m) return m[1];
  if (/want [0-9a-f]{40}/.test(head)) return 'fetch';
  return undefined;
}

/** Starts a git smart-HTTP server on 127.0.0.1 running `git http-backend` over the bare repositories under `root`. */
export async function startGitServer(opts: { root?: string } = {}): Promise<GitServerInfo & { stop(): Promise<void> }> {
  const ownsRoot = !opts.root;
  const root = opts.root ?? mkdtempSync(path.join(os.tmpdir(), 'fluxless-gitserver-'));
  await mkdir(root, { recursive: true });
  // Debian: /usr/lib/git-core/git-http-backend. Run it directly, not via the git wrapper.
  const backend = path.join((await execFileP('git', ['--exec-path'])).stdout.trim(), 'git-http-backend');
  const children = new Set<ChildProcess>();
  const onExit = () => {
    for (const c of children) c.kill('SIGKILL');
    if (ownsRoot) rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`git test server: ${err instanceof Error ? err.message : String(err)}\n`);
      } else {
        res.destroy();
      }
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const pathInfo = decodeURIComponent(u.pathname);
    const m = SERVICE_RE.exec(pathInfo);
    if (!m || pathInfo.split('/').some((seg) => seg.startsWith('.'))) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not a repository path\n');
      return;
    }
    const repoDir = path.join(root, m[1]);
    const isRepo = await stat(path.join(repoDir, 'HEAD')).then(
      () => true,
      () => false,
    );
    if (!isRepo) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`repository ${m[1]} not found\n`);
      return;
    }
    const rest = m[2] ?? '/';
    const service =
      u.searchParams.get('service')?.replace(/^git-/, '') ??
      (rest.endsWith('/git-upload-pack') ? 'upload-pack' : rest.endsWith('/git-receive-pack') ? 'receive-pack' : rest.slice(1));
    const protoHeader = String(req.headers['git-protocol'] ?? '');
    const protocol = /version=2/.test(protoHeader) ? 2 : /version=1/.test(protoHeader) ? 1 : 0;
    const entry: GitRequestLogEntry = { method: req.method ?? 'GET', service, protocol, status: 0 };
    const writeLog = () => appendFile(path.join(repoDir, REQUEST_LOG_FILE), JSON.stringify(entry) + '\n').catch(() => undefined);

    let remoteUser: string | undefined;
    const authText = await readFile(path.join(repoDir, AUTH_FILE), 'utf8').catch(() => undefined);
    if (authText !== undefined) {
      remoteUser = checkAuth(req.headers.authorization, parseAuthFile(authText));
      if (remoteUser === undefined) {
        req.resume();
        entry.status = 401;
        await writeLog();
        res
          .writeHead(401, {
            'content-type': 'text/plain',
            'www-authenticate': 'Basic realm="fluxless test git server", Bearer realm="fluxless test git server"',
          })
          .end('authentication required\n');
        return;
      }
      if (remoteUser) entry.user = remoteUser;
    }

    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: root,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
      SERVER_SOFTWARE: 'fluxless-test-git-server',
      PATH_INFO: pathInfo,
      QUERY_STRING: u.search.replace(/^\?/, ''),
      REQUEST_METHOD: req.method ?? 'GET',
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      REMOTE_USER: remoteUser || 'anonymous',
    };
    if (req.headers['content-type']) env.CONTENT_TYPE = req.headers['content-type'];
    const encoding = String(req.headers['content-encoding'] ?? '').toLowerCase();
    let body: Readable = req;
    if (encoding === 'gzip' || encoding === 'x-gzip') body = req.pipe(createGunzip());
    else if (encoding === 'deflate') body = req.pipe(createInflate());
    else if (encoding && encoding !== 'identity') {
      req.resume();
      res.writeHead(415, { 'content-type': 'text/plain' }).end(`unsupported Content-Encoding ${encoding}\n`);
      return;
    } else if (req.headers['content-length']) env.CONTENT_LENGTH = req.headers['content-length'];
    // Like a CGI server: pass request headers on as HTTP_*, minus the ones we consumed.
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || /^(authorization|content-length|content-type|content-encoding)$/i.test(name)) continue;
      env[`HTTP_${name.toUpperCase().replace(/-/g, '_')}`] = Array.isArray(value) ? value.join(', ') : value;
    }
    if (protoHeader) env.GIT_PROTOCOL = protoHeader;

    const child = spawn(backend, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    const exited = new Promise<number | null>((resolve) => {
      child.once('close', (code) => {
        children.delete(child);
        resolve(code);
      });
      child.once('error', () => {
        children.delete(child);
        resolve(null);
      });
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (stderr.length < 8192) stderr += d;
    });
    child.stdin.on('error', () => undefined); // the backend may exit before reading everything
    body.on('error', () => child.kill('SIGKILL'));
    if (entry.method === 'POST' && service === 'upload-pack') {
      let sniffed = '';
      body.on('data', (chunk: Buffer) => {
        if (sniffed.length < 4096) {
          sniffed += chunk.toString('latin1');
          entry.command ??= sniffCommand(sniffed);
        }
      });
    }
    body.pipe(child.stdin);
    res.on('close', () => {
      if (child.exitCode === null && !res.writableFinished) child.kill('SIGKILL');
    });

    // Parse the CGI response: header lines up to a blank line, then the body.
    let head = Buffer.alloc(0);
    let headersDone = false;
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (headersDone) return;
        head = Buffer.concat([head, chunk]);
        let end = head.indexOf('\r\n\r\n');
        let sepLen = 4;
        if (end < 0) {
          end = head.indexOf('\n\n');
          sepLen = 2;
        }
        if (end < 0) return;
        headersDone = true;
        child.stdout.pause();
        const headers: Record<string, string | string[]> = {};
        let status = 200;
        for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
          const i = line.indexOf(':');
          if (i <= 0) continue;
          const name = line.slice(0, i).trim();
          const value = line.slice(i + 1).trim();
          if (/^status$/i.test(name)) status = parseInt(value, 10) || 500;
          else if (headers[name] === undefined) headers[name] = value;
          else headers[name] = ([] as string[]).concat(headers[name], value);
        }
        entry.status = status;
        res.writeHead(status, headers);
        const restOfBody = head.subarray(end + sepLen);
        if (restOfBody.length) res.write(restOfBody);
        child.stdout.removeAllListeners('data');
        // Not ending res with stdout: the log line is written first, so a client that got
        // the whole response always finds its request in the log.
        child.stdout.pipe(res, { end: false });
        child.stdout.resume();
        resolve();
      });
      child.stdout.once('end', () => {
        if (!headersDone) reject(new Error(`git http-backend gave no response headers: ${stderr.trim() || 'no output'}`));
      });
      child.once('error', reject);
    });
    await exited;
    await writeLog();
    res.end();
  }

  // Neither the listening socket nor idle connections keep the process alive: a test
  // process exits when its tests are done (in-flight requests keep it alive as clients).
  server.on('connection', (socket) => socket.unref());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.unref();
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  let stopped = false;
  return {
    url,
    root,
    async stop() {
      if (stopped) return;
      stopped = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      // Synchronous on purpose: stop() often runs from 'beforeExit', where the loop may end
      // before an unref'd server's close callback fires.
      onExit();
      process.removeListener('exit', onExit);
      await closed;
    },
  };
}

/** The request log of one repository (see REQUEST_LOG_FILE), oldest first. */
export async function readRequestLog(info: GitServerInfo, name: string): Promise<GitRequestLogEntry[]> {
  const text = await readFile(path.join(info.root, `${name}.git`, REQUEST_LOG_FILE), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as GitRequestLogEntry);
}

/** Empties the request log of one repository. */
export async function clearRequestLog(info: GitServerInfo, name: string): Promise<void> {
  await rm(path.join(info.root, `${name}.git`, REQUEST_LOG_FILE), { force: true });
}


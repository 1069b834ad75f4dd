/**
 * Git over SSH for isomorphic-git: an object with isomorphic-git's `http` plugin interface
 * that answers the two smart-HTTP requests a fetch makes by running `git-upload-pack` on
 * the server over one SSH connection (ssh2, pure JavaScript: works in Lambda).
 *
 * - `GET <bridgeUrl>/info/refs?service=git-upload-pack` opens an exec channel running
 *   `git-upload-pack '<path>'` (with GIT_PROTOCOL=version=2 when isomorphic-git asks for v2),
 *   reads the server's advertisement up to its flush-pkt and returns it behind the smart-HTTP
 *   header (`# service=git-upload-pack` + flush). The channel stays open.
 * - `POST <bridgeUrl>/git-upload-pack` writes the request to that same channel, closes our
 *   side (EOF) and streams the server's answer back until the command exits.
 *
 * Keeping the channel from the GET for the POST is what the v0 SSH protocol expects: it is
 * one stateful conversation (advertisement, wants/shallow/deepen, flush, done), and
 * upload-pack only accepts wants for the tips it advertised on that channel, so a fresh
 * exec per POST would race with pushes. isomorphic-git sends the whole request (wants,
 * `deepen 1`, flush, `done`) in one body; upload-pack answers the shallow list after the
 * flush, then NAK and the pack, exactly as it does in stateless mode. A POST without an
 * open channel (not what isomorphic-git does) gets a new one whose advertisement is skipped.
 * In protocol v2 each command is self-contained; after writing one we send EOF and
 * upload-pack exits after answering.
 *
 * Costs: resolving refs is one connection and one upload-pack advertisement (v2: plus the
 * ls-refs answer); a fetch that follows reuses the connection. Servers that ignore the
 * GIT_PROTOCOL variable (sshd without `AcceptEnv GIT_PROTOCOL`) answer v0, which
 * isomorphic-git reads as well; the bridge remembers it and reuses that advertisement for
 * the fetch.
 *
 * Pushes (git-push.ts) work the same way with `git-receive-pack`: `GET
 * <bridgeUrl>/info/refs?service=git-receive-pack` runs it and returns its advertisement (it
 * has no protocol v2), and `POST <bridgeUrl>/git-receive-pack` writes the commands and the
 * pack to the same channel and streams the report back until the command exits.
 */
import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';
import ssh2 from 'ssh2';
import type { Client, ClientChannel, ConnectConfig, PublicKeyAuthMethod } from 'ssh2';
import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { GitAuthError, GitHostKeyError, GitOperationError, GitRefNotFoundError } from './git-errors.js';
import { FLUSH_PKT, PktLineFormatError, pktLine, pktText, readPkt } from './git-ssh-pktline.js';
import type { SshIdentity } from './git-ssh-key.js';
import { gitShellQuote, type SshRemote } from './git-ssh-url.js';
import { blobKeyType, checkHostKey, hostKeyAlgorithms, keysForHost, knownHostName, sshFingerprint, type KnownHosts } from './known-hosts.js';

/** What the SSH transport needs. `secret` and `url` only appear in messages. */
export interface SshTransportOptions {
  remote: SshRemote;
  identity: SshIdentity;
  knownHosts: KnownHosts;
  /** Names the Secret in messages, e.g. "Secret 'flux-system/flux-system'". */
  secret: string;
  /** The URL as shown to users. */
  url: string;
  signal: AbortSignal;
}

/** An isomorphic-git HTTP client backed by one SSH connection. */
export interface SshGitTransport {
  http: HttpClient;
  /** The http URL to give isomorphic-git; it is never contacted. */
  bridgeUrl: string;
  /** Ends the open upload-pack or receive-pack (if any) cleanly and closes the connection. */
  close(): void;
}

type Version = 0 | 2;
const STDERR_LIMIT = 8192;
/** Host key algorithms ssh2 can verify (it negotiates no host certificates). */
const SUPPORTED_HOST_KEY_ALGORITHMS = new Set(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-dss']);
/** The two git services the bridge runs. */
type Service = 'git-upload-pack' | 'git-receive-pack';
const serviceHeader = (service: Service) => Buffer.concat([pktLine(`# service=${service}\n`), FLUSH_PKT]);

function lastLines(text: string, n = 3): string {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-n)
    .join('; ');
}

/** One `git-upload-pack` (or `git-receive-pack`) exec channel. */
class UploadPack {
  version: Version = 0;
  /** The advertisement as the server sent it, up to and including its flush-pkt. */
  advertisement: Buffer = Buffer.alloc(0);
  private readonly stderr: Buffer[] = [];
  private stderrLen = 0;
  private readonly iter: AsyncIterator<Buffer>;
  private leftover: Buffer = Buffer.alloc(0);
  private exitCode: number | null | undefined;
  private exitSignal: string | undefined;
  private readonly closed: Promise<void>;

  constructor(
    private readonly channel: ClientChannel,
    private readonly opts: SshTransportOptions,
    readonly service: Service = 'git-upload-pack',
  ) {
    channel.stderr.on('data', (d: Buffer) => {
      if (this.stderrLen < STDERR_LIMIT) {
        this.stderr.push(d);
        this.stderrLen += d.length;
      }
    });
    // Errors also reach the reader through the stream iterator; this keeps a late one from crashing the process.
    channel.on('error', (err: Error) => log.debug('ssh channel error', { error: errorMessage(err) }));
    channel.on('exit', (code: number | null, signal?: string) => {
      this.exitCode = code;
      this.exitSignal = signal;
    });
    this.closed = new Promise((resolve) => channel.once('close', () => resolve()));
    this.iter = (channel as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  private stderrText(): string {
    return Buffer.concat(this.stderr).toString('utf8');
  }

  /** The error for a command that ended without doing its job; `said` is what the server sent, if anything. */
  private async failure(doing: string, said?: string): Promise<Error> {
    await this.closed;
    const { url, remote, secret } = this.opts;
    const msg = lastLines([this.stderrText(), said ?? ''].join('\n')) || (this.exitCode == null ? `killed${this.exitSignal ? ` by ${this.exitSignal}` : ''}` : `exit code ${this.exitCode}`);
    if (/does not appear to be a git repository|repository not found|not found|no such file or directory|does not exist/i.test(msg)) {
      return new GitRefNotFoundError(`repository ${url} not found: the SSH server said "${msg}"`, {
        hint: `check the repository path in spec.url; some hosts say this when the key in the ${secret} has no access to the repository`,
      });
    }
    if (/permission denied|access denied|not allowed|forbidden|unauthori[sz]ed|denied/i.test(msg)) {
      return new GitAuthError(`the SSH server ${knownHostName(remote.host, remote.port)} refused to serve ${url}: "${msg}"`, {
        hint: `check that the key in the ${secret} ('identity') has ${this.service === 'git-receive-pack' ? 'write' : 'read'} access to this repository, e.g. as a deploy key`,
      });
    }
    return new GitOperationError(`${this.service} on ${knownHostName(remote.host, remote.port)} ${doing} (${this.exitCode == null ? 'no exit status' : `exit code ${this.exitCode}`}): ${msg}`);
  }

  private async pull(): Promise<Buffer | undefined> {
    let r: IteratorResult<Buffer>;
    try {
      r = await this.iter.next();
    } catch (err) {
      if (this.opts.signal.aborted) throw this.opts.signal.reason;
      throw new GitOperationError(`the SSH connection to ${knownHostName(this.opts.remote.host, this.opts.remote.port)} failed while reading from ${this.service}: ${errorMessage(err)}`, { cause: err });
    }
    return r.done ? undefined : r.value;
  }

  /** Reads the advertisement (everything up to and including its first flush-pkt). */
  async readAdvertisement(): Promise<void> {
    // `received` keeps every chunk (joined once at the end); `tail` is what is not parsed yet,
    // at most one partial pkt-line, so long advertisements are not copied over and over.
    const received: Buffer[] = [];
    let tail: Buffer = Buffer.alloc(0);
    let first = true;
    for (;;) {
      let r;
      try {
        r = readPkt(tail);
      } catch (err) {
        if (err instanceof PktLineFormatError) {
          // Typically a login banner or a shell message printed instead of git's output.
          const text = tail.subarray(0, 200).toString('utf8');
          throw new GitOperationError(`${this.opts.url}: the SSH server did not answer with git's protocol: "${lastLines(text)}"`, {
            hint: `the account must run ${this.service} for the command it is given; a shell profile that prints text breaks the git protocol`,
          });
        }
        throw err;
      }
      if (!r) {
        const chunk = await this.pull();
        if (!chunk) throw await this.failure('ended before advertising references');
        received.push(chunk);
        tail = tail.length ? Buffer.concat([tail, chunk]) : chunk;
        continue;
      }
      if (r.pkt.kind === 'data') {
        const text = pktText(r.pkt.data);
        if (text.startsWith('ERR ')) {
          this.channel.close();
          throw await this.failure('refused the request', text.slice(4));
        }
        if (first && text === 'version 2') this.version = 2;
        first = false;
      }
      tail = tail.subarray(r.next);
      if (r.pkt.kind === 'flush') break;
    }
    const all = received.length === 1 ? received[0] : Buffer.concat(received);
    this.leftover = tail;
    this.advertisement = all.subarray(0, all.length - tail.length);
  }

  /** Sends one request (then EOF) and yields the server's answer; throws when the command fails. */
  async *exchange(body: Buffer): AsyncIterableIterator<Uint8Array> {
    this.channel.end(body);
    if (this.leftover.length) yield this.leftover;
    let sawOutput = this.leftover.length > 0;
    for (;;) {
      const chunk = await this.pull();
      if (!chunk) break;
      sawOutput = true;
      yield chunk;
    }
    await this.closed;
    if (this.exitCode !== 0 && this.exitCode !== undefined) throw await this.failure(sawOutput ? 'failed' : 'failed before answering');
  }

  /** Tells a server still waiting for a request that there is none (flush-pkt, EOF). */
  abandon(): void {
    try {
      this.channel.end(FLUSH_PKT);
    } catch {
      // The connection is going away anyway.
    }
  }
}

async function collect(body: GitHttpRequest['body'] | Uint8Array[] | undefined): Promise<Buffer> {
  if (!body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

async function* once(buf: Buffer): AsyncIterableIterator<Uint8Array> {
  yield buf;
}

function header(headers: Record<string, string> | undefined, name: string): string {
  for (const [k, v] of Object.entries(headers ?? {})) if (k.toLowerCase() === name) return v;
  return '';
}

function ok(url: string, method: string, contentType: string, body: AsyncIterableIterator<Uint8Array>): GitHttpResponse {
  return { url, method, statusCode: 200, statusMessage: 'OK', headers: { 'content-type': contentType }, body };
}

/** Turns an ssh2 connection error into one of ours, with what to do about it. */
function connectionError(err: Error & { level?: string; code?: string }, o: SshTransportOptions, hostKeyError: Error | undefined): Error {
  if (hostKeyError) return hostKeyError;
  const where = knownHostName(o.remote.host, o.remote.port);
  if (err.level === 'client-authentication') {
    return new GitAuthError(`SSH authentication to ${where} as '${o.remote.user}' failed: the server did not accept the key in the ${o.secret} (${o.identity.type} ${o.identity.fingerprint})`, {
      hint: `add the public key ('identity.pub') to the repository (e.g. as a deploy key) or to the account '${o.remote.user}', or check the user name in spec.url`,
    });
  }
  if (err.level === 'client-socket' || err.code) {
    return new GitOperationError(`cannot reach ${o.url}: ${errorMessage(err)}`, { cause: err });
  }
  return new GitOperationError(`SSH connection to ${where} failed: ${errorMessage(err)}`, { cause: err });
}

/** Creates the transport. Nothing is sent until isomorphic-git makes its first request. */
export function createSshTransport(o: SshTransportOptions): SshGitTransport {
  const { remote, knownHosts, identity, signal } = o;
  const display = knownHostName(remote.host, remote.port);
  let client: Promise<Client> | undefined;
  let liveClient: Client | undefined;
  let pending: UploadPack | undefined;
  let v2Refused = false;
  let closed = false;

  const algorithms = hostKeyAlgorithms(knownHosts, remote.host, remote.port).filter((a) => SUPPORTED_HOST_KEY_ALGORITHMS.has(a));
  if (algorithms.length === 0) {
    const types = [...new Set(keysForHost(knownHosts, remote.host, remote.port).map((e) => e.keyType))].join(', ');
    throw new GitHostKeyError(`'known_hosts' of the ${o.secret} lists only ${types} keys for ${display}, which Fluxless cannot verify`, {
      hint: `add the host's ssh-ed25519, ecdsa-sha2-nistp* or ssh-rsa key (e.g. from \`ssh-keyscan${remote.port === 22 ? '' : ` -p ${remote.port}`} ${remote.host}\`)`,
    });
  }
  const onAbort = () => liveClient?.destroy();
  signal.addEventListener('abort', onAbort, { once: true });

  function connect(): Promise<Client> {
    client ??= new Promise<Client>((resolve, reject) => {
      signal.throwIfAborted();
      const c = new ssh2.Client();
      liveClient = c;
      let hostKeyError: Error | undefined;
      let ready = false;
      c.on('ready', () => {
        ready = true;
        resolve(c);
      });
      c.on('error', (err: Error & { level?: string }) => {
        if (!ready) reject(signal.aborted ? signal.reason : connectionError(err, o, hostKeyError));
        else log.debug('ssh connection error', { host: display, error: errorMessage(err) });
      });
      c.on('close', () => {
        if (!ready) reject(signal.aborted ? signal.reason : (hostKeyError ?? new GitOperationError(`SSH connection to ${display} closed during the handshake`)));
      });
      const verifyHostKey = (blob: Buffer): boolean => {
        const v = checkHostKey(knownHosts, remote.host, remote.port, blob);
        if (v.ok) {
          log.debug('ssh host key verified', { host: display, fingerprint: sshFingerprint(blob), knownHostsLine: v.entry.line });
          return true;
        }
        const presented = `${blobKeyType(blob) ?? 'unknown'} ${sshFingerprint(blob)}`;
        if (v.reason === 'revoked') {
          hostKeyError = new GitHostKeyError(`host key of ${display} (${presented}) is marked @revoked in 'known_hosts' of the ${o.secret}: refusing to connect`);
        } else if (v.reason === 'mismatch') {
          const known = v.known.map((e) => `${e.keyType} ${sshFingerprint(e.blob)}`).join(', ');
          hostKeyError = new GitHostKeyError(`host key mismatch for ${display}: the server presented ${presented}, but 'known_hosts' of the ${o.secret} has ${known}`, {
            hint: `if the server's key really changed, put its new key in 'known_hosts' (ssh-keyscan${remote.port === 22 ? '' : ` -p ${remote.port}`} ${remote.host}, verified out of band); otherwise someone may be intercepting the connection`,
          });
        } else {
          hostKeyError = new GitHostKeyError(`host ${display} is not in 'known_hosts' of the ${o.secret}`);
        }
        return false;
      };
      const auth: PublicKeyAuthMethod = { type: 'publickey', username: remote.user, key: identity.key };
      const config: ConnectConfig = {
        host: remote.host,
        port: remote.port,
        username: remote.user,
        authHandler: [auth],
        hostVerifier: verifyHostKey,
        algorithms: { serverHostKey: algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
        // spec.timeout (the caller's signal) bounds the whole operation.
        readyTimeout: 0,
        keepaliveInterval: 0,
      };
      c.connect(config);
    });
    return client;
  }

  async function openUploadPack(wantV2: boolean, service: Service = 'git-upload-pack'): Promise<UploadPack> {
    if (closed) throw new GitOperationError(`SSH transport for ${o.url} is closed`);
    const c = await connect();
    // receive-pack has no protocol v2.
    const useV2 = service === 'git-upload-pack' && wantV2 && !v2Refused;
    const command = `${service} ${gitShellQuote(remote.path)}`;
    const channel = await new Promise<ClientChannel>((resolve, reject) => {
      const fail = (err: Error) => reject(signal.aborted ? signal.reason : new GitOperationError(`cannot run ${service} on ${display}: ${err.message}`, { cause: err }));
      const cb = (err: Error | undefined, ch: ClientChannel) => (err ? fail(err) : resolve(ch));
      try {
        if (useV2) c.exec(command, { env: { GIT_PROTOCOL: 'version=2' } }, cb);
        else c.exec(command, cb);
      } catch (err) {
        fail(err instanceof Error ? err : new Error(String(err)));
      }
    });
    const up = new UploadPack(channel, o, service);
    await up.readAdvertisement();
    if (useV2 && up.version !== 2) {
      v2Refused = true;
      log.debug('ssh server answered git protocol v0 (GIT_PROTOCOL not accepted)', { host: display });
    }
    log.debug(`${service} over ssh`, { host: display, path: remote.path, protocol: up.version, advertisementBytes: up.advertisement.length });
    return up;
  }

  function takePending(): UploadPack | undefined {
    const p = pending;
    pending = undefined;
    return p;
  }

  const http: HttpClient = {
    async request(req: GitHttpRequest): Promise<GitHttpResponse> {
      const method = (req.method ?? 'GET').toUpperCase();
      const u = new URL(req.url);
      const wantV2 = /version=2/.test(header(req.headers, 'git-protocol'));
      const want: Version = wantV2 && !v2Refused ? 2 : 0;
      if (method === 'GET' && u.pathname.endsWith('/info/refs') && u.searchParams.get('service') === 'git-receive-pack') {
        takePending()?.abandon();
        const rp = await openUploadPack(false, 'git-receive-pack');
        pending = rp;
        return ok(req.url, method, 'application/x-git-receive-pack-advertisement', once(Buffer.concat([serviceHeader('git-receive-pack'), rp.advertisement])));
      }
      if (method === 'POST' && u.pathname.endsWith('/git-receive-pack')) {
        const body = await collect(req.body as GitHttpRequest['body'] | Uint8Array[] | undefined);
        let rp = takePending();
        if (rp && rp.service !== 'git-receive-pack') {
          rp.abandon();
          rp = undefined;
        }
        rp ??= await openUploadPack(false, 'git-receive-pack');
        // The report is small: read it whole so that a failed command is an error.
        return ok(req.url, method, 'application/x-git-receive-pack-result', once(await collect(rp.exchange(body))));
      }
      if (method === 'GET' && u.pathname.endsWith('/info/refs') && u.searchParams.get('service') === 'git-upload-pack') {
        let up = takePending();
        if (up && (up.version !== want || up.service !== 'git-upload-pack')) {
          up.abandon();
          up = undefined;
        }
        up ??= await openUploadPack(wantV2);
        pending = up;
        return ok(req.url, method, 'application/x-git-upload-pack-advertisement', once(Buffer.concat([serviceHeader('git-upload-pack'), up.advertisement])));
      }
      if (method === 'POST' && u.pathname.endsWith('/git-upload-pack')) {
        const body = await collect(req.body as GitHttpRequest['body'] | Uint8Array[] | undefined);
        let up = takePending();
        if (up && (up.version !== want || up.service !== 'git-upload-pack')) {
          up.abandon();
          up = undefined;
        }
        up ??= await openUploadPack(wantV2);
        const answer = up.exchange(body);
        if (up.version === 2) {
          // v2 answers (ls-refs) are small; read them whole so that a failure is an error, not a short list.
          return ok(req.url, method, 'application/x-git-upload-pack-result', once(await collect(answer)));
        }
        return ok(req.url, method, 'application/x-git-upload-pack-result', answer);
      }
      throw new GitOperationError(`unexpected ${method} ${u.pathname} for SSH remote ${o.url}: only git-upload-pack and git-receive-pack are run over SSH`);
    },
  };

  return {
    http,
    bridgeUrl: `http://ssh-bridge.invalid/${encodeURIComponent(display)}${remote.path.startsWith('/') ? '' : '/'}${remote.path.split('/').map(encodeURIComponent).join('/')}`,
    close() {
      if (closed) return;
      closed = true;
      signal.removeEventListener('abort', onAbort);
      takePending()?.abandon();
      liveClient?.end();
    },
  };
}

/**
 * RegistryClient: the distribution (OCI registry v2) API with the auth flows registries use.
 * One client serves any number of repositories on any registries; tokens, schemes and
 * challenges are remembered process-wide, connections are kept alive, so a warm process
 * resolving an unchanged tag costs one HEAD.
 *
 * Auth: the keychain gives a credential per repository (or none). Nothing is sent until a
 * registry asks: a 401 with `WWW-Authenticate: Bearer ...` starts the token flow (tokens.ts),
 * `Basic` makes us send the credential itself. The challenge is remembered per registry, so
 * later requests (other scopes too) get their token before the first try.
 */
import { createHash } from 'node:crypto';
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import { ArtifactDigestMismatch } from '../artifacts/digest.js';
import { RegistryAuthError, RegistryError, RegistryTooLargeError, RegistryUnreachableError, type RegistryErrorEntry } from './errors.js';
import { readBody, redactUrl, registryBase, send, type HttpResponse, type RequestInfo, type TlsOptions, type TransportOptions } from './http.js';
import { anonymousKeychain, type Credential, type Keychain } from './keychain.js';
import { MANIFEST_MEDIA_TYPES, OCI_INDEX } from './media-types.js';
import { parseManifest, type Descriptor, type ParsedManifest } from './manifest.js';
import { formatRepository, isLocalRegistry, type OciReference, type RepositoryName } from './reference.js';
import { fetchToken, forgetToken, type BearerChallenge } from './tokens.js';
import { parseChallenges } from './challenge.js';
import { basicAuth } from '../util/basic-auth.js';

/** How one client talks to registries. */
export interface RegistryClientOptions {
  /** Credentials per repository (default anonymous). */
  keychain?: Keychain;
  /** CA / client certificate / skip-verify. */
  tls?: TlsOptions;
  /** Allow plain HTTP to any registry (OCIRepository `insecure`). Local addresses always may. */
  insecure?: boolean;
  userAgent?: string;
  /** Dial another address for a registry host (`host:port` -> `ip:port`). */
  resolve?: Record<string, string>;
  /** Largest manifest accepted (default 4 MiB). */
  maxManifestBytes?: number;
  /** Largest blob read into memory or streamed (default 256 MiB). */
  maxBlobBytes?: number;
  /** Called after every request a server answered. */
  onRequest?: (info: RequestInfo) => void;
}

/** Per-call options. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** A manifest fetched from a registry. */
export interface FetchedManifest {
  /** Digest (verified against the bytes), media type and size. */
  descriptor: Descriptor;
  bytes: Buffer;
  parsed: ParsedManifest;
}

type Challenge = { kind: 'bearer'; bearer: BearerChallenge } | { kind: 'basic' } | { kind: 'none' };

const DEFAULT_MAX_MANIFEST = 4 << 20;
const DEFAULT_MAX_BLOB = 256 << 20;
const MAX_ERROR_BODY = 64 * 1024;
/** Pages of one referrers list Fluxless follows (cosign reads at most a few signatures). */
const MAX_REFERRER_PAGES = 20;
const challenges = new Map<string, Challenge>();

/** Forgets remembered registry challenges (tests). */
export function clearChallengeCache(): void {
  challenges.clear();
}

/** The distribution API client. See the module comment. */
export class RegistryClient {
  private readonly keychain: Keychain;
  private readonly transport: TransportOptions;
  private readonly insecure: boolean;
  private readonly maxManifest: number;
  readonly maxBlobBytes: number;
  private count = 0;

  constructor(opts: RegistryClientOptions = {}) {
    this.keychain = opts.keychain ?? anonymousKeychain;
    this.insecure = opts.insecure === true;
    this.maxManifest = opts.maxManifestBytes ?? DEFAULT_MAX_MANIFEST;
    this.maxBlobBytes = opts.maxBlobBytes ?? DEFAULT_MAX_BLOB;
    const onRequest = opts.onRequest;
    this.transport = {
      tls: opts.tls,
      insecure: this.insecure,
      userAgent: opts.userAgent ?? 'fluxless',
      resolve: opts.resolve,
      onRequest: (info) => {
        this.count++;
        onRequest?.(info);
      },
    };
  }

  /** HTTP requests this client made that a server answered (registry and token servers). */
  get requestCount(): number {
    return this.count;
  }

  /**
   * All tags of a repository, following `Link: <...>; rel="next"` pages (`n`, `last`), in
   * the registry's order. Throws RegistryError (notFound for an unknown repository).
   */
  async listTags(repo: RepositoryName, opts: CallOptions & { pageSize?: number; maxPages?: number } = {}): Promise<string[]> {
    const base = await this.base(repo.registry, opts.signal);
    let url: URL | undefined = new URL(`${base}/v2/${repo.repository}/tags/list`);
    url.searchParams.set('n', String(opts.pageSize ?? 1000));
    const tags: string[] = [];
    const seen = new Set<string>();
    const maxPages = opts.maxPages ?? 10_000;
    for (let page = 0; url; page++) {
      if (page >= maxPages) throw new RegistryError('GET', redactUrl(url), 200, [], { message: `listing tags of ${formatRepository(repo)}: more than ${maxPages} pages` });
      if (seen.has(url.toString())) break;
      seen.add(url.toString());
      const res = await this.request(repo, 'pull', { method: 'GET', url, headers: { accept: 'application/json' } }, opts.signal);
      if (res.status !== 200) throw await this.errorOf(res, 'GET');
      const body = await this.read(res, 16 << 20, `tag list of ${formatRepository(repo)}`);
      let j: { tags?: unknown };
      try {
        j = JSON.parse(body.toString('utf8')) as { tags?: unknown };
      } catch {
        throw new RegistryError('GET', redactUrl(url), 200, [], { message: `GET ${redactUrl(url)}: the tag list is not valid JSON` });
      }
      if (Array.isArray(j.tags)) for (const t of j.tags) if (typeof t === 'string') tags.push(t);
      url = nextLink(res, url);
    }
    return tags;
  }

  /** HEAD of a manifest by tag or digest: its descriptor (digest from Docker-Content-Digest). */
  async headManifest(ref: OciReference, opts: CallOptions = {}): Promise<Descriptor> {
    const url = await this.manifestUrl(ref, opts.signal);
    const res = await this.request(ref, 'pull', { method: 'HEAD', url, headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') } }, opts.signal);
    res.discard();
    if (res.status !== 200) throw await this.errorOf(res, 'HEAD');
    const digest = header(res, 'docker-content-digest');
    if (!digest || !/^sha256:[a-f0-9]{64}$/.test(digest)) {
      throw new RegistryError('HEAD', redactUrl(url), 200, [], { message: `HEAD ${redactUrl(url)}: the registry sent no Docker-Content-Digest header` });
    }
    if (ref.digest && digest !== ref.digest) throw new ArtifactDigestMismatch(ref.digest, digest, `manifest of ${formatRepository(ref)}`);
    return { mediaType: (header(res, 'content-type') ?? '').split(';')[0].trim(), size: Number(header(res, 'content-length') ?? 0), digest };
  }

  /**
   * GET of a manifest by tag or digest. The digest is computed from the bytes and checked
   * against the reference's digest and the registry's Docker-Content-Digest.
   */
  async getManifest(ref: OciReference, opts: CallOptions = {}): Promise<FetchedManifest> {
    const url = await this.manifestUrl(ref, opts.signal);
    const res = await this.request(ref, 'pull', { method: 'GET', url, headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') } }, opts.signal);
    if (res.status !== 200) throw await this.errorOf(res, 'GET');
    const bytes = await this.read(res, this.maxManifest, `manifest of ${formatRepository(ref)}`);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (ref.digest && digest !== ref.digest) throw new ArtifactDigestMismatch(ref.digest, digest, `manifest of ${formatRepository(ref)}`);
    const sent = header(res, 'docker-content-digest');
    if (sent && /^sha256:/.test(sent) && sent !== digest) throw new ArtifactDigestMismatch(sent, digest, `manifest of ${formatRepository(ref)}`);
    let parsed: ParsedManifest;
    try {
      parsed = parseManifest(bytes, header(res, 'content-type'));
    } catch (err) {
      throw new RegistryError('GET', redactUrl(url), 200, [], { message: `GET ${redactUrl(url)}: ${(err as Error).message}` });
    }
    const mediaType = parsed.kind === 'image' ? parsed.manifest.mediaType : parsed.index.mediaType;
    return { descriptor: { mediaType: mediaType ?? '', size: bytes.length, digest }, bytes, parsed };
  }

  /**
   * A blob as a stream that fails (ArtifactDigestMismatch) when the bytes do not hash to the
   * descriptor's digest, or when they exceed its size or `maxBytes`.
   */
  async openBlob(repo: RepositoryName, desc: Pick<Descriptor, 'digest'> & { size?: number }, opts: CallOptions & { maxBytes?: number } = {}): Promise<Readable> {
    const max = opts.maxBytes ?? this.maxBlobBytes;
    if (!/^sha256:[a-f0-9]{64}$/.test(desc.digest)) {
      throw new RegistryError('GET', formatRepository(repo), 0, [], { message: `blob of ${formatRepository(repo)}: unsupported or invalid digest '${desc.digest}' (only sha256)` });
    }
    if (desc.size !== undefined && desc.size > max) {
      throw new RegistryTooLargeError(`blob ${desc.digest} of ${formatRepository(repo)} is ${desc.size} bytes, more than the limit of ${max}`);
    }
    const base = await this.base(repo.registry, opts.signal);
    const url = new URL(`${base}/v2/${repo.repository}/blobs/${desc.digest}`);
    const res = await this.request(repo, 'pull', { method: 'GET', url }, opts.signal);
    if (res.status !== 200) throw await this.errorOf(res, 'GET');
    const verify = new VerifyingStream(desc.digest, desc.size, max, `blob of ${formatRepository(repo)}`);
    pipeline(res.body, verify, () => undefined);
    return verify;
  }

  /** A whole blob in memory, verified (see openBlob). */
  async readBlob(repo: RepositoryName, desc: Pick<Descriptor, 'digest'> & { size?: number }, opts: CallOptions & { maxBytes?: number } = {}): Promise<Buffer> {
    const stream = await this.openBlob(repo, desc, opts);
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  /** True when the registry has the blob (HEAD). */
  async hasBlob(repo: RepositoryName, digest: string, opts: CallOptions & { forPush?: boolean } = {}): Promise<boolean> {
    const base = await this.base(repo.registry, opts.signal);
    const url = new URL(`${base}/v2/${repo.repository}/blobs/${digest}`);
    const res = await this.request(repo, opts.forPush ? 'push' : 'pull', { method: 'HEAD', url }, opts.signal);
    res.discard();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await this.errorOf(res, 'HEAD');
  }

  /**
   * Uploads a blob (POST + monolithic PUT) unless the registry has it already. Returns its
   * descriptor fields.
   */
  async pushBlob(repo: RepositoryName, data: Buffer, opts: CallOptions & { skipExistsCheck?: boolean } = {}): Promise<{ digest: string; size: number }> {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    if (!opts.skipExistsCheck && (await this.hasBlob(repo, digest, { signal: opts.signal, forPush: true }))) return { digest, size: data.length };
    const base = await this.base(repo.registry, opts.signal);
    const start = new URL(`${base}/v2/${repo.repository}/blobs/uploads/`);
    const res = await this.request(repo, 'push', { method: 'POST', url: start, body: Buffer.alloc(0), followRedirects: false }, opts.signal);
    res.discard();
    if (res.status !== 202) throw await this.errorOf(res, 'POST');
    const loc = header(res, 'location');
    if (!loc) throw new RegistryError('POST', redactUrl(start), 202, [], { message: `POST ${redactUrl(start)}: the registry sent no upload Location` });
    const put = new URL(loc, start);
    put.searchParams.set('digest', digest);
    const done = await this.request(repo, 'push', { method: 'PUT', url: put, body: data, headers: { 'content-type': 'application/octet-stream' }, followRedirects: false }, opts.signal);
    done.discard();
    if (done.status !== 201 && done.status !== 204) throw await this.errorOf(done, 'PUT');
    return { digest, size: data.length };
  }

  /** PUT of a manifest under a tag (or its digest). Returns the manifest's digest. */
  async putManifest(ref: OciReference, bytes: Buffer, mediaType: string, opts: CallOptions = {}): Promise<string> {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const target = ref.tag ?? ref.digest ?? digest;
    const base = await this.base(ref.registry, opts.signal);
    const url = new URL(`${base}/v2/${ref.repository}/manifests/${target}`);
    const res = await this.request(ref, 'push', { method: 'PUT', url, body: bytes, headers: { 'content-type': mediaType }, followRedirects: false }, opts.signal);
    res.discard();
    if (res.status !== 201 && res.status !== 200 && res.status !== 204) throw await this.errorOf(res, 'PUT');
    const sent = header(res, 'docker-content-digest');
    if (sent && sent !== digest) throw new ArtifactDigestMismatch(digest, sent, `pushed manifest of ${formatRepository(ref)}`);
    return digest;
  }

  /**
   * The referrers of a manifest (OCI 1.1): `GET /v2/<name>/referrers/<digest>`, falling back to
   * the referrers tag schema (`sha256-<hex>`, an index the pusher maintains) when the registry
   * has no referrers API (404 or 405), as go-containerregistry's remote.Referrers does.
   * `artifactType` filters the list client-side as well (a registry may ignore the filter).
   * No referrers: an empty list.
   */
  async referrers(repo: RepositoryName, digest: string, opts: CallOptions & { artifactType?: string } = {}): Promise<Descriptor[]> {
    if (!/^sha256:[a-f0-9]{64}$/.test(digest)) throw new RegistryError('GET', formatRepository(repo), 0, [], { message: `referrers of ${formatRepository(repo)}: invalid digest '${digest}'` });
    const base = await this.base(repo.registry, opts.signal);
    const url = new URL(`${base}/v2/${repo.repository}/referrers/${digest}`);
    if (opts.artifactType) url.searchParams.set('artifactType', opts.artifactType);
    const res = await this.request(repo, 'pull', { method: 'GET', url, headers: { accept: OCI_INDEX } }, opts.signal);
    let list: Descriptor[];
    if (res.status === 200 && (header(res, 'content-type') ?? '').split(';')[0].trim() === OCI_INDEX) {
      list = await this.referrerPages(repo, digest, url, res, opts.signal);
    } else if (res.status === 404 || res.status === 405 || res.status === 400 || res.status === 200) {
      res.discard();
      try {
        const tagged = await this.getManifest({ ...repo, tag: `${digest.replace(':', '-')}` }, opts);
        list = tagged.parsed.kind === 'index' ? tagged.parsed.index.manifests : [];
      } catch (err) {
        if (err instanceof RegistryError && err.notFound) return [];
        throw err;
      }
    } else {
      throw await this.errorOf(res, 'GET');
    }
    return opts.artifactType ? list.filter((d) => d.artifactType === opts.artifactType) : list;
  }

  /**
   * The descriptors of a referrers API answer and of the pages its `Link: <...>; rel="next"`
   * headers name (OCI distribution-spec: a registry may paginate the list), same origin only,
   * at most MAX_REFERRER_PAGES pages; a page seen before ends the walk.
   */
  private async referrerPages(repo: RepositoryName, digest: string, first: URL, firstRes: HttpResponse, signal?: AbortSignal): Promise<Descriptor[]> {
    const list: Descriptor[] = [];
    const seen = new Set<string>([first.toString()]);
    let url = first;
    let res = firstRes;
    for (let page = 1; ; page++) {
      const bytes = await this.read(res, this.maxManifest, `referrers of ${formatRepository(repo)}@${digest}`);
      let parsed: ParsedManifest;
      try {
        parsed = parseManifest(bytes, OCI_INDEX);
      } catch (err) {
        throw new RegistryError('GET', redactUrl(url), 200, [], { message: `GET ${redactUrl(url)}: ${(err as Error).message}` });
      }
      if (parsed.kind === 'index') list.push(...parsed.index.manifests);
      const next = nextLink(res, url);
      if (!next || seen.has(next.toString())) return list;
      if (page >= MAX_REFERRER_PAGES) {
        throw new RegistryError('GET', redactUrl(next), 200, [], { message: `referrers of ${formatRepository(repo)}@${digest}: more than ${MAX_REFERRER_PAGES} pages` });
      }
      seen.add(next.toString());
      url = next;
      res = await this.request(repo, 'pull', { method: 'GET', url, headers: { accept: OCI_INDEX } }, signal);
      if (res.status !== 200) throw await this.errorOf(res, 'GET');
    }
  }

  private async manifestUrl(ref: OciReference, signal?: AbortSignal): Promise<URL> {
    const target = ref.digest ?? ref.tag;
    if (!target) throw new RegistryError('GET', formatRepository(ref), 0, [], { message: `reference ${formatRepository(ref)} has neither a tag nor a digest` });
    const base = await this.base(ref.registry, signal);
    return new URL(`${base}/v2/${ref.repository}/manifests/${target}`);
  }

  private allowHttp(registry: string): boolean {
    return this.insecure || isLocalRegistry(registry);
  }

  /** `https://host` or `http://host` (see http.ts registryBase); the probe is a GET /v2/. */
  private base(registry: string, signal?: AbortSignal): Promise<string> {
    return registryBase(registry, this.allowHttp(registry), async (b) => {
      const res = await send({ method: 'GET', url: new URL(`${b}/v2/`), signal }, this.transport);
      res.discard();
      this.learnChallenge(registry, res);
    });
  }

  private learnChallenge(registry: string, res: HttpResponse): Challenge | undefined {
    if (res.status !== 401) return undefined;
    const list = parseChallenges(res.headers['www-authenticate']);
    const bearer = list.find((c) => c.scheme === 'bearer' && c.params.realm);
    let ch: Challenge;
    if (bearer) ch = { kind: 'bearer', bearer: { realm: bearer.params.realm, ...(bearer.params.service !== undefined ? { service: bearer.params.service } : {}) } };
    else if (list.some((c) => c.scheme === 'basic')) ch = { kind: 'basic' };
    else return undefined;
    challenges.set(registry, ch);
    return ch;
  }

  /**
   * Sends a request with the auth the registry wants: known challenge -> auth up front;
   * 401 -> learn the challenge, authenticate, retry once.
   */
  private async request(
    repo: RepositoryName,
    action: 'pull' | 'push',
    req: { method: string; url: URL; headers?: Record<string, string>; body?: Buffer; followRedirects?: boolean },
    signal: AbortSignal | undefined,
  ): Promise<HttpResponse> {
    const scope = `repository:${repo.repository}:${action === 'push' ? 'pull,push' : 'pull'}`;
    const cred = await this.keychain.resolve(repo);
    const isHttp = req.url.protocol === 'http:';
    let scopes = [scope];
    const known = challenges.get(repo.registry);
    let authorization = known ? await this.authorize(repo.registry, known, scopes, cred, isHttp, signal) : undefined;
    for (let attempt = 0; ; attempt++) {
      const headers = { ...(req.headers ?? {}), ...(authorization ? { authorization } : {}) };
      const res = await send({ ...req, headers, signal }, this.transport);
      if (res.status !== 401 || attempt > 0) {
        if (res.status === 401 || res.status === 403) throw await this.authErrorOf(res, req.method, repo, cred);
        return res;
      }
      const ch = this.learnChallenge(repo.registry, res);
      if (!ch) {
        throw await this.authErrorOf(res, req.method, repo, cred);
      }
      res.discard();
      if (ch.kind === 'bearer') {
        const wwwScopes = parseChallenges(res.headers['www-authenticate'])
          .filter((c) => c.scheme === 'bearer' && c.params.scope)
          .map((c) => c.params.scope);
        scopes = [...new Set([...wwwScopes, ...scopes])];
        if (known?.kind === 'bearer') forgetToken(known.bearer, [scope], cred);
      } else if (!cred || (!cred.username && !cred.password)) {
        throw new RegistryAuthError(req.method, redactUrl(req.url), 401, [], {
          message: `${req.method} ${redactUrl(req.url)}: registry ${repo.registry} requires credentials (HTTP basic) and ${this.keychain.description} has none for ${formatRepository(repo)}`,
        });
      }
      authorization = await this.authorize(repo.registry, ch, scopes, cred, isHttp, signal);
    }
  }

  private async authorize(
    registry: string,
    ch: Challenge,
    scopes: string[],
    cred: Credential | undefined,
    isHttp: boolean,
    signal: AbortSignal | undefined,
  ): Promise<string | undefined> {
    if (ch.kind === 'none') return undefined;
    if (ch.kind === 'basic') {
      if (!cred || (!cred.username && !cred.password)) return undefined;
      return basicAuth(cred.username ?? '', cred.password ?? '');
    }
    const token = await fetchToken(ch.bearer, scopes, cred, { registry, registryIsHttp: isHttp, transport: this.transport, signal });
    return `Bearer ${token}`;
  }

  private async read(res: HttpResponse, max: number, what: string): Promise<Buffer> {
    try {
      return await readBody(res, max, what);
    } catch (err) {
      if (err instanceof RangeError) throw new RegistryTooLargeError(err.message);
      throw new RegistryUnreachableError(`reading ${what}: ${(err as Error).message}`, { cause: err });
    }
  }

  private async errorOf(res: HttpResponse, method: string): Promise<RegistryError> {
    const errors = await this.errorEntries(res);
    return new RegistryError(method, redactUrl(res.url), res.status, errors);
  }

  private async authErrorOf(res: HttpResponse, method: string, repo: RepositoryName, cred: Credential | undefined): Promise<RegistryAuthError> {
    const errors = await this.errorEntries(res);
    const who = cred ? `with the credentials from ${this.keychain.description}` : 'anonymously (no credentials matched this registry)';
    const what = errors.length ? errors.map((e) => `${e.code}${e.message ? `: ${e.message}` : ''}`).join('; ') : `HTTP ${res.status}`;
    return new RegistryAuthError(method, redactUrl(res.url), res.status, errors, {
      message: `${method} ${redactUrl(res.url)}: access to ${formatRepository(repo)} denied ${who}: ${what}`,
    });
  }

  private async errorEntries(res: HttpResponse): Promise<RegistryErrorEntry[]> {
    if (res.body.readableEnded) return [];
    const body = await readBody(res, MAX_ERROR_BODY, 'error').catch(() => Buffer.alloc(0));
    if (body.length === 0) return [];
    try {
      const j = JSON.parse(body.toString('utf8')) as { errors?: unknown };
      if (!Array.isArray(j.errors)) return [];
      return j.errors
        .filter((e): e is { code: string; message?: string; detail?: unknown } => typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string')
        .map((e) => ({ code: e.code, ...(typeof e.message === 'string' ? { message: e.message } : {}), ...(e.detail !== undefined ? { detail: e.detail } : {}) }));
    } catch {
      return [];
    }
  }
}

function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The `rel="next"` target of a Link header, resolved against the request URL; same origin only. */
function nextLink(res: HttpResponse, current: URL): URL | undefined {
  const link = header(res, 'link');
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (!m || !/rel="?next"?/i.test(m[2])) continue;
    const next = new URL(m[1], current);
    if (next.origin !== current.origin) {
      throw new RegistryError('GET', redactUrl(current), res.status, [], { message: `GET ${redactUrl(current)}: the next page link points to another host (${next.origin})` });
    }
    return next;
  }
  return undefined;
}

/** Hashes bytes on the way through; errors at the end on a digest mismatch or size overrun. */
class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256');
  private seen = 0;
  constructor(
    private readonly digest: string,
    private readonly size: number | undefined,
    private readonly max: number,
    private readonly what: string,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.max) return cb(new RegistryTooLargeError(`${this.what} ${this.digest} is larger than the limit of ${this.max} bytes`));
    if (this.size !== undefined && this.seen > this.size) {
      return cb(new ArtifactDigestMismatch(this.digest, `more than the ${this.size} bytes the manifest declares`, this.what));
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (actual !== this.digest) return cb(new ArtifactDigestMismatch(this.digest, `${actual} after reading ${this.seen} bytes`, this.what));
    cb();
  }
}

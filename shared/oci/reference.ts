/**
 * Image and artifact references as go-containerregistry's `name` package reads them (Flux
 * uses it): `[oci://]host[:port]/path[:tag][@sha256:<hex>]`. The first path component is the
 * registry only when it is `localhost` or contains `.` or `:`, else the registry is Docker
 * Hub (`index.docker.io`, also for `docker.io`), where a one-component repository gets
 * `library/` in front.
 */
import { ValidationError } from '../util/errors.js';

/** Docker Hub's registry host, as go-containerregistry names it. */
export const DEFAULT_REGISTRY = 'index.docker.io';
/** The tag used when none is given. */
export const DEFAULT_TAG = 'latest';
/** `oci://`, the scheme of OCIRepository and Helm OCI URLs. */
export const OCI_SCHEME = 'oci://';

const REPOSITORY_CHARS = /^[a-z0-9_\-./]+$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

/** A repository in a registry: `registry` is `host[:port]`, `repository` the path. */
export interface RepositoryName {
  registry: string;
  repository: string;
}

/** A repository plus a tag and/or a digest (the digest wins when both are given). */
export interface OciReference extends RepositoryName {
  tag?: string;
  digest?: string;
}

/** The error raised for a reference that cannot be parsed; the message says what is wrong. */
export class InvalidReferenceError extends ValidationError {}

/** Parses `host/path` (no tag, no digest, optional `oci://`) into a RepositoryName. */
export function parseRepository(name: string): RepositoryName {
  const s = name.startsWith(OCI_SCHEME) ? name.slice(OCI_SCHEME.length) : name;
  if (!s) throw new InvalidReferenceError('a repository name must be specified');
  let registry = '';
  let repository = s;
  const slash = s.indexOf('/');
  if (slash >= 0) {
    const first = s.slice(0, slash);
    if (first === 'localhost' || /[.:]/.test(first)) {
      registry = first;
      repository = s.slice(slash + 1);
    }
  }
  checkRepository(repository);
  if (registry && !HOST_RE.test(registry)) {
    throw new InvalidReferenceError(`registries must be valid RFC 3986 URI authorities: ${registry}`);
  }
  if (!registry || registry === 'docker.io') registry = DEFAULT_REGISTRY;
  if (registry === DEFAULT_REGISTRY && !repository.includes('/')) repository = `library/${repository}`;
  return { registry, repository };
}

function checkRepository(repository: string): void {
  if (repository.length < 1 || repository.length > 255) {
    throw new InvalidReferenceError(`repository must be between 1 and 255 characters in length: ${repository}`);
  }
  if (!REPOSITORY_CHARS.test(repository)) {
    throw new InvalidReferenceError(`repository can only contain the characters \`abcdefghijklmnopqrstuvwxyz0123456789_-./\`: ${repository}`);
  }
  if (repository.split('/').some((c) => c === '' || c === '.' || c === '..')) {
    throw new InvalidReferenceError(`repository '${repository}' has an empty, '.' or '..' path component`);
  }
}

/** Parses `[oci://]host/path[:tag][@sha256:<hex>]`. */
export function parseReference(ref: string): OciReference {
  let s = ref.startsWith(OCI_SCHEME) ? ref.slice(OCI_SCHEME.length) : ref;
  let digest: string | undefined;
  const at = s.indexOf('@');
  if (at >= 0) {
    digest = s.slice(at + 1);
    s = s.slice(0, at);
    if (!DIGEST_RE.test(digest)) throw new InvalidReferenceError(`invalid digest '${digest}' in '${ref}': expected sha256:<64 lowercase hex>`);
  }
  let tag: string | undefined;
  const colon = s.lastIndexOf(':');
  if (colon >= 0 && !s.slice(colon + 1).includes('/')) {
    tag = s.slice(colon + 1);
    s = s.slice(0, colon);
    if (!TAG_RE.test(tag)) {
      throw new InvalidReferenceError(`tag '${tag}' in '${ref}' is invalid: up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'`);
    }
  }
  const repo = parseRepository(s);
  return { ...repo, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** True for a valid tag (letters, digits, `_.-`, max 128, not starting with `.` or `-`). */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** True for `sha256:<64 lowercase hex>`. */
export function isValidDigest(digest: string): boolean {
  return DIGEST_RE.test(digest);
}

/** `registry/repository`, e.g. `index.docker.io/library/alpine` (Flux's canonical image name). */
export function formatRepository(r: RepositoryName): string {
  return `${r.registry}/${r.repository}`;
}

/** `registry/repository[:tag][@digest]`. */
export function formatReference(r: OciReference): string {
  return `${formatRepository(r)}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
}

/**
 * The hosts go-containerregistry talks plain HTTP to without being told (its Registry.Scheme):
 * `localhost:*`, `*.localhost`, 127.0.0.1, ::1 and RFC 1918 addresses.
 */
export function isLocalRegistry(registry: string): boolean {
  if (registry.startsWith('localhost:') || registry === 'localhost') return true;
  if (/\.localhost(?::\d{1,5})?$/.test(registry)) return true;
  if (/^127\.0\.0\.1(?::\d{1,5})?$/.test(registry)) return true;
  if (/^(?:::1|\[::1\](?::\d{1,5})?)$/.test(registry)) return true;
  const host = registry.split(':')[0];
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
}

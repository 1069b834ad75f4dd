/**
 * GitRepository (source.toolkit.fluxcd.io/v1) validation and Flux's revision strings.
 * Pure functions: no I/O.
 */
import { ValidationError, errorMessage } from '../util/errors.js';
import { isSshUrl, parseSshUrl, sshUrlForScpLike } from './git-ssh-url.js';
import { parseSemverConstraint } from './git-semver.js';
import type { GitVerification, GitRef, GitRepository, GitRepositorySpec } from './types.js';

/** GitRepository apiVersions Fluxless accepts. */
export const GIT_REPOSITORY_API_VERSIONS = ['source.toolkit.fluxcd.io/v1', 'source.toolkit.fluxcd.io/v1beta2'] as const;
/** Flux's default branch when spec.ref is empty (fluxcd/pkg git.DefaultBranch). */
export const DEFAULT_GIT_BRANCH = 'master';
/** Flux's default GitRepository spec.timeout for one fetch. */
export const DEFAULT_GIT_TIMEOUT = '60s';

const INTERVAL_RE = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
const TIMEOUT_RE = /^([0-9]+(\.[0-9]+)?(ms|s|m))+$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Kubernetes/Go duration of the form the Flux CRDs allow ("1m30s", "500ms", "1.5h"). */
export function parseDuration(value: string): number {
  if (!INTERVAL_RE.test(value)) throw new Error(`'${value}' is not a duration like 30s, 5m or 1h30m`);
  let total = 0;
  for (const m of value.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) total += parseFloat(m[1]) * UNIT_MS[m[2]];
  return Math.round(total);
}

/**
 * A URL without credentials, for messages and logs: http(s) URLs lose user:password@,
 * ssh:// URLs keep their user (not a secret) and lose any password.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    if (u.protocol === 'ssh:') {
      if (!u.password) return url;
      u.password = '';
      return u.toString();
    }
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

const SPEC_SUPPORTED = new Set(['url', 'secretRef', 'interval', 'timeout', 'ref', 'ignore', 'suspend', 'recurseSubmodules', 'provider', 'verify']);
/** Fields Flux has that Fluxless does not implement; setting them is an error, not silently ignored. */
const SPEC_UNSUPPORTED: Record<string, string> = {
  include: 'including other GitRepository artifacts is not supported; remove spec.include',
  sparseCheckout: 'sparse checkout is not supported; remove spec.sparseCheckout (use spec.ignore to leave paths out of the artifact)',
  proxySecretRef: 'proxies are not supported; remove spec.proxySecretRef',
  serviceAccountName: 'workload identity (provider azure/aws) is not supported; remove spec.serviceAccountName',
  accessFrom: 'spec.accessFrom was removed in Flux v2; remove it',
};
const REF_FIELDS = new Set(['branch', 'tag', 'semver', 'name', 'commit']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === false || v === '' || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
}

/** Validates a git reference name the way git check-ref-format would reject obvious mistakes. */
function checkRefName(name: string): string | undefined {
  const bare = name.endsWith('^{}') ? name.slice(0, -3) : name;
  if (bare.startsWith('/') || bare.endsWith('/')) return 'must not begin or end with a slash';
  if (bare.includes('..') || bare.includes('//') || bare.includes('@{')) return "must not contain '..', '//' or '@{'";
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(bare)) return 'must not contain spaces, control characters or any of ~^:?*[\\';
  if (bare.endsWith('.lock') || bare.endsWith('.')) return "must not end with '.lock' or '.'";
  return undefined;
}

/**
 * Checks a GitRepository URL the way source-controller's CRD does (`^(http|https|ssh)://`),
 * with a message saying how to fix it; `fail` throws. scp-like addresses (`git@host:path`)
 * are refused, as Flux refuses them, with the ssh:// URL to use instead. `field` names the
 * setting in messages (default `spec.url`).
 */
export function checkGitUrl(url: string, fail: (msg: string, hint?: string) => never, field = 'spec.url'): void {
  if (isSshUrl(url)) {
    try {
      parseSshUrl(url, field);
    } catch (err) {
      fail(errorMessage(err), err instanceof ValidationError ? err.hint : undefined);
    }
    return;
  }
  const scp = sshUrlForScpLike(url);
  if (scp) {
    fail(
      `${field} '${url}' is an scp-like SSH address, which Flux does not accept (the URL must start with http://, https:// or ssh://): use '${scp}'`,
      "for a path relative to the SSH user's home directory, write ssh://user@host/~/path",
    );
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    fail(`${field} '${redactUrl(url)}' is not a valid URL`);
  }
  if (parsed!.protocol !== 'http:' && parsed!.protocol !== 'https:') {
    fail(`${field} '${redactUrl(url)}' has scheme '${parsed!.protocol.replace(/:$/, '')}': only http, https and ssh are supported`);
  }
}

/**
 * Validates and normalises a GitRepository manifest (already parsed from YAML/JSON).
 * Throws ValidationError naming the object and the field.
 */
export function parseGitRepository(obj: unknown, opts: { defaultNamespace?: string } = {}): GitRepository {
  if (!isObject(obj)) throw new ValidationError('GitRepository: expected an object');
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '';
  const namespace = typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : (opts.defaultNamespace ?? 'default');
  const id = `GitRepository ${namespace}/${name || '<unnamed>'}`;
  const fail = (msg: string, hint?: string): never => {
    throw new ValidationError(`${id}: ${msg}`, hint ? { hint } : undefined);
  };

  if (obj.kind !== 'GitRepository') fail(`kind is '${String(obj.kind)}', expected GitRepository`);
  if (typeof obj.apiVersion !== 'string' || !(GIT_REPOSITORY_API_VERSIONS as readonly string[]).includes(obj.apiVersion)) {
    fail(`apiVersion '${String(obj.apiVersion)}' is not supported: use source.toolkit.fluxcd.io/v1`);
  }
  if (!name) fail('metadata.name is required');
  if (!isObject(obj.spec)) fail('spec is required');
  const spec = obj.spec as Record<string, unknown>;

  for (const [key, value] of Object.entries(spec)) {
    if (key in SPEC_UNSUPPORTED) {
      if (!isEmpty(value)) fail(`spec.${key} is not supported by Fluxless: ${SPEC_UNSUPPORTED[key]}`);
      continue;
    }
    if (key === 'gitImplementation' && obj.apiVersion === 'source.toolkit.fluxcd.io/v1beta2') continue; // deprecated, ignored by Flux too
    if (!SPEC_SUPPORTED.has(key)) fail(`spec.${key} is not a GitRepository field (check the spelling)`);
  }
  if (spec.recurseSubmodules !== undefined && typeof spec.recurseSubmodules !== 'boolean') fail('spec.recurseSubmodules must be a boolean');
  if (spec.recurseSubmodules === true) fail('spec.recurseSubmodules is not supported by Fluxless: submodules are not fetched; remove it or set it to false');
  if (spec.provider !== undefined && spec.provider !== '' && spec.provider !== 'generic') {
    fail(`spec.provider '${String(spec.provider)}' is not supported by Fluxless: only 'generic' (credentials from spec.secretRef) is`);
  }

  // url
  if (typeof spec.url !== 'string' || !spec.url) fail('spec.url is required');
  const url = spec.url as string;
  checkGitUrl(url, fail);

  // ref
  let ref: GitRef;
  const rawRef = spec.ref;
  if (rawRef !== undefined && rawRef !== null && !isObject(rawRef)) fail('spec.ref must be an object');
  const r = (rawRef ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(r)) {
    if (!REF_FIELDS.has(key)) fail(`spec.ref.${key} is not a GitRepository ref field (use branch, tag, semver, name or commit)`);
    if (value !== undefined && value !== null && typeof value !== 'string') fail(`spec.ref.${key} must be a string`);
  }
  const str = (k: string) => (typeof r[k] === 'string' && r[k] ? (r[k] as string) : undefined);
  const branch = str('branch');
  const tag = str('tag');
  const semverRange = str('semver');
  const refName = str('name');
  const commit = str('commit');
  if (refName) {
    const problem = checkRefName(refName);
    if (problem) fail(`spec.ref.name '${refName}' is not a valid git reference: it ${problem}`);
  }
  if (commit !== undefined) {
    if (!/^[0-9a-fA-F]{40}$/.test(commit)) {
      fail(`spec.ref.commit '${commit}' must be a full 40-character SHA-1 commit hash`, 'abbreviated hashes are not accepted; use `git rev-parse <commit>` to get the full one');
    }
    ref = { kind: 'commit', commit: commit.toLowerCase(), ...(branch ? { branch } : {}), ...(refName ? { name: refName } : {}) };
  } else if (refName) {
    ref = { kind: 'name', name: refName };
  } else if (semverRange) {
    try {
      parseSemverConstraint(semverRange);
    } catch (err) {
      fail(`spec.ref.semver '${semverRange}' is not a valid semver constraint: ${err instanceof Error ? err.message : String(err)}`);
    }
    ref = { kind: 'semver', semver: semverRange };
  } else if (tag) {
    ref = { kind: 'tag', tag };
  } else {
    ref = { kind: 'branch', branch: branch ?? DEFAULT_GIT_BRANCH };
  }

  // secretRef
  let secretRef: GitRepositorySpec['secretRef'];
  if (spec.secretRef !== undefined && spec.secretRef !== null) {
    if (!isObject(spec.secretRef) || typeof spec.secretRef.name !== 'string' || !spec.secretRef.name) {
      fail('spec.secretRef.name is required when spec.secretRef is set');
    }
    secretRef = { name: (spec.secretRef as { name: string }).name, namespace };
  }

  // interval, timeout
  if (typeof spec.interval !== 'string' || !spec.interval) fail('spec.interval is required (e.g. 5m)');
  const interval = spec.interval as string;
  if (!INTERVAL_RE.test(interval)) fail(`spec.interval '${interval}' is not a duration like 30s, 5m or 1h`);
  const intervalMs = parseDuration(interval);
  if (intervalMs <= 0) fail('spec.interval must be greater than zero');
  const timeout = spec.timeout === undefined || spec.timeout === null || spec.timeout === '' ? DEFAULT_GIT_TIMEOUT : spec.timeout;
  if (typeof timeout !== 'string' || !TIMEOUT_RE.test(timeout)) fail(`spec.timeout '${String(timeout)}' is not a duration like 500ms, 60s or 2m`);
  const timeoutMs = parseDuration(timeout as string);
  if (timeoutMs <= 0) fail('spec.timeout must be greater than zero');

  if (spec.ignore !== undefined && spec.ignore !== null && typeof spec.ignore !== 'string') fail('spec.ignore must be a string (one pattern per line)');
  if (spec.suspend !== undefined && typeof spec.suspend !== 'boolean') fail('spec.suspend must be a boolean');
  const verify = parseGitVerification(spec.verify, fail);

  const labels = isObject(meta.labels) ? (meta.labels as Record<string, string>) : undefined;
  const annotations = isObject(meta.annotations) ? (meta.annotations as Record<string, string>) : undefined;
  return {
    apiVersion: obj.apiVersion as string,
    kind: 'GitRepository',
    metadata: {
      name,
      namespace,
      ...(typeof meta.generation === 'number' ? { generation: meta.generation } : {}),
      ...(typeof meta.uid === 'string' ? { uid: meta.uid } : {}),
      ...(labels ? { labels } : {}),
      ...(annotations ? { annotations } : {}),
    },
    spec: {
      url,
      ref,
      ...(secretRef ? { secretRef } : {}),
      interval,
      intervalMs,
      timeout: timeout as string,
      timeoutMs,
      ...(typeof spec.ignore === 'string' ? { ignore: spec.ignore } : {}),
      suspend: spec.suspend === true,
      ...(verify ? { verify } : {}),
    },
  };
}

/**
 * `spec.verify` (source-controller GitRepositoryVerification): `mode` HEAD (default; `head`
 * is read as HEAD), Tag or TagAndHEAD, and the required `secretRef` with the trusted keys.
 */
function parseGitVerification(v: unknown, fail: (msg: string) => never): GitVerification | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) return fail('spec.verify must be an object with mode and secretRef');
  for (const k of Object.keys(v)) if (k !== 'mode' && k !== 'secretRef') fail(`spec.verify.${k} is not a verify field (use mode, secretRef)`);
  const raw = v.mode === undefined || v.mode === null || v.mode === '' ? 'HEAD' : v.mode;
  const mode = raw === 'head' ? 'HEAD' : raw;
  if (mode !== 'HEAD' && mode !== 'Tag' && mode !== 'TagAndHEAD') fail(`spec.verify.mode '${String(raw)}' must be HEAD, Tag or TagAndHEAD`);
  if (!isObject(v.secretRef) || typeof v.secretRef.name !== 'string' || !v.secretRef.name) fail('spec.verify.secretRef.name is required: the Secret with the trusted PGP (*.asc) or SSH (*.sshpub) public keys');
  return { mode: mode as GitVerification['mode'], secretRef: { name: (v.secretRef as { name: string }).name } };
}

/** `sha1:<hash>` (fluxcd/pkg git.Hash.Digest). */
export function hashDigest(commit: string): string {
  return `${commit.length === 40 ? 'sha1' : '<unknown>'}:${commit}`;
}

/**
 * Flux's revision for a checkout: `git.Commit.String()` (short reference: the part after
 * `refs/<kind>/`) or, for spec.ref.name, `AbsoluteReference()` (the full reference).
 */
export function formatRevision(ref: GitRef, commit: string, followedRef?: string): string {
  const digest = hashDigest(commit);
  switch (ref.kind) {
    case 'branch':
      return `${ref.branch}@${digest}`;
    case 'tag':
      return `${ref.tag}@${digest}`;
    case 'semver':
      return `${shortRef(followedRef ?? '') ?? followedRef}@${digest}`;
    case 'name':
      return `${ref.name}@${digest}`;
    case 'commit':
      if (ref.name) return `${ref.name}@${digest}`;
      if (ref.branch) return `${ref.branch}@${digest}`;
      return digest;
  }
}

/** refs/heads/a/b -> a/b (Go: SplitAfterN(ref, "/", 3)[2]); undefined for refs with fewer than 3 parts. */
function shortRef(ref: string): string | undefined {
  const i = ref.indexOf('/');
  const j = i < 0 ? -1 : ref.indexOf('/', i + 1);
  return j < 0 ? undefined : ref.slice(j + 1);
}

/**
 * Converts legacy revision strings (`main/<sha>`, `<sha>`) to the current form
 * (`main@sha1:<sha>`, `sha1:<sha>`), like fluxcd/pkg git.TransformRevision, so an old
 * artifact revision still compares equal.
 */
export function normalizeRevision(rev: string): string {
  if (!rev || rev.includes(':')) return rev;
  const i = rev.lastIndexOf('/');
  if (i >= 0) return `${rev.slice(0, i)}@${hashDigest(rev.slice(i + 1))}`;
  return hashDigest(rev);
}

/** The commit sha in a revision string (any of the forms above). */
export function commitFromRevision(rev: string): string {
  const i = rev.lastIndexOf(':');
  if (i >= 0) return rev.slice(i + 1);
  const j = rev.lastIndexOf('/');
  return j >= 0 ? rev.slice(j + 1) : rev;
}

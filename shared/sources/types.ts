/**
 * Types for sources (GitRepository today). Specs here are already validated and
 * normalised by the parse* functions; consumers never see raw manifest shapes.
 */

/** The one reference a GitRepository follows, after Flux's precedence (commit > name > semver > tag > branch). */
export type GitRef =
  /** A pinned commit (full lowercase sha1). `branch` narrows the fetch; `name` is kept for the revision string. */
  | { kind: 'commit'; commit: string; branch?: string; name?: string }
  /** A full reference name, e.g. refs/pull/4/head or refs/tags/v1.0.0. */
  | { kind: 'name'; name: string }
  /** A semver constraint (Masterminds syntax) over the remote's tags. */
  | { kind: 'semver'; semver: string }
  | { kind: 'tag'; tag: string }
  | { kind: 'branch'; branch: string };

/** A reference to an object by name and namespace (e.g. a GitRepository's spec.secretRef). */
export interface ObjectRef {
  name: string;
  namespace: string;
}

/** A GitRepository's spec after validation, with defaults applied and durations also in milliseconds. */
export interface GitRepositorySpec {
  /**
   * http(s) URL (credentials embedded in it are used when no Secret gives any) or
   * ssh://[user@]host[:port]/path (user defaults to `git`; the key comes from the Secret).
   */
  url: string;
  ref: GitRef;
  /** The Secret with username/password or bearerToken, or for SSH identity/known_hosts[/password] (namespace = the object's). */
  secretRef?: ObjectRef;
  /** As written (e.g. "5m"), and in milliseconds. */
  interval: string;
  intervalMs: number;
  /** Timeout for one fetch (ls-refs + fetch + checkout); default "60s". */
  timeout: string;
  timeoutMs: number;
  /** .sourceignore-format patterns that replace the default excludes. */
  ignore?: string;
  suspend: boolean;
  /** `spec.verify`: the signatures the checkout must carry. */
  verify?: GitVerification;
}

/** `spec.verify` of a GitRepository. */
export interface GitVerification {
  /** What is verified: the commit (HEAD), the tag object (Tag), or both. */
  mode: 'HEAD' | 'Tag' | 'TagAndHEAD';
  /** The Secret with trusted keys: `*.asc` OpenPGP key rings, `*.sshpub` SSH authorized keys (other keys are read as OpenPGP). */
  secretRef: { name: string };
}

/** A signed git object as stored: the signed bytes and the signature (empty when unsigned). */
export interface SignedGitObject {
  /** The object's bytes without its signature (what the signature covers). */
  payload: Buffer;
  /** The armored signature (`gpgsig` of a commit, the trailing block of a tag); '' when unsigned. */
  signature: string;
}

/** A validated GitRepository (source.toolkit.fluxcd.io) object. */
export interface GitRepository {
  apiVersion: string;
  kind: 'GitRepository';
  metadata: {
    name: string;
    namespace: string;
    generation?: number;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: GitRepositorySpec;
}

/**
 * Decoded Secret data that matters for git (fluxcd/pkg git.NewAuthOptions). HTTP(S) uses
 * username/password or bearerToken; SSH uses identity, knownHosts and password (the key's
 * passphrase) and ignores the rest.
 */
export interface GitCredentials {
  username?: string;
  /** HTTP(S): the password for `username`. SSH: the passphrase of `identity`, if it is encrypted. */
  password?: string;
  bearerToken?: string;
  /** SSH private key (Secret key `identity`): OpenSSH, PEM or PKCS#8; RSA, ECDSA or ed25519. */
  identity?: string;
  /** SSH host keys in known_hosts format (Secret key `known_hosts`); required for SSH. */
  knownHosts?: string;
}

/** What a remote says the GitRepository would check out, without fetching objects. */
export interface ResolvedGitRevision {
  /** Flux revision string, e.g. main@sha1:<40hex>, v1.2.3@sha1:<40hex>, sha1:<40hex>. */
  revision: string;
  /** The commit sha (tags are peeled to their commit). */
  commit: string;
  /** The full reference followed, when there is one (refs/heads/main, refs/tags/v1.2.3, refs/pull/4/head). */
  ref?: string;
}

/** Message, author and committer of a fetched commit. */
export interface GitCommitInfo {
  message: string;
  author: { name: string; email: string; timestamp: number };
  committer: { name: string; email: string; timestamp: number };
}

/** Result of fetchGitRepository: unchanged (still lastRevision), or a new checkout in `dir` with its revision and commit. */
export type GitFetchResult =
  | { changed: false; revision: string; commit: string }
  | ({
      changed: true;
      revision: string;
      commit: string;
      ref?: string;
      dir: string;
      /** The commit's signed content and signature. */
      signed: SignedGitObject;
      /** The annotated tag followed (tag and semver refs), with its signed content; undefined for a lightweight tag or another ref. */
      tag?: SignedGitObject & { name: string; oid: string };
    } & GitCommitInfo);

/** Options of fetchGitRepository: the checkout directory, the revision already held, and cancellation. */
export interface GitFetchOptions {
  /** Directory for the checkout (created when missing, must be empty). The git dir is `<dir>/.git`. */
  dir: string;
  /** The revision of the artifact we already have; when the remote still resolves to it, nothing is fetched. */
  lastRevision?: string;
  /** Cancels the operation (in addition to spec.timeout). */
  signal?: AbortSignal;
  /** false: fetch only, leave the work tree empty (read the commit with git-tree.ts). Default true. */
  checkout?: boolean;
}

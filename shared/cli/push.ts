/**
 * `fluxless push artifact oci://<host>/<repo>:<tag> --path DIR --source URL --revision REV`,
 * like `flux push artifact`: the directory (or one file, or `-` for stdin) becomes a Flux
 * artifact pushed with shared/oci's pushArtifact. Progress goes to stderr (`► pushing
 * artifact to ...`, `✔ artifact successfully pushed to ...`); `-o json|yaml` prints
 * `{url, repository, tag, digest}` on stdout, as flux does.
 *
 * Credentials, in flux's order: `--creds user:password` (or a lone registry token) with
 * provider generic; `--provider aws` (ECR with the caller's AWS credentials); else the
 * docker config as go-containerregistry's default keychain reads it: `$DOCKER_CONFIG/config.json`
 * or `~/.docker/config.json` (`credHelpers`, `credsStore` through `docker-credential-<helper>`,
 * then `auths`), falling back to `$REGISTRY_AUTH_FILE` and `$XDG_RUNTIME_DIR/containers/auth.json`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import {
  DEFAULT_REGISTRY,
  OCI_SCHEME,
  RegistryClient,
  anonymousKeychain,
  parseReference,
  pullSecretKeychain,
  pushArtifact,
  type Credential,
  type Keychain,
  type OciAuth,
  type RepositoryName,
} from '../oci/index.js';
import { EnvironmentError, ValidationError, errorMessage } from '../util/errors.js';

/** The flags of `fluxless push artifact`. */
export interface PushArtifactFlags {
  /** `oci://host/repo[:tag]` (the positional argument). */
  url?: string;
  /** `--path`: a directory, a file, or `-` for stdin. */
  path?: string;
  source?: string;
  revision?: string;
  /** `--annotations k=v`, repeatable. */
  annotations?: string[];
  /** `--creds user:password` (or a lone token). */
  creds?: string;
  reproducible?: boolean;
  /** `--insecure` / `--insecure-registry`: plain HTTP and no TLS verification. */
  insecure?: boolean;
  /** `--provider generic|aws`. */
  provider?: string;
  /** `-o json|yaml`; undefined prints flux's human lines. */
  output?: string;
  timeoutMs?: number;
}

/** Where the command writes (stdout for results, stderr for progress), and what it reads. */
export interface PushIO {
  out(text: string): void;
  err(text: string): void;
  /** Environment for the docker config lookup (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Read for `--path -` (default process.stdin). */
  stdin?: NodeJS.ReadableStream;
}

/** Docker Hub's key in docker config files. */
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';
const HELPER_TIMEOUT_MS = 30_000;

interface DockerConfigFile {
  auths?: Record<string, unknown>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** The docker config file go-containerregistry would read, and its contents (undefined when there is none). */
async function readDockerConfig(env: NodeJS.ProcessEnv): Promise<{ file: string; config: DockerConfigFile } | undefined> {
  const dockerDir = env.DOCKER_CONFIG || path.join(env.HOME || os.homedir(), '.docker');
  const candidates = [path.join(dockerDir, 'config.json')];
  if (env.REGISTRY_AUTH_FILE) candidates.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) candidates.push(path.join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  for (const file of candidates) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new EnvironmentError(`cannot read the docker config ${file}: ${errorMessage(err)}`);
    }
    let config: unknown;
    try {
      config = JSON.parse(text);
    } catch (err) {
      throw new ValidationError(`the docker config ${file} is not valid JSON: ${errorMessage(err)}`, { hint: 'fix the file, or pass --creds' });
    }
    if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new ValidationError(`the docker config ${file} is not a JSON object`);
    return { file, config: config as DockerConfigFile };
  }
  return undefined;
}

/** Asks `docker-credential-<helper> get` for a server's credential (undefined when it has none). */
function fromHelper(helper: string, server: string, env: NodeJS.ProcessEnv, file: string): Promise<Credential | undefined> {
  const bin = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = execFile(bin, ['get'], { env, timeout: HELPER_TIMEOUT_MS, maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) {
        const text = `${stdout}`.trim();
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new EnvironmentError(`the credential helper ${bin} named in ${file} is not installed`, { hint: 'install it, remove it from the docker config, or pass --creds' }));
        } else if (/credentials not found/i.test(text)) {
          resolve(undefined);
        } else {
          reject(new EnvironmentError(`the credential helper ${bin} failed for ${server}: ${text || errorMessage(err)}`));
        }
        return;
      }
      try {
        const j = JSON.parse(stdout) as { Username?: string; Secret?: string };
        if (!j.Secret) return resolve(undefined);
        resolve(j.Username === '<token>' ? { identityToken: j.Secret } : { username: j.Username, password: j.Secret });
      } catch {
        reject(new EnvironmentError(`the credential helper ${bin} answered something that is not JSON for ${server}`));
      }
    });
    child.stdin?.end(server);
  });
}

/**
 * The keychain of the user's docker config (go-containerregistry's default keychain):
 * `credHelpers[host]`, else `credsStore`, else the `auths` entry of the host; anonymous
 * when there is no config file. Docker Hub is looked up as `https://index.docker.io/v1/`.
 */
export async function dockerConfigKeychain(env: NodeJS.ProcessEnv = process.env): Promise<Keychain> {
  const found = await readDockerConfig(env);
  if (!found) return anonymousKeychain;
  const { file, config } = found;
  const auths = typeof config.auths === 'object' && config.auths !== null ? config.auths : {};
  const fromAuths = pullSecretKeychain([{ data: { '.dockerconfigjson': JSON.stringify({ auths }) }, name: file }]);
  return {
    description: `docker config ${file}`,
    async resolve(target: RepositoryName) {
      const key = target.registry === DEFAULT_REGISTRY ? DOCKER_HUB_KEY : target.registry;
      const helper = config.credHelpers?.[key] ?? config.credHelpers?.[target.registry] ?? config.credsStore;
      if (helper) return fromHelper(helper, key, env, file);
      return fromAuths.resolve(target);
    },
  };
}

/** `--creds`: `user:password`, or a lone registry token (fluxcd/pkg oci.GetAuthFromCredentials). */
export function parseCreds(creds: string): Credential {
  const i = creds.indexOf(':');
  return i < 0 ? { registryToken: creds } : { username: creds.slice(0, i), password: creds.slice(i + 1) };
}

/** `--annotations k=v` into a map; flux refuses anything but exactly one `=`. */
export function parseAnnotations(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of list) {
    const kv = a.split('=');
    if (kv.length !== 2) throw new ValidationError(`invalid annotation ${a}, must be in the format key=value`);
    out[kv[0]] = kv[1];
  }
  return out;
}

async function readStream(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

/** Runs `push artifact`; returns the exit code (errors are thrown with flux's messages). */
export async function pushArtifactCmd(flags: PushArtifactFlags, io: PushIO): Promise<number> {
  const env = io.env ?? process.env;
  if (!flags.url) throw new ValidationError('artifact URL is required', { hint: "e.g. fluxless push artifact oci://ghcr.io/org/app:v1 --path ./deploy --source URL --revision REV" });
  if (!flags.source) throw new ValidationError('--source is required: the source address, e.g. the Git URL');
  if (!flags.revision) throw new ValidationError("--revision is required: the source revision in the format '<branch|tag>@sha1:<commit-sha>'");
  if (!flags.path) throw new ValidationError(`invalid path ${JSON.stringify(flags.path ?? '')}`);
  if (flags.output !== undefined && flags.output !== 'json' && flags.output !== 'yaml') {
    throw new ValidationError(`unknown output format '${flags.output}': use json or yaml`);
  }
  const provider = flags.provider ?? 'generic';
  if (provider === 'azure' || provider === 'gcp') {
    throw new ValidationError(`--provider ${provider} is not supported by Fluxless yet: use aws, or generic with --creds or a docker config`);
  }
  if (provider !== 'generic' && provider !== 'aws') throw new ValidationError(`--provider '${provider}' is not one of generic, aws, azure, gcp`);
  if (!flags.url.startsWith(OCI_SCHEME)) throw new ValidationError(`URL must be in format 'oci://<domain>/<org>/<repo>' (got '${flags.url}')`);
  try {
    parseReference(flags.url);
  } catch (err) {
    throw new ValidationError(`invalid artifact URL '${flags.url}': ${errorMessage(err)}`);
  }
  const annotations = parseAnnotations(flags.annotations ?? []);
  const signal = flags.timeoutMs ? AbortSignal.timeout(flags.timeoutMs) : undefined;
  const insecure = flags.insecure === true;

  let staging: string | undefined;
  try {
    let src = flags.path;
    if (src === '-') {
      staging = await mkdtemp(path.join(os.tmpdir(), 'fluxless-push-stdin-'));
      src = path.join(staging, 'stdin.yaml');
      await writeFile(src, await readStream(io.stdin ?? process.stdin));
    } else {
      // As flux: a path that does not exist is refused before anything is printed or sent.
      await stat(src).catch((err: unknown) => {
        throw new ValidationError(`invalid path '${src}', must point to an existing directory or file: ${errorMessage(err)}`);
      });
    }
    let auth: OciAuth | undefined;
    let client: RegistryClient | undefined;
    if (provider === 'generic' && flags.creds) {
      io.err('► logging in to registry with credentials\n');
      auth = { credentials: parseCreds(flags.creds) };
    } else if (provider === 'aws') {
      io.err('► logging in to registry with provider credentials\n');
    } else {
      const keychain = await dockerConfigKeychain(env);
      client = new RegistryClient({ keychain, insecure, ...(insecure ? { tls: { insecureSkipVerify: true } } : {}) });
    }
    const shown = flags.url.slice(OCI_SCHEME.length);
    if (!flags.output) io.err(`► pushing artifact to ${shown}\n`);
    const res = await pushArtifact({
      url: flags.url,
      path: src,
      source: flags.source,
      revision: flags.revision,
      annotations,
      reproducible: flags.reproducible === true,
      insecure,
      provider,
      ...(auth ? { auth } : {}),
      ...(client ? { client } : {}),
      signal,
    });
    const info = { url: res.url, repository: res.repository, tag: res.tag, digest: res.digest };
    if (flags.output === 'json') io.out(`${JSON.stringify(info, null, 2)}\n`);
    else if (flags.output === 'yaml') io.out(stringify(info, { sortMapEntries: true })); // sigs.k8s.io/yaml sorts keys
    else io.err(`✔ artifact successfully pushed to ${res.url.slice(OCI_SCHEME.length)}\n`);
    return 0;
  } finally {
    if (staging) await rm(staging, { recursive: true, force: true });
  }
}

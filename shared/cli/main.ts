/**
 * The `fluxless` command line, with Flux's verbs and exit codes. Errors print as one clear
 * line plus a hint. Exit codes: 0 ok; 1 failure (and, for `diff`, "differences found");
 * 2 usage errors and `diff` errors.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../devenv/paths.js';
import { FluxlessError, errorMessage } from '../util/errors.js';
import { configureLogging } from '../util/log.js';
import { parseDuration } from '../util/duration.js';
import { bootstrap } from '../runtime/bootstrap.js';
import type { KindReconciler } from '../reconcile/contract.js';
import { kindByWord } from '../kinds/registry.js';
import { eventsCmd, getCmd, kindOf, reconcileCmd, setSuspended, treeCmd } from './commands.js';
import { buildCmd, diffCmd } from './render-cmds.js';
import { helmDiffCmd } from './helm-diff.js';
import { checkCmd, checkPrerequisites } from './check.js';
import { webhookCmd } from './webhook-cmd.js';
import { cliConfig, cliRuntime, runningServer, type GlobalOptions } from './context.js';
import { devCluster } from './dev.js';
import { getImagesCmd } from './images.js';
import { pushArtifactCmd } from './push.js';
import { serveCmd, startCmd } from './serve.js';

const HELP: Record<string, string> = {
  '': `fluxless: GitOps continuous delivery for Kubernetes with Flux semantics, no controllers.

Usage: fluxless <command> [flags]

Commands:
  start                             Run everything on embedded defaults (what 'npm start' does)
  serve                             Run the local runtime (webhooks, workers, scheduler) on fluxless.yaml
  check [--path DIR] [--pre]        What of a fleet repository Fluxless supports, before anything is applied
  webhook <receiver> [--send]       A signed test delivery for a Receiver (curl line, or sent to the server)
  get all|<kinds>                   Show objects and their status (fluxless get --help lists the kinds)
  reconcile <kind> <name>           Reconcile now and wait (--with-source to fetch the source first)
  suspend|resume <kind> <name>      Stop / restart reconciling an object
  diff kustomization|helmrelease <name>  Show what would change (exit 0 no diff, 1 diff, >1 error)
  build kustomization <name>        Print the objects a Kustomization renders
  events                            Show events (--for Kind/name: with its notification deliveries)
  tree kustomization|helmrelease <name>  Show the objects a Kustomization or HelmRelease manages
  push artifact oci://<repo>:<tag>  Push a directory as a Flux OCI artifact (like flux push artifact)
  dev cluster up|down|kubeconfig    A local Kubernetes control plane for trying Fluxless
  version                           Print the version

Global flags:
  --config FILE     Configuration file (default ./fluxless.yaml, or FLUXLESS_CONFIG)
  --data-dir DIR    Local runtime data (default .fluxless, or FLUXLESS_DATA_DIR)
  -n, --namespace   Namespace (default flux-system)
  -h, --help        Help for a command: fluxless <command> --help
`,
  start: `Usage: fluxless start [--once] [--timeout 5m]
Uses a cluster (the configuration's, else KUBECONFIG's, else it starts the local control plane),
serves examples/fleet from a local git server (unless a configuration names a repository),
reconciles it, prints the status of each object and the webhook URL, and keeps serving until
Ctrl-C. One start per data directory; other shells' commands in this directory use its cluster.
  --once        Exit after the first convergence (0 when every Kustomization is Ready)
  --timeout D   How long to wait for convergence (default 5m)`,
  serve: `Usage: fluxless serve [--config fluxless.yaml]
Runs the webhook server, the worker pool and the scheduler in one process, on the store and
queue of the configuration. Ctrl-C finishes running reconciles, then stops.`,
  check: `Usage: fluxless check [--path CHECKOUT] [--pre]
Like 'flux check --pre': the cluster (reachable, its version, whether Flux's controllers run in it) and,
unless --pre, the fleet repository at the configured path: every Flux kind found, supported or not, the
bootstrap pair and where fluxless.yaml overrides it, Flux's own components that are left out.
  --path DIR    a local checkout of the repository (default: the configured source's last artifact)
Exit code 1 when something is not supported.`,
  webhook: `Usage: fluxless webhook <receiver-name> [-n NS] [--send]
Prints the Receiver's URL and a curl command that sends a delivery signed the way its sender signs it
(github, gitlab, bitbucket, generic, generic-hmac); --send posts it to the running server instead.`,
  get: `Usage: fluxless get all|<kinds> [-n NS | -A] [-o table|json|yaml] [--cluster NAME]
Kinds: sources [git|oci|helm|chart|bucket|external], kustomizations (ks), helmreleases (hr), receivers,
alerts, alert-providers, artifactgenerators, images [all|repository|policy|update].
--cluster keeps the objects that apply to that cluster: a remote cluster's name or server, or in-cluster (the management cluster).
A CLUSTER column is shown when it is given or when any object targets a remote cluster (spec.kubeConfig).`,
  reconcile: `Usage: fluxless reconcile kustomization|helmrelease|source git|oci|helm|chart|image repository|... <name> [-n NS] [--with-source] [--timeout 5m]
Exit code 1 when the object is not Ready afterwards.`,
  suspend: `Usage: fluxless suspend <kind> <name> [-n NS]   (kustomization, helmrelease, source git, ...)`,
  resume: `Usage: fluxless resume <kind> <name> [-n NS]   (kustomization, helmrelease, source git, ...)`,
  diff: `Usage: fluxless diff kustomization|helmrelease <name> [--path DIR] [--kustomization-file FILE] [-n NS]
The rendered objects against the live cluster (a HelmRelease: its rendered manifest, by server-side dry-run).
Exit codes: 0 no differences, 1 differences, >1 error. Secret values are never shown.`,
  build: `Usage: fluxless build kustomization <name> [--path DIR] [--kustomization-file FILE [--dry-run]] [-n NS]
--path DIR builds a local directory in place (like flux build --path); --kustomization-file takes the
Kustomization from a file; with --dry-run no stored definition, configuration or cluster is needed.`,
  events: `Usage: fluxless events [--for Kind/name] [-n NS]
With --for, the object's notification deliveries (sent, retrying, failed, dead-lettered) are listed too.`,
  tree: `Usage: fluxless tree kustomization|helmrelease <name> [-n NS]`,
  dev: `Usage: fluxless dev cluster up|down|kubeconfig`,
  push: `Usage: fluxless push artifact oci://<host>/<repo>:<tag> --path DIR --source URL --revision REV
  [--annotations k=v ...] [--creds user:pass] [--reproducible] [--insecure] [--provider generic|aws] [-o json|yaml]
Pushes DIR (a file, or - for stdin) as a Flux artifact, as 'flux push artifact' does. Credentials:
--creds, else --provider aws (ECR), else the docker config ($DOCKER_CONFIG or ~/.docker/config.json).`,
  version: `Usage: fluxless version`,
};

class UsageError extends FluxlessError {
  constructor(message: string, cmd: string) {
    super('Usage', message, { hint: `run 'fluxless ${cmd ? cmd + ' ' : ''}--help'` });
  }
}

/** Commands that act on one object in one namespace (`-n`). */
const NAMESPACED_COMMANDS = new Set(['reconcile', 'suspend', 'resume', 'tree', 'build', 'diff', 'webhook']);

/** The configuration's namespace (flux-system unless fluxless.yaml says otherwise); errors surface later, when the command loads it. */
function configuredNamespace(g: GlobalOptions): string {
  try {
    return cliConfig(g).namespace;
  } catch {
    return 'flux-system';
  }
}

/** `source git NAME`, `image repository NAME`, `kustomization NAME` -> the kind and NAME. */
function kindAndName(pos: string[], cmd: string): { kind: KindReconciler; name: string } {
  if (pos.length >= 3 && kindByWord(`${pos[0]} ${pos[1]}`)) return { kind: kindByWord(`${pos[0]} ${pos[1]}`)!, name: pos[2] };
  if (pos.length < 2) throw new UsageError(`'${cmd}' needs a kind and a name`, cmd);
  return { kind: kindOf(pos[0]), name: pos[1] };
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      config: { type: 'string' },
      'data-dir': { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      'all-namespaces': { type: 'boolean', short: 'A' },
      output: { type: 'string', short: 'o' },
      'with-source': { type: 'boolean' },
      'kustomization-file': { type: 'string' },
      'dry-run': { type: 'boolean' },
      pre: { type: 'boolean' },
      send: { type: 'boolean' },
      timeout: { type: 'string' },
      path: { type: 'string' },
      for: { type: 'string' },
      once: { type: 'boolean' },
      verbose: { type: 'boolean', short: 'v' },
      source: { type: 'string' },
      revision: { type: 'string' },
      annotations: { type: 'string', short: 'a', multiple: true },
      creds: { type: 'string' },
      reproducible: { type: 'boolean' },
      insecure: { type: 'boolean' },
      'insecure-registry': { type: 'boolean' },
      provider: { type: 'string' },
      cluster: { type: 'string' },
    },
  });
  const [cmd = '', ...pos] = positionals;
  if (values.help || cmd === 'help' || !cmd) {
    const topic = cmd === 'help' ? (pos[0] ?? '') : cmd;
    console.log(HELP[topic] ?? HELP['']);
    return 0;
  }
  if (!['start', 'serve'].includes(cmd) && !values.verbose) configureLogging({ level: 'warn' });
  const g: GlobalOptions = {
    dataDir: path.resolve(values['data-dir'] ?? process.env.FLUXLESS_DATA_DIR ?? '.fluxless'),
    config: values.config,
  };
  // Flux's default namespace is where Flux runs: here, the configuration's (fluxless.yaml `namespace`).
  const ns = values.namespace ?? (NAMESPACED_COMMANDS.has(cmd) ? configuredNamespace(g) : 'flux-system');
  let timeoutMs = 5 * 60_000;
  if (values.timeout) {
    try {
      timeoutMs = parseDuration(values.timeout, '--timeout');
    } catch (err) {
      throw new UsageError(errorMessage(err), cmd);
    }
  }
  const withRuntime = async <T>(f: (rt: ReturnType<typeof cliRuntime>['rt'], cfg: ReturnType<typeof cliRuntime>['cfg']) => Promise<T>): Promise<T> => {
    const { rt, cfg } = cliRuntime(g);
    try {
      return await f(rt, cfg);
    } finally {
      rt.client.close();
      await rt.queue.close();
    }
  };
  switch (cmd) {
    case 'version': {
      const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
      console.log(`fluxless ${pkg.version}`);
      return 0;
    }
    case 'dev':
      if (pos[0] !== 'cluster') throw new UsageError(`unknown 'dev' subcommand '${pos[0] ?? ''}'`, 'dev');
      return devCluster(pos[1], g.dataDir);
    case 'start':
      return startCmd(g, { once: Boolean(values.once), timeoutMs });
    case 'serve':
      return serveCmd(g);
    case 'check': {
      return withRuntime(async (rt, cfg) => {
        const { code, text } = values.pre ? await checkPrerequisites(rt) : await checkCmd(rt, cfg, { localPath: values.path, cluster: true });
        console.log(text);
        return code;
      });
    }
    case 'webhook': {
      const name = pos[0] === 'receiver' ? pos[1] : pos[0];
      if (!name) throw new UsageError("'webhook' needs the name of a Receiver", 'webhook');
      return withRuntime(async (rt, cfg) => {
        const { code, text } = await webhookCmd(rt, cfg, g.dataDir, ns, name, Boolean(values.send));
        console.log(text);
        return code;
      });
    }
    case 'get': {
      if (!pos[0]) throw new UsageError("'get' needs what to show: all, sources or a kind (kustomizations, receivers, ...)", 'get');
      if (pos[0] === 'images' || pos[0] === 'image') {
        const opts = { namespace: values['all-namespaces'] ? undefined : values.namespace, output: values.output ?? 'table' };
        console.log(await withRuntime((rt) => getImagesCmd(rt, pos[1] ?? 'all', opts)));
        return 0;
      }
      const two = pos[1] ? `${pos[0]} ${pos[1]}` : '';
      const what = two && kindByWord(two) ? two : pos[0] === 'source' ? 'sources' : pos[0];
      const text = await withRuntime((rt) => getCmd(rt, what, { namespace: values['all-namespaces'] ? undefined : values.namespace, output: values.output ?? 'table', cluster: values.cluster }));
      console.log(text);
      return 0;
    }
    case 'reconcile': {
      const { kind, name } = kindAndName(pos, cmd);
      return withRuntime(async (rt, cfg) => {
        // Without a server, this process is the runtime: the configuration's flux-system
        // objects must be in the store first (as 'fluxless serve' does when it starts).
        if (cfg.source.url && !runningServer(g.dataDir)) await bootstrap(rt, cfg);
        return reconcileCmd(rt, g.dataDir, kind, ns, name, { withSource: Boolean(values['with-source']), timeoutMs, log: (s) => console.log(s) });
      });
    }
    case 'suspend':
    case 'resume': {
      const { kind, name } = kindAndName(pos, cmd);
      console.log(await withRuntime((rt) => setSuspended(rt, kind, ns, name, cmd === 'suspend')));
      return 0;
    }
    case 'events':
      console.log(await withRuntime((rt) => eventsCmd(rt, { namespace: values.namespace, forObj: values.for })));
      return 0;
    case 'tree': {
      const { kind, name } = kindAndName(pos, cmd);
      console.log(await withRuntime((rt) => treeCmd(rt, kind, ns, name)));
      return 0;
    }
    case 'build': {
      const { kind, name } = kindAndName(pos, cmd);
      if (kind.kind !== 'Kustomization') throw new UsageError(`'build' works on kustomizations, not ${kind.names.plural}`, cmd);
      const ro = { localPath: values.path, kustomizationFile: values['kustomization-file'], dryRun: values['dry-run'] };
      process.stdout.write(await withRuntime((rt) => buildCmd(rt, ns, name, ro)));
      return 0;
    }
    case 'diff': {
      const { kind, name } = kindAndName(pos, cmd);
      if (kind.kind !== 'Kustomization' && kind.kind !== 'HelmRelease') throw new UsageError(`'diff' works on kustomizations and helmreleases, not ${kind.names.plural}`, cmd);
      try {
        const ro = { localPath: values.path, kustomizationFile: values['kustomization-file'] };
        const { code, text } = await withRuntime((rt) => (kind.kind === 'HelmRelease' ? helmDiffCmd(rt, ns, name) : diffCmd(rt, ns, name, ro)));
        if (text) console.log(text);
        else console.log('✔ no changes');
        return code;
      } catch (err) {
        (err as { exitCode?: number }).exitCode = 2;
        throw err;
      }
    }
    case 'push': {
      if (pos[0] !== 'artifact') throw new UsageError(`unknown 'push' subcommand '${pos[0] ?? ''}' (use 'push artifact')`, 'push');
      const flags = {
        url: pos[1],
        path: values.path,
        source: values.source,
        revision: values.revision,
        annotations: values.annotations,
        creds: values.creds,
        reproducible: values.reproducible,
        insecure: values.insecure || values['insecure-registry'],
        provider: values.provider,
        output: values.output,
        timeoutMs,
      };
      return pushArtifactCmd(flags, { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) });
    }
    default:
      throw new UsageError(`unknown command '${cmd}'`, '');
  }
}

export async function run(argv: string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (err) {
    console.error(`✗ ${errorMessage(err)}`);
    // node:util parseArgs errors (unknown option, missing option value) are usage errors too.
    const parseError = String((err as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS_');
    const hint = err instanceof FluxlessError ? err.hint : parseError ? "run 'fluxless --help'" : undefined;
    if (hint) console.error(`  hint: ${hint}`);
    const usage = err instanceof FluxlessError && err.code === 'Usage';
    process.exitCode = (err as { exitCode?: number }).exitCode ?? (usage || parseError ? 2 : 1);
  }
}

const invoked = process.argv[1] ? path.resolve(process.argv[1]) : '';
if (invoked.endsWith(path.join('shared', 'cli', 'main.ts')) || invoked.endsWith(path.join('dist', 'cli.mjs'))) {
  await run(process.argv.slice(2));
}

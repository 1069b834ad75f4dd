/**
 * Post-rendering through the helm v4 CLI. Helm 4 only runs post-renderers that are plugins
 * (`plugin.yaml` with `type: postrenderer/v1`, runtime subprocess, found under
 * `$HELM_PLUGINS`). Fluxless installs one such plugin into its private HELM_DATA_HOME; the
 * plugin pipes the manifest stream over a loopback TCP connection back to this process,
 * which runs Flux's post-render chain (postrender.ts) with the HelmRelease's configuration,
 * selected by a one-time token passed in `--post-renderer-args`. So post-rendering uses the
 * same code, and the same kustomize, as everything else in Fluxless, and its errors come
 * back typed instead of as "plugin exited with error".
 *
 * The plugin is a few lines of bash (`/dev/tcp`, a millisecond to start) when bash and cat
 * exist, else a few lines of JavaScript run by this Node binary (~0.1 s of CPU per helm
 * action, a third of a small `helm upgrade`). Both frame the stream the same way: the token
 * line, the manifests, then a line `END-<token>`; the answer is `OK` or `ERR` and a line
 * break, then the manifests (or the error).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, symlink, writeFile, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { log } from '../util/log.js';
import { postRender, type KustomizeRunner, type PostRenderConfig } from './postrender.js';

/** The plugin's name (`helm ... --post-renderer <name>`). */
export const POSTRENDER_PLUGIN = 'fluxless-postrender';

/** How the plugin talks to this process: a bash script, or a Node script. */
export type PluginTransport = 'bash' | 'node';

function pluginYaml(transport: PluginTransport, bash: string): string {
  const cmd = transport === 'bash' ? `    - command: ${bash}\n      args: ["\${HELM_PLUGIN_DIR}/postrender.sh"]\n` : `    - command: \${HELM_PLUGIN_DIR}/node\n      args: ["\${HELM_PLUGIN_DIR}/postrender.mjs"]\n`;
  return `apiVersion: v1
type: postrenderer/v1
name: ${POSTRENDER_PLUGIN}
version: 1.0.0
runtime: subprocess
sourceURL: https://github.com/fluxless/fluxless
runtimeConfig:
  platformCommand:
${cmd}`;
}

/** The bash plugin: $1 port, $2 token. */
const BASH_SCRIPT = `exec 3<>"/dev/tcp/127.0.0.1/$1" || { echo "fluxless post-renderer: cannot connect to 127.0.0.1:$1" >&2; exit 1; }
{ printf '%s\\n' "$2"; cat; printf '\\nEND-%s\\n' "$2"; } >&3
IFS= read -r st <&3
if [ "$st" = OK ]; then exec cat <&3; fi
cat <&3 >&2
exit 1
`;

/** The Node plugin: argv port, token; same framing as the bash one. */
const NODE_SCRIPT = `import net from 'node:net';
const [port, token] = process.argv.slice(2);
const input = [];
process.stdin.on('data', (c) => input.push(c));
process.stdin.on('end', () => {
  const out = [];
  const c = net.createConnection(Number(port), '127.0.0.1', () => {
    c.write(token + '\\n');
    c.write(Buffer.concat(input));
    c.write('\\nEND-' + token + '\\n');
  });
  c.on('data', (d) => out.push(d));
  c.on('end', () => {
    const b = Buffer.concat(out);
    const nl = b.indexOf(10);
    if (nl > 0 && b.subarray(0, nl).toString() === 'OK') process.stdout.write(b.subarray(nl + 1));
    else {
      process.stderr.write(nl > 0 ? b.subarray(nl + 1) : b);
      process.exitCode = 1;
    }
  });
  c.on('error', (e) => {
    process.stderr.write('fluxless post-renderer: ' + e.message + '\\n');
    process.exitCode = 1;
  });
});
`;

/** bash (with /dev/tcp) and cat, when both are installed. */
function bashPath(): string | undefined {
  const bash = ['/bin/bash', '/usr/bin/bash'].find((p) => existsSync(p));
  const cat = ['/bin/cat', '/usr/bin/cat'].some((p) => existsSync(p));
  return bash && cat ? bash : undefined;
}

/** The transport the plugin uses on this machine unless told otherwise. */
export function defaultTransport(): PluginTransport {
  return process.env.FLUXLESS_HELM_POSTRENDER_TRANSPORT === 'node' || !bashPath() ? 'node' : 'bash';
}

/** Writes the plugin into `pluginsDir` (the HELM_PLUGINS directory); returns its directory. */
export async function installPostRenderPlugin(pluginsDir: string, opts: { transport?: PluginTransport; nodePath?: string } = {}): Promise<string> {
  const transport = opts.transport ?? defaultTransport();
  const bash = bashPath() ?? '/bin/bash';
  const dir = path.join(pluginsDir, POSTRENDER_PLUGIN);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(path.join(dir, 'plugin.yaml'), pluginYaml(transport, bash));
  if (transport === 'bash') {
    await writeFile(path.join(dir, 'postrender.sh'), BASH_SCRIPT);
  } else {
    await writeFile(path.join(dir, 'postrender.mjs'), NODE_SCRIPT);
    await rm(path.join(dir, 'node'), { force: true });
    // helm splits the command on spaces: a symlink keeps the node path out of plugin.yaml.
    await symlink(opts.nodePath ?? process.execPath, path.join(dir, 'node'));
  }
  return dir;
}

/**
 * Checks the post-rendered stream before it goes back to helm; a reason refuses it (helm then
 * fails with RECHECK_MESSAGE and the caller runs the command again without the check).
 */
export type ManifestCheck = (manifest: string) => Promise<string | undefined>;

/** What helm prints when a ManifestCheck refused the stream (the runner recognises the job, not this text). */
export const RECHECK_MESSAGE = 'the manifest goes to helm OpenAPI validation';

interface Job {
  config: PostRenderConfig;
  check?: ManifestCheck;
  error?: string;
  /** Why the check refused the stream. */
  recheck?: string;
  calls: number;
}

/** Serves post-render requests from the plugin for one HelmRunner, on a loopback TCP port. */
export class PostRenderServer {
  private server?: net.Server;
  private readonly jobs = new Map<string, Job>();
  private listening?: Promise<number>;
  private boundPort = 0;

  constructor(private readonly kustomize: () => Promise<KustomizeRunner>) {}

  /** The port the plugin connects to (0 until started). */
  get port(): number {
    return this.boundPort;
  }

  /** Starts listening on 127.0.0.1 (once); resolves with the port. */
  start(): Promise<number> {
    if (!this.listening) {
      this.listening = new Promise<number>((resolve, reject) => {
        const server = net.createServer((conn) => this.handle(conn));
        server.on('error', reject);
        server.listen(0, '127.0.0.1', () => {
          server.off('error', reject);
          server.unref();
          this.boundPort = (server.address() as net.AddressInfo).port;
          resolve(this.boundPort);
        });
        this.server = server;
      });
    }
    return this.listening;
  }

  /** Registers a post-render job (with a check of its output, if given); returns its token (for `--post-renderer-args`). */
  register(config: PostRenderConfig, check?: ManifestCheck): string {
    const token = randomBytes(16).toString('hex');
    this.jobs.set(token, { config, calls: 0, ...(check ? { check } : {}) });
    return token;
  }

  /** Ends a job; returns the error the post-renderer hit, or why its check refused the output, if either. */
  release(token: string): { error?: string; recheck?: string; calls: number } {
    const job = this.jobs.get(token);
    this.jobs.delete(token);
    return { error: job?.error, recheck: job?.recheck, calls: job?.calls ?? 0 };
  }

  private handle(conn: net.Socket): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let token: string | undefined;
    let sentinel: Buffer | undefined;
    let done = false;
    conn.on('error', () => undefined);
    const finish = (body: Buffer) => {
      if (done) return;
      done = true;
      const job = token ? this.jobs.get(token) : undefined;
      if (!job) {
        conn.end('ERR\nunknown or expired post-render token\n');
        return;
      }
      job.calls++;
      void (async () => {
        try {
          const out = await postRender(body.toString('utf8'), job.config, await this.kustomize());
          // A check that fails for its own reasons only sends the stream to helm's validation.
          const why = job.check ? await job.check(out).catch((e: unknown) => `the check failed: ${e instanceof Error ? e.message : String(e)}`) : undefined;
          if (why !== undefined) {
            job.recheck = why;
            conn.end(`ERR\n${RECHECK_MESSAGE}\n`);
            return;
          }
          conn.end(Buffer.concat([Buffer.from('OK\n'), Buffer.from(out)]));
        } catch (err) {
          job.error = err instanceof Error ? err.message : String(err);
          log.debug('post-render failed', { error: job.error });
          conn.end(`ERR\n${job.error}\n`);
        }
      })();
    };
    conn.on('data', (c: Buffer) => {
      if (done) return;
      chunks.push(c);
      size += c.length;
      if (token === undefined) {
        const all = Buffer.concat(chunks, size);
        const nl = all.indexOf(10);
        if (nl < 0) {
          if (size > 256) finish(Buffer.alloc(0));
          return;
        }
        token = all.subarray(0, nl).toString('latin1');
        sentinel = Buffer.from(`\nEND-${token}\n`);
        chunks.length = 0;
        chunks.push(all.subarray(nl + 1));
        size = all.length - nl - 1;
      }
      // The stream ends with the sentinel line (bash cannot half-close the connection).
      const s = sentinel!;
      if (size < s.length) return;
      const tail = tailBytes(chunks, s.length);
      if (tail.equals(s)) finish(Buffer.concat(chunks, size).subarray(0, size - s.length));
    });
    conn.on('end', () => finish(Buffer.alloc(0)));
  }

  /** Stops the server. */
  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    this.listening = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** The last `n` bytes of a list of chunks. */
function tailBytes(chunks: readonly Buffer[], n: number): Buffer {
  const parts: Buffer[] = [];
  let need = n;
  for (let i = chunks.length - 1; i >= 0 && need > 0; i--) {
    const c = chunks[i];
    const take = Math.min(need, c.length);
    parts.unshift(c.subarray(c.length - take));
    need -= take;
  }
  return Buffer.concat(parts);
}

/**
 * Post-rendering through the helm v4 CLI. Helm 4 only runs post-renderers that are plugins
 * (`plugin.yaml` with `type: postrenderer/v1`, runtime subprocess, found under
 * `$HELM_PLUGINS`). Fluxless installs one such plugin into its private HELM_DATA_HOME; the
 * plugin is a few lines of JavaScript (Node built-ins only) that pipes the manifest stream
 * over a Unix socket back to this process, which runs Flux's post-render chain
 * (postrender.ts) with the HelmRelease's configuration, selected by a one-time token passed
 * in `--post-renderer-args`. So post-rendering uses the same code, and the same kustomize,
 * as everything else in Fluxless, and its errors come back typed instead of as
 * "plugin exited with error".
 */
import { randomBytes } from 'node:crypto';
import { mkdir, symlink, writeFile, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { log } from '../util/log.js';
import { postRender, type KustomizeRunner, type PostRenderConfig } from './postrender.js';

/** The plugin's name (`helm ... --post-renderer <name>`). */
export const POSTRENDER_PLUGIN = 'fluxless-postrender';

const PLUGIN_YAML = `apiVersion: v1
type: postrenderer/v1
name: ${POSTRENDER_PLUGIN}
version: 1.0.0
runtime: subprocess
sourceURL: https://github.com/fluxless/fluxless
runtimeConfig:
  platformCommand:
    - command: \${HELM_PLUGIN_DIR}/node
      args: ["\${HELM_PLUGIN_DIR}/postrender.mjs"]
`;

/** The plugin program: stdin -> socket (token line + manifests) -> stdout, or stderr + exit 1. */
const PLUGIN_SCRIPT = `import net from 'node:net';
const [sock, token] = process.argv.slice(2);
const input = [];
process.stdin.on('data', (c) => input.push(c));
process.stdin.on('end', () => {
  const out = [];
  const c = net.createConnection(sock, () => {
    c.write(token + '\\n');
    c.end(Buffer.concat(input));
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

/** Writes the plugin into `pluginsDir` (the HELM_PLUGINS directory). */
export async function installPostRenderPlugin(pluginsDir: string, nodePath = process.execPath): Promise<string> {
  const dir = path.join(pluginsDir, POSTRENDER_PLUGIN);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(path.join(dir, 'plugin.yaml'), PLUGIN_YAML);
  await writeFile(path.join(dir, 'postrender.mjs'), PLUGIN_SCRIPT);
  await rm(path.join(dir, 'node'), { force: true });
  // helm splits the command on spaces: a symlink keeps the node path out of plugin.yaml.
  await symlink(nodePath, path.join(dir, 'node'));
  return dir;
}

interface Job {
  config: PostRenderConfig;
  error?: string;
  calls: number;
}

/** Serves post-render requests from the plugin for one HelmRunner. */
export class PostRenderServer {
  private server?: net.Server;
  private readonly jobs = new Map<string, Job>();
  private listening?: Promise<void>;

  constructor(
    readonly socketPath: string,
    private readonly kustomize: () => Promise<KustomizeRunner>,
  ) {}

  /** Starts listening (once). */
  start(): Promise<void> {
    if (!this.listening) {
      this.listening = new Promise<void>((resolve, reject) => {
        const server = net.createServer({ allowHalfOpen: true }, (conn) => this.handle(conn));
        server.on('error', reject);
        server.listen(this.socketPath, () => {
          server.off('error', reject);
          server.unref();
          resolve();
        });
        this.server = server;
      });
    }
    return this.listening;
  }

  /** Registers a post-render job; returns its token (for `--post-renderer-args`). */
  register(config: PostRenderConfig): string {
    const token = randomBytes(16).toString('hex');
    this.jobs.set(token, { config, calls: 0 });
    return token;
  }

  /** Ends a job; returns the error the post-renderer hit, if any. */
  release(token: string): { error?: string; calls: number } {
    const job = this.jobs.get(token);
    this.jobs.delete(token);
    return { error: job?.error, calls: job?.calls ?? 0 };
  }

  private handle(conn: net.Socket): void {
    const chunks: Buffer[] = [];
    conn.on('data', (c: Buffer) => chunks.push(c));
    conn.on('error', () => undefined);
    conn.on('end', () => {
      const buf = Buffer.concat(chunks);
      const nl = buf.indexOf(10);
      const token = nl > 0 ? buf.subarray(0, nl).toString() : '';
      const job = this.jobs.get(token);
      if (!job) {
        conn.end('ERR\nunknown or expired post-render token\n');
        return;
      }
      job.calls++;
      void (async () => {
        try {
          const out = await postRender(buf.subarray(nl + 1).toString('utf8'), job.config, await this.kustomize());
          conn.end(Buffer.concat([Buffer.from('OK\n'), Buffer.from(out)]));
        } catch (err) {
          job.error = err instanceof Error ? err.message : String(err);
          log.debug('post-render failed', { error: job.error });
          conn.end(`ERR\n${job.error}\n`);
        }
      })();
    });
  }

  /** Stops the server. */
  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    this.listening = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

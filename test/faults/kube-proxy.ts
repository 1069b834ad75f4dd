/**
 * A plain-HTTP reverse proxy in front of the harness's kube-apiserver, for fault tests that
 * must act at an exact point of a reconcile running in another process: it sees every
 * request (method, path, query) and can hold one that matches (not forwarded) until the
 * test says so, e.g. the first real write of an apply, or the health check's first look at
 * an object. The child process gets a kubeconfig naming the proxy; its credentials (the
 * bearer token) pass through unchanged. Loopback only, tests only.
 */
import http from 'node:http';
import https from 'node:https';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';

/** What the proxy saw of a request. */
export interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
}

/** A request held by the proxy. */
export interface Held {
  /** Resolves when a matching request arrived (it is being held). */
  arrived: Promise<SeenRequest>;
  /** Forwards the held request now (its answer goes to the client if it is still there). */
  release(): void;
}

/** A running proxy. */
export interface KubeProxy {
  url: string;
  /** A kubeconfig file for the proxy, with the harness's credentials. */
  kubeconfigPath: string;
  /** Holds the next request that matches (once). */
  hold(match: (r: SeenRequest) => boolean): Held;
  close(): Promise<void>;
}

interface KubeconfigDoc {
  clusters: Array<{ name: string; cluster: Record<string, unknown> & { server: string } }>;
  [k: string]: unknown;
}

/** Starts a proxy for the cluster of `kubeconfigPath`. */
export async function startKubeProxy(kubeconfigPath: string): Promise<KubeProxy> {
  const doc = parse(readFileSync(kubeconfigPath, 'utf8')) as KubeconfigDoc;
  const cluster = doc.clusters[0]!.cluster;
  const upstream = new URL(cluster.server);
  const ca = typeof cluster['certificate-authority-data'] === 'string' ? Buffer.from(cluster['certificate-authority-data'], 'base64') : undefined;
  const agent = new https.Agent({ keepAlive: true, ca, rejectUnauthorized: Boolean(ca) });
  const holds: Array<{ match: (r: SeenRequest) => boolean; onArrive: (r: SeenRequest) => void; released: Promise<void> }> = [];

  const forward = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => {
    const up = https.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host }, agent },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    up.end(body);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://proxy');
      const seen: SeenRequest = { method: req.method ?? 'GET', path: u.pathname, query: u.searchParams };
      const i = holds.findIndex((h) => h.match(seen));
      const body = Buffer.concat(chunks);
      if (i < 0) {
        forward(req, body, res);
        return;
      }
      const h = holds.splice(i, 1)[0]!;
      h.onArrive(seen);
      void h.released.then(() => forward(req, body, res));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-kube-proxy-'));
  const kubeconfigFile = path.join(dir, 'kubeconfig');
  const proxied: KubeconfigDoc = {
    ...doc,
    // client-node refuses plain HTTP unless TLS verification is explicitly off (there is no TLS).
    clusters: doc.clusters.map((c) => ({ name: c.name, cluster: { server: url, 'insecure-skip-tls-verify': true } })),
  };
  await writeFile(kubeconfigFile, stringify(proxied), { mode: 0o600 });

  return {
    url,
    kubeconfigPath: kubeconfigFile,
    hold(match) {
      let onArrive!: (r: SeenRequest) => void;
      let release!: () => void;
      const arrived = new Promise<SeenRequest>((r) => (onArrive = r));
      const released = new Promise<void>((r) => (release = r));
      holds.push({ match, onArrive, released });
      return { arrived, release };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      agent.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

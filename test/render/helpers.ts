import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

/** A fresh temp dir (removed after the test) holding `files` (path -> content). */
export async function tempTree(t: TestContext, files: Record<string, string> = {}, prefix = 'fluxless-render-'): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.after(() => rm(root, { recursive: true, force: true }));
  await writeTree(root, files);
  return root;
}

export async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, rel);
    await mkdir(path.dirname(p), { recursive: true });
    await writeFile(p, content);
  }
}

export function configMap(name: string, data: Record<string, string> = { key: 'value' }): string {
  const lines = Object.entries(data).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`);
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n${lines.join('\n')}\n`;
}

export function deployment(name: string, image: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  labels:
    app: ${name}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: ${name}
  template:
    metadata:
      labels:
        app: ${name}
    spec:
      containers:
        - name: main
          image: ${image}
`;
}

/** A loopback HTTP server that records every request it gets (and answers with `body`). */
export interface RecordingServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Request paths received, in order. */
  requests: string[];
}

/** Starts a RecordingServer on 127.0.0.1, closed after the test. */
export async function recordingServer(t: TestContext, body = configMap('from-http'), host = '127.0.0.1'): Promise<RecordingServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, port, requests };
}

/** `count` aliases of one anchor in commonAnnotations: more than the yaml package's default limit of 100, far within go-yaml's budget. */
export function manyAliases(count = 150): string {
  let s = 'commonAnnotations:\n  shared: &shared value\n';
  for (let i = 0; i < count; i++) s += `  a${i}: *shared\n`;
  return s;
}

/** A billion-laughs YAML block: `levels` levels of `width` aliases each, under `key` (indented by `indent`). */
export function aliasBomb(key: string, levels = 30, width = 8, indent = ''): string {
  let s = `${indent}${key}:\n${indent}  l0: &l0 ["lol", "lol", "lol", "lol"]\n`;
  for (let i = 1; i < levels; i++) s += `${indent}  l${i}: &l${i} [${Array(width).fill(`*l${i - 1}`).join(', ')}]\n`;
  return s;
}

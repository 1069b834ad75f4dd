/**
 * Test helpers for the Helm tests: charts written to disk (a Deployment scaled to 0, a
 * ServiceAccount, a Service; optional test hook and dependency), packaged with the real
 * `helm package`, indexed with `helm repo index`, and served by a loopback HTTP chart
 * repository that records every request (and can require basic auth).
 */
import http from 'node:http';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { after } from 'node:test';
import { HelmRunner } from '../../shared/helm/runner.js';

// Cleanups run when the test file ends (registered at import time, on the root test).
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

/** Runs `fn` when the test file ends. */
export function atEnd(fn: () => Promise<unknown>): void {
  cleanups.push(fn);
}

/** A directory removed when the test file ends. */
export async function tempDir(prefix = 'fluxless-helm-test-'): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), prefix));
  atEnd(() => rm(d, { recursive: true, force: true }));
  return d;
}

/** One HelmRunner per test file (closed at the end). */
let shared: Promise<HelmRunner> | undefined;
export function sharedRunner(): Promise<HelmRunner> {
  if (!shared) {
    const p = HelmRunner.create();
    shared = p;
    atEnd(async () => (await p).close());
  }
  return shared;
}

/** Options of writeAppChart. */
export interface AppChartOptions {
  name?: string;
  version?: string;
  appVersion?: string;
  /** Extra values.yaml content. */
  values?: string;
  /** Dependencies in Chart.yaml. */
  dependencies?: { name: string; version: string; repository: string; alias?: string }[];
  /** Add a `helm.sh/hook: test` ConfigMap (no kubelet needed: helm does not wait for ConfigMaps). */
  testHook?: boolean;
  /** Extra template files: name -> content. */
  templates?: Record<string, string>;
  /** Extra files at the chart root. */
  files?: Record<string, string>;
}

/** Writes a small application chart under `dir/<name>` and returns its path. */
export async function writeAppChart(dir: string, o: AppChartOptions = {}): Promise<string> {
  const name = o.name ?? 'app';
  const root = path.join(dir, name);
  await mkdir(path.join(root, 'templates'), { recursive: true });
  const deps = o.dependencies?.length
    ? 'dependencies:\n' + o.dependencies.map((d) => `  - name: ${d.name}\n    version: "${d.version}"\n    repository: "${d.repository}"\n${d.alias ? `    alias: ${d.alias}\n` : ''}`).join('')
    : '';
  await writeFile(path.join(root, 'Chart.yaml'), `apiVersion: v2\nname: ${name}\nversion: ${o.version ?? '0.1.0'}\nappVersion: "${o.appVersion ?? '1.0.0'}"\n${deps}`);
  await writeFile(path.join(root, 'values.yaml'), `replicaCount: 0\nimage:\n  repository: nginx\n  tag: "1.25"\nservice:\n  port: 80\n${o.values ?? ''}`);
  await writeFile(
    path.join(root, 'templates', 'deployment.yaml'),
    `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    app: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      app: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}
    spec:
      serviceAccountName: {{ .Release.Name }}
      containers:
        - name: app
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
`,
  );
  await writeFile(path.join(root, 'templates', 'serviceaccount.yaml'), 'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ .Release.Name }}\n');
  await writeFile(
    path.join(root, 'templates', 'service.yaml'),
    'apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  selector:\n    app: {{ .Release.Name }}\n  ports:\n    - port: {{ .Values.service.port }}\n      protocol: TCP\n',
  );
  if (o.testHook) {
    await writeFile(
      path.join(root, 'templates', 'test.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-test\n  annotations:\n    helm.sh/hook: test\ndata:\n  ok: "true"\n',
    );
  }
  for (const [f, content] of Object.entries(o.templates ?? {})) await writeFile(path.join(root, 'templates', f), content);
  for (const [f, content] of Object.entries(o.files ?? {})) {
    await mkdir(path.dirname(path.join(root, f)), { recursive: true });
    await writeFile(path.join(root, f), content);
  }
  return root;
}

/** A library-style dependency chart (one ConfigMap). */
export async function writeLibChart(dir: string, name = 'lib', version = '1.0.0'): Promise<string> {
  const root = path.join(dir, name);
  await mkdir(path.join(root, 'templates'), { recursive: true });
  await writeFile(path.join(root, 'Chart.yaml'), `apiVersion: v2\nname: ${name}\nversion: ${version}\n`);
  await writeFile(path.join(root, 'values.yaml'), 'greeting: hello\n');
  await writeFile(path.join(root, 'templates', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}\ndata:\n  greeting: {{ .Values.greeting }}\n');
  return root;
}

/** A request the loopback repository saw. */
export interface SeenRequest {
  path: string;
  authorization?: string;
}

/** A loopback HTTP chart repository serving a directory. */
export interface ChartRepoServer {
  url: string;
  dir: string;
  requests: SeenRequest[];
  /** Regenerates index.yaml with `helm repo index` (chart URLs relative unless baseUrl is given). */
  reindex(baseUrl?: string): Promise<void>;
  close(): Promise<void>;
}

/** Serves `dir` on 127.0.0.1; with `auth`, every request needs that basic auth (else 401). */
export async function serveChartRepo(dir: string, opts: { auth?: { username: string; password: string } } = {}): Promise<ChartRepoServer> {
  const requests: SeenRequest[] = [];
  const expected = opts.auth ? 'Basic ' + Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64') : undefined;
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent((req.url ?? '/').split('?')[0]);
    requests.push({ path: p, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    if (expected && req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="charts"' });
      res.end('unauthorized');
      return;
    }
    const file = path.join(dir, path.normalize(p).replace(/^(\.\.[/\\])+/, ''));
    readFile(file).then(
      (data) => {
        res.writeHead(200, { 'content-type': file.endsWith('.yaml') ? 'application/x-yaml' : 'application/gzip' });
        res.end(data);
      },
      () => {
        res.writeHead(404);
        res.end('not found');
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const repo: ChartRepoServer = {
    url,
    dir,
    requests,
    async reindex(baseUrl) {
      const runner = await sharedRunner();
      await runner.exec('repo index', ['repo', 'index', dir, ...(baseUrl ? ['--url', baseUrl] : [])], { timeoutMs: 60_000 });
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  atEnd(() => repo.close());
  return repo;
}

/** Packages a chart directory into `dest` with the real helm and returns the .tgz path. */
export async function packageChart(chartDir: string, dest: string, version?: string): Promise<string> {
  const runner = await sharedRunner();
  await mkdir(dest, { recursive: true });
  return runner.package(chartDir, { destination: dest, ...(version ? { version } : {}) });
}

/** The .tgz files in a directory. */
export async function tgzFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.tgz')).sort();
}

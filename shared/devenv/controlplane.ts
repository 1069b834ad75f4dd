/**
 * A real local Kubernetes control plane: etcd + kube-apiserver + kube-controller-manager
 * (v1.20.2, built from Debian's source package) on free loopback ports. Used by the tests,
 * by `npm start` and by `fluxless dev cluster up`.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { EnvironmentError } from '../util/errors.js';
import { log } from '../util/log.js';
import { cacheDir, packageRoot } from './paths.js';
import { freePort, startSupervised, waitUntil, type Supervised } from './process.js';

/** Kubernetes version of the local control plane's binaries. */
export const K8S_VERSION = '1.20.2';
/** Must match BUILD_REV in infra/dev/install-control-plane.sh. */
const BUILD_REV = 'fl2';
/** Environment variable naming the kubeconfig of an existing cluster to use instead of the local control plane. */
export const EXTERNAL_KUBECONFIG_ENV = 'FLUXLESS_TEST_KUBECONFIG';
const HINT = `Set ${EXTERNAL_KUBECONFIG_ENV} to the kubeconfig of an existing cluster (kind, EKS, ...) to use it instead.`;

/** A running local control plane: its admin kubeconfig, API server URL and token, data directory, and stop(). */
export interface ControlPlane {
  /** Path of a kubeconfig file with admin credentials (context `fluxless-dev`). */
  readonly kubeconfigPath: string;
  readonly kubeconfig: string;
  readonly server: string;
  readonly token: string;
  /** Directory holding all data; removed by stop(). */
  readonly dataDir: string;
  stop(): Promise<void>;
}

/** Paths of the etcd, kube-apiserver and kube-controller-manager binaries. */
export interface ControlPlaneBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
}

/** Directory where this machine's built kube-apiserver and kube-controller-manager are cached. */
export function binaryDir(): string {
  return path.join(cacheDir(), `kubernetes-${K8S_VERSION}-${BUILD_REV}`);
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, cmd);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/** Finds the control plane binaries (etcd on PATH, the rest in binaryDir()); undefined when any is missing. */
export function findBinaries(): ControlPlaneBinaries | undefined {
  const etcd = which('etcd');
  const kubeApiserver = path.join(binaryDir(), 'kube-apiserver');
  const kubeControllerManager = path.join(binaryDir(), 'kube-controller-manager');
  if (!etcd || !existsSync(kubeApiserver) || !existsSync(kubeControllerManager)) return undefined;
  return { etcd, kubeApiserver, kubeControllerManager };
}

/**
 * Installs etcd and builds kube-apiserver / kube-controller-manager when missing (once per
 * machine, cached under the user's cache dir). Output goes to stderr.
 */
export async function ensureBinaries(): Promise<ControlPlaneBinaries> {
  const found = findBinaries();
  if (found) return found;
  const script = path.join(packageRoot(), 'infra', 'dev', 'install-control-plane.sh');
  if (!existsSync(script)) throw new EnvironmentError(`the installer ${script} is missing`, { hint: HINT });
  log.info('installing the local control plane (once per machine)', { script });
  const code = await new Promise<number | null>((resolve, reject) => {
    const p = spawn('bash', [script], { stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('error', reject);
    p.on('exit', resolve);
  });
  const after = findBinaries();
  if (code !== 0 || !after) {
    throw new EnvironmentError(
      `could not install the local control plane (${script} exited ${code}). ${HINT}`,
      { hint: HINT },
    );
  }
  return after;
}

function get(url: string, token?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(
      url,
      { rejectUnauthorized: false, headers: token ? { authorization: `Bearer ${token}` } : {}, timeout: 2000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

function isPortClash(err: unknown): boolean {
  return err instanceof EnvironmentError && /address already in use|bind: /i.test(err.message);
}

/** Options of startControlPlane: installing missing binaries, data directory, controller manager, readiness timeout. */
export interface StartOptions {
  /** Build/install missing binaries (default true). */
  install?: boolean;
  /** Where to put data (default: a new temp dir). Removed on stop. */
  dataDir?: string;
  /** Start kube-controller-manager too (default true). */
  controllerManager?: boolean;
  readyTimeoutMs?: number;
}

/** Starts etcd, kube-apiserver and (by default) kube-controller-manager on free loopback ports and waits until ready. */
export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  const bins = opts.install === false ? findBinaries() : await ensureBinaries();
  if (!bins) {
    throw new EnvironmentError(
      `kube-apiserver ${K8S_VERSION} is not built on this machine (looked in ${binaryDir()}) and etcd must be on PATH. ` +
        `Run 'npm run setup' (needs root and apt) or: ${HINT}`,
      { hint: HINT },
    );
  }
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(bins, opts);
    } catch (err) {
      lastErr = err;
      if (!isPortClash(err)) throw err;
      log.warn('port clash while starting the control plane; retrying on other ports', { attempt });
    }
  }
  throw lastErr;
}

async function startOnce(bins: ControlPlaneBinaries, opts: StartOptions): Promise<ControlPlane> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'fluxless-cp-'));
  mkdirSync(dataDir, { recursive: true });
  const procs: Supervised[] = [];
  const stopAll = async () => {
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = startSupervised({
      name: 'etcd',
      command: bins.etcd,
      args: [
        '--name=fluxless',
        `--data-dir=${path.join(dataDir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=fluxless=http://127.0.0.1:${peerPort}`,
        '--quota-backend-bytes=4294967296',
        '--log-level=warn',
      ],
      logFile: path.join(dataDir, 'etcd.log'),
      // etcd stops last: its watchdog removes the data dir if we die without stopping.
      cleanupDir: opts.dataDir ? undefined : dataDir,
    });
    procs.push(etcd);
    await waitUntil('etcd to become healthy', async () => (await get(`${etcdUrl}/health`)) === 200, {
      timeoutMs: readyTimeoutMs,
      proc: etcd,
      hint: HINT,
    });

    const token = randomBytes(24).toString('hex');
    const pki = path.join(dataDir, 'pki');
    mkdirSync(pki, { recursive: true });
    writeFileSync(path.join(pki, 'tokens.csv'), `${token},admin,admin,system:masters\n`, { mode: 0o600 });
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const saKey = path.join(pki, 'sa.key');
    const saPub = path.join(pki, 'sa.pub');
    writeFileSync(saKey, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
    writeFileSync(saPub, publicKey.export({ type: 'spki', format: 'pem' }));
    const apiserver = startSupervised({
      name: 'kube-apiserver',
      command: bins.kubeApiserver,
      args: [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        '--insecure-port=0',
        `--cert-dir=${pki}`,
        `--token-auth-file=${path.join(pki, 'tokens.csv')}`,
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        '--service-account-issuer=https://kubernetes.default.svc',
        '--authorization-mode=RBAC',
        '--service-cluster-ip-range=10.96.0.0/16',
        '--allow-privileged=true',
        '--enable-priority-and-fairness=false',
        '--v=0',
      ],
      logFile: path.join(dataDir, 'kube-apiserver.log'),
    });
    procs.push(apiserver);
    const server = `https://127.0.0.1:${apiPort}`;
    await waitUntil('kube-apiserver /readyz', async () => (await get(`${server}/readyz`, token)) === 200, {
      timeoutMs: readyTimeoutMs,
      proc: apiserver,
      hint: HINT,
    });

    const crt = path.join(pki, 'apiserver.crt');
    const caData = existsSync(crt) ? readFileSync(crt).toString('base64') : undefined;
    const kubeconfig = [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: fluxless-dev',
      '  cluster:',
      `    server: ${server}`,
      caData ? `    certificate-authority-data: ${caData}` : '    insecure-skip-tls-verify: true',
      'users:',
      '- name: admin',
      '  user:',
      `    token: ${token}`,
      'contexts:',
      '- name: fluxless-dev',
      '  context:',
      '    cluster: fluxless-dev',
      '    user: admin',
      'current-context: fluxless-dev',
      '',
    ].join('\n');
    const kubeconfigPath = path.join(dataDir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 });

    if (opts.controllerManager !== false) {
      const kcm = startSupervised({
        name: 'kube-controller-manager',
        command: bins.kubeControllerManager,
        args: [
          `--kubeconfig=${kubeconfigPath}`,
          `--service-account-private-key-file=${saKey}`,
          `--root-ca-file=${crt}`,
          '--use-service-account-credentials=false',
          '--leader-elect=false',
          '--secure-port=0',
          '--port=0',
          "--controllers=*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-route,-service",
          '--concurrent-deployment-syncs=10',
          '--concurrent-replicaset-syncs=10',
          '--concurrent-gc-syncs=20',
          // The default client limit (20 requests/s) makes controllers lag behind a burst
          // of new Deployments by many seconds; a dev cluster has the headroom.
          '--kube-api-qps=200',
          '--kube-api-burst=400',
          '--v=0',
        ],
        logFile: path.join(dataDir, 'kube-controller-manager.log'),
      });
      procs.push(kcm);
      // Ready when the controller manager has created the default ServiceAccount.
      await waitUntil(
        'kube-controller-manager (the default ServiceAccount to appear)',
        async () => (await get(`${server}/api/v1/namespaces/default/serviceaccounts/default`, token)) === 200,
        { timeoutMs: readyTimeoutMs, proc: kcm, hint: HINT },
      );
    }
    log.info('local control plane ready', { server, dataDir });
    return {
      kubeconfigPath,
      kubeconfig,
      server,
      token,
      dataDir,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

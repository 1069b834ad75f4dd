/**
 * The helm binary for HelmRelease and HelmChart reconciles: one HelmRunner per cluster per
 * process (its private Helm home under the system temp dir, /tmp on Lambda; its process
 * semaphore shared by every reconcile), removed when the process exits.
 *
 * helm needs a kubeconfig, and a KubeClient does not expose its credentials, so the
 * KubeConfig behind the services' client is found, in order: `svc.kubeConfig` (when the
 * runtime provides it), a registration made with registerHelmKubeConfig, else the first
 * kubeconfig of the environment (FLUXLESS_KUBECONFIG, KUBECONFIG, FLUXLESS_KUBECONFIG_DATA,
 * the default loading rules, in-cluster) whose current cluster is the client's server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { HelmRunner } from '../../helm/runner.js';
import { validationSourceFor } from '../../helm/validation-source.js';
import type { KubeClient } from '../../kube/client.js';
import { KUBECONFIG_DATA_ENV, loadKubeConfigFile, parseKubeConfig } from '../../kube/kubeconfig.js';
import type { ReconcileServices } from '../../reconcile/contract.js';
import { EnvironmentError } from '../../util/errors.js';
import { trimEnd } from '../../util/trim.js';

const registered = new WeakMap<KubeClient, KubeConfig>();
const runners = new WeakMap<KubeConfig, Promise<HelmRunner>>();
let offline: Promise<HelmRunner> | undefined;
const homes = new Set<string>();
let exitHook = false;

/** Registers the KubeConfig the given client was made from, for the helm binary. */
export function registerHelmKubeConfig(client: KubeClient, kc: KubeConfig): void {
  registered.set(client, kc);
}

/** Kubeconfigs the environment names, tried in order (each only used when its server is the client's). */
function envCandidates(): Array<() => KubeConfig> {
  const out: Array<() => KubeConfig> = [];
  for (const file of [process.env.FLUXLESS_KUBECONFIG, ...(process.env.KUBECONFIG ?? '').split(':')]) if (file) out.push(() => loadKubeConfigFile(file));
  const data = process.env[KUBECONFIG_DATA_ENV]?.trim();
  if (data) out.push(() => parseKubeConfig(Buffer.from(data, 'base64').toString('utf8'), KUBECONFIG_DATA_ENV, ''));
  out.push(() => {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    return kc;
  });
  return out;
}

function fromEnv(server: string): KubeConfig | undefined {
  for (const make of envCandidates()) {
    try {
      const kc = make();
      const current = kc.getCurrentCluster()?.server;
      if (current !== undefined && trimEnd(current, '/') === server) return kc;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** The KubeConfig of the services' cluster, for helm; throws EnvironmentError when none is known. */
export function helmKubeConfig(svc: Pick<ReconcileServices, 'client'> & { kubeConfig?: KubeConfig }): KubeConfig {
  let kc = svc.kubeConfig ?? registered.get(svc.client);
  if (!kc) {
    kc = fromEnv(svc.client.server);
    if (kc) registered.set(svc.client, kc);
  }
  if (!kc) {
    throw new EnvironmentError(`no kubeconfig for ${svc.client.server} is known to run helm with`, {
      hint: 'pass the runtime kubeConfig (ReconcileServices.kubeConfig), call registerHelmKubeConfig, or set FLUXLESS_KUBECONFIG to the cluster kubeconfig file',
    });
  }
  return kc;
}

function track(r: HelmRunner): HelmRunner {
  homes.add(r.home);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const h of homes) rmSync(h, { recursive: true, force: true });
    });
  }
  return r;
}

function settings(svc: Pick<ReconcileServices, 'settings'>): { memoryMiB: number; concurrency: number } {
  const c = Number(process.env.FLUXLESS_HELM_CONCURRENCY ?? '');
  return { memoryMiB: svc.settings.toolMemoryMiB || 1024, concurrency: Number.isInteger(c) && c > 0 ? c : 8 };
}

/**
 * The process's HelmRunner for the services' cluster (created on first use). Its release
 * manifests are checked against the cluster's OpenAPI document by this process first
 * (helm/validation-source.ts), so helm parses that document only for a manifest that may
 * not pass.
 */
export function helmRunnerFor(svc: Pick<ReconcileServices, 'client' | 'settings'> & { kubeConfig?: KubeConfig }): Promise<HelmRunner> {
  const kc = helmKubeConfig(svc);
  let r = runners.get(kc);
  if (!r) {
    const source = validationSourceFor(svc.client);
    r = HelmRunner.create({ kubeConfig: kc, ...settings(svc), manifestCheck: (m, signal) => source.problem(m, signal) }).then(track);
    runners.set(kc, r);
    r.catch(() => runners.delete(kc));
  }
  return r;
}

/** A HelmRunner without cluster access, for `helm package` and `helm template`. */
export function offlineHelmRunner(svc: Pick<ReconcileServices, 'settings'>): Promise<HelmRunner> {
  if (!offline) {
    offline = HelmRunner.create(settings(svc)).then(track);
    offline.catch(() => (offline = undefined));
  }
  return offline;
}

let chartsDir: string | undefined;

/** A private directory (under the system temp dir) for the chart files helm reads, removed at exit. */
export function chartFilesDir(): string {
  if (!chartsDir) {
    chartsDir = mkdtempSync(path.join(os.tmpdir(), `fluxless-charts-${process.pid}-`));
    homes.add(chartsDir);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => {
        for (const h of homes) rmSync(h, { recursive: true, force: true });
      });
    }
  }
  return chartsDir;
}

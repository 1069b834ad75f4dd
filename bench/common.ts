/** Shared setup for benchmarks: a cluster (KUBECONFIG / FLUXLESS_TEST_KUBECONFIG, else a local control plane). */
import { EXTERNAL_KUBECONFIG_ENV, startControlPlane } from '../shared/devenv/controlplane.js';

export async function benchCluster(): Promise<{ kubeconfigPath: string; stop(): Promise<void> }> {
  const ext = process.env[EXTERNAL_KUBECONFIG_ENV];
  if (ext) return { kubeconfigPath: ext, stop: async () => undefined };
  const cp = await startControlPlane();
  return { kubeconfigPath: cp.kubeconfigPath, stop: () => cp.stop() };
}

export function seconds(ms: number): string {
  return (ms / 1000).toFixed(2) + 's';
}

export async function timed<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await f();
  return { ms: performance.now() - t, value };
}

/** `fluxless dev cluster up|down|kubeconfig`: the local control plane for trying Fluxless. */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startControlPlane } from '../devenv/controlplane.js';
import { FluxlessError } from '../util/errors.js';
import { waitForSignal } from './signals.js';

interface DevClusterState {
  pid: number;
  kubeconfigPath: string;
  server: string;
}

function stateFile(dataDir: string): string {
  return path.join(dataDir, 'dev-cluster.json');
}

function readState(dataDir: string): DevClusterState | undefined {
  const f = stateFile(dataDir);
  if (!existsSync(f)) return undefined;
  const s = JSON.parse(readFileSync(f, 'utf8')) as DevClusterState;
  try {
    process.kill(s.pid, 0);
    return s;
  } catch {
    rmSync(f, { force: true });
    return undefined;
  }
}

/** `fluxless dev cluster up|down|kubeconfig`. */
export async function devCluster(action: string | undefined, dataDir: string): Promise<number> {
  switch (action) {
    case 'up': {
      const running = readState(dataDir);
      if (running) {
        throw new FluxlessError('AlreadyRunning', `a dev cluster is already running (pid ${running.pid})`, {
          hint: `export KUBECONFIG=${running.kubeconfigPath}`,
        });
      }
      const cp = await startControlPlane();
      mkdirSync(dataDir, { recursive: true });
      const kubeconfigPath = path.resolve(dataDir, 'dev-kubeconfig');
      writeFileSync(kubeconfigPath, cp.kubeconfig, { mode: 0o600 });
      writeFileSync(stateFile(dataDir), JSON.stringify({ pid: process.pid, kubeconfigPath, server: cp.server }));
      console.log(`Local control plane (kube-apiserver v1.20.2) at ${cp.server}`);
      console.log(`  export KUBECONFIG=${kubeconfigPath}`);
      console.log('Press Ctrl-C (or run `fluxless dev cluster down`) to stop it and delete its data.');
      await waitForSignal();
      await cp.stop();
      rmSync(stateFile(dataDir), { force: true });
      rmSync(kubeconfigPath, { force: true });
      console.log('stopped');
      return 0;
    }
    case 'down': {
      const running = readState(dataDir);
      if (!running) {
        console.log('no dev cluster is running');
        return 0;
      }
      process.kill(running.pid, 'SIGTERM');
      for (let i = 0; i < 100 && readState(dataDir); i++) await new Promise((r) => setTimeout(r, 100));
      console.log('stopped');
      return 0;
    }
    case 'kubeconfig': {
      const running = readState(dataDir);
      if (!running) throw new FluxlessError('NotRunning', 'no dev cluster is running', { hint: 'start one with `fluxless dev cluster up`' });
      console.log(running.kubeconfigPath);
      return 0;
    }
    default:
      throw new FluxlessError('Usage', `unknown action '${action ?? ''}' for 'dev cluster'`, {
        hint: 'use: fluxless dev cluster up|down|kubeconfig',
      });
  }
}

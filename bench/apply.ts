/**
 * npm run bench:apply — 500 objects (ConfigMaps, ServiceAccounts, Services, Deployments scaled
 * to 0) applied by our engine and by `kubectl apply --server-side` to the same API server in
 * the same run: first apply, no-op re-apply, 10% changed. Prints times, ratios ours/kubectl,
 * and a RESULT line.
 *
 * The no-op is measured both ways: the default path (GET + dry-run per object, as Flux) and
 * the stamped path (`lastApplied`: one LIST per kind and namespace, dry-run only for objects
 * whose resourceVersion moved). The first stamped no-op after the objects were created also
 * re-checks the objects controllers wrote to since (Deployment status and revision, the
 * ServiceAccount token controller): that one is `settle_calls_per_object`; the steady-state
 * one after it is `noop_calls_per_object`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { ApplyEngine, type AppliedStamp, type ChangeEntry } from '../shared/apply/engine.js';
import { createKubeClient } from '../shared/kube/client.js';
import { inventoryId, type KubeObject, type ObjectRef } from '../shared/kube/object.js';
import { ensureTools } from '../shared/render/tools.js';
import { configureLogging } from '../shared/util/log.js';
import { benchCluster, seconds, timed } from './common.js';

const run = promisify(execFile);
const N = Number(process.env.BENCH_OBJECTS ?? 500);

function objects(ns: string, version: number, changedEvery = 0): KubeObject[] {
  const out: KubeObject[] = [];
  const per = Math.floor(N / 4);
  for (let i = 0; i < per; i++) {
    const v = changedEvery && i % changedEvery === 0 ? version : 1;
    out.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}`, namespace: ns }, data: { index: String(i), v: String(v) } });
    out.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: `sa-${i}`, namespace: ns, labels: { v: String(v) } } });
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `svc-${i}`, namespace: ns },
      spec: { selector: { app: `app-${i}` }, ports: [{ port: 80, protocol: 'TCP', targetPort: 8080 + (v % 2) }] },
    });
    out.push({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: `app-${i}`, namespace: ns },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: `app-${i}` } },
        template: { metadata: { labels: { app: `app-${i}` } }, spec: { containers: [{ name: 'app', image: `nginx:1.${20 + v}` }] } },
      },
    });
  }
  return out;
}

async function main(): Promise<void> {
  configureLogging({ level: 'warn' });
  const cluster = await benchCluster();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fluxless-bench-'));
  try {
    const { kubectl } = await ensureTools();
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const client = createKubeClient(kc);
    const suffix = Date.now().toString(36);
    const nsOurs = `bench-ours-${suffix}`;
    const nsKubectl = `bench-kubectl-${suffix}`;
    for (const ns of [nsOurs, nsKubectl]) {
      await client.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
    }
    // Let the controller manager create the namespaces' default ServiceAccounts first.
    await new Promise((r) => setTimeout(r, 2000));
    const kubectlApply = async (objs: KubeObject[], name: string) => {
      const file = path.join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));
      await run(kubectl, ['--kubeconfig', cluster.kubeconfigPath, 'apply', '--server-side', '--field-manager=bench', '-f', file], {
        maxBuffer: 64 * 1024 * 1024,
      });
    };
    const engine = new ApplyEngine(client, { fieldManager: 'fluxless-bench' });
    const results: Record<string, { ours: number; kubectl: number }> = {};
    const phases: Array<[string, number, number]> = [
      ['first', 1, 0],
      ['noop', 1, 0],
      ['changed', 2, 10],
    ];
    let dryRunNoopCalls = 0;
    // What a reconciler would keep in its inventory: the stamp of each object.
    const stamps = new Map<string, AppliedStamp>();
    const keep = (entries: ChangeEntry[]) => {
      for (const e of entries) if (e.stamp) stamps.set(inventoryId(e.ref), e.stamp);
    };
    const lastApplied = (ref: ObjectRef) => stamps.get(inventoryId(ref));
    const stampedNoop = async (label: string) => {
      const before = client.requestCount;
      const o = await timed(() => engine.applyAll(objects(nsOurs, 1, 0), { lastApplied }));
      const changed = o.value.filter((e) => e.action !== 'unchanged').length;
      if (changed) throw new Error(`${label} changed ${changed} objects`);
      keep(o.value);
      return { ms: o.ms, calls: (client.requestCount - before) / N };
    };
    let settle = { ms: 0, calls: 0 };
    let stamped = { ms: 0, calls: 0 };
    for (const [phase, version, every] of phases) {
      const k = await timed(() => kubectlApply(objects(nsKubectl, version, every), phase));
      const before = client.requestCount;
      const o = await timed(() => engine.applyAll(objects(nsOurs, version, every), phase === 'first' ? { lastApplied } : {}));
      if (phase === 'first') keep(o.value);
      if (phase === 'noop') {
        dryRunNoopCalls = (client.requestCount - before) / N;
        const changed = o.value.filter((e) => e.action !== 'unchanged').length;
        if (changed) throw new Error(`no-op re-apply changed ${changed} objects`);
        // The stamped no-op, against the same kubectl no-op time.
        settle = await stampedNoop('settling no-op');
        stamped = await stampedNoop('stamped no-op');
        console.log(`noop-lst ours ${seconds(stamped.ms).padStart(8)}  kubectl ${seconds(k.ms).padStart(8)}  ratio ${(stamped.ms / k.ms).toFixed(2)}  (settle ${seconds(settle.ms)})`);
        results['noop-stamped'] = { ours: stamped.ms, kubectl: k.ms };
      }
      if (phase === 'changed') {
        const changed = o.value.filter((e) => e.action === 'configured').length;
        console.log(`  changed phase: ${changed} objects configured`);
      }
      results[phase] = { ours: o.ms, kubectl: k.ms };
      console.log(`${phase.padEnd(8)} ours ${seconds(o.ms).padStart(8)}  kubectl ${seconds(k.ms).padStart(8)}  ratio ${(o.ms / k.ms).toFixed(2)}`);
    }
    for (const ns of [nsOurs, nsKubectl]) await client.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => undefined);
    client.close();
    const r = (p: string) => (results[p].ours / results[p].kubectl).toFixed(2);
    console.log(`objects=${N} (kubectl apply --server-side is the baseline, same API server, same run)`);
    console.log(
      `RESULT first_ratio=${r('first')} noop_ratio=${r('noop')} changed_ratio=${r('changed')} noop_stamped_ratio=${r('noop-stamped')} ` +
        `noop_calls_per_object=${stamped.calls.toFixed(3)} settle_calls_per_object=${settle.calls.toFixed(3)} noop_dryrun_calls_per_object=${dryRunNoopCalls.toFixed(2)}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await cluster.stop();
  }
}

await main();

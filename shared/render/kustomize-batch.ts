/**
 * Runs concurrent kustomize builds in shared `kubectl kustomize` processes.
 *
 * Starting kubectl costs ~0.1 s of CPU however small the build; a fleet of hundreds of small
 * Kustomizations spends most of its render time there. The batcher runs at most `maxProcs`
 * kubectl processes for batchable builds; requests that arrive while they are busy are
 * built together by the next one, through a generated kustomization in a temporary
 * directory:
 *
 *   sortOptions: {order: fifo}
 *   resources: [<build 1>, sentinel-1.yaml, <build 2>, sentinel-2.yaml, ...]
 *
 * With FIFO order each build's objects come out contiguous, followed by its sentinel (a
 * ConfigMap whose name holds a random nonce), so the output splits back into one result per
 * build. Order within a build may differ from a lone build's (kustomize's legacy kind
 * order); callers must not depend on it (the apply engine sorts).
 *
 * A batch never changes what a build produces:
 *  - only builds whose whole kustomization graph is batch-safe join one (no renames, vars,
 *    generators, plugins, schemas or decorations that act across the top-level build; see
 *    batch-safety.ts, run by references.ts);
 *  - a build whose output holds objects with namespaced references that kustomize rewrites
 *    at the top level (RoleBinding subjects, webhook and APIService service references, CRD
 *    conversion webhooks) is built again on its own;
 *  - when the batch fails (one bad build, or objects that collide across builds), every
 *    build in it runs on its own, so errors are exactly those of a lone build.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EnvironmentError } from '../util/errors.js';
import { log } from '../util/log.js';
import { configuredBatcherOptions, type KustomizeBatcherOptions } from './kustomize-batch-options.js';
import { kustomizeBuild, type KustomizeOptions } from './kustomize-run.js';

export { configureKustomizeBatching, type KustomizeBatcherOptions } from './kustomize-batch-options.js';

/** Kinds whose namespaced references kustomize may rewrite across builds at the top level. */
const CROSS_BUILD_REFERRERS = /^kind:\s*["']?(RoleBinding|ClusterRoleBinding|MutatingWebhookConfiguration|ValidatingWebhookConfiguration|APIService|CustomResourceDefinition)["']?\s*$/m;

/** A build waiting for a kubectl process. */
interface Pending {
  dir: string;
  /** The caller's options (with its signal: a build run alone can be cancelled). */
  opts: KustomizeOptions;
  resolve(text: string): void;
  reject(err: unknown): void;
}

/** Runs concurrent batch-safe builds together in shared kubectl processes. */
export class KustomizeBatcher {
  private readonly queue: Pending[] = [];
  private running = 0;
  private readonly maxProcs: number;
  private readonly maxBatch: number;
  private readonly gatherMs: number;
  private gatherTimer: NodeJS.Timeout | undefined;
  private firstQueuedAt = 0;
  /** Counters, for benchmarks and tests. */
  readonly stats = { builds: 0, processes: 0, batches: 0, fallbacks: 0, rebuilt: 0 };

  constructor(
    private readonly kubectl: string,
    opts: KustomizeBatcherOptions = {},
  ) {
    this.maxProcs = Math.max(1, opts.maxProcs ?? Math.floor(os.availableParallelism() / 2));
    this.maxBatch = Math.max(1, opts.maxBatch ?? 32);
    this.gatherMs = Math.max(0, opts.gatherMs ?? 50);
  }

  /** Builds `dir` (as kustomizeBuild does), possibly together with concurrent builds. */
  build(dir: string, opts: KustomizeOptions): Promise<string> {
    this.stats.builds++;
    return new Promise<string>((resolve, reject) => {
      const p: Pending = { dir, opts, resolve, reject };
      const signal = opts.signal;
      if (signal) {
        if (signal.aborted) return reject(new EnvironmentError('kustomize build was cancelled'));
        // A cancelled request stops waiting; a batch already running carries on for the others.
        signal.addEventListener('abort', () => {
          const i = this.queue.indexOf(p);
          if (i >= 0) this.queue.splice(i, 1);
          if (!this.queue.length) this.clearGather();
          reject(new EnvironmentError('kustomize build was cancelled'));
        }, { once: true });
      }
      if (!this.queue.length) this.firstQueuedAt = Date.now();
      this.queue.push(p);
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.maxProcs && this.queue.length) {
      const wait = this.firstQueuedAt + this.gatherMs - Date.now();
      if (this.queue.length < this.maxBatch && wait > 0) {
        this.gatherTimer ??= setTimeout(() => {
          this.gatherTimer = undefined;
          this.pump();
        }, wait);
        return;
      }
      const batch = this.queue.splice(0, this.maxBatch);
      this.firstQueuedAt = Date.now();
      if (!this.queue.length) this.clearGather();
      this.running++;
      void this.run(batch).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  /** Nothing is waiting any more: no timer may keep the process alive for it. */
  private clearGather(): void {
    if (this.gatherTimer) clearTimeout(this.gatherTimer);
    this.gatherTimer = undefined;
  }

  private async run(batch: Pending[]): Promise<void> {
    if (batch.length === 1) return this.alone(batch[0]!);
    this.stats.batches++;
    let parts: string[];
    try {
      parts = await this.together(batch);
    } catch (err) {
      // One bad build (or a collision between builds) fails the whole run: redo each alone,
      // so every caller gets exactly the result or error a lone build gives.
      this.stats.fallbacks++;
      log.debug('kustomize batch failed; building each alone', { builds: batch.length, error: (err as Error).message });
      for (const p of batch) await this.alone(p);
      return;
    }
    for (let i = 0; i < batch.length; i++) {
      const part = parts[i]!;
      if (CROSS_BUILD_REFERRERS.test(part)) {
        this.stats.rebuilt++;
        await this.alone(batch[i]!);
      } else batch[i]!.resolve(part);
    }
  }

  private async alone(p: Pending): Promise<void> {
    this.stats.processes++;
    try {
      p.resolve(await kustomizeBuild(this.kubectl, p.dir, p.opts));
    } catch (err) {
      p.reject(err);
    }
  }

  /** One kubectl run for all of `batch`; returns each build's YAML, in order. */
  private async together(batch: Pending[]): Promise<string[]> {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'fluxless-kbatch-'));
    try {
      const nonce = randomBytes(8).toString('hex');
      const sentinel = (i: number) => `fluxless-batch-${nonce}-${i}`;
      const resources: string[] = [];
      for (let i = 0; i < batch.length; i++) {
        resources.push(path.relative(tmp, batch[i]!.dir) || '.');
        const file = `sentinel-${i}.yaml`;
        await writeFile(path.join(tmp, file), `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${sentinel(i)}\n  namespace: fluxless-batch-${nonce}\n`);
        resources.push(file);
      }
      await writeFile(
        path.join(tmp, 'kustomization.yaml'),
        `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nsortOptions:\n  order: fifo\nresources:\n${resources.map((r) => `- ${JSON.stringify(r)}\n`).join('')}`,
      );
      this.stats.processes++;
      const text = await kustomizeBuild(this.kubectl, tmp, {
        root: tmp,
        timeoutMs: Math.max(...batch.map((p) => p.opts.timeoutMs ?? 0)) || undefined,
        maxOutputBytes: batch.reduce((n, p) => n + (p.opts.maxOutputBytes ?? 0), 0) || undefined,
        // One process for all: the most generous limit of the batch (a build over its own
        // limit fails the batch and then fails alone, under its own limit).
        memoryLimitMiB: Math.max(...batch.map((p) => p.opts.memoryLimitMiB ?? 0)) || undefined,
        cpuLimitSeconds: Math.max(...batch.map((p) => p.opts.cpuLimitSeconds ?? 0)) || undefined,
        // The strictest load restrictor of the batch (a build that needs more fails the batch, then builds alone).
        anyArtifactFile: batch.every((p) => p.opts.anyArtifactFile === true),
      });
      return splitAtSentinels(text, batch.length, sentinel);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
}

/**
 * Splits kustomize's multi-document output at the sentinel documents. kustomize writes each
 * document from column 0 separated by a `---` line; block scalars are indented, so a `---`
 * line inside a value cannot start a line.
 */
export function splitAtSentinels(text: string, n: number, sentinel: (i: number) => string): string[] {
  const docs = text.split(/^---\r?\n/m);
  const parts: string[] = [];
  let cur: string[] = [];
  let next = 0;
  for (const d of docs) {
    if (next < n && new RegExp(`^  name: ${sentinel(next)}$`, 'm').test(d)) {
      parts.push(cur.join('---\n'));
      cur = [];
      next++;
    } else if (d.trim()) cur.push(d);
  }
  if (next !== n || cur.some((d) => d.trim())) {
    throw new EnvironmentError(`kustomize batch output did not split into ${n} builds (found ${next} markers)`);
  }
  return parts;
}

const batchers = new Map<string, KustomizeBatcher>();

/**
 * The process-wide batcher for one kubectl binary. `opts` apply when it is first made
 * (else those of configureKustomizeBatching; else FLUXLESS_KUSTOMIZE_GATHER_MS is read).
 */
export function kustomizeBatcher(kubectl: string, opts?: KustomizeBatcherOptions): KustomizeBatcher {
  let b = batchers.get(kubectl);
  if (!b) {
    b = new KustomizeBatcher(kubectl, opts ?? configuredBatcherOptions());
    batchers.set(kubectl, b);
  }
  return b;
}

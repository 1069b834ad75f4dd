/**
 * Lambda's execution environments for one function, as separate Node processes
 * (container.ts): an invocation goes to an idle warm container (the most recently used, as
 * Lambda tends to), else to a new one (a cold start: process start and the bundle's module
 * init) while the function is below its concurrency, else waits. A container runs one
 * invocation at a time and is frozen (SIGSTOP) between invocations, as Lambda freezes an
 * idle environment; one that outlives its timeout is killed and replaced by a cold one.
 * Durations are measured here, per invocation, for the GB-second count.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

/** One function as serverless.yml declares it. */
export interface FunctionSpec {
  name: string;
  /** dist/functions/<name>.mjs */
  bundle: string;
  memoryMb: number;
  timeoutS: number;
  /** Concurrent containers at most (the SQS mapping's maximumConcurrency for the worker). */
  maxConcurrency: number;
  env: Record<string, string>;
}

/** What one invocation did. */
export interface InvokeResult {
  ok: boolean;
  result?: unknown;
  error?: string;
  /** Measured duration of the invocation (ms), as Lambda bills it (cold init not included). */
  durationMs: number;
  /** The init phase of a cold start (ms: module import only), when this invocation had one. */
  initMs?: number;
  cold: boolean;
  timedOut: boolean;
}

/** Totals of a function's invocations. */
export interface PoolStats {
  invocations: number;
  coldStarts: number;
  errors: number;
  timeouts: number;
  /** Sum of invocation durations (ms). */
  durationMs: number;
  /** Sum of cold-start init phases (ms, module import). */
  initMs: number;
  /** Every cold start's init (ms), for percentiles. */
  inits: number[];
  /** Process start to bundle loaded, per cold start (ms). */
  spawns: number[];
}

interface Container {
  proc: ChildProcess;
  busy: boolean;
  frozen: boolean;
  dead: boolean;
  pending?: { id: number; resolve(r: { ok: boolean; result?: unknown; error?: string; durationMs: number }): void };
}

/** A fresh stats record. */
export function emptyStats(): PoolStats {
  return { invocations: 0, coldStarts: 0, errors: 0, timeouts: 0, durationMs: 0, initMs: 0, inits: [], spawns: [] };
}

/** A function's containers. */
export class FunctionPool {
  readonly stats: PoolStats = emptyStats();
  private readonly idle: Container[] = [];
  private readonly all = new Set<Container>();
  private readonly waiters: Array<(c: Container | undefined) => void> = [];
  private starting = 0;
  private nextId = 1;
  private closed = false;

  constructor(
    readonly spec: FunctionSpec,
    private readonly hostScript: string,
    private readonly logDir: string,
    private readonly freeze = process.env.BENCH_FREEZE !== '0',
  ) {}

  /** Containers alive now. */
  get size(): number {
    return this.all.size;
  }

  /** Runs one invocation of the function with `event`. */
  async invoke(event: unknown): Promise<InvokeResult> {
    const got = await this.acquire();
    if (!got) return { ok: false, error: 'the pool is closed', durationMs: 0, cold: false, timedOut: false };
    const { c, cold, initMs } = got;
    const id = this.nextId++;
    const timeoutMs = this.spec.timeoutS * 1000;
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const result = await new Promise<{ ok: boolean; result?: unknown; error?: string; durationMs: number; timedOut?: boolean }>((resolve) => {
      c.pending = { id, resolve };
      timer = setTimeout(() => {
        // Task timed out: Lambda tears the environment down; the next invocation starts cold.
        c.pending = undefined;
        this.kill(c);
        resolve({ ok: false, error: `Task timed out after ${this.spec.timeoutS} seconds`, durationMs: timeoutMs, timedOut: true });
      }, timeoutMs);
      this.thaw(c);
      c.proc.send({ type: 'invoke', id, event, timeoutMs, requestId: randomUUID() });
    });
    clearTimeout(timer);
    const durationMs = result.durationMs || performance.now() - t0;
    this.stats.invocations++;
    this.stats.durationMs += Math.ceil(durationMs);
    if (!result.ok) this.stats.errors++;
    if (result.timedOut) this.stats.timeouts++;
    this.release(c);
    return { ok: result.ok, result: result.result, error: result.error, durationMs, initMs, cold, timedOut: Boolean(result.timedOut) };
  }

  private async acquire(): Promise<{ c: Container; cold: boolean; initMs?: number } | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      const warm = this.idle.pop();
      if (warm && !warm.dead) {
        warm.busy = true;
        return { c: warm, cold: false };
      }
      if (warm) continue;
      if (this.all.size + this.starting < this.spec.maxConcurrency) {
        this.starting++;
        try {
          const { c, initMs } = await this.spawn();
          c.busy = true;
          return { c, cold: true, initMs };
        } finally {
          this.starting--;
        }
      }
      const c = await new Promise<Container | undefined>((resolve) => this.waiters.push(resolve));
      if (c) {
        c.busy = true;
        return { c, cold: false };
      }
    }
  }

  private release(c: Container): void {
    c.busy = false;
    if (c.dead || this.closed) {
      this.waiters.shift()?.(undefined);
      return;
    }
    const w = this.waiters.shift();
    if (w) return w(c);
    this.freezeIdle(c);
    this.idle.push(c);
  }

  private spawn(): Promise<{ c: Container; initMs: number }> {
    const n = this.stats.coldStarts + 1;
    const log = openSync(path.join(this.logDir, `${this.spec.name}-${n}.log`), 'a');
    const t0 = performance.now();
    const proc = fork(this.hostScript, [], {
      env: {
        ...this.spec.env,
        BENCH_BUNDLE: this.spec.bundle,
        AWS_LAMBDA_FUNCTION_NAME: this.spec.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(this.spec.memoryMb),
      },
      // BENCH_AWS_CPU_PROF=<dir>: a V8 CPU profile per container, written when the pool closes it.
      execArgv: process.env.BENCH_AWS_CPU_PROF ? ['--enable-source-maps', '--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_AWS_CPU_PROF}`, `--cpu-prof-name=${this.spec.name}-${n}.cpuprofile`] : [],
      stdio: ['ignore', log, log, 'ipc'],
    });
    closeSync(log);
    const c: Container = { proc, busy: false, frozen: false, dead: false };
    this.all.add(c);
    this.stats.coldStarts++;
    return new Promise((resolve, reject) => {
      proc.on('message', (m: { type: string; id?: number; initMs?: number; error?: unknown; ok?: boolean; result?: unknown; durationMs?: number }) => {
        if (m.type === 'ready') {
          const initMs = m.initMs ?? 0;
          this.stats.initMs += Math.ceil(initMs);
          this.stats.inits.push(initMs);
          this.stats.spawns.push(performance.now() - t0);
          resolve({ c, initMs });
        } else if (m.type === 'initError') reject(new Error(`${this.spec.name}: the bundle failed to load: ${String(m.error)}`));
        else if (m.type === 'result' && c.pending && c.pending.id === m.id) {
          const p = c.pending;
          c.pending = undefined;
          const err = m.error as { name?: string; message?: string } | undefined;
          p.resolve({ ok: Boolean(m.ok), result: m.result, error: err ? `${err.name ?? 'Error'}: ${err.message ?? ''}` : undefined, durationMs: m.durationMs ?? 0 });
        }
      });
      proc.on('exit', (code, signal) => {
        c.dead = true;
        this.all.delete(c);
        if (c.pending) {
          const p = c.pending;
          c.pending = undefined;
          p.resolve({ ok: false, error: `Runtime exited (code ${code}, signal ${signal})`, durationMs: 0 });
        }
        reject(new Error(`${this.spec.name}: the container exited during init (code ${code}, signal ${signal})`));
      });
    });
  }

  private freezeIdle(c: Container): void {
    if (!this.freeze || c.frozen || c.dead) return;
    try {
      c.proc.kill('SIGSTOP');
      c.frozen = true;
    } catch {
      /* gone */
    }
  }

  private thaw(c: Container): void {
    if (!c.frozen) return;
    try {
      c.proc.kill('SIGCONT');
    } catch {
      /* gone */
    }
    c.frozen = false;
  }

  private kill(c: Container): void {
    c.dead = true;
    this.all.delete(c);
    this.thaw(c);
    try {
      c.proc.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }

  /** Stops every container (the processes started by this pool only). */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(undefined);
    const exits = [...this.all].map((c) => new Promise<void>((resolve) => {
      if (c.proc.exitCode !== null || c.proc.signalCode !== null) return resolve();
      c.proc.once('exit', () => resolve());
      this.thaw(c);
      c.proc.kill('SIGTERM');
      setTimeout(() => {
        if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
      }, 3000).unref();
    }));
    await Promise.all(exits);
    this.all.clear();
    this.idle.length = 0;
  }
}

/** GB-seconds of a pool's invocations (billed duration, 1 ms granularity, plus init phases) at its memory. */
export function gbSeconds(stats: PoolStats, memoryMb: number): number {
  return ((stats.durationMs + stats.initMs) / 1000) * (memoryMb / 1024);
}

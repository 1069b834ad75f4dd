/**
 * A resource watchdog for child processes: it reads /proc/<pid>/status (VmRSS) and
 * /proc/<pid>/stat (CPU time) every few milliseconds and SIGKILLs a child that goes over its
 * memory or CPU limit. It works wherever /proc does, AWS Lambda included, where neither
 * cgroups nor prlimit are available to the function.
 *
 * The polling runs in a worker thread, so a main thread busy for seconds (parsing a large
 * build output, say) cannot let a runaway child grow meanwhile. The worker writes its
 * verdict into shared memory before it kills, so the parent knows why the child died as
 * soon as it sees the exit. When no worker can be started, the same polling runs on the
 * main thread.
 */
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { log } from '../util/log.js';

/** Limits for one watched process. */
export interface WatchLimits {
  /** Resident memory limit, in KiB. */
  memoryKiB: number;
  /** CPU time limit (user + system), in seconds. */
  cpuSeconds: number;
}

/** Why the watchdog killed a process. */
export type WatchVerdict = 'memory' | 'cpu';

/** A process being watched. */
export interface Watch {
  /** The verdict when the watchdog killed the process, else undefined. */
  verdict(): WatchVerdict | undefined;
  /** Stops watching (call when the process has exited). */
  stop(): void;
}

/** How often the limits are checked (ms). */
export const WATCH_INTERVAL_MS = 20;
const SLOTS = 1024;
/** Linux USER_HZ: /proc CPU times are in 1/100 s on every architecture Node runs on. */
const CLOCK_TICKS = 100;

const VERDICT_CODES: Record<number, WatchVerdict> = { 1: 'memory', 2: 'cpu' };

/** The worker: CommonJS evaluated as a string, so a bundled build needs no extra file. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const flags = new Int32Array(workerData.shared);
const watched = new Map();
let timer = null;
function check(slot, w) {
  let stat;
  try { stat = fs.readFileSync('/proc/' + w.pid + '/stat', 'latin1'); } catch { watched.delete(slot); return; }
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (w.start === undefined) w.start = f[19];
  else if (w.start !== f[19]) { watched.delete(slot); return; }
  if (f[0] === 'Z' || f[0] === 'X') return;
  const ticks = Number(f[11]) + Number(f[12]);
  let rss = 0;
  try {
    const m = /VmRSS:\\s+(\\d+)/.exec(fs.readFileSync('/proc/' + w.pid + '/status', 'latin1'));
    if (m) rss = Number(m[1]);
  } catch { watched.delete(slot); return; }
  const verdict = rss > w.memoryKiB ? 1 : ticks > w.cpuTicks ? 2 : 0;
  if (!verdict) return;
  Atomics.store(flags, slot, verdict);
  try { process.kill(w.pid, 'SIGKILL'); } catch {}
  watched.delete(slot);
}
function tick() {
  for (const [slot, w] of watched) check(slot, w);
  if (!watched.size && timer) { clearInterval(timer); timer = null; }
}
parentPort.on('message', (m) => {
  if (m.op === 'watch') {
    const w = { pid: m.pid, memoryKiB: m.memoryKiB, cpuTicks: m.cpuTicks, start: undefined };
    watched.set(m.slot, w);
    check(m.slot, w);
    if (!timer) timer = setInterval(tick, m.intervalMs);
  } else if (m.op === 'unwatch') {
    watched.delete(m.slot);
  }
});
`;

interface WorkerState {
  worker: Worker;
  flags: Int32Array;
  free: number[];
}

let state: WorkerState | null | undefined;

function workerState(): WorkerState | null {
  if (state !== undefined) return state;
  try {
    const shared = new SharedArrayBuffer(SLOTS * 4);
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { shared } });
    worker.unref();
    const s: WorkerState = { worker, flags: new Int32Array(shared), free: Array.from({ length: SLOTS }, (_, i) => i) };
    worker.on('error', (err) => {
      log.warn('process watchdog worker failed; watching on the main thread', { error: err.message });
      if (state === s) state = null;
    });
    worker.on('exit', () => {
      if (state === s) state = null;
    });
    state = s;
  } catch (err) {
    log.warn('cannot start the process watchdog worker; watching on the main thread', { error: (err as Error).message });
    state = null;
  }
  return state;
}

/** Starts watching `pid` against `limits`; the returned Watch reports a kill and must be stopped. */
export function watchProcess(pid: number, limits: WatchLimits): Watch {
  const cpuTicks = Math.ceil(limits.cpuSeconds * CLOCK_TICKS);
  const s = workerState();
  const slot = s?.free.shift();
  if (s && slot !== undefined) {
    Atomics.store(s.flags, slot, 0);
    s.worker.postMessage({ op: 'watch', slot, pid, memoryKiB: limits.memoryKiB, cpuTicks, intervalMs: WATCH_INTERVAL_MS });
    let stopped = false;
    return {
      verdict: () => VERDICT_CODES[Atomics.load(s.flags, slot)],
      stop: () => {
        if (stopped) return;
        stopped = true;
        s.worker.postMessage({ op: 'unwatch', slot });
        s.free.push(slot); // reused last: the worker has long dropped it by then
      },
    };
  }
  return watchOnMainThread(pid, limits.memoryKiB, cpuTicks);
}

function watchOnMainThread(pid: number, memoryKiB: number, cpuTicks: number): Watch {
  let verdict: WatchVerdict | undefined;
  let start: string | undefined;
  let busy = false;
  const check = async (): Promise<void> => {
    if (busy || verdict) return;
    busy = true;
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (start === undefined) start = f[19];
      else if (start !== f[19]) return stop();
      if (f[0] === 'Z' || f[0] === 'X') return;
      const ticks = Number(f[11]) + Number(f[12]);
      const m = /VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'latin1'));
      const rss = m ? Number(m[1]) : 0;
      const v: WatchVerdict | undefined = rss > memoryKiB ? 'memory' : ticks > cpuTicks ? 'cpu' : undefined;
      if (v) {
        verdict = v;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
        stop();
      }
    } catch {
      stop(); // no /proc entry: the process has exited (or /proc is not there)
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void check(), WATCH_INTERVAL_MS);
  timer.unref();
  const stop = () => clearInterval(timer);
  void check();
  return { verdict: () => verdict, stop };
}

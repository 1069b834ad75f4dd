/**
 * Starting helm processes without stalling the reconciling process. Node's spawn forks the
 * calling process synchronously, and a fork costs in proportion to the parent's memory:
 * from a worker holding a few hundred MiB, each spawn blocks the event loop for 50-150 ms,
 * which at eight helm processes a second is the whole loop. So processes are started by a
 * small helper Node process (forked once, a few tens of MiB), over its IPC channel: the
 * helper spawns, collects the output within the caps, and reports the pid, an overflow,
 * and the exit. Kills go through it too. Without the helper (it failed to start or died),
 * processes are spawned directly.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { log } from '../util/log.js';

/** What starting a process needs. */
export interface LaunchOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Captured stdout cap, bytes: more is an overflow (the caller kills). */
  maxOut: number;
  /** Captured stderr cap, bytes (the rest is dropped). */
  maxErr: number;
}

/**
 * A started process. Events: `pid` (number), `overflow`, `close` (code, signal, stdout,
 * stderr), `error` (Error: it could not be started).
 */
export interface Launched extends EventEmitter {
  kill(signal: NodeJS.Signals): void;
}

/** Starts `file` with `args` (see the module comment). */
export type Launcher = (file: string, args: string[], opts: LaunchOptions) => Launched;

/** Spawns directly from this process. */
export const directLauncher: Launcher = (file, args, opts) => {
  const ev = new EventEmitter() as Launched;
  const child = spawn(file, args, { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let outLen = 0;
  let errLen = 0;
  let over = false;
  ev.kill = (s) => void child.kill(s);
  process.nextTick(() => child.pid && ev.emit('pid', child.pid));
  child.stdout!.on('data', (c: Buffer) => {
    outLen += c.length;
    if (outLen > opts.maxOut) {
      if (!over) ev.emit('overflow');
      over = true;
    } else out.push(c);
  });
  child.stderr!.on('data', (c: Buffer) => {
    errLen += c.length;
    if (errLen <= opts.maxErr) err.push(c);
  });
  child.on('error', (e) => ev.emit('error', e));
  child.on('close', (code, signal) => ev.emit('close', code, signal, Buffer.concat(out), Buffer.concat(err)));
  return ev;
};

/** The helper program: spawns on request, answers on its IPC channel. */
const HELPER = `const { spawn } = require('node:child_process');
const kids = new Map();
process.on('message', (m) => {
  if (m.t === 'kill') { const c = kids.get(m.id); if (c) c.kill(m.signal); return; }
  if (m.t !== 'spawn') return;
  let c;
  try { c = spawn(m.file, m.args, { env: m.env, cwd: m.cwd, stdio: ['ignore', 'pipe', 'pipe'] }); }
  catch (e) { process.send({ t: 'error', id: m.id, message: String(e && e.message || e) }); return; }
  kids.set(m.id, c);
  const out = [], err = []; let ol = 0, el = 0, over = false;
  if (c.pid) process.send({ t: 'pid', id: m.id, pid: c.pid });
  c.stdout.on('data', (d) => { ol += d.length; if (ol > m.maxOut) { if (!over) process.send({ t: 'overflow', id: m.id }); over = true; } else out.push(d); });
  c.stderr.on('data', (d) => { el += d.length; if (el <= m.maxErr) err.push(d); });
  c.on('error', (e) => { kids.delete(m.id); process.send({ t: 'error', id: m.id, message: e.message }); });
  c.on('close', (code, signal) => { kids.delete(m.id); process.send({ t: 'close', id: m.id, code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }); });
});
process.on('disconnect', () => { for (const c of kids.values()) c.kill('SIGTERM'); process.exit(0); });
`;

let helper: ChildProcess | undefined;
let helperDir: string | undefined;
let helperFailed = false;
let nextId = 0;
const pending = new Map<number, Launched>();

function dropHelper(why: string): void {
  const h = helper;
  helper = undefined;
  for (const [, ev] of pending) ev.emit('error', new Error(`the process helper ${why}`));
  pending.clear();
  if (h && h.connected) h.disconnect();
}

function ensureHelper(): ChildProcess | undefined {
  if (helper?.connected) return helper;
  if (helperFailed) return undefined;
  try {
    helperDir ??= mkdtempSync(path.join(os.tmpdir(), `fluxless-spawner-${process.pid}-`));
    const file = path.join(helperDir, 'spawner.cjs');
    writeFileSync(file, HELPER);
    const h = fork(file, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: ['--max-old-space-size=64'], env: { PATH: process.env.PATH ?? '' } });
    h.on('message', (m: { t: string; id: number; pid?: number; code?: number | null; signal?: NodeJS.Signals | null; stdout?: Uint8Array; stderr?: Uint8Array; message?: string }) => {
      const ev = pending.get(m.id);
      if (!ev) return;
      if (m.t === 'pid') ev.emit('pid', m.pid);
      else if (m.t === 'overflow') ev.emit('overflow');
      else if (m.t === 'error') {
        pending.delete(m.id);
        ev.emit('error', new Error(m.message));
      } else if (m.t === 'close') {
        pending.delete(m.id);
        if (!pending.size) unrefHelper(h);
        ev.emit('close', m.code ?? null, m.signal ?? null, Buffer.from(m.stdout ?? []), Buffer.from(m.stderr ?? []));
      }
    });
    h.on('exit', () => {
      if (helper === h) dropHelper('exited');
    });
    h.on('error', (e) => {
      log.warn('the helm process helper failed: starting helm directly from now on', { error: e.message });
      helperFailed = true;
      if (helper === h) dropHelper('failed');
    });
    helper = h;
    unrefHelper(h);
    process.once('exit', () => {
      if (helperDir) rmSync(helperDir, { recursive: true, force: true });
    });
    return h;
  } catch (err) {
    helperFailed = true;
    log.warn('could not start the helm process helper: starting helm directly', { error: (err as Error).message });
    return undefined;
  }
}

function unrefHelper(h: ChildProcess): void {
  h.unref();
  (h.channel as { unref?: () => void } | undefined)?.unref?.();
}

function refHelper(h: ChildProcess): void {
  h.ref();
  (h.channel as { ref?: () => void } | undefined)?.ref?.();
}

/** Starts processes through the helper (falls back to directLauncher). */
export const helperLauncher: Launcher = (file, args, opts) => {
  const h = ensureHelper();
  if (!h) return directLauncher(file, args, opts);
  const id = ++nextId;
  const ev = new EventEmitter() as Launched;
  ev.kill = (signal) => {
    if (helper === h && h.connected) h.send({ t: 'kill', id, signal });
  };
  pending.set(id, ev);
  refHelper(h);
  h.send({ t: 'spawn', id, file, args, env: opts.env, cwd: opts.cwd, maxOut: opts.maxOut, maxErr: opts.maxErr }, (err) => {
    if (err && pending.delete(id)) ev.emit('error', err);
  });
  return ev;
};

/** The launcher to use by default: the helper, unless FLUXLESS_HELM_SPAWN=direct. */
export function defaultLauncher(): Launcher {
  return process.env.FLUXLESS_HELM_SPAWN === 'direct' ? directLauncher : helperLauncher;
}

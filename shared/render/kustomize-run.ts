/**
 * Runs `kubectl kustomize <dir>` once, confined and bounded: the sandbox (sandbox.ts) keeps it
 * off the network unless remote bases are allowed, the watchdog (watchdog.ts) kills it above
 * its memory or CPU limit, a timer above its wall-clock limit, and its output is capped.
 * Whatever goes wrong becomes a typed error whose message holds no host path and no Go
 * stack dump.
 */
import { spawn } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EnvironmentError, ValidationError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { KustomizeLimitError } from './errors.js';
import { displayPath } from './generator.js';
import { sandboxedCommand } from './sandbox.js';
import { cacheDir } from './tools.js';
import { watchProcess } from './watchdog.js';

/** Default wall-clock limit of one kustomize run. */
export const DEFAULT_BUILD_TIMEOUT_MS = 120_000;
/** Default cap on kustomize's output. */
export const DEFAULT_MAX_OUTPUT_BYTES = 128 * 1024 * 1024;
/** Default resident memory limit of one kustomize run (fits a 1 GiB Lambda next to Node). */
export const DEFAULT_MEMORY_LIMIT_MIB = 512;
/** Default CPU-time limit of one kustomize run. */
export const DEFAULT_CPU_LIMIT_SECONDS = 60;
const MAX_STDERR_BYTES = 64 * 1024;
const MAX_MESSAGE_CHARS = 4096;

/** Resource limits of a kustomize run; every one has a default. */
export interface KustomizeLimits {
  /** Kill kustomize after this long (ms, default 120 s). */
  timeoutMs?: number;
  /** Fail when kustomize writes more than this many bytes (default 128 MiB). */
  maxOutputBytes?: number;
  /** Kill kustomize when its resident memory goes above this (MiB, default 512). */
  memoryLimitMiB?: number;
  /** Kill kustomize when it has used this much CPU time (s, default 60). */
  cpuLimitSeconds?: number;
}

/** Options of one kustomize run. */
export interface KustomizeOptions extends KustomizeLimits {
  /** The artifact root: paths below it are shown relative to it in messages. */
  root: string;
  /** Let kustomize reach the network (remote bases). Default false. */
  allowRemoteBases?: boolean;
  /**
   * Let kustomize read any file below its working tree (`LoadRestrictionsNone`, as
   * kustomize-controller builds), for a graph references.ts found fully contained
   * (`anyArtifactFile`). Default false: `LoadRestrictionsRootOnly`.
   */
  anyArtifactFile?: boolean;
  /** Why the build is not `anyArtifactFile` (references.ts), added to a load-restrictor failure. */
  rootOnlyBecause?: string;
  signal?: AbortSignal;
}

/** The limits `opts` asks for, defaults filled in. */
export function effectiveLimits(opts: KustomizeLimits): Required<KustomizeLimits> {
  return {
    timeoutMs: opts.timeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS,
    maxOutputBytes: opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    memoryLimitMiB: opts.memoryLimitMiB ?? DEFAULT_MEMORY_LIMIT_MIB,
    cpuLimitSeconds: opts.cpuLimitSeconds ?? DEFAULT_CPU_LIMIT_SECONDS,
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Host directories whose paths never appear in a message. */
function hostPrefixes(): string[] {
  const out = [os.tmpdir(), cacheDir(), os.homedir(), process.cwd()].filter((p) => p && p !== '/' && path.isAbsolute(p));
  return [...new Set(out)].sort((a, b) => b.length - a.length);
}

/**
 * Tidies kustomize's stderr for a user: no `error: ` prefix, paths inside the artifact
 * relative to it (`roots` are the artifact root as given and as resolved), any other host
 * path replaced, Go runtime dumps cut to their first line, at most 4 KiB.
 */
export function kustomizeMessage(stderr: string, roots: string[]): string {
  let msg = stderr.trim();
  const dump = /^(goroutine \d+ \[|runtime stack:|\[signal )/m.exec(msg);
  if (dump) msg = msg.slice(0, dump.index).trim();
  msg = msg.replace(/^error:\s*/i, '');
  for (const r of [...new Set(roots)].sort((a, b) => b.length - a.length)) {
    msg = msg.split(r + path.sep).join('').split(r).join('.');
  }
  for (const p of hostPrefixes()) msg = msg.replace(new RegExp(`(?<![\\w.-])${escapeRegExp(p)}(?=$|[/\\s'"\`:])(/[^\\s'"\`:]*)?`, 'g'), '<host path>');
  if (msg.length > MAX_MESSAGE_CHARS) msg = `${msg.slice(0, MAX_MESSAGE_CHARS)}... (truncated)`;
  return msg || 'kustomize exited with an error and no message';
}

function memoryError(limitMiB: number): KustomizeLimitError {
  return new KustomizeLimitError('memory', `kustomize ran out of its memory limit (${limitMiB} MiB)`, 'the build needs more memory than kustomize may use: split the kustomization, or raise the kustomize memory limit');
}

function cpuError(limitSeconds: number): KustomizeLimitError {
  return new KustomizeLimitError('cpu', `kustomize used up its CPU time limit (${limitSeconds} s)`, 'the build is too expensive to render: split the kustomization, or raise the kustomize CPU limit');
}

/** kubectl binaries known to be executable (the sandbox wrappers would hide a failed exec in their exit code). */
const runnable = new Set<string>();

async function assertRunnable(kubectl: string): Promise<void> {
  if (runnable.has(kubectl)) return;
  try {
    await access(kubectl, fsc.X_OK);
  } catch (err) {
    throw new EnvironmentError(`cannot run ${kubectl}: ${errorMessage(err)}`, { cause: err, hint: 'see ensureTools / FLUXLESS_KUBECTL' });
  }
  runnable.add(kubectl);
}

/** Runs `kubectl kustomize <dir>` and returns its YAML output. */
export async function kustomizeBuild(kubectl: string, dir: string, opts: KustomizeOptions): Promise<string> {
  const limits = effectiveLimits(opts);
  await assertRunnable(kubectl);
  const allowNetwork = opts.allowRemoteBases === true;
  const sandboxed = await sandboxedCommand(kubectl, ['kustomize', dir, `--load-restrictor=${opts.anyArtifactFile === true ? 'LoadRestrictionsNone' : 'LoadRestrictionsRootOnly'}`], {
    allowNetwork,
    memoryLimitMiB: limits.memoryLimitMiB,
    cpuLimitSeconds: limits.cpuLimitSeconds,
  });
  const t0 = Date.now();
  const shownDir = displayPath(opts.root, dir);

  return await new Promise<string>((resolve, reject) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(sandboxed.command, sandboxed.args, { stdio: ['ignore', 'pipe', 'pipe'], env: sandboxed.env, cwd: opts.root, signal: opts.signal });
    } catch (err) {
      reject(new EnvironmentError(`cannot run ${kubectl}: ${errorMessage(err)}`, { cause: err }));
      return;
    }
    const watch = child.pid !== undefined ? watchProcess(child.pid, { memoryKiB: limits.memoryLimitMiB * 1024, cpuSeconds: limits.cpuLimitSeconds }) : undefined;
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    let tooBig = false;
    let timedOut = false;
    let settled = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limits.timeoutMs);
    child.stdout!.on('data', (b: Buffer) => {
      if (tooBig) return;
      outBytes += b.length;
      if (outBytes > limits.maxOutputBytes) {
        tooBig = true;
        child.kill('SIGKILL');
        return;
      }
      out.push(b);
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      if (err.length < MAX_STDERR_BYTES) err += s.slice(0, MAX_STDERR_BYTES - err.length);
    });
    const finish = (e: Error | undefined, v?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      watch?.stop();
      if (e) reject(e);
      else resolve(v!);
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.name === 'AbortError') finish(new EnvironmentError('kustomize build was cancelled', { cause: e }));
      else finish(new EnvironmentError(`cannot run ${kubectl}: ${e.message}`, { cause: e, hint: 'see ensureTools / FLUXLESS_KUBECTL' }));
    });
    child.on('close', (code, signal) => {
      const verdict = watch?.verdict();
      log.debug('kustomize build finished', { dir: shownDir, code, signal, verdict, ms: Date.now() - t0, bytes: outBytes, isolatedNetwork: sandboxed.isolatedNetwork });
      const roots = [opts.root];
      if (verdict === 'memory') finish(memoryError(limits.memoryLimitMiB));
      else if (verdict === 'cpu') finish(cpuError(limits.cpuLimitSeconds));
      else if (tooBig) finish(new ValidationError(`kustomize build output exceeds ${limits.maxOutputBytes} bytes; the kustomization is too large to render`));
      else if (timedOut) finish(new EnvironmentError(`kustomize build timed out after ${Math.round(limits.timeoutMs / 1000)}s`));
      else if (code !== 0) {
        if (/runtime: out of memory|cannot allocate memory|failed to reserve page summary memory/.test(err)) finish(memoryError(limits.memoryLimitMiB));
        else if (signal === 'SIGXCPU' || /SIGXCPU/.test(err)) finish(cpuError(limits.cpuLimitSeconds));
        else if (signal === 'SIGKILL' && !err.trim()) {
          finish(new EnvironmentError('kustomize was killed (SIGKILL) without a message; the machine may be out of memory'));
        } else finish(new ValidationError(`kustomize build failed: ${kustomizeMessage(err, roots)}${restrictorNote(err, opts)}`));
      } else {
        if (err.trim()) log.debug('kustomize warnings', { dir: shownDir, stderr: kustomizeMessage(err, roots) });
        finish(undefined, Buffer.concat(out).toString('utf8'));
      }
    });
  });
}

/** What to add to kustomize's "is not in or below" refusal when Fluxless chose LoadRestrictionsRootOnly. */
function restrictorNote(stderr: string, opts: KustomizeOptions): string {
  if (opts.anyArtifactFile === true || !/security; file '[^']*' is not in or below/.test(stderr)) return '';
  const why = opts.rootOnlyBecause ? `, and ${opts.rootOnlyBecause}` : '';
  return ` (Fluxless lets kustomize read files outside a kustomization's directory only when the build has no generators, transformers, validators or remote references${why}: move the file below the kustomization that reads it)`;
}

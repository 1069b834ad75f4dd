/**
 * Supervised child processes for the local development environment (control plane,
 * registry). Each server runs under a tiny shell watchdog in its own process group:
 * when our process dies, even by SIGKILL, the watchdog stops the server and removes its
 * data directory, so nothing is left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, rmSync } from 'node:fs';
import net from 'node:net';
import { EnvironmentError } from '../util/errors.js';

const WATCHDOG = `
"$@" &
child=$!
cleanup() {
  kill -TERM "$child" 2>/dev/null
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$child" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$child" 2>/dev/null
  wait "$child" 2>/dev/null
  [ -n "$FLUXLESS_CLEANUP_DIR" ] && rm -rf "$FLUXLESS_CLEANUP_DIR"
}
trap 'cleanup; exit 0' TERM INT HUP
while kill -0 "$FLUXLESS_PARENT_PID" 2>/dev/null; do
  if ! kill -0 "$child" 2>/dev/null; then wait "$child"; exit $?; fi
  sleep 0.5 & wait $!
done
cleanup
`;

/** A child process run under a watchdog: its name and pid, its exit, the tail of its output, and stop(). */
export interface Supervised {
  readonly name: string;
  readonly pid: number;
  /** Resolves with the exit code when the process ends for any reason. */
  readonly exited: Promise<number | null>;
  /** The tail of the process's combined output, for error messages. */
  tail(): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const killAll = () => {
    for (const c of live) {
      try {
        if (c.pid) process.kill(-c.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      // Someone else handles the signal (the CLI's graceful stop): let them; the exit hook
      // above still kills the children. Alone, stop them and exit as the signal would.
      if (process.listenerCount(sig) > 1) return;
      process.off(sig, onSignal);
      killAll();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    };
    process.on(sig, onSignal);
  }
}

/** Starts a command under a shell watchdog that stops it (and removes cleanupDir) when this process dies. */
export function startSupervised(opts: {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  logFile?: string;
  /** Removed by the watchdog when the process is stopped or its parent dies. */
  cleanupDir?: string;
}): Supervised {
  hookExit();
  const child = spawn('bash', ['-c', WATCHDOG, 'fluxless-watchdog', opts.command, ...opts.args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...opts.env,
      FLUXLESS_PARENT_PID: String(process.pid),
      FLUXLESS_CLEANUP_DIR: opts.cleanupDir ?? '',
    },
  });
  if (!child.pid) throw new EnvironmentError(`could not start ${opts.name} (${opts.command})`);
  live.add(child);
  const chunks: string[] = [];
  let size = 0;
  const file = opts.logFile ? createWriteStream(opts.logFile) : undefined;
  const onData = (b: Buffer) => {
    file?.write(b);
    chunks.push(b.toString('utf8'));
    size += b.length;
    while (size > 16384 && chunks.length > 1) size -= chunks.shift()!.length;
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      live.delete(child);
      file?.end();
      resolve(code);
    });
  });
  // Do not keep the event loop alive just for this child.
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  const pid = child.pid;
  return {
    name: opts.name,
    pid,
    exited,
    tail: () => chunks.join('').split('\n').slice(-25).join('\n'),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) {
        if (opts.cleanupDir) rmSync(opts.cleanupDir, { recursive: true, force: true });
        return;
      }
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 5000);
      await exited;
      clearTimeout(timer);
      if (opts.cleanupDir) rmSync(opts.cleanupDir, { recursive: true, force: true });
    },
  };
}

/** A free TCP port on 127.0.0.1 (the OS picks; a tiny race remains, callers retry on EADDRINUSE). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it returns true, the process exits, or the deadline passes. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; proc?: Supervised; hint?: string },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let exitCode: number | null | undefined;
  let exitedFlag = false;
  opts.proc?.exited.then((c) => {
    exitedFlag = true;
    exitCode = c;
  });
  for (;;) {
    if (exitedFlag) {
      throw new EnvironmentError(
        `${opts.proc!.name} exited (code ${exitCode}) before ${what}. Its last output:\n${opts.proc!.tail()}`,
        { hint: opts.hint },
      );
    }
    try {
      if (await check()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      throw new EnvironmentError(
        `timed out after ${opts.timeoutMs} ms waiting for ${what}` +
          (opts.proc ? `. Last output of ${opts.proc.name}:\n${opts.proc.tail()}` : ''),
        { hint: opts.hint },
      );
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}

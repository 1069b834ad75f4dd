/** Waiting in the foreground until Ctrl-C (SIGINT) or SIGTERM, as long-running commands do. */

/**
 * Resolves with the signal's name. Keeps the process alive while it waits (the servers a
 * command started may not hold the event loop), so a foreground command never exits by
 * itself.
 */
export function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const done = (sig: NodeJS.Signals) => {
      clearInterval(keepAlive);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(sig);
    };
    const onInt = () => done('SIGINT');
    const onTerm = () => done('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
}

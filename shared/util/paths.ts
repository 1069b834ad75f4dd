/** Where Fluxless keeps files on this machine, and how user-written paths are read. */
import os from 'node:os';
import path from 'node:path';

/** The cache root: $FLUXLESS_CACHE_DIR, else $XDG_CACHE_HOME/fluxless, else ~/.cache/fluxless. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FLUXLESS_CACHE_DIR) return path.resolve(env.FLUXLESS_CACHE_DIR);
  if (env.XDG_CACHE_HOME) return path.join(path.resolve(env.XDG_CACHE_HOME), 'fluxless');
  return path.join(os.homedir(), '.cache', 'fluxless');
}

/** Expands a leading `~` or `~/` to the home directory, as a shell would (`~user` is left alone). */
export function expandHome(p: string, home: string = os.homedir()): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return path.join(home, p.slice(2));
  return p;
}

/** spec.path joined to the artifact root as Flux's SecureJoin does: never outside it. */
import { realpath, stat } from '../util/fs-inline.js';
import path from 'node:path';
import { EnvironmentError, ValidationError } from '../util/errors.js';
import { describeFsError } from './fs-errors.js';
import { isWithin } from './generator.js';

/**
 * spec.path as a normalized relative POSIX path (`.` for the root), as the build reads it:
 * `\` is taken as `/` and a leading `/` as relative to the root. It may still climb (`..`).
 */
export function specPathRelative(specPath: string | undefined): string {
  return path.posix.normalize((specPath ?? '').replace(/\\/g, '/').replace(/^\/+/, '') || '.');
}

/**
 * Joins spec.path to the artifact root without letting it escape: `..` that climbs above the
 * root is rejected, as is a path whose symlinks resolve outside the root. A leading `/` is
 * taken as relative to the root (as Flux's SecureJoin does). Returns both symlink-resolved.
 */
export async function resolveBuildPath(root: string, specPath: string | undefined): Promise<{ root: string; dir: string }> {
  let rootReal: string;
  try {
    rootReal = await realpath(root);
  } catch (err) {
    throw new EnvironmentError(`the source artifact directory cannot be read: ${describeFsError(err)}`, { cause: err });
  }
  const raw = specPath ?? '';
  if (raw.includes('\0')) throw new ValidationError(`spec.path ${JSON.stringify(raw)} contains a NUL byte`);
  const rel = specPathRelative(raw);
  if (rel === '..' || rel.startsWith('../')) {
    throw new ValidationError(`spec.path '${raw}' points outside the source artifact`, {
      hint: 'spec.path is relative to the root of the source artifact, e.g. ./apps/production',
    });
  }
  const joined = path.join(rootReal, rel);
  let real: string;
  try {
    real = await realpath(joined);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENAMETOOLONG') {
      throw new ValidationError(`spec.path is too long to be a path (${raw.length} characters)`);
    }
    throw new ValidationError(`kustomization path not found: spec.path '${raw}' does not exist in the source artifact`, {
      hint: 'check spec.path against the repository layout at the fetched revision',
    });
  }
  if (!isWithin(rootReal, real)) {
    throw new ValidationError(`spec.path '${raw}' resolves through a symlink to a location outside the source artifact`);
  }
  if (!(await stat(real)).isDirectory()) {
    throw new ValidationError(`spec.path '${raw}' is a file; it must be a directory`);
  }
  return { root: rootReal, dir: real };
}

/**
 * Filesystem errors in words a user can act on, without the host paths Node puts in its
 * messages (`ENOENT: no such file or directory, open '/tmp/...'`): callers add the path
 * relative to the artifact themselves.
 */
import { EnvironmentError, ValidationError } from '../util/errors.js';

const DESCRIPTIONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENAMETOOLONG: 'file name too long',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EMFILE: 'too many open files',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EIO: 'input/output error',
};

/** The errno code of a Node filesystem error, if it has one. */
export function fsCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** `file name too long` (etc.) for a Node filesystem error; never a path. */
export function describeFsError(err: unknown): string {
  const code = fsCode(err);
  if (code) return DESCRIPTIONS[code] ?? code;
  return 'unexpected error';
}

/** Problems of the machine rather than of the input. */
const ENVIRONMENT_CODES = new Set(['EMFILE', 'ENFILE', 'ENOSPC', 'EDQUOT', 'EIO', 'ENOMEM', 'EROFS']);

/**
 * A typed error for a filesystem failure on `shown` (a path relative to the artifact):
 * EnvironmentError when the machine is at fault (disk full, too many open files),
 * ValidationError otherwise (a name too long, a symlink loop: the artifact's content).
 */
export function fsFailure(action: string, shown: string, err: unknown): ValidationError | EnvironmentError {
  const message = `${action} ${shown}: ${describeFsError(err)}`;
  return ENVIRONMENT_CODES.has(fsCode(err) ?? '') ? new EnvironmentError(message, { cause: err }) : new ValidationError(message, { cause: err });
}

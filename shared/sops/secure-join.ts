/**
 * Paths inside a work tree, resolved as kustomize-controller resolves them
 * (cyphar/filepath-securejoin `SecureJoin`): symlinks are followed, but `..` and absolute link
 * targets are clamped to the root, so a result is always inside it.
 */
import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';

const MAX_SYMLINKS = 255;

function notExist(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Joins `unsafePath` onto `root`, resolving symlinks without ever leaving `root`. */
export async function secureJoin(root: string, unsafePath: string): Promise<string> {
  let current = '';
  let remaining = unsafePath;
  let links = 0;
  while (remaining !== '') {
    const i = remaining.indexOf('/');
    let part: string;
    if (i === -1) {
      part = remaining;
      remaining = '';
    } else {
      part = remaining.slice(0, i);
      remaining = remaining.slice(i + 1);
    }
    const next = path.join('/', current, part);
    if (next === '/') {
      current = '';
      continue;
    }
    const full = root + next;
    let isLink = false;
    try {
      isLink = (await lstat(full)).isSymbolicLink();
    } catch (err) {
      if (!notExist(err)) throw err;
    }
    if (!isLink) {
      current = next;
      continue;
    }
    if (++links > MAX_SYMLINKS) {
      throw Object.assign(new Error(`SecureJoin ${path.join(root, unsafePath)}: too many levels of symbolic links`), { code: 'ELOOP' });
    }
    const dest = await readlink(full);
    remaining = dest + '/' + remaining;
    if (path.isAbsolute(dest)) current = '';
  }
  return path.join(root, path.join('/', current));
}

/** kustomize-controller `stripRoot`: `path` relative to `root` (`./x/y`), or `path` cleaned when outside. */
export function stripRoot(root: string, p: string): string {
  const r = path.join('/', root);
  let q = path.join('/', p);
  if (q === r) q = '/';
  else if (r !== '/' && q.startsWith(r + '/')) q = q.slice(r.length + 1);
  return q === '/' ? '.' : path.join('.', q);
}

/** kustomize-controller `securePaths`: the absolute and root-relative forms of a path inside `root`. */
export async function securePaths(root: string, p: string): Promise<{ abs: string; rel: string }> {
  const unsafe = path.isAbsolute(p) ? stripRoot(root, p) : p;
  const abs = await secureJoin(root, unsafe);
  return { abs, rel: stripRoot(root, abs) };
}

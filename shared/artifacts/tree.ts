/**
 * ArtifactTree: the read-only view of an artifact that a build copies its files from, either
 * an extracted directory on disk or the artifact held in memory (readArtifact's entries).
 *
 * The memory form lets a process that builds many Kustomizations from one artifact write only
 * the files each build reads, instead of extracting every file of the artifact first: a
 * fleet repository of 2,500 files cost each new Lambda container 2,500 file creations before
 * its first build (about 1 s of system time on a slow /tmp), though each of its builds reads
 * four. Paths are absolute strings under `root` in both forms, so callers do their path
 * arithmetic (`path.resolve`, containment checks) the same way; the memory form's root is a
 * name, never a path on this host, and nothing below it touches the disk.
 */
import { constants as fsc } from 'node:fs';
import path from 'node:path';
import { copyFile, link, readFile, readdir, stat, writeFile } from '../util/fs-inline.js';
import type { ArtifactContents } from './extract.js';

/** One entry of a directory listing: its name and whether it is a directory or a file. */
export interface TreeEntry {
  name: string;
  isDirectory: boolean;
  isFile: boolean;
}

/** A read-only tree of directories and files, addressed by absolute paths under `root`. */
export interface ArtifactTree {
  /** The tree's root: every path given to the methods is this or below it. */
  readonly root: string;
  isDir(p: string): Promise<boolean>;
  isFile(p: string): Promise<boolean>;
  /** The entries of directory `p`; rejects like `fs.readdir` (ENOENT, ENOTDIR) otherwise. */
  list(p: string): Promise<TreeEntry[]>;
  /** The bytes of file `p` (do not modify them); rejects like `fs.readFile` otherwise. */
  read(p: string): Promise<Buffer>;
  /** The UTF-8 text of file `p`; rejects like `fs.readFile` otherwise. */
  readText(p: string): Promise<string>;
  /**
   * Puts file `p` at `to` (a path on disk whose directory exists): a hard link or copy from an
   * extracted tree, a new file from a memory one. Rejects with EEXIST when `to` exists.
   */
  copyTo(p: string, to: string): Promise<void>;
}

/** An extracted artifact (or any directory) on disk as an ArtifactTree. */
export function diskTree(root: string): ArtifactTree {
  return {
    root,
    isDir: (p) => stat(p).then((s) => s.isDirectory(), () => false),
    isFile: (p) => stat(p).then((s) => s.isFile(), () => false),
    list: async (p) => (await readdir(p, { withFileTypes: true })).map((e) => ({ name: e.name, isDirectory: e.isDirectory(), isFile: e.isFile() })),
    read: (p) => readFile(p),
    readText: (p) => readFile(p, 'utf8'),
    copyTo: async (p, to) => {
      try {
        await link(p, to);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err;
        await copyFile(p, to, fsc.COPYFILE_EXCL);
      }
    },
  };
}

/** The root name of memory trees: not a path of this host (nothing is read or written there). */
export const MEMORY_TREE_ROOT = path.join(path.sep, 'fluxless-artifact');

/** An error shaped like Node's file system errors (code, syscall), so callers handle both forms alike. */
function fsErr(code: 'ENOENT' | 'ENOTDIR' | 'EISDIR', syscall: string, p: string): NodeJS.ErrnoException {
  const text = code === 'ENOENT' ? 'no such file or directory' : code === 'ENOTDIR' ? 'not a directory' : 'illegal operation on a directory';
  const err = new Error(`${code}: ${text}, ${syscall} '${p}'`) as NodeJS.ErrnoException;
  err.code = code;
  err.syscall = syscall;
  err.path = p;
  return err;
}

/**
 * An artifact read into memory (readArtifact) as an ArtifactTree rooted at `root`. Its
 * directories are the archive's, those implied by a file's path, and the root.
 */
export function memoryTree(contents: Pick<ArtifactContents, 'entries' | 'directories'>, root = MEMORY_TREE_ROOT): ArtifactTree {
  const children = new Map<string, TreeEntry[]>([['', []]]);
  const addDir = (rel: string) => {
    if (children.has(rel)) return;
    const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
    addDir(parent);
    children.set(rel, []);
    children.get(parent)!.push({ name: rel.slice(rel.lastIndexOf('/') + 1), isDirectory: true, isFile: false });
  };
  for (const d of contents.directories) addDir(d);
  for (const rel of contents.entries.keys()) {
    const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
    addDir(parent);
    children.get(parent)!.push({ name: rel.slice(rel.lastIndexOf('/') + 1), isDirectory: false, isFile: true });
  }
  /** `p` relative to the root with `/` separators, or undefined when outside it. */
  const relOf = (p: string): string | undefined => {
    const rel = path.relative(root, path.resolve(root, p));
    if (rel === '') return '';
    if (rel === '..' || rel.startsWith('..' + path.sep) || path.isAbsolute(rel)) return undefined;
    return rel.split(path.sep).join('/');
  };
  const fileOf = (p: string, syscall: string) => {
    const rel = relOf(p);
    const f = rel === undefined ? undefined : contents.entries.get(rel);
    if (f) return f;
    throw fsErr(rel !== undefined && children.has(rel) ? 'EISDIR' : 'ENOENT', syscall, p);
  };
  return {
    root,
    isDir: async (p) => {
      const rel = relOf(p);
      return rel !== undefined && children.has(rel);
    },
    isFile: async (p) => {
      const rel = relOf(p);
      return rel !== undefined && contents.entries.has(rel);
    },
    list: async (p) => {
      const rel = relOf(p);
      const list = rel === undefined ? undefined : children.get(rel);
      if (list) return list.map((e) => ({ ...e }));
      throw fsErr(rel !== undefined && contents.entries.has(rel) ? 'ENOTDIR' : 'ENOENT', 'scandir', p);
    },
    read: async (p) => fileOf(p, 'open').data,
    readText: async (p) => fileOf(p, 'open').data.toString('utf8'),
    copyTo: async (p, to) => {
      const f = fileOf(p, 'open');
      await writeFile(to, f.data, { flag: fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | (fsc.O_NOFOLLOW ?? 0), mode: f.mode });
    },
  };
}

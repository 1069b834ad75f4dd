/**
 * A fetched commit's tree read straight from the Git object store, for buildArtifactOf: the
 * GitRepository artifact is built with no checkout. A checkout writes every file of the
 * commit (on ext4 each new file costs more CPU than the rest of its reconcile) only for the
 * artifact build to read them back and the work directory's removal to delete them.
 *
 * The tree is what isomorphic-git's checkout would leave on disk, as buildArtifact walks it:
 * - a tree entry (040000) is a directory;
 * - a blob 100755 is a file with its execute bits, 100644 one without;
 * - a symlink (120000) is neither (dropped from the archive, as from a checkout);
 * - a submodule (gitlink, 160000) is an empty directory, as the checkout creates it.
 *
 * The same parser reads the trees (isomorphic-git's readTree), so an entry a checkout refuses
 * (an unsafe name, a mode it does not know) fails here with the same error. A `.sourceignore`
 * that is a symlink is read in a checkout only when it points inside it: commitTree leaves
 * that case to a real checkout (it returns undefined).
 */
import path from 'node:path';
import git from 'isomorphic-git';
import type { ArtifactChild, ArtifactDir } from '../artifacts/build.js';
import { IGNORE_FILE } from '../artifacts/ignore.js';
import { inlinePromiseFs } from '../util/fs-inline.js';

const fs = { promises: inlinePromiseFs };

/** Trees read at once. */
const TREE_READS = 16;

/**
 * The tree of `commit` in the repository whose work tree is `dir` (git dir `<dir>/.git`), as
 * it would be checked out at `dir`; undefined when only a checkout can say what it holds.
 */
export async function commitTree(dir: string, commit: string): Promise<ArtifactDir | undefined> {
  const gitdir = path.join(dir, '.git');
  const cache = {};
  const blob = async (oid: string) => {
    const { blob: bytes } = await git.readBlob({ fs, gitdir, oid, cache });
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
  let symlinkedIgnore = false;
  let active = 0;
  const waiting: (() => void)[] = [];
  const readTree = async (oid: string) => {
    if (active >= TREE_READS) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return (await git.readTree({ fs, gitdir, oid, cache })).tree;
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
  const visit = async (node: ArtifactDir, oid: string): Promise<void> => {
    const subtrees: Promise<void>[] = [];
    for (const e of await readTree(oid)) {
      const child: ArtifactChild = { name: e.path, kind: 'other' };
      if (e.type === 'tree' || e.type === 'commit') {
        const sub: ArtifactDir = { abs: path.join(node.abs, e.path), rel: [...node.rel, e.path], children: [] };
        child.kind = 'dir';
        child.dir = sub;
        if (e.type === 'tree') subtrees.push(visit(sub, e.oid));
      } else if (e.mode === '120000') {
        if (e.path === IGNORE_FILE) symlinkedIgnore = true;
      } else {
        const exec = e.mode === '100755';
        child.kind = 'file';
        child.read = async () => ({ bytes: await blob(e.oid), exec });
        if (e.path === IGNORE_FILE) node.readSourceIgnore = async () => (await blob(e.oid)).toString('utf8');
      }
      node.children.push(child);
    }
    await Promise.all(subtrees);
  };
  const root: ArtifactDir = { abs: path.resolve(dir), rel: [], children: [] };
  await visit(root, commit);
  return symlinkedIgnore ? undefined : root;
}

/** Checks out `commit` into `dir` (its git dir `<dir>/.git`), for what commitTree leaves to a checkout. */
export async function checkoutCommit(dir: string, commit: string): Promise<void> {
  await git.checkout({ fs, dir, ref: commit, force: true });
}

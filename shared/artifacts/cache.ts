/**
 * ArtifactCache: each artifact is fetched, verified and extracted once per process, then
 * shared read-only by every Kustomization that builds from it. A fleet of N Kustomizations
 * on one repository costs one download and one extraction, not N.
 *
 * `openTree` holds an artifact in memory instead (checked as extraction checks it, up to
 * `memoryTreeMaxBytes` of file contents; a bigger one is extracted): a build then writes
 * only the files it reads (materialize.ts), so a process that builds a few Kustomizations of
 * a large fleet repository, a Lambda container among ten, does not write the whole
 * repository to its /tmp first.
 *
 * Layout under one private base directory (a fresh `mkdtemp` in the system temp dir, so the
 * work directories callers make with `workDir()` are on the same filesystem and can
 * hard-link files out of the cache):
 *   <base>/a/<sha256 hex>/    an extracted artifact, never written after the rename into place
 *   <base>/w/<prefix>XXXXXX/  callers' work directories
 * Only this process uses the base directory. Entries not in use are evicted beyond `keep`,
 * least recently used first. On Lambda, /tmp survives between warm invocations, so does this.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseDigest } from './digest.js';
import { ArtifactTooLargeError, DEFAULT_MAX_BYTES, extractArtifact, readArtifact } from './extract.js';
import { diskTree, memoryTree, type ArtifactTree } from './tree.js';

/** Identifies an artifact to open from the cache: its store key and expected digest. */
export interface CachedArtifactRef {
  /** Store key of the artifact. */
  key: string;
  /** `sha256:<hex>` of the tar.gz. */
  digest: string;
}

/** An extracted artifact held open in the cache until release() is called. */
export interface OpenedArtifact {
  /** The extracted artifact (read-only: never write below it). */
  root: string;
  /** Gives the entry back; it may be evicted once nobody holds it. */
  release(): void;
}

/** An artifact held open in the cache as a tree (in memory, or extracted when large) until release() is called. */
export interface OpenedTree {
  /** The artifact's files (read-only). */
  tree: ArtifactTree;
  /** Gives the entry back; it may be evicted once nobody holds it. */
  release(): void;
}

/** Default cap on the file contents of an artifact `openTree` holds in memory (64 MiB); a bigger one is extracted. */
export const DEFAULT_MEMORY_TREE_MAX_BYTES = 64 * 1024 * 1024;

/** Options of ArtifactCache: how to fetch an artifact's bytes, how many to keep, where to extract. */
export interface ArtifactCacheOptions {
  /** Reads the tar.gz bytes (verifying the digest). */
  fetch(ref: CachedArtifactRef): Promise<Buffer>;
  /** Extracted artifacts kept when not in use (default 4). */
  keep?: number;
  /** Parent of the private base directory (default: the system temp dir). */
  parentDir?: string;
  /** Largest file contents `openTree` holds in memory (default 64 MiB). */
  memoryTreeMaxBytes?: number;
}

interface Entry {
  /** The extracted tree on disk, if this entry has one (removed on eviction). */
  dir?: string;
  /** The tree `openTree` hands out (set once ready). */
  tree?: ArtifactTree;
  ready: Promise<void>;
  users: number;
  lastUsed: number;
}

/** Per-process cache of extracted artifacts, fetched once and shared read-only by every build from them. */
export class ArtifactCache {
  private base: string | undefined;
  private readonly entries = new Map<string, Entry>();
  private readonly keep: number;
  private closed = false;
  private work: string | undefined;

  constructor(private readonly opts: ArtifactCacheOptions) {
    this.keep = opts.keep ?? 4;
  }

  private baseDir(): string {
    if (this.closed) throw new Error('artifact cache is closed');
    if (!this.base) {
      const parent = this.opts.parentDir ?? os.tmpdir();
      removeOrphans(parent);
      this.base = mkdtempSync(path.join(parent, `fluxless-cache-${process.pid}-`));
      removeAtExit(this.base, true);
    }
    return this.base;
  }

  /** Fetches and extracts the artifact unless already cached; hold it until release() is called. */
  async open(ref: CachedArtifactRef): Promise<OpenedArtifact> {
    const { hex } = parseDigest(ref.digest);
    const { entry, release } = await this.hold(`dir:${hex}`, async (e) => {
      const data = await this.fetched(ref);
      e.dir = this.entryDir();
      await this.extractBytes(data, ref, e.dir);
    });
    return { root: entry.dir!, release };
  }

  /**
   * The artifact as a tree: fetched, checked and held in memory unless already cached, or
   * extracted when its files hold more than `memoryTreeMaxBytes`; hold it until release().
   */
  async openTree(ref: CachedArtifactRef): Promise<OpenedTree> {
    const { hex } = parseDigest(ref.digest);
    const { entry, release } = await this.hold(`tree:${hex}`, async (e) => {
      const data = await this.fetched(ref);
      const cap = Math.min(this.opts.memoryTreeMaxBytes ?? DEFAULT_MEMORY_TREE_MAX_BYTES, DEFAULT_MAX_BYTES);
      try {
        e.tree = memoryTree(await readArtifact(data, { expectedDigest: ref.digest, maxBytes: cap }));
        return;
      } catch (err) {
        if (!(err instanceof ArtifactTooLargeError && err.limit === 'bytes' && cap < DEFAULT_MAX_BYTES)) throw err;
      }
      // Too big to hold in memory: extracted, with extraction's own limits.
      e.dir = this.entryDir();
      await this.extractBytes(data, ref, e.dir);
      e.tree = diskTree(e.dir);
    });
    return { tree: entry.tree!, release };
  }

  /** A fresh, unguessable directory for an entry: no build can name another artifact's tree (and an evicted one may still be being removed). */
  private entryDir(): string {
    return path.join(this.baseDir(), 'a', randomBytes(16).toString('hex'));
  }

  /** The entry `id`, made ready by `fill` unless cached, held by one more user until the returned release(). */
  private async hold(id: string, fill: (e: Entry) => Promise<void>): Promise<{ entry: Entry; release: () => void }> {
    let e = this.entries.get(id);
    if (!e) {
      const entry: Entry = { users: 0, lastUsed: Date.now(), ready: Promise.resolve() };
      e = entry;
      this.entries.set(id, e);
      entry.ready = Promise.resolve().then(() => fill(entry));
      // A failed one is not cached: the next open tries again.
      entry.ready.catch(() => {
        if (this.entries.get(id) === entry) this.entries.delete(id);
      });
    }
    const held = e;
    held.users++;
    held.lastUsed = Date.now();
    try {
      await held.ready;
    } catch (err) {
      held.users--;
      throw err;
    }
    let released = false;
    return {
      entry: held,
      release: () => {
        if (released) return;
        released = true;
        held.users--;
        held.lastUsed = Date.now();
        void this.evict();
      },
    };
  }

  /** Work directories live beside the cache root, not under it, on the same filesystem. */
  private workParent(): string {
    if (this.closed) throw new Error('artifact cache is closed');
    if (!this.work) {
      this.work = mkdtempSync(path.join(this.opts.parentDir ?? os.tmpdir(), `fluxless-work-${process.pid}-`));
      removeAtExit(this.work, true);
    }
    return this.work;
  }

  /**
   * A new empty directory on the cache's filesystem (hard links from the cache work there),
   * with an unguessable name, outside the cache root: a build in it has no path to the cache.
   */
  async workDir(prefix: string): Promise<string> {
    const dir = path.join(this.workParent(), `${prefix}${randomBytes(16).toString('hex')}`);
    await mkdir(dir, { mode: 0o700 });
    return dir;
  }

  /** Removes everything the cache wrote. */
  async close(): Promise<void> {
    this.closed = true;
    const base = this.base;
    const work = this.work;
    this.base = undefined;
    this.work = undefined;
    // Let extractions in flight finish (they fail once they see `closed`) before removing.
    const pending = [...this.entries.values()].map((e) => e.ready.catch(() => undefined));
    this.entries.clear();
    await Promise.all(pending);
    for (const d of [base, work]) {
      if (!d) continue;
      await rm(d, { recursive: true, force: true });
      removeAtExit(d, false);
    }
  }

  /** The artifact's bytes; fails if the cache was closed meanwhile. */
  private async fetched(ref: CachedArtifactRef): Promise<Buffer> {
    const data = await this.opts.fetch(ref);
    if (this.closed) throw new Error('artifact cache is closed');
    return data;
  }

  private async extractBytes(data: Buffer, ref: CachedArtifactRef, dir: string): Promise<void> {
    const tmp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    await mkdir(path.dirname(dir), { recursive: true });
    try {
      await extractArtifact(data, tmp, { expectedDigest: ref.digest });
      await rename(tmp, dir);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  private async evict(): Promise<void> {
    const idle = [...this.entries.entries()].filter(([, e]) => e.users === 0).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    // Take every victim out of the map before the first await: an open meanwhile re-extracts.
    const victims = idle.slice(0, Math.max(0, this.entries.size - this.keep));
    for (const [hex] of victims) this.entries.delete(hex);
    const remove = (e: Entry) => (e.dir ? rm(e.dir, { recursive: true, force: true }) : undefined);
    await Promise.all(victims.map(([, e]) => e.ready.then(() => remove(e), () => undefined)));
  }
}

/** Base directories still to remove when the process exits (one listener for all caches). */
const pendingBases = new Set<string>();
let exitHook = false;
function removeAtExit(dir: string, add: boolean): void {
  if (!add) {
    pendingBases.delete(dir);
    return;
  }
  pendingBases.add(dir);
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const d of pendingBases) rmSync(d, { recursive: true, force: true });
  });
}

/** Removes cache directories left by processes that died without cleaning up (SIGKILL). */
function removeOrphans(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^fluxless-(cache|work)-(\d+)-/.exec(n);
    if (!m || Number(m[2]) === process.pid) continue;
    try {
      process.kill(Number(m[2]), 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') rmSync(path.join(parent, n), { recursive: true, force: true });
    }
  }
}

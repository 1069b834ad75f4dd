/**
 * ArtifactStore on a local directory: `<root>/<kind>/<ns>/<name>/<hex>.tar.gz`, with a
 * sidecar `<hex>.json` holding revision, digest, size and time. Both are written atomically
 * (temp file, fsync, rename): the tarball first, then the sidecar, so a record never points at
 * missing or partial bytes. A tarball whose sidecar is missing (crash between the two) is
 * still listed, with an empty revision and its file time, and is collected by gc like any other.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { readDirIfExists, readIfExists, removeStaleTemps, writeFileAtomic } from '../util/fs-atomic.js';
import { computeDigest, verifyDigest } from './digest.js';
import {
  ARTIFACT_EXT,
  artifactKey,
  expectedDigestFor,
  garbage,
  keyOf,
  nextStamp,
  notFound,
  parseArtifactKey,
  refPrefix,
  sortNewestFirst,
  type ArtifactRecord,
  type ArtifactRef,
  type ArtifactStore,
  type GcOptions,
} from './store.js';

interface Sidecar {
  revision: string;
  digest: string;
  size: number;
  lastUpdateTime: string;
}

/** Options of FsArtifactStore: whether files and directories are fsynced. */
export interface FsArtifactStoreOptions {
  /** fsync files and directories (default true). */
  durable?: boolean;
}

/** ArtifactStore on a local directory (local mode), with a JSON sidecar per artifact holding its record. */
export class FsArtifactStore implements ArtifactStore {
  readonly rootDir: string;
  private readonly durable: boolean;

  constructor(rootDir: string, opts: FsArtifactStoreOptions = {}) {
    this.rootDir = path.resolve(rootDir);
    this.durable = opts.durable ?? true;
  }

  /** Absolute path of an artifact's tarball. */
  pathFor(key: string): string {
    const { segments, hex } = parseArtifactKey(key);
    return path.join(this.rootDir, ...segments, hex + ARTIFACT_EXT);
  }

  async put(ref: ArtifactRef, revision: string, data: Buffer): Promise<ArtifactRecord> {
    const digest = computeDigest(data);
    const key = artifactKey(ref, digest.slice('sha256:'.length));
    const file = this.pathFor(key);
    const meta: Sidecar = { revision, digest, size: data.length, lastUpdateTime: new Date(nextStamp()).toISOString() };
    // Rewritten even when the same bytes are there: heals a corrupted copy.
    await writeFileAtomic(file, data, { durable: this.durable, mode: 0o600 });
    await writeFileAtomic(sidecarOf(file), JSON.stringify(meta), { durable: this.durable, mode: 0o600 });
    return this.record(key, file, meta);
  }

  async get(recordOrKey: ArtifactRecord | string, expectedDigest?: string): Promise<Buffer> {
    const key = keyOf(recordOrKey);
    const expected = expectedDigestFor(recordOrKey, expectedDigest);
    const data = await readIfExists(this.pathFor(key));
    if (data === undefined) throw notFound(key, this.toString());
    verifyDigest(data, expected, `artifact ${key}`);
    return data;
  }

  async list(ref: ArtifactRef): Promise<ArtifactRecord[]> {
    const prefix = refPrefix(ref);
    const dir = path.join(this.rootDir, ...prefix.split('/').filter(Boolean));
    const entries = await readDirIfExists(dir);
    const records = await Promise.all(
      entries
        .filter((e) => e.isFile() && e.name.endsWith(ARTIFACT_EXT) && /^[0-9a-f]{64}\.tar\.gz$/.test(e.name))
        .map(async (e): Promise<ArtifactRecord | undefined> => {
          const key = prefix + e.name;
          const file = path.join(dir, e.name);
          const meta = await this.readSidecar(file);
          if (meta) return this.record(key, file, meta);
          const st = await fsp.stat(file).catch(() => undefined);
          if (!st) return undefined; // deleted meanwhile
          const hex = e.name.slice(0, -ARTIFACT_EXT.length);
          return this.record(key, file, { revision: '', digest: `sha256:${hex}`, size: st.size, lastUpdateTime: st.mtime.toISOString() });
        }),
    );
    return sortNewestFirst(records.filter((r): r is ArtifactRecord => r !== undefined));
  }

  async gc(ref: ArtifactRef, keep = 2, opts: GcOptions = {}): Promise<string[]> {
    const doomed = garbage(await this.list(ref), keep, opts.protect);
    const deleted: string[] = [];
    for (const r of doomed) if (await this.delete(r.key)) deleted.push(r.key);
    // Temp files of writers that crashed an hour or more ago.
    const dir = path.join(this.rootDir, ...refPrefix(ref).split('/').filter(Boolean));
    await removeStaleTemps(dir, 60 * 60 * 1000);
    return deleted;
  }

  async delete(recordOrKey: ArtifactRecord | string): Promise<boolean> {
    const file = this.pathFor(keyOf(recordOrKey));
    // Sidecar first: a crash in between leaves a listed tarball, never a dangling record.
    await fsp.rm(sidecarOf(file), { force: true });
    try {
      await fsp.unlink(file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  async deleteAll(ref: ArtifactRef): Promise<number> {
    const records = await this.list(ref);
    let n = 0;
    for (const r of records) if (await this.delete(r.key)) n++;
    const dir = path.join(this.rootDir, ...refPrefix(ref).split('/').filter(Boolean));
    await fsp.rm(dir, { recursive: true, force: true });
    return n;
  }

  toString(): string {
    return `FsArtifactStore(${this.rootDir})`;
  }

  private async readSidecar(file: string): Promise<Sidecar | undefined> {
    const raw = await readIfExists(sidecarOf(file));
    if (!raw) return undefined;
    try {
      const s = JSON.parse(raw.toString('utf8')) as Partial<Sidecar>;
      if (typeof s.revision === 'string' && typeof s.digest === 'string' && typeof s.size === 'number' && typeof s.lastUpdateTime === 'string') {
        return s as Sidecar;
      }
    } catch {
      // unreadable sidecar: fall back to the file itself
    }
    return undefined;
  }

  private record(key: string, file: string, meta: Sidecar): ArtifactRecord {
    return { key, digest: meta.digest, size: meta.size, revision: meta.revision, url: pathToFileURL(file).href, lastUpdateTime: meta.lastUpdateTime };
  }
}

function sidecarOf(tarball: string): string {
  return tarball.slice(0, -ARTIFACT_EXT.length) + '.json';
}

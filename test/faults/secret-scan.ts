/**
 * The secret scan of the fault suite: every secret value a test used (webhook tokens,
 * Secret data, substituted secret variables, git credentials) must not appear anywhere
 * Fluxless writes or prints: captured logs and command output, and every file under the
 * data directory (state records with their status and events, queue files, dead letters,
 * artifacts, decompressed and searched entry by entry).
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';

/** One place a secret value was found. */
export interface Leak {
  /** File path (for archives: `file!entry`) or the label of a captured text. */
  where: string;
  /** The secret, shortened to its prefix (never the value itself). */
  secret: string;
  /** How it appeared. */
  form: 'raw' | 'base64';
}

/** The forms a value can leak in: as is, and base64 (Secret `data`, basic auth). */
function needles(secret: string): Array<{ form: Leak['form']; bytes: Buffer }> {
  return [
    { form: 'raw', bytes: Buffer.from(secret) },
    { form: 'base64', bytes: Buffer.from(Buffer.from(secret).toString('base64').replace(/=+$/, '')) },
  ];
}

function label(secret: string): string {
  const i = secret.lastIndexOf('-');
  return i > 0 ? `${secret.slice(0, i)}-…` : `${secret.slice(0, 2)}…(${secret.length} chars)`;
}

function searchIn(haystack: Buffer, where: string, secrets: readonly string[], out: Leak[]): void {
  for (const s of secrets) {
    for (const n of needles(s)) if (haystack.includes(n.bytes)) out.push({ where, secret: label(s), form: n.form });
  }
}

/** Entries of an uncompressed tar (name + data), tolerant of anything odd. */
function tarEntries(tar: Buffer): Array<{ name: string; data: Buffer }> {
  const out: Array<{ name: string; data: Buffer }> = [];
  for (let off = 0; off + 512 <= tar.length; ) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const name = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(h.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8);
    if (!Number.isFinite(size) || size < 0) break;
    out.push({ name, data: tar.subarray(off + 512, off + 512 + size) });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

async function walk(dir: string, files: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await walk(p, files);
    else if (e.isFile()) files.push(p);
  }
}

/** Looks for every secret in every file under `dirs` and in every captured text. */
export async function scanForSecrets(secrets: Iterable<string>, places: { dirs?: string[]; texts?: Array<{ where: string; text: string }> }): Promise<{ leaks: Leak[]; filesScanned: number }> {
  const list = [...new Set(secrets)].filter((s) => s.length >= 8);
  const leaks: Leak[] = [];
  let filesScanned = 0;
  for (const dir of places.dirs ?? []) {
    const files: string[] = [];
    await walk(dir, files);
    for (const f of files) {
      const data = await readFile(f).catch(() => undefined);
      if (!data) continue;
      filesScanned++;
      searchIn(data, f, list, leaks);
      if (data[0] === 0x1f && data[1] === 0x8b) {
        let tar: Buffer | undefined;
        try {
          tar = zlib.gunzipSync(data, { maxOutputLength: 256 * 1024 * 1024 });
        } catch {
          tar = undefined;
        }
        if (tar) {
          searchIn(tar, `${f} (decompressed)`, list, leaks);
          for (const e of tarEntries(tar)) searchIn(Buffer.from(e.name), `${f}!${e.name} (name)`, list, leaks);
        }
      }
    }
  }
  for (const t of places.texts ?? []) searchIn(Buffer.from(t.text), t.where, list, leaks);
  return { leaks, filesScanned };
}

/** A readable list of leaks for an assertion message. */
export function describeLeaks(leaks: Leak[]): string {
  return leaks.map((l) => `${l.secret} (${l.form}) in ${l.where}`).join('\n');
}

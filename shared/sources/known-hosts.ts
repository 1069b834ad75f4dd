/**
 * An in-memory known_hosts database (OpenSSH format, sshd(8) "SSH_KNOWN_HOSTS FILE
 * FORMAT"), checked like fluxcd/pkg ssh/knownhosts: a host's key must be listed, nothing is
 * trusted on first use.
 *
 * Supported: comma-separated host patterns with `*`/`?` wildcards and `!` negation,
 * `[host]:port` for other ports than 22, hashed hosts (`|1|salt|hash`, HMAC-SHA1),
 * `@revoked` (the key is refused for every host, as in Flux), comments and blank lines.
 * `@cert-authority` lines are parsed but cannot vouch for a host: the SSH client does not
 * negotiate host certificates, so a host known only through a CA is refused with a message
 * saying so. A malformed line makes the whole file invalid (as in Flux), naming the line.
 */
import { createHash, createHmac } from 'node:crypto';
import { trimEnd } from '../util/trim.js';

/** One host key line of a known_hosts file. */
export interface KnownHostEntry {
  /** 1-based line number, for messages. */
  line: number;
  marker?: 'cert-authority' | 'revoked';
  /** The key type inside the key blob (ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa, ...). */
  keyType: string;
  /** The public key in SSH wire format. */
  blob: Buffer;
  matches(host: string, port: number): boolean;
}

/** A parsed known_hosts file. */
export interface KnownHosts {
  entries: KnownHostEntry[];
}

/** What a host key check found. */
export type HostKeyVerdict =
  | { ok: true; entry: KnownHostEntry }
  | { ok: false; reason: 'revoked'; entry: KnownHostEntry }
  | { ok: false; reason: 'unknown-host' | 'cert-authority-only' }
  | { ok: false; reason: 'mismatch'; known: KnownHostEntry[] };

/** A known_hosts file we cannot use; the message names the line. */
export class KnownHostsFormatError extends Error {}

/** OpenSSH's name for a host in known_hosts: `host` on port 22, else `[host]:port`. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** `SHA256:<base64>` fingerprint of an SSH public key blob, as `ssh-keygen -l` prints it. */
export function sshFingerprint(blob: Buffer): string {
  return `SHA256:${trimEnd(createHash('sha256').update(blob).digest('base64'), '=')}`;
}

/** The key type string at the start of an SSH public key blob, or undefined if malformed. */
export function blobKeyType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || blob.length < 4 + len) return undefined;
  const type = blob.toString('latin1', 4, 4 + len);
  return /^[\x21-\x7e]+$/.test(type) ? type : undefined;
}

/** Host key algorithms that can present a key of this type (RSA keys sign with SHA-2 first). */
export function hostKeyAlgorithmsForType(keyType: string): string[] {
  return keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [keyType];
}

function wildcardMatch(pattern: string, s: string): boolean {
  // Iterative glob with * and ?, no special meaning for separators (OpenSSH match_pattern).
  let p = 0;
  let i = 0;
  let star = -1;
  let mark = 0;
  while (i < s.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === s[i])) {
      p++;
      i++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = i;
    } else if (star >= 0) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

interface HostPattern {
  negate: boolean;
  host: string;
  port: number;
}

function parsePort(s: string, line: number): number {
  const port = Number(s);
  if (!/^[0-9]{1,5}$/.test(s) || port < 1 || port > 65535) throw new KnownHostsFormatError(`line ${line}: '${s}' is not a port number`);
  return port;
}

function parseHostPatterns(field: string, line: number): HostPattern[] {
  const out: HostPattern[] = [];
  for (let p of field.split(',')) {
    if (!p) continue;
    const negate = p.startsWith('!');
    if (negate) p = p.slice(1);
    if (!p) throw new KnownHostsFormatError(`line ${line}: '!' without a host name after it`);
    let host = p;
    let port = 22;
    if (p.startsWith('[')) {
      const m = /^\[([^\]]+)\](?::(.*))?$/.exec(p);
      if (!m) throw new KnownHostsFormatError(`line ${line}: '${p}' is not of the form [host]:port`);
      host = m[1];
      if (m[2] !== undefined) port = parsePort(m[2], line);
    } else if (p.split(':').length === 2) {
      // Like Go's net.SplitHostPort, which fluxcd/pkg uses: host:port without brackets.
      const [h, pt] = p.split(':');
      host = h;
      port = parsePort(pt, line);
    }
    out.push({ negate, host: host.toLowerCase(), port });
  }
  if (out.length === 0) throw new KnownHostsFormatError(`line ${line}: no host pattern`);
  return out;
}

function patternMatcher(patterns: HostPattern[]): (host: string, port: number) => boolean {
  return (host, port) => {
    const h = host.toLowerCase();
    let matched = false;
    for (const p of patterns) {
      if (p.port !== port || !wildcardMatch(p.host, h)) continue;
      if (p.negate) return false;
      matched = true;
    }
    return matched;
  };
}

function hashedMatcher(field: string, line: number): (host: string, port: number) => boolean {
  const parts = field.split('|');
  if (parts.length !== 4 || parts[0] !== '') throw new KnownHostsFormatError(`line ${line}: a hashed host must look like |1|<salt>|<hash>`);
  if (parts[1] !== '1') throw new KnownHostsFormatError(`line ${line}: hashed host type '${parts[1]}' is not supported (only |1|, HMAC-SHA1)`);
  const salt = Buffer.from(parts[2], 'base64');
  const hash = Buffer.from(parts[3], 'base64');
  if (salt.length === 0 || hash.length !== 20) throw new KnownHostsFormatError(`line ${line}: the salt or hash of the hashed host is not valid base64`);
  return (host, port) => {
    const h = host.toLowerCase();
    // OpenSSH hashes "host" (port 22) or "[host]:port"; Go's knownhosts.Normalize brackets IPv6 on port 22 too.
    const names = new Set([knownHostName(h, port)]);
    if (port === 22 && h.includes(':')) names.add(`[${h}]`);
    for (const n of names) if (createHmac('sha1', salt).update(n).digest().equals(hash)) return true;
    return false;
  };
}

/** Parses known_hosts text. Throws KnownHostsFormatError naming the first bad line, or when no key is listed. */
export function parseKnownHosts(text: string): KnownHosts {
  const entries: KnownHostEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i].trim();
    if (!raw || raw.startsWith('#')) continue;
    const words = raw.split(/[ \t]+/);
    let marker: KnownHostEntry['marker'];
    if (words[0].startsWith('@')) {
      const m = words.shift()!;
      if (m === '@cert-authority') marker = 'cert-authority';
      else if (m === '@revoked') marker = 'revoked';
      else throw new KnownHostsFormatError(`line ${lineNo}: unknown marker '${m}' (known: @cert-authority, @revoked)`);
    }
    if (words.length < 3) throw new KnownHostsFormatError(`line ${lineNo}: expected '<hosts> <key type> <base64 key>'`);
    const [hosts, , b64] = words;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new KnownHostsFormatError(`line ${lineNo}: the key is not base64`);
    const blob = Buffer.from(b64, 'base64');
    const keyType = blobKeyType(blob);
    if (!keyType) throw new KnownHostsFormatError(`line ${lineNo}: the key is not an SSH public key`);
    const matches = hosts.startsWith('|') ? hashedMatcher(hosts, lineNo) : patternMatcher(parseHostPatterns(hosts, lineNo));
    entries.push({ line: lineNo, ...(marker ? { marker } : {}), keyType, blob, matches });
  }
  if (!entries.some((e) => e.marker !== 'revoked')) throw new KnownHostsFormatError('it lists no host key');
  return { entries };
}

/** The plain (not @cert-authority, not @revoked) keys known for host:port, in file order. */
export function keysForHost(db: KnownHosts, host: string, port: number): KnownHostEntry[] {
  return db.entries.filter((e) => !e.marker && e.matches(host, port));
}

/** True when only @cert-authority lines match host:port. */
export function onlyAuthoritiesForHost(db: KnownHosts, host: string, port: number): boolean {
  return keysForHost(db, host, port).length === 0 && db.entries.some((e) => e.marker === 'cert-authority' && e.matches(host, port));
}

/**
 * Host key algorithms to offer for host:port: those that can present one of its known keys
 * (like Flux, which restricts them to the known key types so the server shows a key we can check).
 */
export function hostKeyAlgorithms(db: KnownHosts, host: string, port: number): string[] {
  const algos: string[] = [];
  for (const e of keysForHost(db, host, port)) {
    for (const a of hostKeyAlgorithmsForType(e.keyType)) if (!algos.includes(a)) algos.push(a);
  }
  return algos;
}

/** Checks the key a server presented for host:port (the host name from the URL, not its IP). */
export function checkHostKey(db: KnownHosts, host: string, port: number, blob: Buffer): HostKeyVerdict {
  const revoked = db.entries.find((e) => e.marker === 'revoked' && e.blob.equals(blob));
  if (revoked) return { ok: false, reason: 'revoked', entry: revoked };
  const known = keysForHost(db, host, port);
  if (known.length === 0) return { ok: false, reason: onlyAuthoritiesForHost(db, host, port) ? 'cert-authority-only' : 'unknown-host' };
  const hit = known.find((e) => e.blob.equals(blob));
  return hit ? { ok: true, entry: hit } : { ok: false, reason: 'mismatch', known };
}

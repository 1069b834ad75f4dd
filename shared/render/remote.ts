/**
 * Which kustomization references reach the network, and where to.
 *
 * kustomize fetches a reference over HTTP when Go's url.Parse gives it the scheme http or
 * https (any field read through its loader: resources, patches, generator files, crds,
 * openapi, ...), and clones a git repository for anything its repo-spec parser accepts
 * (`https://host/org/repo`, `ssh://`, `git@host:org/repo`, `git::...`, `gh:`,
 * `github.com/org/repo//dir?ref=v1`). Those are "remote". `file://` references are never
 * allowed: a local git clone reads the host's files. Remote references, when allowed at all,
 * must not point at the function's own host network (loopback, link-local, unspecified),
 * where the Lambda Runtime API, metadata services and local daemons listen.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** How a reference is read. */
export type ReferenceClass =
  | { kind: 'local' }
  | { kind: 'remote'; host: string | undefined }
  | { kind: 'forbidden'; reason: string };

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const SCP_LIKE = /^[^/@\s]+@([^/:\s]+):/;

/** Does a reference look like a repository or URL (git or URL syntax, or host-like)? */
export function looksRemote(entry: string): boolean {
  return classifyReference(entry).kind !== 'local' || isHostLike(entry);
}

/**
 * Does a path-looking reference read as a repository to kustomize's repo-spec parser
 * (`github.com/org/repo`, `example.org/x?ref=v1`)? kustomize tries such a directory
 * reference as a git clone before it looks on disk.
 */
export function isHostLike(entry: string): boolean {
  if (/[?&](ref|version|submodules|timeout)=/.test(entry)) return true;
  const first = entry.split('/')[0]!;
  return entry.includes('/') && first.includes('.') && first !== '.' && first !== '..';
}

/**
 * Classifies a reference by its syntax alone: URL schemes, scp-like git addresses and
 * shorthands are remote, `file:` and NUL bytes are forbidden, anything else is a local path
 * (possibly one that looksRemote; the caller decides with the filesystem).
 */
export function classifyReference(entry: string): ReferenceClass {
  if (entry.includes('\0')) return { kind: 'forbidden', reason: 'contains a NUL byte' };
  const s = entry.trimStart();
  const m = SCHEME.exec(s);
  if (m && m[1]!.length > 1) {
    const scheme = m[1]!.toLowerCase();
    if (scheme === 'file' || /::file:/i.test(s)) {
      return { kind: 'forbidden', reason: 'is a file: URL; Fluxless never reads files outside the source artifact' };
    }
    if (scheme === 'gh') return { kind: 'remote', host: 'github.com' };
    if (scheme === 'http' || scheme === 'https' || s.slice(m[0].length).includes('//') || scheme === 'git') {
      return { kind: 'remote', host: urlHost(s) };
    }
  }
  const scp = SCP_LIKE.exec(s);
  if (scp) return { kind: 'remote', host: scp[1] };
  return { kind: 'local' }; // `//host/x` too: an absolute path to Go's url.Parse and to the filesystem
}

/** The host of a URL-like reference (`git::` prefixes and userinfo removed), when it parses. */
function urlHost(s: string): string | undefined {
  let u = s.replace(/^git::/i, '');
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(u)) u = u.replace(/^([A-Za-z][A-Za-z0-9+.-]*):/, '$1://');
  try {
    return new URL(u).hostname || undefined;
  } catch {
    return undefined;
  }
}

/** The host of a host-like local-looking reference (`github.com/org/repo` -> `github.com`). */
export function hostOfPathLike(entry: string): string {
  return entry.split('/')[0]!.replace(/:\d*$/, '');
}

const blocked = new BlockList();
blocked.addSubnet('127.0.0.0', 8, 'ipv4'); // loopback
blocked.addSubnet('0.0.0.0', 8, 'ipv4'); // "this host"; 0.0.0.0 connects to loopback on Linux
blocked.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local: cloud metadata, ECS task endpoints
blocked.addAddress('::1', 'ipv6');
blocked.addAddress('::', 'ipv6');
blocked.addSubnet('fe80::', 10, 'ipv6'); // link-local
blocked.addSubnet('fd00:ec2::', 32, 'ipv6'); // EC2 instance metadata over IPv6

/** IPv4 text as inet_aton reads it (`127.1`, `0x7f.0.0.1`, `2130706433`); undefined when it is not one. */
function inetAton(host: string): string | undefined {
  const parts = host.split('.');
  if (parts.length < 1 || parts.length > 4) return undefined;
  const nums: number[] = [];
  for (const p of parts) {
    let n: number;
    if (/^0x[0-9a-f]*$/i.test(p)) n = p.length > 2 ? parseInt(p.slice(2), 16) : 0;
    else if (/^0[0-7]*$/.test(p)) n = parseInt(p, 8);
    else if (/^[1-9][0-9]*$/.test(p)) n = parseInt(p, 10);
    else return undefined;
    nums.push(n);
  }
  const last = nums.pop()!;
  if (nums.some((n) => n > 255) || last >= 2 ** (8 * (4 - nums.length))) return undefined;
  let value = last;
  nums.forEach((n, i) => {
    value += n * 2 ** (8 * (3 - i));
  });
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/**
 * True when `host` (a name or address, as in a URL) is the local machine or its link-local
 * network: `localhost` names, loopback, unspecified and link-local addresses in any of the
 * spellings a resolver accepts. DNS names that resolve there cannot be seen statically.
 */
export function isLocalNetworkHost(host: string): boolean {
  let h = host.trim().toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  const zone = h.indexOf('%');
  if (zone >= 0) h = h.slice(0, zone);
  if (h === '' || h === 'localhost' || h.endsWith('.localhost') || h === 'localhost.localdomain') return true;
  if (isIPv6(h)) return blocked.check(h, 'ipv6');
  const v4 = isIPv4(h) ? h : inetAton(h);
  return v4 !== undefined && blocked.check(v4, 'ipv4');
}

const isAsciiLetter = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isSchemeChar = (c: number) => isAsciiLetter(c) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2e || c === 0x2d;
const URL_TAIL_STOP = new Set([0x22, 0x27, 0x3c, 0x3e]);

/**
 * Every `scheme://...` run inside longer text, as `s.match(/[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s"'<>]*\/g)`
 * finds them, in linear time: that regex rescans a long run of letters from each of its
 * characters (quadratic: 40,000 letters took 1.6 s). Each `://` is found with indexOf and
 * its scheme read backwards; `limit` stops after that many tokens.
 */
export function urlTokens(s: string, limit = Infinity): string[] {
  const out: string[] = [];
  let from = 0;
  for (let q = s.indexOf('://', from); q >= 0 && out.length < limit; q = s.indexOf('://', Math.max(from, q + 1))) {
    let r = q;
    while (r > from && isSchemeChar(s.charCodeAt(r - 1))) r--;
    while (r < q && !isAsciiLetter(s.charCodeAt(r))) r++;
    if (r === q) continue; // no letter to start a scheme
    let e = q + 3;
    while (e < s.length && !URL_TAIL_STOP.has(s.charCodeAt(e)) && !/\s/.test(s[e]!)) e++;
    out.push(s.slice(r, e));
    from = e;
  }
  return out;
}

/** Hosts of every `scheme://host` URL inside a longer string (for values that embed URLs). */
export function urlHostsIn(s: string): string[] {
  return urlTokens(s).map((t) => urlHost(t) ?? '');
}

/** Does a string embed a URL or a git remote (anywhere in it)? */
export function mentionsRemote(s: string): boolean {
  return urlTokens(s, 1).length > 0 || /^\s*(git@|gh:|git::)/i.test(s) || /^\s*https?:/i.test(s);
}

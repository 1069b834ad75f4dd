/**
 * Glob matching for the `#`, `##`, `%` and `%%` operators: a port of
 * github.com/fluxcd/pkg/envsubst path/match.go (Go's path.Match, except that `*` and `?`
 * also match `/`).
 */
import { BACKSLASH, CARET, LBRACKET, MINUS, QUESTION, RBRACKET, STAR } from './chars.js';
import { RUNE_ERROR, decodeRune } from './utf8.js';

function scanChunk(pattern: Uint8Array): [boolean, Uint8Array, Uint8Array] {
  let star = false;
  while (pattern.length > 0 && pattern[0] === STAR) {
    pattern = pattern.subarray(1);
    star = true;
  }
  let inrange = false;
  let i = 0;
  scan: for (; i < pattern.length; i++) {
    switch (pattern[i]) {
      case BACKSLASH:
        if (i + 1 < pattern.length) i++;
        break;
      case LBRACKET:
        inrange = true;
        break;
      case RBRACKET:
        inrange = false;
        break;
      case STAR:
        if (!inrange) break scan;
        break;
    }
  }
  return [star, pattern.subarray(0, i), pattern.subarray(i)];
}

interface ChunkResult {
  rest: Uint8Array;
  ok: boolean;
  err: boolean;
}
const EMPTY = new Uint8Array(0);
const NO_MATCH: ChunkResult = { rest: EMPTY, ok: false, err: false };
const BAD_PATTERN: ChunkResult = { rest: EMPTY, ok: false, err: true };

/** Go's getEsc: a possibly escaped character of a class, or `undefined` on a bad pattern. */
function getEsc(chunk: Uint8Array): [number, Uint8Array] | undefined {
  if (chunk.length === 0 || chunk[0] === MINUS || chunk[0] === RBRACKET) return undefined;
  if (chunk[0] === BACKSLASH) {
    chunk = chunk.subarray(1);
    if (chunk.length === 0) return undefined;
  }
  const [r, n] = decodeRune(chunk, 0);
  if (r === RUNE_ERROR && n === 1) return undefined;
  const rest = chunk.subarray(n);
  if (rest.length === 0) return undefined;
  return [r, rest];
}

function matchChunk(chunk: Uint8Array, s: Uint8Array): ChunkResult {
  while (chunk.length > 0) {
    if (s.length === 0) return NO_MATCH;
    switch (chunk[0]) {
      case LBRACKET: {
        const [r, n] = decodeRune(s, 0);
        s = s.subarray(n);
        chunk = chunk.subarray(1);
        let notNegated = true;
        if (chunk.length > 0 && chunk[0] === CARET) {
          notNegated = false;
          chunk = chunk.subarray(1);
        }
        let match = false;
        let nrange = 0;
        for (;;) {
          if (chunk.length > 0 && chunk[0] === RBRACKET && nrange > 0) {
            chunk = chunk.subarray(1);
            break;
          }
          const lo = getEsc(chunk);
          if (!lo) return BAD_PATTERN;
          let hi: number = lo[0];
          chunk = lo[1];
          if (chunk[0] === MINUS) {
            const h = getEsc(chunk.subarray(1));
            if (!h) return BAD_PATTERN;
            hi = h[0];
            chunk = h[1];
          }
          if (lo[0] <= r && r <= hi) match = true;
          nrange++;
        }
        if (match !== notNegated) return NO_MATCH;
        break;
      }
      case QUESTION: {
        const [, n] = decodeRune(s, 0);
        s = s.subarray(n);
        chunk = chunk.subarray(1);
        break;
      }
      case BACKSLASH:
        chunk = chunk.subarray(1);
        if (chunk.length === 0) return BAD_PATTERN;
        if (chunk[0] !== s[0]) return NO_MATCH;
        s = s.subarray(1);
        chunk = chunk.subarray(1);
        break;
      default:
        if (chunk[0] !== s[0]) return NO_MATCH;
        s = s.subarray(1);
        chunk = chunk.subarray(1);
    }
  }
  return { rest: s, ok: true, err: false };
}

/** Whether all of `name` matches `pattern`; 'error' for a malformed pattern. */
export function globMatch(pattern: Uint8Array, name: Uint8Array): boolean | 'error' {
  outer: while (pattern.length > 0) {
    const [star, chunk, rest] = scanChunk(pattern);
    pattern = rest;
    if (star && chunk.length === 0) return true;
    const first = matchChunk(chunk, name);
    if (first.ok && (first.rest.length === 0 || pattern.length > 0)) {
      name = first.rest;
      continue;
    }
    if (first.err) return 'error';
    if (star) {
      for (let i = 0; i < name.length; i++) {
        const m = matchChunk(chunk, name.subarray(i + 1));
        if (m.ok) {
          if (pattern.length === 0 && m.rest.length > 0) continue;
          name = m.rest;
          continue outer;
        }
        if (m.err) return 'error';
      }
    }
    return false;
  }
  return name.length === 0;
}

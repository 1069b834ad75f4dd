/**
 * The CEL environment Flux uses (fluxcd/pkg runtime/cel): the standard library plus the
 * strings, sets and encoders extensions. @bufbuild/cel ships the strings extension; the
 * sets and encoders functions and `string.reverse()` (strings extension v3) are here.
 */
import { CelScalar, celFunc, celMethod, isCelList, isCelMap, isCelUint, listType } from '@bufbuild/cel';
import type { CelFunc, CelList, CelValue } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { trimEnd } from '../util/trim.js';

const { BOOL, BYTES, DYN, STRING } = CelScalar;
const LIST = listType(DYN);

function num(v: CelValue): number | bigint | undefined {
  if (typeof v === 'number' || typeof v === 'bigint') return v;
  if (isCelUint(v)) return v.value;
  return undefined;
}

/** CEL equality (heterogeneous numbers compare by value) over the values lists hold. */
export function celEquals(a: CelValue, b: CelValue): boolean {
  const na = num(a);
  const nb = num(b);
  if (na !== undefined || nb !== undefined) {
    if (na === undefined || nb === undefined) return false;
    if (typeof na === 'bigint' && typeof nb === 'bigint') return na === nb;
    return na == nb;
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length) return false;
    return a.every((x, i) => x === b[i]);
  }
  if (isCelList(a) || isCelList(b)) {
    if (!(isCelList(a) && isCelList(b)) || a.size !== b.size) return false;
    for (let i = 0; i < a.size; i++) {
      if (!celEquals(a.get(i) as CelValue, b.get(i) as CelValue)) return false;
    }
    return true;
  }
  if (isCelMap(a) || isCelMap(b)) {
    if (!(isCelMap(a) && isCelMap(b)) || a.size !== b.size) return false;
    for (const [k, v] of a) {
      if (!b.has(k)) return false;
      if (!celEquals(v, b.get(k) as CelValue)) return false;
    }
    return true;
  }
  const ma = (a as { message?: { seconds?: bigint; nanos?: number } }).message;
  const mb = (b as { message?: { seconds?: bigint; nanos?: number } }).message;
  if (ma && mb && 'seconds' in ma && 'seconds' in mb) return ma.seconds === mb.seconds && (ma.nanos ?? 0) === (mb.nanos ?? 0);
  return a === b;
}

function includes(list: CelList, v: CelValue): boolean {
  for (const x of list) if (celEquals(x, v)) return true;
  return false;
}

function containsAll(a: CelList, b: CelList): boolean {
  for (const v of b) if (!includes(a, v)) return false;
  return true;
}

const sets: CelFunc[] = [
  celFunc('sets.contains', [LIST, LIST], BOOL, (a, b) => containsAll(a, b)),
  celFunc('sets.equivalent', [LIST, LIST], BOOL, (a, b) => containsAll(a, b) && containsAll(b, a)),
  celFunc('sets.intersects', [LIST, LIST], BOOL, (a, b) => {
    for (const v of b) if (includes(a, v)) return true;
    return false;
  }),
];

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const encoders: CelFunc[] = [
  celFunc('base64.encode', [BYTES], STRING, (b) => Buffer.from(b).toString('base64')),
  celFunc('base64.decode', [STRING], BYTES, (s) => {
    // cel-go accepts padded and unpadded standard base64.
    if (!BASE64.test(s) || trimEnd(s, '=').length % 4 === 1) throw new Error('base64.decode: illegal base64 data');
    return new Uint8Array(Buffer.from(s, 'base64'));
  }),
];

const stringsV3: CelFunc[] = [
  celMethod('reverse', STRING, [], STRING, function (this: string) {
    return Array.from(this).reverse().join('');
  }),
];

/** Every function added to the standard library in Fluxless's CEL environment. */
export const EXTENSION_FUNCTIONS: readonly CelFunc[] = [...strings, ...sets, ...encoders, ...stringsV3];

/**
 * Shamir's secret sharing over GF(2^8) with the AES polynomial 0x11B (getsops/sops
 * `shamir/shamir.go`, after HashiCorp Vault's): each share is its y bytes followed by its
 * 1-based x coordinate; `combine` interpolates at x = 0. Used when a file has several key groups.
 */

function mult(a: number, b: number): number {
  let acc = 0;
  for (let i = 7; i >= 0; i--) {
    const bit = (b >> i) & 1;
    const aOrZero = bit ? a : 0;
    const reduce = acc & 0x80 ? 0x1b : 0;
    acc = aOrZero ^ (((acc << 1) & 0xff) ^ reduce);
  }
  return acc;
}

function inverse(a: number): number {
  // a^254 = a^-1 in GF(2^8).
  let b = mult(a, a);
  let c = mult(a, b);
  b = mult(c, c);
  b = mult(b, b);
  c = mult(b, c);
  b = mult(b, b);
  b = mult(b, b);
  b = mult(b, c);
  b = mult(b, b);
  b = mult(a, b);
  return mult(b, b);
}

function div(a: number, b: number): number {
  if (b === 0) throw new Error('divide by zero');
  return mult(a, inverse(b));
}

/** Recovers the secret from `parts` (each: y bytes then x); throws on malformed parts. */
export function shamirCombine(parts: readonly Uint8Array[]): Buffer {
  if (parts.length < 2) throw new Error('less than two parts cannot be used to reconstruct the secret');
  const len = parts[0].length;
  if (len < 2) throw new Error('parts must be at least two bytes');
  if (parts.some((p) => p.length !== len)) throw new Error('all parts must be the same length');
  const xs = parts.map((p) => p[len - 1]);
  if (new Set(xs).size !== xs.length) throw new Error('duplicate part detected');
  const secret = Buffer.alloc(len - 1);
  for (let idx = 0; idx < len - 1; idx++) {
    let result = 0;
    for (let i = 0; i < parts.length; i++) {
      let basis = 1;
      for (let j = 0; j < parts.length; j++) {
        if (i === j) continue;
        basis = mult(basis, div(xs[j], xs[i] ^ xs[j]));
      }
      result ^= mult(parts[i][idx], basis);
    }
    secret[idx] = result;
  }
  return secret;
}

/** Splits a secret into `parts` shares, any `threshold` of which recover it (for tests and tools). */
export function shamirSplit(secret: Uint8Array, parts: number, threshold: number, random: (n: number) => Uint8Array): Buffer[] {
  if (parts < threshold) throw new Error('parts cannot be less than threshold');
  if (parts > 255) throw new Error('parts cannot exceed 255');
  if (threshold < 2) throw new Error('threshold must be at least 2');
  if (secret.length === 0) throw new Error('cannot split an empty secret');
  const out = Array.from({ length: parts }, (_, i) => {
    const b = Buffer.alloc(secret.length + 1);
    b[secret.length] = i + 1;
    return b;
  });
  for (let idx = 0; idx < secret.length; idx++) {
    const coeffs = [secret[idx], ...random(threshold - 1)];
    for (let i = 0; i < parts; i++) {
      const x = i + 1;
      let y = coeffs[coeffs.length - 1];
      for (let k = coeffs.length - 2; k >= 0; k--) y = mult(y, x) ^ coeffs[k];
      out[i][idx] = y;
    }
  }
  return out;
}

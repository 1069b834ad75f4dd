/**
 * Telling SOPS files apart without decrypting them, as kustomize-controller does: the format
 * of a file from its name (`formats.FormatForPath`, with `.dockerconfigjson` as JSON), and the
 * byte markers that show a file or Secret value is sops-encrypted.
 */
import type { SopsFormat } from './types.js';

/** kustomize-controller's markers (`sopsFormatToMarkerBytes`); binary and JSON share one. */
export const SOPS_MARKERS: Readonly<Record<SopsFormat, string>> = {
  binary: '"mac": "ENC[',
  dotenv: 'sops_mac=ENC[',
  ini: '[sops]',
  json: '"mac": "ENC[',
  yaml: 'mac: ENC[',
};

const DETECTION_ORDER: readonly SopsFormat[] = ['json', 'yaml', 'dotenv', 'ini'];

/** The sops format for a file name: `.yaml`/`.yml`, `.json` (and `.dockerconfigjson`), `.env`, `.ini`, else binary. */
export function formatForPath(path: string): SopsFormat {
  if (path.endsWith('.dockerconfigjson')) return 'json';
  if (path.endsWith('.yaml') || path.endsWith('.yml')) return 'yaml';
  if (path.endsWith('.json')) return 'json';
  if (path.endsWith('.env')) return 'dotenv';
  if (path.endsWith('.ini')) return 'ini';
  return 'binary';
}

/** True when `bytes` contain the sops marker of `format` (what Flux checks before decrypting a file). */
export function isSopsEncrypted(bytes: Uint8Array | string, format: SopsFormat): boolean {
  const marker = SOPS_MARKERS[format];
  return typeof bytes === 'string' ? bytes.includes(marker) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(marker);
}

/**
 * The format whose marker `bytes` contain (Flux's `detectFormatFromMarkerBytes`, in a fixed
 * order where Flux's is random), or undefined when none does. JSON stands for binary too:
 * both are read with the JSON store.
 */
export function detectSopsFormat(bytes: Uint8Array | string): SopsFormat | undefined {
  return DETECTION_ORDER.find((f) => isSopsEncrypted(bytes, f));
}

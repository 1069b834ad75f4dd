/**
 * Decrypting rendered objects after the kustomize build (kustomize-controller
 * `DecryptResource`), and the checks around it:
 *  - an object with a non-empty `sops.mac` is decrypted as a whole (as JSON, without the MAC
 *    check: kustomize rewrites its plain fields) and loses its `sops` key;
 *  - otherwise a Secret's `data` values that are base64 sops files (what secretGenerator
 *    makes from an encrypted file that was not decrypted first) are decrypted and re-encoded,
 *    the output format following the data key's name;
 *  - `kustomize.toolkit.fluxcd.io/decrypt: Disabled` (any case) leaves the object alone.
 */
import { decodeStdBase64 } from './base64.js';
import type { SopsDecrypter } from './decrypt-types.js';
import { detectSopsFormat, formatForPath } from './detect.js';
import { SopsError, wrapSopsError } from './errors.js';
import { extractNestedMetadata } from './store-metadata.js';
import { Branch, Comment, SopsTime, type TreeValue } from './types.js';
import { isRecord } from '../util/guards.js';

/** A Kubernetes object as parsed JSON. */
export type KubeObject = Record<string, unknown>;

/** The annotation that turns decryption off for one object. */
export const DECRYPT_ANNOTATION = 'kustomize.toolkit.fluxcd.io/decrypt';

/** kustomize-controller `IsDecryptionDisabled`: the annotation equals `Disabled`, case-insensitively. */
export function isDecryptionDisabled(annotations: unknown): boolean {
  if (!isRecord(annotations)) return false;
  const v = annotations[DECRYPT_ANNOTATION];
  return typeof v === 'string' && v.toLowerCase() === 'disabled';
}

function meta(obj: KubeObject): { name: string; namespace: string; annotations: unknown } {
  const m = isRecord(obj.metadata) ? obj.metadata : {};
  return {
    name: typeof m.name === 'string' ? m.name : '',
    namespace: typeof m.namespace === 'string' ? m.namespace : '',
    annotations: m.annotations,
  };
}

/** kustomize-controller `IsEncryptedSecret`: a v1 Secret that still has a `sops` field. */
export function isEncryptedSecret(obj: KubeObject): boolean {
  return obj.kind === 'Secret' && obj.apiVersion === 'v1' && Object.prototype.hasOwnProperty.call(obj, 'sops');
}

/** Flux's apply-time refusal of a Secret left encrypted (`<Kind>/<ns>/<name> is SOPS encrypted, ...`). */
export function encryptedSecretMessage(obj: KubeObject): string {
  const m = meta(obj);
  const id = [String(obj.kind ?? ''), ...(m.namespace ? [m.namespace] : []), m.name].join('/');
  return `${id} is SOPS encrypted, configuring decryption is required for this secret to be reconciled`;
}

/** True when Flux would decrypt the object as a whole: a non-empty `sops` with a non-empty `mac`. */
export function isSopsEncryptedResource(obj: KubeObject): boolean {
  const s = obj.sops;
  if (!isRecord(s) || Object.keys(s).length === 0) return false;
  const mac = s.mac;
  return mac !== undefined && mac !== null && mac !== '' && !(isRecord(mac) && Object.keys(mac).length === 0);
}

/** kustomize's resid.Gvk String (`Secret.v1.[noGrp]`), as Flux prints it. */
function gvkString(obj: KubeObject): string {
  const apiVersion = typeof obj.apiVersion === 'string' ? obj.apiVersion : '';
  const i = apiVersion.indexOf('/');
  const group = i > -1 ? apiVersion.slice(0, i) : '';
  const version = i > -1 ? apiVersion.slice(i + 1) : apiVersion;
  return `${typeof obj.kind === 'string' && obj.kind ? obj.kind : '[noKind]'}.${version || '[noVer]'}.${group || '[noGrp]'}`;
}

function toTree(v: unknown): TreeValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : v;
  if (typeof v === 'bigint') return v;
  if (Array.isArray(v)) return v.map(toTree);
  if (isRecord(v)) return new Branch(Object.entries(v).map(([key, value]) => ({ key, value: toTree(value) })));
  return String(v);
}

function fromTree(v: TreeValue): unknown {
  if (v === null) return null;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Branch) {
    const out: Record<string, unknown> = {};
    for (const item of v.items) if (!(item.key instanceof Comment)) out[item.key] = fromTree(item.value);
    return out;
  }
  if (Array.isArray(v)) return v.filter((x) => !(x instanceof Comment)).map(fromTree);
  if (v instanceof SopsTime) return v.text;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (v instanceof Comment) return v.value;
  return v;
}

/** Options of decryptResource. */
export interface DecryptResourceOptions {
  /** Check the MAC of objects decrypted as a whole (default false, as Flux: kustomize changes their plain fields). */
  verifyObjectMac?: boolean;
  /** Check the MAC of sops files held in Secret `data` values (default: the decryptor's setting). */
  verifyDataMac?: boolean;
}

/**
 * Flux's DecryptResource: the decrypted object (a new object; the input is not modified), or
 * undefined when the object is not one Flux decrypts. Errors read like Flux's:
 * `decryption failed for 'Secret.v1.[noGrp]/name': failed to decrypt and format 'ns/name' Secret data: ...`.
 */
export async function decryptResource(dec: SopsDecrypter, obj: KubeObject, opts: DecryptResourceOptions = {}): Promise<KubeObject | undefined> {
  const m = meta(obj);
  if (isDecryptionDisabled(m.annotations)) return undefined;
  const outer = `decryption failed for '${gvkString(obj)}/${m.name}'`;
  const id = `'${m.namespace}/${m.name}'`;
  if (isSopsEncryptedResource(obj)) {
    const where = `${String(obj.kind)} ${m.namespace ? `${m.namespace}/` : ''}${m.name}`;
    try {
      let tree;
      try {
        tree = extractNestedMetadata([toTree(obj) as Branch]);
      } catch (err) {
        throw wrapSopsError(err, 'failed to load encrypted JSON data');
      }
      const [doc] = await dec.decryptLoaded(tree, { verifyMac: opts.verifyObjectMac ?? false });
      return fromTree(doc) as KubeObject;
    } catch (err) {
      throw wrapSopsError(wrapSopsError(err, `failed to decrypt and format ${id} ${String(obj.kind)} data`), outer, where);
    }
  }
  if (obj.kind !== 'Secret') return undefined;
  if (!isRecord(obj.data)) return undefined;
  const data: Record<string, unknown> = { ...obj.data };
  let changed = false;
  for (const key of Object.keys(data).sort()) {
    const value = data[key];
    if (typeof value !== 'string') continue;
    const bytes = decodeStdBase64(value);
    // Not base64: a user error kustomize or the API server reports later.
    if (!bytes) continue;
    const inFormat = detectSopsFormat(bytes);
    if (!inFormat) continue;
    const where = `Secret ${m.namespace ? `${m.namespace}/` : ''}${m.name} data '${key}'`;
    try {
      const out = await dec.decrypt(bytes, inFormat, { outputFormat: formatForPath(key), verifyMac: opts.verifyDataMac });
      data[key] = out.toString('base64');
      changed = true;
    } catch (err) {
      throw wrapSopsError(wrapSopsError(err, `failed to decrypt and format ${id} Secret field '${key}'`), outer, where);
    }
  }
  return changed ? { ...obj, data } : undefined;
}

/** Throws Flux's apply-time error when an object is a v1 Secret still carrying `sops` (and not annotated Disabled). */
export function assertNotEncryptedSecret(obj: KubeObject): void {
  if (isEncryptedSecret(obj) && !isDecryptionDisabled(meta(obj).annotations)) {
    throw new SopsError('SopsUnsupported', encryptedSecretMessage(obj), {
      hint: 'set spec.decryption (provider: sops, secretRef) on the Kustomization',
    });
  }
}

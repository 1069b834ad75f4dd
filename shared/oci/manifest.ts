/**
 * Manifests: the shapes we read (OCI/Docker image manifests and indexes) with validation,
 * and JSON written the way Go's encoding/json writes it (struct field order, map keys
 * sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped), so what we push hashes like what
 * `flux push artifact` pushes for the same content.
 */
import { isIndexMediaType, MANIFEST_MEDIA_TYPES } from './media-types.js';

/** A content descriptor (OCI image-spec). */
export interface Descriptor {
  mediaType: string;
  size: number;
  digest: string;
  annotations?: Record<string, string>;
  platform?: { architecture?: string; os?: string; variant?: string; 'os.version'?: string };
  artifactType?: string;
}

/** An image manifest: config + layers. */
export interface ImageManifest {
  schemaVersion: number;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
  subject?: Descriptor;
}

/** An image index / manifest list. */
export interface ImageIndex {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** A parsed manifest with its kind. */
export type ParsedManifest = { kind: 'image'; manifest: ImageManifest } | { kind: 'index'; index: ImageIndex };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkDescriptor(d: unknown, where: string): Descriptor {
  if (!isRecord(d)) throw new Error(`${where} is not an object`);
  if (typeof d.mediaType !== 'string') throw new Error(`${where}.mediaType is missing`);
  if (typeof d.digest !== 'string' || !/^[a-z0-9]+:[a-f0-9]+$/.test(d.digest)) throw new Error(`${where}.digest is missing or invalid`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw new Error(`${where}.size is missing or invalid`);
  return d as unknown as Descriptor;
}

/**
 * Parses manifest bytes; `contentType` is the response's Content-Type (used when the JSON
 * has no mediaType). Throws Error saying what is wrong.
 */
export function parseManifest(bytes: Buffer, contentType?: string): ParsedManifest {
  let j: unknown;
  try {
    j = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new Error('manifest is not valid JSON');
  }
  if (!isRecord(j)) throw new Error('manifest is not a JSON object');
  const ct = contentType?.split(';')[0].trim();
  const mediaType = typeof j.mediaType === 'string' ? j.mediaType : ct && MANIFEST_MEDIA_TYPES.includes(ct) ? ct : undefined;
  if (j.schemaVersion !== 2) throw new Error(`unsupported manifest schemaVersion ${JSON.stringify(j.schemaVersion)} (only 2)`);
  if (isIndexMediaType(mediaType) || (mediaType === undefined && Array.isArray(j.manifests))) {
    if (!Array.isArray(j.manifests)) throw new Error('index has no manifests');
    j.manifests.forEach((m, i) => checkDescriptor(m, `manifests[${i}]`));
    return { kind: 'index', index: { ...(j as unknown as ImageIndex), ...(mediaType ? { mediaType } : {}) } };
  }
  if (mediaType !== undefined && !MANIFEST_MEDIA_TYPES.includes(mediaType)) throw new Error(`unsupported manifest media type '${mediaType}'`);
  checkDescriptor(j.config, 'config');
  if (!Array.isArray(j.layers)) throw new Error('manifest has no layers array');
  j.layers.forEach((l, i) => checkDescriptor(l, `layers[${i}]`));
  if (j.annotations !== undefined && !isRecord(j.annotations)) throw new Error('manifest annotations must be an object');
  return { kind: 'image', manifest: { ...(j as unknown as ImageManifest), ...(mediaType ? { mediaType } : {}) } };
}

/** JSON.stringify with Go's HTML escaping of strings. */
function goString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A Go `map[string]string` (keys sorted). */
function goMap(m: Record<string, string>): string {
  const keys = Object.keys(m).sort();
  return `{${keys.map((k) => `${goString(k)}:${goString(m[k])}`).join(',')}}`;
}

/** A descriptor as go-containerregistry's v1.Descriptor marshals it. */
export function encodeDescriptor(d: Descriptor): string {
  let s = `{"mediaType":${goString(d.mediaType)},"size":${d.size},"digest":${goString(d.digest)}`;
  if (d.annotations && Object.keys(d.annotations).length > 0) s += `,"annotations":${goMap(d.annotations)}`;
  if (d.artifactType) s += `,"artifactType":${goString(d.artifactType)}`;
  return s + '}';
}

/** An image manifest as go-containerregistry's v1.Manifest marshals it. */
export function encodeImageManifest(m: ImageManifest): Buffer {
  let s = `{"schemaVersion":${m.schemaVersion}`;
  if (m.mediaType) s += `,"mediaType":${goString(m.mediaType)}`;
  s += `,"config":${encodeDescriptor(m.config)}`;
  s += `,"layers":[${m.layers.map(encodeDescriptor).join(',')}]`;
  if (m.annotations && Object.keys(m.annotations).length > 0) s += `,"annotations":${goMap(m.annotations)}`;
  if (m.subject) s += `,"subject":${encodeDescriptor(m.subject)}`;
  return Buffer.from(s + '}', 'utf8');
}

/**
 * The config blob of a Flux artifact as `flux push artifact` (go-containerregistry 0.21)
 * writes it: an empty image config with `created`, one history entry and the layer's diff id.
 */
export function encodeFluxConfig(created: string, diffId: string): Buffer {
  return Buffer.from(
    `{"architecture":"","created":${goString(created)},"history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":[${goString(diffId)}]},"config":{}}`,
    'utf8',
  );
}

/** go-containerregistry's default platform when it picks an image from an index. */
export const DEFAULT_PLATFORM = { os: 'linux', architecture: 'amd64' };

/** The child of an index for a platform (linux/amd64 by default), as remote.Image does. */
export function pickPlatform(index: ImageIndex, platform = DEFAULT_PLATFORM): Descriptor | undefined {
  return index.manifests.find(
    (m) => !isIndexMediaType(m.mediaType) && m.platform?.os === platform.os && m.platform?.architecture === platform.architecture,
  );
}

/** Small helpers to read webhook payloads defensively (every field is checked, nothing trusted). */

/** A JSON object. */
export type JsonObject = Record<string, unknown>;

/** The media type of a Content-Type value, lower-cased, without parameters. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

/**
 * Whether Flux would parse this body as JSON for the CEL filters (isJSONContent):
 * some comma-separated Content-Type entry is `application/json`.
 */
export function isJsonContent(contentType: string | undefined): boolean {
  if (!contentType) return false;
  for (const part of contentType.split(',')) {
    const t = mediaType(part);
    if (t === '') return false;
    if (t === 'application/json') return true;
  }
  return false;
}

/** Parse `text` as a JSON object; a string result is the reason it is not one. */
export function parseJsonObject(text: string | undefined, what: string): JsonObject | string {
  if (text === undefined) return `the ${what} payload is not valid UTF-8`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return `the ${what} payload is not valid JSON`;
  }
  if (!isObject(parsed)) return `the ${what} payload must be a JSON object`;
  return parsed;
}

/** Whether `v` is a (non-array) object. */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `v[key]` when `v` is an object and the value is an object. */
export function objectAt(v: unknown, key: string): JsonObject | undefined {
  if (!isObject(v)) return undefined;
  const x = v[key];
  return isObject(x) ? x : undefined;
}

/** `v[key]` when it is a non-empty string. */
export function stringAt(v: unknown, key: string): string | undefined {
  if (!isObject(v)) return undefined;
  const x = v[key];
  return typeof x === 'string' && x !== '' ? x : undefined;
}

/** `v[key]` when it is an array. */
export function arrayAt(v: unknown, key: string): unknown[] | undefined {
  if (!isObject(v)) return undefined;
  const x = v[key];
  return Array.isArray(x) ? x : undefined;
}

/**
 * Go's encoding/json into a struct: a field present with the wrong type is an error, a
 * missing one is fine. Returns the reason when `v[key]` is present and not `type`.
 */
export function wrongType(v: JsonObject, key: string, type: 'string' | 'object' | 'array'): string | undefined {
  const x = v[key];
  if (x === undefined || x === null) return undefined;
  const ok = type === 'array' ? Array.isArray(x) : type === 'object' ? isObject(x) : typeof x === type;
  return ok ? undefined : `field "${key}" must be ${type === 'array' ? 'an array' : `a ${type}`}`;
}

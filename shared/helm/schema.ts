/**
 * A small structural validator for Flux API objects, driven by the same rules as their CRD
 * OpenAPI schemas (types, enums, patterns, lengths, required fields, unknown fields). Error
 * texts follow the API server's (`spec.x: Unsupported value: "y": supported values: ...`),
 * which is what a Flux user sees from `kubectl apply`.
 */

/** One field's rules. */
export type Schema =
  | { t: 'string'; enum?: readonly string[]; pattern?: RegExp; minLength?: number; maxLength?: number }
  | { t: 'boolean' }
  | { t: 'integer'; minimum?: number }
  | { t: 'object'; props: Record<string, Schema>; required?: readonly string[]; unsupported?: Record<string, string> }
  | { t: 'array'; items: Schema; maxItems?: number }
  | { t: 'map'; values: Schema }
  /** Anything (x-kubernetes-preserve-unknown-fields), but must be a JSON object when present. */
  | { t: 'json-object' };

/** Go duration pattern of Flux's `interval`/`timeout` fields. */
export const DURATION_PATTERN = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
/** The same without hours (HelmRepository `timeout`). */
export const DURATION_NO_HOURS_PATTERN = /^([0-9]+(\.[0-9]+)?(ms|s|m))+$/;

/** A problem found by validate(). */
export interface SchemaProblem {
  path: string;
  message: string;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function q(v: unknown): string {
  return JSON.stringify(v);
}

/**
 * Validates `value` at `path` against `schema`. Unknown object fields are problems; fields
 * listed in an object's `unsupported` map are problems with that explanation (unless empty).
 */
export function validate(schema: Schema, value: unknown, path: string, out: SchemaProblem[] = []): SchemaProblem[] {
  if (value === undefined) return out;
  if (value === null) {
    // The API server drops nulls for optional fields; so do we.
    return out;
  }
  switch (schema.t) {
    case 'string': {
      if (typeof value !== 'string') {
        out.push({ path, message: `Invalid value: ${q(typeName(value))}: ${path} in body must be of type string: ${q(typeName(value))}` });
        break;
      }
      if (schema.enum && !schema.enum.includes(value)) {
        out.push({ path, message: `Unsupported value: ${q(value)}: supported values: ${schema.enum.map(q).join(', ')}` });
      }
      if (schema.minLength !== undefined && value.length < schema.minLength) {
        out.push({ path, message: `Invalid value: ${q(value)}: ${path} in body should be at least ${schema.minLength} chars long` });
      }
      if (schema.maxLength !== undefined && value.length > schema.maxLength) {
        out.push({ path, message: `Too long: may not be more than ${schema.maxLength} bytes` });
      }
      if (schema.pattern && !schema.pattern.test(value)) {
        out.push({ path, message: `Invalid value: ${q(value)}: ${path} in body should match '${schema.pattern.source}'` });
      }
      break;
    }
    case 'boolean':
      if (typeof value !== 'boolean') out.push({ path, message: `Invalid value: ${q(typeName(value))}: ${path} in body must be of type boolean: ${q(typeName(value))}` });
      break;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        out.push({ path, message: `Invalid value: ${q(typeName(value))}: ${path} in body must be of type integer: ${q(typeName(value))}` });
      } else if (schema.minimum !== undefined && value < schema.minimum) {
        out.push({ path, message: `Invalid value: ${value}: ${path} in body should be greater than or equal to ${schema.minimum}` });
      }
      break;
    case 'json-object':
      if (typeof value !== 'object' || Array.isArray(value)) {
        out.push({ path, message: `Invalid value: ${q(typeName(value))}: ${path} in body must be of type object: ${q(typeName(value))}` });
      }
      break;
    case 'array':
      if (!Array.isArray(value)) {
        out.push({ path, message: `Invalid value: ${q(typeName(value))}: ${path} in body must be of type array: ${q(typeName(value))}` });
        break;
      }
      if (schema.maxItems !== undefined && value.length > schema.maxItems) out.push({ path, message: `Too many: ${value.length}: must have at most ${schema.maxItems} items` });
      value.forEach((item, i) => validate(schema.items, item, `${path}[${i}]`, out));
      break;
    case 'map':
      if (typeof value !== 'object' || Array.isArray(value)) {
        out.push({ path, message: `Invalid value: ${q(typeName(value))}: ${path} in body must be of type object: ${q(typeName(value))}` });
        break;
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) validate(schema.values, v, `${path}.${k}`, out);
      break;
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) {
        out.push({ path, message: `Invalid value: ${q(typeName(value))}: ${path} in body must be of type object: ${q(typeName(value))}` });
        break;
      }
      const obj = value as Record<string, unknown>;
      for (const req of schema.required ?? []) {
        if (obj[req] === undefined || obj[req] === null) out.push({ path: `${path}.${req}`, message: 'Required value' });
      }
      for (const [k, v] of Object.entries(obj)) {
        const sub = `${path}.${k}`;
        if (schema.unsupported && k in schema.unsupported) {
          if (!isEmptyValue(v)) out.push({ path: sub, message: `not supported by Fluxless: ${schema.unsupported[k]}` });
          continue;
        }
        const child = schema.props[k];
        if (!child) {
          out.push({ path: sub, message: `unknown field "${sub}" (check the spelling; Fluxless never ignores a field it does not know)` });
          continue;
        }
        validate(child, v, sub, out);
      }
      break;
    }
  }
  return out;
}

/** True for undefined, null, '', false, [] and {}: an unset field. */
export function isEmptyValue(v: unknown): boolean {
  return (
    v === undefined ||
    v === null ||
    v === '' ||
    v === false ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0)
  );
}

/** Shorthands for building schemas. */
export const S = {
  str: (o: Omit<Extract<Schema, { t: 'string' }>, 't'> = {}): Schema => ({ t: 'string', ...o }),
  enumOf: (...values: string[]): Schema => ({ t: 'string', enum: values }),
  bool: (): Schema => ({ t: 'boolean' }),
  int: (minimum?: number): Schema => ({ t: 'integer', ...(minimum !== undefined ? { minimum } : {}) }),
  duration: (): Schema => ({ t: 'string', pattern: DURATION_PATTERN }),
  obj: (props: Record<string, Schema>, required: readonly string[] = [], unsupported?: Record<string, string>): Schema => ({
    t: 'object',
    props,
    required,
    ...(unsupported ? { unsupported } : {}),
  }),
  arr: (items: Schema): Schema => ({ t: 'array', items }),
  strMap: (): Schema => ({ t: 'map', values: { t: 'string' } }),
  json: (): Schema => ({ t: 'json-object' }),
};

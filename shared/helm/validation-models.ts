/**
 * The client-side OpenAPI validation helm runs on a release manifest (`helm install|upgrade`
 * without `--disable-openapi-validation`): kubectl's schemaValidation over kube-openapi's
 * proto models of the cluster's `/openapi/v2` document. Read the same way as
 * k8s.io/kube-openapi pkg/util/proto (document.go: which schema is a Kind, Map, Array,
 * Primitive, Arbitrary or Reference, and which documents it refuses) and validated as its
 * validation/types.go does (unknown fields, missing required fields, value types; null
 * fields skipped).
 *
 * It answers one question only: would helm's validation pass? `validateObject` says yes or
 * names the first problem; it never needs helm's wording, because a manifest it does not pass
 * goes to helm's own validation (validation-manifest.ts). Where kube-openapi's reading of a
 * schema is in doubt, this reading is the stricter one, so "passes" stays a promise.
 */
import { isRecord } from '../util/guards.js';

/** One model, as kube-openapi's proto package reads a schema. */
type Model =
  | { t: 'kind'; fields: Map<string, Model>; required: readonly string[] }
  | { t: 'map'; sub: Model }
  | { t: 'array'; sub: Model }
  | { t: 'primitive'; type: 'string' | 'number' | 'integer' | 'boolean' }
  | { t: 'arbitrary' }
  | { t: 'ref'; name: string };

type Schema = Record<string, unknown>;

/** kube-openapi refused the document (NewOpenAPIData failed): helm's validation fails every object then. */
class SchemaRefused extends Error {}

const GVK_EXTENSION = 'x-kubernetes-group-version-kind';

/** gnostic's TypeItem: `type: x` or `type: [x, y]`. */
function typesOf(s: Schema): string[] {
  const t = s.type;
  if (t === undefined || t === null) return [];
  if (typeof t === 'string') return [t];
  if (Array.isArray(t) && t.every((x) => typeof x === 'string')) return t as string[];
  throw new SchemaRefused('type is neither a string nor a list of strings');
}

/** The models of a swagger 2.0 document, with kubectl's GroupVersionKind index. */
export class ValidationModels {
  private readonly models = new Map<string, Model>();
  private readonly byGvk = new Map<string, Model>();

  private constructor(definitions: Schema) {
    const names = Object.keys(definitions);
    const known = new Set(names);
    for (const name of names) {
      const def = definitions[name];
      if (!isRecord(def)) throw new SchemaRefused(`definition ${name} is not an object`);
      this.models.set(name, parseSchema(def, known));
    }
    // kubectl lists models sorted by name; a later model wins a GroupVersionKind.
    for (const name of [...names].sort()) {
      const ext = (definitions[name] as Schema)[GVK_EXTENSION];
      if (!Array.isArray(ext)) continue;
      for (const e of ext) {
        if (!isRecord(e)) continue;
        const { group, version, kind } = e;
        if (typeof group !== 'string' || typeof version !== 'string' || typeof kind !== 'string' || kind === '') continue;
        this.byGvk.set(gvkKey(group, version, kind), this.models.get(name)!);
      }
    }
  }

  /**
   * Reads a `/openapi/v2` document; undefined when kube-openapi would refuse it (then helm's
   * validation fails every manifest, and only helm can say how).
   */
  static parse(doc: unknown): ValidationModels | undefined {
    if (!isRecord(doc)) return undefined;
    const defs = doc.definitions ?? {};
    if (!isRecord(defs)) return undefined;
    try {
      return new ValidationModels(defs);
    } catch (err) {
      if (err instanceof SchemaRefused) return undefined;
      throw err;
    }
  }

  /**
   * Validates one object (JSON values as Go decodes them) against the model of its kind, as
   * kube-openapi's ValidateModel does. Returns the first problem, or undefined when there is
   * none (also when the document has no model for the kind, as kubectl skips those).
   */
  validateObject(obj: unknown, group: string, version: string, kind: string): string | undefined {
    const model = this.byGvk.get(gvkKey(group, version, kind));
    if (!model) return undefined;
    return this.check(obj, model, kind);
  }

  private resolve(m: Model): Model {
    let cur = m;
    // A chain of references ends at a non-reference model (kube-openapi follows them one at a time).
    for (let i = 0; cur.t === 'ref'; i++) {
      const next = this.models.get(cur.name);
      if (!next || i > 64) return { t: 'kind', fields: new Map(), required: [] };
      cur = next;
    }
    return cur;
  }

  private check(value: unknown, model: Model, path: string): string | undefined {
    const m = this.resolve(model);
    if (m.t === 'arbitrary') return undefined;
    if (value === null || value === undefined) return `${path}: null value`;
    if (Array.isArray(value)) {
      if (m.t !== 'array') return `${path}: array where ${m.t} expected`;
      for (let i = 0; i < value.length; i++) {
        const v = value[i];
        if (v === null || v === undefined) return `${path}[${i}]: null item`;
        const p = this.check(v, m.sub, `${path}[${i}]`);
        if (p) return p;
      }
      return undefined;
    }
    if (typeof value === 'object') {
      const map = value as Record<string, unknown>;
      if (m.t === 'map') {
        for (const k of Object.keys(map)) {
          const v = map[k];
          if (v === null || v === undefined) return `${path}.${k}: null value`;
          const p = this.check(v, m.sub, `${path}.${k}`);
          if (p) return p;
        }
        return undefined;
      }
      if (m.t !== 'kind') return `${path}: map where ${m.t} expected`;
      for (const k of Object.keys(map)) {
        const v = map[k];
        if (v === null || v === undefined) continue;
        const field = m.fields.get(k);
        if (!field) return `${path}: unknown field "${k}"`;
        const p = this.check(v, field, `${path}.${k}`);
        if (p) return p;
      }
      for (const r of m.required) {
        if (map[r] === null || map[r] === undefined) return `${path}: missing required field "${r}"`;
      }
      return undefined;
    }
    const kind = typeof value === 'boolean' ? 'boolean' : typeof value === 'number' ? 'number' : typeof value === 'string' ? 'string' : 'other';
    if (kind === 'other' || (kind === 'number' && !Number.isFinite(value as number))) return `${path}: value of no JSON type`;
    if (m.t !== 'primitive') return `${path}: ${kind} where ${m.t} expected`;
    // kube-openapi: any primitive passes as a string; integers and numbers pass for each other.
    if (m.type === 'string') return undefined;
    if (m.type === 'boolean') return kind === 'boolean' ? undefined : `${path}: ${kind} where boolean expected`;
    return kind === 'number' ? undefined : `${path}: ${kind} where ${m.type} expected`;
  }
}

function gvkKey(group: string, version: string, kind: string): string {
  return `${group}/${version}/${kind}`;
}

/** kube-openapi's Definitions.ParseSchema. */
function parseSchema(s: Schema, known: ReadonlySet<string>): Model {
  const ref = s.$ref;
  if (typeof ref === 'string' && ref !== '') {
    if (isRecord(s.properties) && Object.keys(s.properties).length > 0) throw new SchemaRefused('unallowed embedded type definition');
    if (typesOf(s).length > 0) throw new SchemaRefused("definition reference can't have a type");
    if (!ref.startsWith('#/definitions/')) throw new SchemaRefused(`unallowed reference to non-definition ${ref}`);
    const name = ref.slice('#/definitions/'.length);
    if (!known.has(name)) throw new SchemaRefused(`unknown model in reference: ${name}`);
    return { t: 'ref', name };
  }
  if (ref !== undefined && typeof ref !== 'string') throw new SchemaRefused('$ref is not a string');
  const types = typesOf(s);
  // An empty `properties` still makes a Kind (the stricter reading of kube-openapi's non-nil check).
  const hasProperties = s.properties !== undefined && s.properties !== null;
  if (types.length === 0) return hasProperties ? parseKind(s, known) : { t: 'arbitrary' };
  if (types.length > 1) throw new SchemaRefused("definitions with multiple types aren't supported");
  const t = types[0];
  if (t === 'object') return hasProperties ? parseKind(s, known) : parseMap(s, known);
  if (t === 'array') {
    // gnostic's ItemsItem: one schema, or a list that must hold exactly one.
    const items = Array.isArray(s.items) && s.items.length === 1 ? s.items[0] : s.items;
    if (!isRecord(items)) throw new SchemaRefused('array should have exactly one sub-item');
    return { t: 'array', sub: parseSchema(items, known) };
  }
  if (t === 'string' || t === 'number' || t === 'integer' || t === 'boolean') return { t: 'primitive', type: t };
  throw new SchemaRefused(`Unknown primitive type: ${t}`);
}

function parseKind(s: Schema, known: ReadonlySet<string>): Model {
  if (!isRecord(s.properties)) throw new SchemaRefused('object properties are not a map');
  const fields = new Map<string, Model>();
  for (const [name, sub] of Object.entries(s.properties)) {
    if (!isRecord(sub)) throw new SchemaRefused(`property ${name} is not a schema`);
    fields.set(name, parseSchema(sub, known));
  }
  const req = s.required;
  const required = Array.isArray(req) ? req.filter((r): r is string => typeof r === 'string') : [];
  if (req !== undefined && (!Array.isArray(req) || required.length !== req.length)) throw new SchemaRefused('required is not a list of strings');
  return { t: 'kind', fields, required };
}

function parseMap(s: Schema, known: ReadonlySet<string>): Model {
  const ap = s.additionalProperties;
  // `additionalProperties: true|false` or none: any value (kube-openapi ignores the boolean form).
  return { t: 'map', sub: isRecord(ap) ? parseSchema(ap, known) : { t: 'arbitrary' } };
}

/**
 * Flux's object selector (fluxcd/pkg ssa/jsondiff Selector, after kustomize's): group,
 * version, kind, name and namespace as anchored regular expressions, label and annotation
 * selectors as Kubernetes selector expressions (apimachinery labels.Parse). An empty field
 * matches everything. Used by `spec.ignore[].target`.
 */
import { splitApiVersion, type KubeObject } from '../kube/object.js';
import { ValidationError } from '../util/errors.js';
import { GoRegexp } from '../util/go-regexp.js';

/** A selector as written in a Kustomization (`spec.ignore[].target`, `spec.patches[].target`). */
export interface ObjectSelector {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  labelSelector?: string;
  annotationSelector?: string;
}

/** One requirement of a label selector: `key`, `!key`, `key=v`, `key!=v`, `key in (a,b)`, `key notin (a)`, `key>1`, `key<1`. */
interface Requirement {
  key: string;
  op: 'exists' | '!' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt';
  values: string[];
}

/** A parsed Kubernetes label selector expression (apimachinery labels.Parse). */
export class LabelSelector {
  private constructor(private readonly reqs: readonly Requirement[]) {}

  /** Parses `expr`; throws ValidationError naming the problem. */
  static parse(expr: string): LabelSelector {
    return new LabelSelector(parseRequirements(expr));
  }

  /** True when every requirement holds for `labels`. */
  matches(labels: Readonly<Record<string, string>> | undefined): boolean {
    const l = labels ?? {};
    return this.reqs.every((r) => {
      const has = Object.prototype.hasOwnProperty.call(l, r.key);
      const v = has ? l[r.key]! : undefined;
      switch (r.op) {
        case 'exists':
          return has;
        case '!':
          return !has;
        case '=':
        case 'in':
          return has && r.values.includes(v!);
        case '!=':
        case 'notin':
          return !has || !r.values.includes(v!);
        case 'gt':
        case 'lt': {
          if (!has || !/^-?\d+$/.test(v!)) return false;
          const n = Number(v);
          const bound = Number(r.values[0]);
          return r.op === 'gt' ? n > bound : n < bound;
        }
      }
    });
  }
}

function parseRequirements(expr: string): Requirement[] {
  const out: Requirement[] = [];
  const s = expr.trim();
  if (!s) return out;
  // Split on commas outside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  for (const raw of parts) {
    const p = raw.trim();
    const bad = (why: string): never => {
      throw new ValidationError(`invalid selector ${JSON.stringify(expr)}: ${why} in ${JSON.stringify(p)}`);
    };
    if (!p) bad('empty requirement');
    let m = /^!\s*([^\s=!<>(),]+)$/.exec(p);
    if (m) {
      out.push({ key: m[1]!, op: '!', values: [] });
      continue;
    }
    m = /^([^\s=!<>(),]+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(p);
    if (m) {
      const values = m[3]!.split(',').map((v) => v.trim());
      if (values.some((v) => !validValue(v))) bad('invalid value');
      out.push({ key: m[1]!, op: m[2] as 'in' | 'notin', values });
      continue;
    }
    m = /^([^\s=!<>(),]+)\s*(==|=|!=|>|<)\s*([^\s=!<>(),]*)$/.exec(p);
    if (m) {
      const op = m[2] === '==' || m[2] === '=' ? '=' : m[2] === '!=' ? '!=' : m[2] === '>' ? 'gt' : 'lt';
      if ((op === 'gt' || op === 'lt') && !/^-?\d+$/.test(m[3]!)) bad('the value of > and < must be an integer');
      if (!validValue(m[3]!)) bad('invalid value');
      out.push({ key: m[1]!, op, values: [m[3]!] });
      continue;
    }
    m = /^([^\s=!<>(),]+)$/.exec(p);
    if (m) {
      out.push({ key: m[1]!, op: 'exists', values: [] });
      continue;
    }
    bad('expected key, !key, key=value, key!=value, key in (...), key notin (...)');
  }
  for (const r of out) {
    if (!validKey(r.key)) throw new ValidationError(`invalid selector ${JSON.stringify(expr)}: ${JSON.stringify(r.key)} is not a valid label key`);
  }
  return out;
}

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

function validKey(k: string): boolean {
  const i = k.indexOf('/');
  if (i < 0) return NAME.test(k);
  const prefix = k.slice(0, i);
  return prefix.length <= 253 && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(prefix) && NAME.test(k.slice(i + 1));
}

function validValue(v: string): boolean {
  return v === '' || NAME.test(v);
}

/** A compiled ObjectSelector. */
export class CompiledSelector {
  private constructor(
    private readonly res: { group?: GoRegexp; version?: GoRegexp; kind?: GoRegexp; name?: GoRegexp; namespace?: GoRegexp },
    private readonly labels?: LabelSelector,
    private readonly annotations?: LabelSelector,
  ) {}

  /** Compiles a selector; `field` names it in errors (e.g. `spec.ignore[0].target`). */
  static compile(sel: ObjectSelector, field: string): CompiledSelector {
    // kustomize's selector: Go's regexp, anchored.
    const re = (v: string | undefined, what: string): GoRegexp | undefined => {
      if (!v) return undefined;
      try {
        return GoRegexp.compile(`^(?:${v})$`);
      } catch (err) {
        throw new ValidationError(`${field}.${what}: invalid regular expression ${JSON.stringify(v)}: ${(err as Error).message}`);
      }
    };
    const sl = (v: string | undefined, what: string): LabelSelector | undefined => {
      if (!v) return undefined;
      try {
        return LabelSelector.parse(v);
      } catch (err) {
        throw new ValidationError(`${field}.${what}: ${(err as Error).message}`);
      }
    };
    return new CompiledSelector(
      { group: re(sel.group, 'group'), version: re(sel.version, 'version'), kind: re(sel.kind, 'kind'), name: re(sel.name, 'name'), namespace: re(sel.namespace, 'namespace') },
      sl(sel.labelSelector, 'labelSelector'),
      sl(sel.annotationSelector, 'annotationSelector'),
    );
  }

  /** True when `obj` matches every set field. */
  matches(obj: KubeObject): boolean {
    const { group, version } = splitApiVersion(obj.apiVersion);
    const r = this.res;
    if (r.namespace && !r.namespace.test(obj.metadata.namespace ?? '')) return false;
    if (r.name && !r.name.test(obj.metadata.name)) return false;
    if (r.group && !r.group.test(group)) return false;
    if (r.version && !r.version.test(version)) return false;
    if (r.kind && !r.kind.test(obj.kind)) return false;
    if (this.labels && !this.labels.matches(obj.metadata.labels)) return false;
    if (this.annotations && !this.annotations.matches(obj.metadata.annotations)) return false;
    return true;
  }
}

/**
 * metav1.LabelSelector (`matchLabels`, `matchExpressions` with In, NotIn, Exists,
 * DoesNotExist), as ImageUpdateAutomation `spec.policySelector` uses it. An absent selector
 * selects everything. Parsing errors carry the messages LabelSelectorAsSelector gives.
 */
import { ValidationError } from '../util/errors.js';

/** A compiled selector. */
export interface LabelMatcher {
  matches(labels: Record<string, string> | undefined): boolean;
}

interface Requirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: string[];
}

const KEY = /^(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** Compiles a LabelSelector; throws ValidationError (`field` names it in messages). */
export function compileLabelSelector(sel: unknown, field = 'selector'): LabelMatcher {
  if (sel === undefined || sel === null) return { matches: () => true };
  if (typeof sel !== 'object' || Array.isArray(sel)) throw new ValidationError(`${field} must be a label selector (matchLabels, matchExpressions)`);
  const s = sel as { matchLabels?: unknown; matchExpressions?: unknown };
  const reqs: Requirement[] = [];
  for (const [k, v] of Object.entries((s.matchLabels ?? {}) as Record<string, unknown>)) {
    if (!KEY.test(k)) throw new ValidationError(`${field}.matchLabels: invalid label key "${k}"`);
    if (typeof v !== 'string' || !VALUE.test(v)) throw new ValidationError(`${field}.matchLabels: invalid label value: "${String(v)}" for key "${k}"`);
    reqs.push({ key: k, operator: 'In', values: [v] });
  }
  const exprs = s.matchExpressions ?? [];
  if (!Array.isArray(exprs)) throw new ValidationError(`${field}.matchExpressions must be a list`);
  for (const e of exprs as Array<{ key?: unknown; operator?: unknown; values?: unknown }>) {
    const key = e?.key;
    if (typeof key !== 'string' || !KEY.test(key)) throw new ValidationError(`${field}.matchExpressions: invalid label key "${String(key)}"`);
    const op = e.operator;
    const values = Array.isArray(e.values) ? (e.values as unknown[]).map(String) : [];
    switch (op) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) throw new ValidationError(`${field}.matchExpressions: for 'in', 'notin' operators, values set can't be empty`);
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) throw new ValidationError(`${field}.matchExpressions: values set must be empty for exists and does not exist`);
        break;
      default:
        throw new ValidationError(`${field}.matchExpressions: "${String(op)}" is not a valid label selector operator`);
    }
    reqs.push({ key, operator: op, values });
  }
  return {
    matches(labels) {
      const l = labels ?? {};
      return reqs.every((r) => {
        const has = Object.hasOwn(l, r.key);
        switch (r.operator) {
          case 'In':
            return has && r.values.includes(l[r.key]);
          case 'NotIn':
            return !has || !r.values.includes(l[r.key]);
          case 'Exists':
            return has;
          case 'DoesNotExist':
            return !has;
        }
      });
    },
  };
}

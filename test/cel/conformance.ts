/**
 * Runs cases of the CEL specification's conformance suite (shipped by @bufbuild/cel-spec,
 * generated from google/cel-spec's textproto tests) through shared/cel. Not a test file
 * itself: conformance.test.ts picks the sections and reports.
 */
import { celList, celMap, celUint, isCelError, isCelType } from '@bufbuild/cel';
import type { CelInput, CelValue } from '@bufbuild/cel';
import { getConformanceSuite } from '@bufbuild/cel-spec/testdata/tests.js';
import type { IncrementalTest, IncrementalTestSuite } from '@bufbuild/cel-spec/testdata/tests.js';
import { compileCel } from '../../shared/cel/expression.js';
import { CelEvaluationError, CelExpressionError } from '../../shared/cel/errors.js';
import { celEquals } from '../../shared/cel/functions.js';

type SimpleTest = IncrementalTest['original'];
type ProtoValue = NonNullable<Extract<SimpleTest['resultMatcher'], { case: 'value' }>['value']>;

export interface CaseResult {
  path: string;
  expr: string;
  outcome: 'pass' | 'fail' | 'unsupported';
  detail?: string;
}

/** Raised for a case that needs what shared/cel does not offer (proto messages, containers, ...). */
class Unsupported extends Error {}

function protoToCel(v: ProtoValue): CelInput {
  const k = v.kind;
  switch (k.case) {
    case 'nullValue':
      return null;
    case 'boolValue':
    case 'stringValue':
      return k.value;
    case 'int64Value':
      return BigInt(k.value);
    case 'uint64Value':
      return celUint(BigInt(k.value));
    case 'doubleValue':
      return k.value;
    case 'bytesValue':
      return k.value;
    case 'listValue':
      return celList(k.value.values.map((x) => protoToCel(x)));
    case 'mapValue': {
      const m = new Map<bigint | string | boolean | ReturnType<typeof celUint>, CelInput>();
      for (const e of k.value.entries) {
        if (!e.key || !e.value) throw new Unsupported('map entry without key or value');
        const key = protoToCel(e.key);
        if (key === null || typeof key === 'number' || typeof key === 'object' && !('value' in (key as object))) {
          throw new Unsupported('unusual map key');
        }
        m.set(key as bigint | string | boolean, protoToCel(e.value));
      }
      return celMap(m);
    }
    default:
      throw new Unsupported(`expected value of kind ${k.case}`);
  }
}

function same(actual: CelValue, expected: ProtoValue): boolean {
  if (expected.kind.case === 'typeValue') return isCelType(actual) && actual.name === expected.kind.value;
  if (expected.kind.case === 'doubleValue' && Number.isNaN(expected.kind.value)) {
    return typeof actual === 'number' && Number.isNaN(actual);
  }
  if (expected.kind.case === 'doubleValue' && typeof actual !== 'number') return false;
  if (expected.kind.case === 'int64Value' && typeof actual !== 'bigint') return false;
  if (expected.kind.case === 'uint64Value' && !(typeof actual === 'object' && actual !== null && 'value' in actual)) return false;
  return celEquals(actual, protoToCel(expected) as CelValue);
}

/** Run one case in parse-only mode with its bindings bound natively. */
export function runCase(t: SimpleTest): Omit<CaseResult, 'path'> {
  const expr = t.expr;
  try {
    if (t.disableMacros || t.checkOnly || t.container !== '' || t.typeEnv.length > 0 && t.typeEnv.some((d) => d.declKind.case === 'function')) {
      throw new Unsupported('macros disabled, check-only, container or custom functions');
    }
    if (/TestAllTypes|NestedTestAllTypes|google\.protobuf\.|cel\.expr\./.test(expr)) throw new Unsupported('protobuf messages');
    // No matcher means "evaluates to true".
    const m = t.resultMatcher.case === undefined
      ? { case: 'value' as const, value: { kind: { case: 'boolValue' as const, value: true } } as ProtoValue }
      : t.resultMatcher;
    if (m.case !== 'value' && m.case !== 'evalError' && m.case !== 'anyEvalErrors') throw new Unsupported(`matcher ${m.case}`);
    const bindings: Record<string, CelInput> = {};
    for (const [name, ev] of Object.entries(t.bindings)) {
      if (ev.kind.case !== 'value' || !ev.kind.value) throw new Unsupported('binding that is not a value');
      bindings[name] = protoToCel(ev.kind.value);
    }
    let got: CelValue | Error;
    try {
      const p = compileCel(expr, { numbers: 'native', staticCheck: !t.disableCheck });
      got = p.evaluateValue(bindings);
    } catch (err) {
      if (!(err instanceof CelExpressionError || err instanceof CelEvaluationError)) throw err;
      got = err;
    }
    if (m.case === 'value') {
      if (!m.value) throw new Unsupported('empty value');
      if (got instanceof Error) return { expr, outcome: 'fail', detail: got.message };
      if (isCelError(got)) return { expr, outcome: 'fail', detail: (got as Error).message };
      try {
        return same(got, m.value) ? { expr, outcome: 'pass' } : { expr, outcome: 'fail', detail: `got ${String(got)}` };
      } catch (err) {
        if (err instanceof Unsupported) throw err;
        return { expr, outcome: 'fail', detail: String(err) };
      }
    }
    return got instanceof Error ? { expr, outcome: 'pass' } : { expr, outcome: 'fail', detail: `expected an error, got ${String(got)}` };
  } catch (err) {
    if (err instanceof Unsupported) return { expr, outcome: 'unsupported', detail: err.message };
    return { expr, outcome: 'fail', detail: String(err) };
  }
}

/** Every case under the given top-level section names (e.g. `['basic', 'logic']`). */
export function runSections(names: readonly string[]): CaseResult[] {
  const out: CaseResult[] = [];
  const walk = (s: IncrementalTestSuite, prefix: string) => {
    for (const t of s.tests) out.push({ path: `${prefix}/${t.name}`, ...runCase(t.original) });
    for (const sub of s.suites) walk(sub, `${prefix}/${sub.name}`);
  };
  for (const top of getConformanceSuite().suites) if (names.includes(top.name)) walk(top, top.name);
  return out;
}

/**
 * A static check of a parsed CEL expression, standing in for cel-go's `env.Compile` (the
 * @bufbuild/cel checker only covers constants and identifiers so far):
 * - every function and method exists in the environment, with an overload that fits the
 *   argument types known statically (`'a'.startsWith(1)` is refused);
 * - `has()` gets a field selection;
 * - with declared variables, every identifier is one of them or a comprehension variable;
 * - the result type, to enforce e.g. a bool filter. Declared variables are
 *   google.protobuf.Struct values as in Flux, so a field of one is `dyn`, and `req.flag`
 *   alone is not a bool (cel-go refuses it the same way).
 */
import type { CelEnv, CelType, parse } from '@bufbuild/cel';
import type { CelPosition } from './errors.js';

type Expr = ReturnType<typeof parse>['expr'];
type Kind = Expr['exprKind'];
type CallExpr = Extract<Kind, { case: 'callExpr' }>['value'];
type Comprehension = Extract<Kind, { case: 'comprehensionExpr' }>['value'];
type Constant = Extract<Kind, { case: 'constExpr' }>['value'];

/** A static type: a CEL type name (`bool`, `int`, `list`, `map`, `google.protobuf.Timestamp`, ...) or `dyn`. */
export type StaticType = string;

/** A problem found by the checker, with the id of the sub-expression it is about. */
export class CheckIssue extends Error {
  constructor(message: string, readonly exprId: bigint) {
    super(message);
  }
}

/** Options of checkExpression. */
export interface CheckOptions {
  /** Declared variables; undefined means "not known until evaluation" (parse-only mode). */
  variables?: ReadonlySet<string>;
}

const DYN = 'dyn';
/** Types CEL code can name as identifiers (`type(x) == string`). */
const TYPE_IDENTS = new Set(['bool', 'int', 'uint', 'double', 'string', 'bytes', 'list', 'map', 'null_type', 'type', 'dyn']);
const BOOL = 'bool';

/** Operators the planner implements itself (not in the function resolver). */
const SPECIAL = new Set(['_&&_', '_||_', '_?_:_', '@not_strictly_false', '__not_strictly_false__', '_[_]', '_[?_]', '_?._']);

/** Check `expr`; returns its static result type or throws a CheckIssue. */
export function checkExpression(env: CelEnv, expr: Expr, opts: CheckOptions = {}): StaticType {
  return new Checker(env, opts.variables).check(expr, new Map());
}

function typeName(t: CelType): StaticType {
  switch (t.kind) {
    case 'scalar':
      return t.name === 'null_type' ? 'null_type' : t.name;
    case 'list':
      return 'list';
    case 'map':
      return 'map';
    default:
      return t.name;
  }
}

function constType(c: Constant): StaticType {
  switch (c.constantKind.case) {
    case 'boolValue':
      return BOOL;
    case 'bytesValue':
      return 'bytes';
    case 'doubleValue':
      return 'double';
    case 'int64Value':
      return 'int';
    case 'uint64Value':
      return 'uint';
    case 'stringValue':
      return 'string';
    case 'nullValue':
      return 'null_type';
    case 'durationValue':
      return 'google.protobuf.Duration';
    case 'timestampValue':
      return 'google.protobuf.Timestamp';
    default:
      return DYN;
  }
}

function assignable(actual: StaticType, wanted: StaticType): boolean {
  return actual === DYN || wanted === DYN || actual === wanted;
}

type Scope = ReadonlyMap<string, StaticType>;

class Checker {
  constructor(private readonly env: CelEnv, private readonly variables: ReadonlySet<string> | undefined) {}

  check(e: Expr, scope: Scope): StaticType {
    const k = e.exprKind;
    switch (k.case) {
      case 'constExpr':
        return constType(k.value);
      case 'identExpr':
        return this.ident(k.value.name, scope, e.id);
      case 'selectExpr': {
        const operand = k.value.operand;
        if (!operand) throw new CheckIssue('selection without an operand', e.id);
        this.check(operand, scope);
        return k.value.testOnly ? BOOL : DYN;
      }
      case 'callExpr':
        return this.call(k.value, scope, e.id);
      case 'listExpr':
        for (const el of k.value.elements) this.check(el, scope);
        return 'list';
      case 'structExpr':
        for (const entry of k.value.entries) {
          if (entry.keyKind.case === 'mapKey') this.check(entry.keyKind.value, scope);
          if (entry.value) this.check(entry.value, scope);
        }
        return k.value.messageName === '' ? 'map' : k.value.messageName;
      case 'comprehensionExpr':
        return this.comprehension(k.value, scope);
      default:
        return DYN;
    }
  }

  private ident(name: string, scope: Scope, id: bigint): StaticType {
    const local = scope.get(name);
    if (local !== undefined) return local;
    if (this.variables === undefined) return DYN;
    if (this.variables.has(name)) return 'map';
    if (TYPE_IDENTS.has(name) || name.startsWith('google.protobuf.')) return 'type';
    throw new CheckIssue(`undeclared reference to '${name}'`, id);
  }

  private comprehension(c: Comprehension, scope: Scope): StaticType {
    if (c.iterRange) this.check(c.iterRange, scope);
    const accuType = c.accuInit ? this.check(c.accuInit, scope) : DYN;
    const inner = new Map(scope);
    inner.set(c.iterVar, DYN);
    if (c.iterVar2) inner.set(c.iterVar2, DYN);
    inner.set(c.accuVar, accuType);
    if (c.loopCondition) this.check(c.loopCondition, inner);
    if (c.loopStep) this.check(c.loopStep, inner);
    const resultScope = new Map(scope);
    resultScope.set(c.accuVar, accuType);
    return c.result ? this.check(c.result, resultScope) : DYN;
  }

  /** `a.b.c` as a dotted name when it is one and its root is not a variable in scope. */
  private qualifiedName(e: Expr, scope: Scope): string | undefined {
    const k = e.exprKind;
    if (k.case === 'identExpr') {
      if (scope.has(k.value.name) || this.variables?.has(k.value.name)) return undefined;
      return k.value.name;
    }
    if (k.case === 'selectExpr' && !k.value.testOnly && k.value.operand) {
      const parent = this.qualifiedName(k.value.operand, scope);
      return parent === undefined ? undefined : `${parent}.${k.value.field}`;
    }
    return undefined;
  }

  private call(c: CallExpr, scope: Scope, id: bigint): StaticType {
    // A namespaced function such as sets.contains(a, b) or strings.quote(s).
    if (c.target) {
      const qual = this.qualifiedName(c.target, scope);
      if (qual !== undefined && this.env.funcs.find(`${qual}.${c.function}`)) {
        const args = c.args.map((a) => this.check(a, scope));
        return this.overload(`${qual}.${c.function}`, undefined, args, id);
      }
    }
    if (c.function === 'has' && !c.target) {
      throw new CheckIssue('invalid argument to has() macro: it takes one field selection, e.g. has(status.phase)', id);
    }
    const target = c.target ? this.check(c.target, scope) : undefined;
    const args = c.args.map((a) => this.check(a, scope));
    switch (c.function) {
      case '_&&_':
      case '_||_':
        for (const [i, t] of args.entries()) {
          if (!assignable(t, BOOL)) {
            throw new CheckIssue(`found no matching overload for '${c.function}' applied to '(${args.join(', ')})'`, c.args[i]?.id ?? id);
          }
        }
        return BOOL;
      case '@not_strictly_false':
      case '__not_strictly_false__':
        return BOOL;
      case '_?_:_': {
        if (!assignable(args[0] ?? DYN, BOOL)) {
          throw new CheckIssue(`the condition of '?:' must be a bool, got ${args[0]}`, c.args[0]?.id ?? id);
        }
        const [, a = DYN, b = DYN] = args;
        if (a === b) return a;
        if (a === 'null_type') return b;
        if (b === 'null_type') return a;
        return DYN;
      }
      case '_[_]':
      case '_[?_]':
      case '_?._':
        return DYN;
      default:
        break;
    }
    if (SPECIAL.has(c.function)) return DYN;
    return this.overload(c.function, target, args, id);
  }

  private overload(name: string, target: StaticType | undefined, args: StaticType[], id: bigint): StaticType {
    const group = this.env.funcs.find(name);
    if (group === undefined) {
      throw new CheckIssue(`undeclared reference to '${name}'`, id);
    }
    const results = new Set<StaticType>();
    let sameArity = false;
    for (const f of group) {
      if ((f.target === undefined) !== (target === undefined)) continue;
      if (f.arguments.length !== args.length) continue;
      sameArity = true;
      if (target !== undefined && f.target !== undefined && !assignable(target, typeName(f.target))) continue;
      if (!f.arguments.every((p, i) => assignable(args[i], typeName(p)))) continue;
      results.add(typeName(f.result));
    }
    if (results.size === 0) {
      const sig = `${target !== undefined ? `${target}.` : ''}(${args.join(', ')})`;
      const what = target !== undefined ? 'method' : 'function';
      if (!sameArity) {
        const forms = [...group].filter((f) => (f.target === undefined) === (target === undefined));
        if (forms.length === 0) {
          throw new CheckIssue(
            target !== undefined ? `'${name}' is a function, not a method: call it as ${name}(...)` : `'${name}' is a method: call it as x.${name}(...)`,
            id,
          );
        }
      }
      throw new CheckIssue(`found no matching overload for ${what} '${name}' applied to '${sig}'`, id);
    }
    return results.size === 1 ? [...results][0] : DYN;
  }
}

/** 1-based line:column of a 0-based offset in `text`. */
export function positionOf(text: string, offset: number | undefined): CelPosition | undefined {
  if (offset === undefined || offset < 0) return undefined;
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

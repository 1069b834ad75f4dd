/**
 * Evaluation of parsed envsubst templates: a port of github.com/fluxcd/pkg/envsubst
 * template.go. Arguments are evaluated first (so a default is evaluated even when unused),
 * then the operator is applied to the variable's value.
 */
import { isDefaultOp, lookupFunc } from './functions.js';
import type { Node } from './parser.js';

/** What the engine knows about a variable: its value, or `undefined` when it is not set. */
export type VariableLookup = Record<string, string> | ((name: string) => string | undefined);

/** Strict mode: `variable` is not set and the operator gives no default. */
export class UnsetFailure extends Error {
  constructor(readonly variable: string) {
    super(`variable not set (strict mode): ${JSON.stringify(variable)}`);
  }
}

/** A variable's value and whether it counts as set. */
export type Mapper = (name: string) => [string, boolean];

/** Evaluate a node. With `unset`, record strict-mode failures there instead of throwing. */
export function evalNode(node: Node, mapper: Mapper, unset?: string[]): string {
  if (node.kind === 'text') return node.value;
  const args: string[] = [];
  for (const a of node.args) args.push(evalNode(a, mapper, unset));
  const [v, exists] = mapper(node.param);
  if (!exists && !isDefaultOp(node.name)) {
    if (!unset) throw new UnsetFailure(node.param);
    if (!unset.includes(node.param)) unset.push(node.param);
  }
  return lookupFunc(node.name, args.length)(v, args);
}

/** The Mapper for a lookup: outside strict mode every variable counts as set (empty when missing). */
export function toMapper(lookup: VariableLookup, strict: boolean): Mapper {
  const get: (name: string) => string | undefined =
    typeof lookup === 'function' ? lookup : (name) => (Object.hasOwn(lookup, name) ? lookup[name] : undefined);
  if (strict) {
    return (name) => {
      const v = get(name);
      return v === undefined ? ['', false] : [v, true];
    };
  }
  return (name) => [get(name) ?? '', true];
}

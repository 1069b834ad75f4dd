/**
 * `${var}` expansion with the exact behaviour of the engine Flux's kustomize-controller runs
 * for `spec.postBuild`: github.com/fluxcd/pkg/envsubst, a fork of github.com/drone/envsubst.
 *
 * The scanner, parser, string functions, pattern matcher and evaluator (envsubst/*.ts) follow
 * that engine step by step, quirks
 * included, because users write manifests against what Flux does, not against bash:
 *  - only `${...}` expands; `$var` stays as written; `$$` becomes `$` (so `$${var}` yields the
 *    literal `${var}`, and a lone `$$` anywhere outside `${}` also collapses to `$`).
 *  - `${var:-d}`, `${var:=d}`, `${var=d}`, `${var:?d}` and `${var:+d}` ALL mean "the value, or
 *    `d` when the value is empty". None assigns, none fails, and `:+` is NOT bash's
 *    "alternate value". `${var-d}` and `${var+d}` are not supported: they fail to parse with
 *    "missing closing brace", as in Flux.
 *  - a default may hold several pieces of text and nested `${other}` expressions; all of
 *    them are evaluated, even when the default is not used.
 *  - `${#var}` and `${var:offset:length}` count UTF-8 bytes (Go strings are bytes).
 *  - `#`, `##`, `%`, `%%` take Go-path-style glob patterns (`*`, `?`, `[...]`, `\`), where
 *    `*` and `?` also match `/`; `/`, `//`, `/#`, `/%` take a literal string, not a pattern.
 *    Inside replacement patterns `\/` is a literal `/`, `\\` a literal `\`, `$$` a `$`.
 *  - a malformed expression fails the whole text with one of the engine's messages
 *    ("bad substitution", "missing closing brace", "unable to parse variable name",
 *    "unable to parse substitution within function", "unable to parse default function").
 *  - strict mode: a variable that is not defined makes any expression fail with
 *    `variable not set (strict mode): "NAME"`, unless the operator supplies a default
 *    (`-`, `=`, `?`, `+` with or without `:`). A variable defined as "" is defined.
 *
 * Known, deliberate deviations (only reachable with bytes that are not valid UTF-8):
 * where the Go engine would emit a broken UTF-8 sequence (a byte offset or trim that cuts
 * a multi-byte character), we emit U+FFFD instead, since JS strings cannot hold raw bytes.
 * Upper/lower-casing uses JS's per-character mapping restricted to one-character results,
 * which matches Go's `unicode.ToUpper`/`ToLower` for all but a handful of special letters.
 */
import { ValidationError } from '../util/errors.js';
import { evalNode, toMapper, UnsetFailure, type VariableLookup } from './envsubst/eval.js';
import { ERR_BAD_SUBSTITUTION, ParseFailure, Parser, type Node } from './envsubst/parser.js';
import { Scanner } from './envsubst/scanner.js';
import { fromUtf8, utf8 } from './envsubst/utf8.js';

/** What the engine knows about a variable (envsubst/eval.ts). */
export type { VariableLookup } from './envsubst/eval.js';

/** How `envsubst` treats variables that are not set. */
export interface EnvsubstOptions {
  /** Fail on a variable that is not set (unless the operator supplies a default). */
  strict: boolean;
}

/** Why `envsubst` failed: a malformed expression, or a variable missing in strict mode. */
export class EnvsubstError extends ValidationError {
  /** `parse`: malformed `${...}`; `unset`: strict mode and the variable is not defined. */
  readonly reason: 'parse' | 'unset';
  /** The variable that is not set (reason `unset`). */
  readonly variable?: string;
  /** The template text from the start of the failing top-level `${` (at most 60 chars). */
  readonly snippet?: string;
  constructor(
    reason: 'parse' | 'unset',
    message: string,
    opts: { variable?: string; snippet?: string; hint?: string } = {},
  ) {
    super(message, { hint: opts.hint });
    this.reason = reason;
    this.variable = opts.variable;
    this.snippet = opts.snippet;
  }
}

const UNSET_HINT =
  'define the variable in spec.postBuild.substitute or a spec.postBuild.substituteFrom ' +
  'ConfigMap/Secret, give it a default (${VAR:=default}), write $${VAR} for a literal ${VAR}, ' +
  'or opt the object out with the label or annotation kustomize.toolkit.fluxcd.io/substitute: disabled';

/**
 * Expand every `${...}` in `text` as Flux's postBuild substitution does. `lookup` gives a
 * variable's value, `undefined` meaning "not set". Throws EnvsubstError on a malformed
 * expression, or (strict) on a variable that is not set and has no default operator.
 */
export function envsubst(text: string, lookup: VariableLookup, opts: EnvsubstOptions): string {
  // Fast path: without a '$' (or a NUL, which the engine treats as end of text) nothing changes.
  if (!text.includes('$') && !text.includes('\0')) return text;
  const src = utf8(text);
  const scanner = new Scanner(src);
  const parser = new Parser(scanner);
  let nodes: Node[];
  try {
    nodes = parser.parse();
  } catch (err) {
    if (err instanceof ParseFailure || err instanceof RangeError) {
      const message = err instanceof ParseFailure ? err.message : `${ERR_BAD_SUBSTITUTION}: expressions nested too deeply`;
      const snippet = snippetAt(src, parser.exprStart < 0 ? 0 : scanner.physicalPos(parser.exprStart));
      throw new EnvsubstError('parse', message, {
        snippet,
        hint:
          'fix the ${...} expression (supported: ${var}, ${var:=default}, ${var:-default}, ${#var}, ' +
          '${var^^}, ${var:offset:length}, ${var#pattern}, ${var/old/new}, ...) or write $${ for a literal ${',
      });
    }
    throw err;
  }
  const mapper = toMapper(lookup, opts.strict);
  let out = '';
  try {
    for (const n of nodes) out += evalNode(n, mapper);
  } catch (err) {
    if (err instanceof UnsetFailure) {
      throw new EnvsubstError('unset', err.message, { variable: err.variable, hint: UNSET_HINT });
    }
    if (err instanceof RangeError) {
      throw new EnvsubstError('parse', `${ERR_BAD_SUBSTITUTION}: expressions nested too deeply`);
    }
    throw err;
  }
  return out;
}

/**
 * Every variable that strict mode would reject in `text`, in order of appearance (the first
 * is the one `envsubst` reports). Empty when the text does not parse.
 */
export function findUnsetVariables(text: string, lookup: VariableLookup): string[] {
  if (!text.includes('$')) return [];
  let nodes: Node[];
  try {
    nodes = new Parser(new Scanner(utf8(text))).parse();
  } catch {
    return [];
  }
  const mapper = toMapper(lookup, true);
  const unset: string[] = [];
  try {
    for (const n of nodes) evalNode(n, mapper, unset);
  } catch {
    // only a stack overflow on absurd nesting can land here; report what we found
  }
  return unset;
}

function snippetAt(src: Uint8Array, at: number): string {
  const s = fromUtf8(src.subarray(at, Math.min(src.length, at + 240)));
  const line = s.split('\n', 1)[0];
  const cps = Array.from(line);
  return cps.length > 60 ? cps.slice(0, 60).join('') + '...' : line;
}

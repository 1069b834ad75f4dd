/**
 * Flux `spec.postBuild` variable substitution (fluxcd/pkg kustomize/kustomize_varsub.go).
 *
 * For each object: skip it when it is labelled or annotated
 * `kustomize.toolkit.fluxcd.io/substitute: disabled`; otherwise serialize it to YAML, expand
 * `${...}` in the text (see substitute-envsubst.ts for the exact operator semantics), and
 * read the text back, so values are re-typed as Flux re-types them (`replicas: ${N}` with
 * N="3" becomes the number 3; see substitute-yaml.ts).
 *
 * As in Flux, nothing is substituted when there are no variables at all, unless
 * `always` is set (Flux's `substituteStrategy: Always`): without variables a
 * `${var:=default}` stays as written.
 */
import type { KubeObject } from '../kube/object.js';
import { ValidationError } from '../util/errors.js';
import { EnvsubstError, envsubst, findUnsetVariables } from './substitute-envsubst.js';
import { YamlRoundTripError, parseSubstitutedYaml, serializeForSubstitution } from './substitute-yaml.js';

export { EnvsubstError, envsubst, findUnsetVariables } from './substitute-envsubst.js';
/** Options and variable lookups of the envsubst engine. */
export type { EnvsubstOptions, VariableLookup } from './substitute-envsubst.js';

/** The object type substitution works on: shared/kube/object.ts's KubeObject (the old name, kept for callers). */
export type KubeObjectLike = KubeObject;

/** How substituteVariables treats missing variables and objects without variables. */
export interface SubstituteOptions {
  /** Fail on `${var}` (without a default operator) when `var` is not defined. Flux's default. */
  strict: boolean;
  /** Substitute even when there are no variables (Flux `substituteStrategy: Always`). */
  always?: boolean;
}

/** Label or annotation that opts an object out of substitution when set to `disabled`. */
export const SUBSTITUTE_KEY = 'kustomize.toolkit.fluxcd.io/substitute';
/** The label/annotation value that opts an object out of substitution. */
export const SUBSTITUTE_DISABLED = 'disabled';
/** The pattern Flux requires variable names to match (POSIX classes, ASCII only in Go). */
export const VAR_NAME_PATTERN = '^[_[:alpha:]][_[:alpha:][:digit:]]*$';
const VAR_NAME_RE = /^[_A-Za-z][_A-Za-z0-9]*$/;

/** A substitution that failed for one object; the message names the object. */
export class SubstitutionError extends ValidationError {
  /** `Kind/namespace/name` (or `Kind/name`) of the object, as it was before substitution. */
  readonly objectId: string;
  /** The first variable strict mode rejected, if that is what failed. */
  readonly variable?: string;
  /** Every variable strict mode rejects in this object, in order of appearance. */
  readonly missing?: string[];
  constructor(
    objectId: string,
    message: string,
    opts: { cause?: unknown; hint?: string; variable?: string; missing?: string[] } = {},
  ) {
    super(message, { cause: opts.cause, hint: opts.hint });
    this.objectId = objectId;
    this.variable = opts.variable;
    this.missing = opts.missing;
  }
}

/** Does `name` match Flux's variable-name pattern? */
export function isValidVarName(name: string): boolean {
  return VAR_NAME_RE.test(name);
}

/** Throws a ValidationError (Flux's message) when `name` is not a valid variable name. */
export function validateVarName(name: string): void {
  if (!isValidVarName(name)) {
    throw new ValidationError(`'${name}' var name is invalid, must match '${VAR_NAME_PATTERN}'`, {
      hint:
        'variable names come from spec.postBuild.substitute keys and the data keys of every ' +
        'spec.postBuild.substituteFrom ConfigMap/Secret; rename the key (letters, digits, _; not starting with a digit)',
    });
  }
}

/**
 * Flux's variable precedence: the `substituteFrom` sources in list order (a later source
 * overrides an earlier one), then the inline `substitute` map overrides all. Newlines are
 * removed from every value, as Flux does. Secret values must already be decoded. The
 * result has no prototype, so names like `__proto__` are ordinary variables.
 */
export function mergeVariables(
  sources: Array<{ data: Record<string, string> }>,
  inline?: Record<string, string>,
): Record<string, string> {
  const vars = Object.create(null) as Record<string, string>;
  const add = (data: Record<string, string> | undefined): void => {
    if (!data) return;
    for (const k of Object.keys(data)) vars[k] = String(data[k]).replaceAll('\n', '');
  };
  for (const s of sources) add(s.data);
  add(inline);
  return vars;
}

/** `Kind/namespace/name`, or `Kind/name` for a cluster-scoped object. */
export function objectId(obj: KubeObjectLike): string {
  const md = (obj.metadata ?? {}) as Partial<KubeObjectLike['metadata']>;
  const ns = md.namespace ? `${md.namespace}/` : '';
  return `${obj.kind}/${ns}${md.name ?? ''}`;
}

/** Is the object opted out of substitution (label or annotation `kustomize.toolkit.fluxcd.io/substitute: disabled`)? */
export function isSubstitutionDisabled(obj: KubeObjectLike): boolean {
  const md = obj.metadata as Partial<KubeObjectLike['metadata']> | undefined;
  return md?.labels?.[SUBSTITUTE_KEY] === SUBSTITUTE_DISABLED || md?.annotations?.[SUBSTITUTE_KEY] === SUBSTITUTE_DISABLED;
}

function containsDollar(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('$');
  if (Array.isArray(v)) return v.some(containsDollar);
  if (v !== null && typeof v === 'object') {
    for (const [k, val] of Object.entries(v)) if (k.includes('$') || containsDollar(val)) return true;
  }
  return false;
}

/**
 * A substituted object whose YAML aliases would expand beyond go-yaml's budget (Flux's
 * YAMLToJSON fails the same way): variables that inject `&anchor` / `*alias` tokens.
 */
export class SubstitutionAliasingError extends SubstitutionError {}

const DISABLE_HINT = `or opt the object out with the label or annotation ${SUBSTITUTE_KEY}: ${SUBSTITUTE_DISABLED}`;

/**
 * Substitute `vars` into every object, as Flux's postBuild does. Returns a new array;
 * objects that need no change (opted out, or without any `$`) are the same references,
 * substituted objects are new. Throws SubstitutionError naming the first object that fails.
 */
export function substituteVariables(
  objects: KubeObjectLike[],
  vars: Record<string, string>,
  opts: SubstituteOptions,
): KubeObjectLike[] {
  const names = Object.keys(vars);
  if (names.length === 0 && !opts.always) return objects.slice();
  const invalid = names.find((n) => !isValidVarName(n));

  return objects.map((obj) => {
    if (isSubstitutionDisabled(obj)) return obj;
    const id = objectId(obj);
    const prefix = `post build failed for '${id}': envsubst error: `;
    if (invalid !== undefined) {
      try {
        validateVarName(invalid);
      } catch (err) {
        const e = err as ValidationError;
        throw new SubstitutionError(id, prefix + e.message, { cause: err, hint: e.hint });
      }
    }
    if (!containsDollar(obj)) return obj;

    const text = serializeForSubstitution(obj);
    const isSecret = obj.kind === 'Secret';
    let out: string;
    try {
      out = envsubst(text, vars, { strict: opts.strict });
    } catch (err) {
      if (!(err instanceof EnvsubstError)) throw err;
      const message = `${prefix}variable substitution failed: ${err.message}`;
      if (err.reason === 'unset') {
        const missing = findUnsetVariables(text, vars);
        const others = missing.filter((m) => m !== err.variable);
        const hint = (others.length ? `also not set: ${others.join(', ')}; ` : '') + (err.hint ?? '');
        throw new SubstitutionError(id, message, { cause: err, hint, variable: err.variable, missing });
      }
      const near = err.snippet && !isSecret ? `the failing expression starts with ${JSON.stringify(err.snippet)}; ` : '';
      throw new SubstitutionError(id, message, { cause: err, hint: `${near}${err.hint ?? ''}, ${DISABLE_HINT}` });
    }

    let parsed: unknown;
    try {
      parsed = parseSubstitutedYaml(out);
    } catch (err) {
      if (!(err instanceof YamlRoundTripError)) throw err;
      if (err.code === 'EXCESSIVE_ALIASING') {
        throw new SubstitutionAliasingError(id, `${prefix}YAMLToJSON: ${err.message}`, {
          hint:
            'the substituted values contain YAML anchors and aliases (&name / *name) that expand to far more ' +
            'than the object holds; remove them from the variables, ' +
            DISABLE_HINT,
        });
      }
      // Never echo substituted Secret content: keep only the line and the parser's code.
      const detail = isSecret ? `yaml: line ${err.line ?? '?'}: ${err.code ?? 'invalid YAML'}` : err.message;
      throw new SubstitutionError(id, `${prefix}YAMLToJSON: ${detail}`, {
        cause: isSecret ? undefined : err,
        hint:
          'a substituted value broke the YAML structure: a value that starts with [ { * & ! | > or ' +
          'contains ": " or " #" is not valid as plain YAML. Quoting the placeholder in the manifest ' +
          'does not help (the object is re-serialized before substitution); change the value, ' +
          DISABLE_HINT,
      });
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new SubstitutionError(id, `${prefix}the object is no longer a YAML mapping after substitution`, {
        hint: `check the variables used at the top level of ${id}`,
      });
    }
    return parsed as KubeObjectLike;
  });
}

/**
 * Typed errors of the render pipeline. Every one is a ValidationError (the input is at fault
 * and retrying the same revision gives the same result) whose message names the file,
 * field or object, with paths relative to the source artifact.
 */
import { ValidationError } from '../util/errors.js';

/** A YAML file (or inline YAML) whose aliases would expand beyond go-yaml's budget. */
export class ExcessiveAliasingError extends ValidationError {
  /** Artifact-relative file, with the field for inline YAML (e.g. `apps/kustomization.yaml (patches[0].patch)`). */
  readonly file: string;
  constructor(file: string) {
    super(`excessive aliasing in ${file}`, {
      hint:
        'the YAML anchors and aliases (&name / *name) in this file expand to far more nodes than it contains; ' +
        'write the repeated content out, or use fewer nested aliases',
    });
    this.file = file;
  }
}

/** A kustomization file Fluxless cannot analyse completely, so it refuses to build it. */
export class KustomizationParseError extends ValidationError {
  /** Artifact-relative path of the kustomization file. */
  readonly file: string;
  constructor(file: string, detail: string, opts: { cause?: unknown } = {}) {
    super(`failed to parse ${file}: ${detail}`, {
      cause: opts.cause,
      hint: 'Fluxless reads every kustomization file before kustomize runs (to keep the build inside the source artifact); fix the YAML',
    });
    this.file = file;
  }
}

/** A reference (resources, patches, generator files, ...) that would reach outside the artifact or onto the network. */
export class ReferenceNotAllowedError extends ValidationError {
  /** Artifact-relative path of the kustomization (or plugin configuration) file. */
  readonly file: string;
  /** The field holding the reference, e.g. `resources` or `patches[].path`. */
  readonly field: string;
  /** The reference as written (shortened when very long). */
  readonly entry: string;
  constructor(file: string, field: string, entry: string, problem: string, hint?: string) {
    const shown = entry.length > 200 ? `${entry.slice(0, 200)}...` : entry;
    super(`${file}: ${field} entry '${shown}' ${problem}`, {
      hint: hint ?? 'kustomizations may only reference files and directories inside the source artifact',
    });
    this.file = file;
    this.field = field;
    this.entry = shown;
  }
}

/** A kustomization feature Fluxless does not run (Helm chart inflation, ...). */
export class UnsupportedFeatureError extends ValidationError {
  /** Artifact-relative path of the file using it. */
  readonly file: string;
  constructor(file: string, what: string, hint: string) {
    super(`${file}: ${what} is not supported`, { hint });
    this.file = file;
  }
}

/** kustomize was stopped because it went over a resource limit. */
export class KustomizeLimitError extends ValidationError {
  /** Which limit: resident memory or CPU time. */
  readonly limit: 'memory' | 'cpu';
  constructor(limit: 'memory' | 'cpu', message: string, hint: string) {
    super(message, { hint });
    this.limit = limit;
  }
}

/** A Secret in the build output that is still SOPS-encrypted. */
export class SopsNotSupportedError extends ValidationError {
  /** `namespace/name` (or `name`) of the Secret. */
  readonly secret: string;
  constructor(secret: string) {
    super(`SOPS-encrypted Secret ${secret}: SOPS decryption is not supported yet`, {
      hint: 'Fluxless cannot decrypt SOPS yet (spec.decryption): keep encrypted Secrets out of this path, or provide the Secret another way',
    });
    this.secret = secret;
  }
}

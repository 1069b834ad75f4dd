/**
 * ImageUpdateAutomation (`image.toolkit.fluxcd.io/v1`) spec parsing with Flux's rules and
 * messages: `sourceRef` (GitRepository only), `git` (required: `checkout.ref`, `commit`
 * with a required `author.email`, `signingKey`, `messageTemplate`,
 * `messageTemplateValues`, `push` with `branch`, `refspec`, `options`), `interval`,
 * `update` (strategy `Setters`, the default; `path`), `policySelector`, `suspend`.
 */
import type { KubeObject } from '../../kube/object.js';
import { parseDuration } from '../../util/duration.js';
import { ValidationError } from '../../util/errors.js';
import { compileLabelSelector } from '../../images/label-selector.js';
import type { SigningKeyType } from '../../images/commit-signing.js';

/** A spec the automation cannot run with; `reason` is the Stalled reason. */
export class AutomationSpecError extends ValidationError {
  readonly reason: string;
  constructor(reason: string, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, opts);
    this.reason = reason;
  }
}

/** A GitRepository `spec.ref`-shaped checkout reference, as written. */
export type CheckoutRef = Record<string, unknown>;

/** A parsed ImageUpdateAutomation spec. */
export interface AutomationSpec {
  sourceRef: { kind: 'GitRepository'; name: string; namespace: string };
  interval: string;
  intervalMs: number;
  suspend: boolean;
  /** As written (compiled when policies are listed). */
  policySelector?: unknown;
  updatePath?: string;
  checkoutRef?: CheckoutRef;
  commit: {
    author: { name: string; email: string };
    signingKey?: { secretRef: string; type: SigningKeyType };
    messageTemplate?: string;
    messageTemplateValues: Record<string, string>;
  };
  push?: { branch?: string; refspec?: string; options?: Record<string, string> };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function stringMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new AutomationSpecError('InvalidSpec', `${field} must be a map of strings`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'string') throw new AutomationSpecError('InvalidSpec', `${field}.${k} must be a string`);
    out[k] = x;
  }
  return out;
}

/** Parses an ImageUpdateAutomation; throws AutomationSpecError with the Stalled reason. */
export function parseImageUpdateAutomation(obj: KubeObject, defaultNamespace: string): AutomationSpec {
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  const ns = obj.metadata.namespace ?? defaultNamespace;
  const src = (spec.sourceRef ?? {}) as { kind?: unknown; name?: unknown; namespace?: unknown };
  if (!str(src.name)) throw new AutomationSpecError('InvalidSpec', 'spec.sourceRef.name is required');
  const kind = str(src.kind) ?? 'GitRepository';
  if (kind !== 'GitRepository') {
    throw new AutomationSpecError('InvalidSourceConfiguration', `source kind '${kind}' not supported: invalid source configuration`, { hint: 'spec.sourceRef must name a GitRepository' });
  }
  if (typeof spec.interval !== 'string' || !/^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/.test(spec.interval)) {
    throw new AutomationSpecError('InvalidSpec', `spec.interval must be a duration such as 5m, got ${JSON.stringify(spec.interval ?? null)}`);
  }
  const gitSpec = spec.git as Record<string, unknown> | undefined;
  if (!gitSpec || typeof gitSpec !== 'object') {
    throw new AutomationSpecError('InvalidSourceConfiguration', "source kind 'GitRepository' necessitates field .spec.git: invalid source configuration", { hint: 'set spec.git.commit.author.email (and spec.git.push.branch)' });
  }
  const update = (spec.update ?? { strategy: 'Setters' }) as { strategy?: unknown; path?: unknown };
  const strategy = update.strategy ?? 'Setters';
  if (strategy !== 'Setters') throw new AutomationSpecError('InvalidUpdateStrategy', `unsupported update strategy: ${String(strategy)}`, { hint: "the only update strategy is 'Setters'" });
  const commit = (gitSpec.commit ?? {}) as Record<string, unknown>;
  const author = (commit.author ?? {}) as { name?: unknown; email?: unknown };
  if (!str(author.email)) throw new AutomationSpecError('InvalidSpec', 'spec.git.commit.author.email is required', { hint: 'set the email the automation commits with' });
  let signingKey: AutomationSpec['commit']['signingKey'];
  if (commit.signingKey !== undefined && commit.signingKey !== null) {
    const sk = commit.signingKey as { secretRef?: { name?: unknown }; type?: unknown };
    const name = str(sk.secretRef?.name);
    if (!name) throw new AutomationSpecError('InvalidSpec', 'spec.git.commit.signingKey.secretRef.name is required');
    const type = sk.type === undefined || sk.type === '' ? 'gpg' : sk.type;
    if (type !== 'gpg' && type !== 'ssh') throw new AutomationSpecError('InvalidSpec', `unknown signing key type ${JSON.stringify(type)}`, { hint: "spec.git.commit.signingKey.type is 'gpg' (default) or 'ssh'" });
    signingKey = { secretRef: name, type };
  }
  if (commit.messageTemplate !== undefined && typeof commit.messageTemplate !== 'string') throw new AutomationSpecError('InvalidSpec', 'spec.git.commit.messageTemplate must be a string');
  const checkout = gitSpec.checkout as { ref?: unknown } | undefined;
  let checkoutRef: CheckoutRef | undefined;
  if (checkout !== undefined && checkout !== null) {
    if (!checkout.ref || typeof checkout.ref !== 'object') throw new AutomationSpecError('InvalidSpec', 'spec.git.checkout.ref is required when spec.git.checkout is set');
    checkoutRef = checkout.ref as CheckoutRef;
  }
  let push: AutomationSpec['push'];
  if (gitSpec.push !== undefined && gitSpec.push !== null) {
    const p = gitSpec.push as { branch?: unknown; refspec?: unknown; options?: unknown };
    push = {
      ...(str(p.branch) ? { branch: str(p.branch) } : {}),
      ...(str(p.refspec) ? { refspec: str(p.refspec) } : {}),
      ...(p.options !== undefined ? { options: stringMap(p.options, 'spec.git.push.options') } : {}),
    };
  }
  if (spec.policySelector !== undefined) {
    try {
      compileLabelSelector(spec.policySelector, 'spec.policySelector');
    } catch (err) {
      throw new AutomationSpecError('InvalidPolicySelector', `failed to parse policy selector: ${(err as Error).message}`, { cause: err });
    }
  }
  return {
    sourceRef: { kind: 'GitRepository', name: str(src.name)!, namespace: str(src.namespace) ?? ns },
    interval: spec.interval,
    intervalMs: parseDuration(spec.interval, 'spec.interval'),
    suspend: spec.suspend === true,
    ...(spec.policySelector !== undefined ? { policySelector: spec.policySelector } : {}),
    ...(str(update.path) ? { updatePath: str(update.path) } : {}),
    ...(checkoutRef ? { checkoutRef } : {}),
    commit: {
      author: { name: str(author.name) ?? '', email: str(author.email)! },
      ...(signingKey ? { signingKey } : {}),
      ...(commit.messageTemplate ? { messageTemplate: commit.messageTemplate as string } : {}),
      messageTemplateValues: stringMap(commit.messageTemplateValues, 'spec.git.commit.messageTemplateValues'),
    },
    ...(push ? { push } : {}),
  };
}

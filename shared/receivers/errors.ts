/**
 * Errors of the Receiver app whose message is meant for the webhook's sender (answered in
 * the 500 body). Any other failure is answered with a generic message and logged, so that
 * role ARNs, bucket or Secret names do not leave the function.
 */
import { CelEvaluationError } from '../cel/errors.js';
import { FluxlessError } from '../util/errors.js';

/**
 * Some of a Receiver's `spec.resources` could not be marked; the others were. Flux answers
 * 500 and so do we, with the reason for each refused target.
 */
export class ReceiverTargetsError extends FluxlessError {
  /** One reason per refused target (`resources[1] Kustomization/other/app: ...`). */
  readonly reasons: readonly string[];
  constructor(receiver: { namespace: string; name: string }, reasons: readonly string[]) {
    super(
      'ReceiverTargetsRefused',
      `Receiver ${receiver.namespace}/${receiver.name}: ${reasons.join('; ')}`,
      { hint: 'move the objects into the Receiver\'s namespace, or turn off lockdown.noCrossNamespaceRefs' },
    );
    this.reasons = reasons;
  }
}

/** True when the error's message may be returned to the webhook's sender. */
export function isSenderFacing(err: unknown): boolean {
  return err instanceof ReceiverTargetsError || err instanceof CelEvaluationError;
}

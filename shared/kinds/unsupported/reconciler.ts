/**
 * Kinds Flux has and Fluxless does not reconcile yet. Their definitions are kept, and they
 * show in `fluxless get all` with Ready=False, reason NotSupported, a Warning event and
 * Stalled (nothing happens until Fluxless supports the kind), never only a log line.
 */
import { bucketDescriptor } from './descriptor.js';
import type { KindDescriptor, KindReconciler, ReconcileResult, ReconcileServices, ReconcileRequest } from '../../reconcile/contract.js';
import { writeStatus } from '../../reconcile/status.js';
import { ValidationError } from '../../util/errors.js';

/** A kind that is recognised, kept and reported, but not reconciled; `what` names it in the messages. */
export function unsupportedKind(descriptor: KindDescriptor, what: string): KindReconciler {
  const kind = descriptor.kind;
  return {
    ...descriptor,
    reconcile: async (svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> => {
      const message = `${kind} is not supported yet by Fluxless (${what}): the definition is kept but not reconciled`;
      const cur = req.record.status.conditions?.find((c) => c.type === 'Ready');
      if (cur?.reason !== 'NotSupported' || cur.message !== message || req.record.status.observedGeneration !== Number(req.record.object?.metadata.generation ?? 1)) {
        await writeStatus(svc.state, req.key, { ready: false, reason: 'NotSupported', message, stalled: true, handledRequest: req.record.requestedAt, event: { severity: 'error', reason: 'NotSupported', message } }, svc.now());
      }
      req.log.warn(message);
      return { ready: false, reason: 'NotSupported', message, wake: [] };
    },
    finalize: async (svc, req) => {
      await svc.state.delete(req.key);
      return { ready: false, reason: 'Finalized', message: `${kind} ${req.key.namespace}/${req.key.name} deleted`, wake: [] };
    },
    summary: () => ({ revision: '' }),
    validate: () => {
      throw new ValidationError(`${kind} is not supported yet by Fluxless (${what})`);
    },
  };
}

/** Bucket: recognised, reported NotSupported. */
export const bucketKind: KindReconciler = unsupportedKind(bucketDescriptor, 'Bucket sources');

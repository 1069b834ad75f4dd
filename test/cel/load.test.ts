/**
 * CEL on first use (shared/cel/load.ts): parsing a Receiver or Provider without an
 * expression does not load CEL; one with an expression, run in withCel, loads it and parses
 * again; errors of the spec pass through with their field. This file runs in a process of its
 * own (node --test isolates files), so CEL starts unloaded here: nothing below imports
 * shared/cel/expression.ts statically.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CelExpressionError } from '../../shared/cel/errors.js';
import { CelNotLoadedError, cel, withCel } from '../../shared/cel/load.js';
import { parseProvider } from '../../shared/notify/spec.js';
import { parseReceiverObject } from '../../shared/receivers/spec.js';

function receiver(spec: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1',
    kind: 'Receiver',
    metadata: { name: 'github', namespace: 'flux-system' },
    spec: { type: 'github', secretRef: { name: 'token' }, resources: [{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'flux-system' }], ...spec },
  };
}

test('CEL is loaded only when a spec has an expression, and then the parse succeeds', async () => {
  // No expression: parsed without CEL, which stays unloaded.
  const plain = await withCel(() => parseReceiverObject(receiver({})));
  assert.equal(plain.spec.type, 'github');
  assert.throws(() => cel(), CelNotLoadedError);
  // A sync parse of a filter before CEL is loaded names the caller's mistake.
  const filtered = receiver({ resourceFilter: 'res.metadata.name == req.repository.name' });
  assert.throws(() => parseReceiverObject(filtered), CelNotLoadedError);
  // withCel loads it and parses again.
  const parsed = await withCel(() => parseReceiverObject(filtered));
  assert.equal(parsed.spec.resourceFilter, 'res.metadata.name == req.repository.name');
  assert.equal(cel().compileCelBoolean('1 == 1', []).evaluateBoolean({}), true);
});

test('errors of a spec with an expression pass through withCel with the field', async () => {
  await assert.rejects(
    withCel(() => parseReceiverObject(receiver({ resourceFilter: 'res.metadata.name ==' }))),
    (err: unknown) => err instanceof CelExpressionError && /resourceFilter/.test(err.message),
  );
  await assert.rejects(
    withCel(() =>
      parseProvider({
        apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
        kind: 'Provider',
        metadata: { name: 'gh', namespace: 'flux-system' },
        spec: { type: 'github', address: 'https://github.com/org/repo', secretRef: { name: 'gh' }, commitStatusExpr: 'event.' },
      }),
    ),
    /spec\.commitStatusExpr/,
  );
});

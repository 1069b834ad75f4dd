import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { HealthCheckSet } from '../../shared/cel/health.js';
import { CelEvaluationError, CelExpressionError } from '../../shared/cel/errors.js';
import { ValidationError } from '../../shared/util/errors.js';

const certificate = (extra: Record<string, unknown> = {}) => ({
  apiVersion: 'cert-manager.io/v1',
  kind: 'Certificate',
  metadata: { name: 'web', generation: 2 },
  status: { observedGeneration: 2, conditions: [{ type: 'Ready', status: 'True' }] },
  ...extra,
});

const exprs = [
  {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    current: "status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')",
    failed: "status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'False')",
  },
  {
    apiVersion: 'cert-manager.io/v1',
    current: "has(status.phase) && status.phase == 'Done'",
    inProgress: "has(status.phase) && status.phase == 'Pending'",
  },
];

describe('HealthCheckSet', () => {
  test('kind entry decides Current and Failed', () => {
    const set = HealthCheckSet.compile(exprs);
    assert.deepEqual(set.evaluate(certificate()), { status: 'Current', reason: 'current' });
    const failed = certificate({ status: { observedGeneration: 2, conditions: [{ type: 'Ready', status: 'False' }] } });
    assert.deepEqual(set.evaluate(failed), { status: 'Failed', reason: 'failed' });
    const unknown = certificate({ status: { observedGeneration: 2, conditions: [{ type: 'Ready', status: 'Unknown' }] } });
    assert.deepEqual(set.evaluate(unknown), { status: 'InProgress', reason: 'none' });
  });

  test('a lagging observedGeneration is InProgress whatever the expressions say', () => {
    const set = HealthCheckSet.compile(exprs);
    const lagging = certificate({ metadata: { name: 'web', generation: 3 } });
    assert.deepEqual(set.evaluate(lagging), { status: 'InProgress', reason: 'generation' });
  });

  test('an entry without kind covers the other kinds of its group; the version is ignored', () => {
    const set = HealthCheckSet.compile(exprs);
    const issuer = { apiVersion: 'cert-manager.io/v1beta1', kind: 'Issuer', metadata: { name: 'x' }, status: { phase: 'Pending' } };
    assert.equal(set.supports('cert-manager.io/v2', 'Issuer'), true);
    assert.deepEqual(set.evaluate(issuer), { status: 'InProgress', reason: 'inProgress' });
    assert.deepEqual(set.evaluate({ ...issuer, status: { phase: 'Done' } }), { status: 'Current', reason: 'current' });
    assert.equal(set.supports('apps/v1', 'Deployment'), false);
    assert.equal(set.evaluate({ apiVersion: 'apps/v1', kind: 'Deployment' }), undefined);
  });

  test('inProgress is evaluated before failed and current', () => {
    const set = HealthCheckSet.compile([
      { apiVersion: 'example.com/v1', kind: 'Job', current: 'true', failed: 'true', inProgress: 'status.running == true' },
    ]);
    const job = (running: boolean) => ({ apiVersion: 'example.com/v1', kind: 'Job', metadata: {}, status: { running } });
    assert.equal(set.evaluate(job(true))?.status, 'InProgress');
    assert.equal(set.evaluate(job(false))?.status, 'Failed');
  });

  test('integers behave as in Kubernetes objects', () => {
    const set = HealthCheckSet.compile([{ apiVersion: 'apps/v1', kind: 'Deployment', current: 'status.readyReplicas + 0 == spec.replicas' }]);
    const d = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: {}, spec: { replicas: 2 }, status: { readyReplicas: 2 } };
    assert.equal(set.evaluate(d)?.status, 'Current');
  });

  test('a missing field is an evaluation error, not a silent false', () => {
    const set = HealthCheckSet.compile(exprs);
    assert.throws(() => set.evaluate({ apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: {} }), CelEvaluationError);
  });

  test('bad entries are refused with the entry and position named', () => {
    assert.throws(() => HealthCheckSet.compile([exprs[0], { ...exprs[0] }]), (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      assert.match(err.message, /spec\.healthCheckExprs\[1\]: duplicate custom health check for Certificate\.cert-manager\.io/);
      return true;
    });
    assert.throws(() => HealthCheckSet.compile([{ apiVersion: 'x.io/v1', kind: 'A', current: "status.phase == 'Ready" }]), (err: unknown) => {
      assert.ok(err instanceof CelExpressionError);
      assert.match(err.message, /^spec\.healthCheckExprs\[0\]\.current: invalid CEL expression "status\.phase == 'Ready" at 1:\d+: syntax error/);
      assert.equal(err.position?.line, 1);
      return true;
    });
    assert.throws(() => HealthCheckSet.compile([{ apiVersion: 'x.io/v1', kind: 'A', current: '' }]), /spec\.healthCheckExprs\[0\]\.current: the expression is required/);
    assert.throws(() => HealthCheckSet.compile([{ apiVersion: 'x.io/v1', current: 'true', failed: 'nope(1)' }]), /healthCheckExprs\[0\]\.failed: invalid CEL expression "nope\(1\)" at 1:1: undeclared reference to 'nope'/);
  });
});

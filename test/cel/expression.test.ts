import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { compileCel, compileCelBoolean } from '../../shared/cel/expression.js';
import { CelEvaluationError, CelExpressionError } from '../../shared/cel/errors.js';
import { ReadyExpression } from '../../shared/cel/ready.js';

const FILTER_VARS = ['res', 'req'];

function compileError(fn: () => unknown): CelExpressionError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CelExpressionError, `expected a CelExpressionError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the expression to be rejected');
}

function evalError(fn: () => unknown): CelEvaluationError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CelEvaluationError, `expected a CelEvaluationError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the evaluation to fail');
}

describe('compileCel', () => {
  test('a syntax error names the expression and the line:column', () => {
    const err = compileError(() => compileCel("res.metadata.name ==\n  'a' &&", { variables: FILTER_VARS }));
    assert.equal(err.code, 'InvalidCELExpression');
    assert.deepEqual(err.position, { line: 2, column: 7 });
    assert.match(err.message, /^invalid CEL expression "res\.metadata\.name == 'a' &&" at 2:7: syntax error: /);
  });

  test('an undeclared variable is refused at its position (Flux: undeclared reference)', () => {
    const err = compileError(() => compileCelBoolean("res.metadata.name == 'a' && requrest.body.value == 1", FILTER_VARS));
    assert.match(err.message, /at 1:29: undeclared reference to 'requrest'/);
  });

  test('a filter must have a bool result type, statically', () => {
    assert.match(compileError(() => compileCelBoolean("'test'", FILTER_VARS)).message, /the result type must be bool, got string/);
    // A Struct field is dyn, as in cel-go: comparing it makes it a bool.
    assert.match(compileError(() => compileCelBoolean('req.flag', FILTER_VARS)).message, /must be bool, got dyn/);
    assert.equal(compileCelBoolean('req.flag == true', FILTER_VARS).evaluateBoolean({ res: {}, req: { flag: true } }), true);
  });

  test('unknown functions and impossible overloads are refused before evaluation', () => {
    assert.match(compileError(() => compileCel('frobnicate(1) == 2')).message, /at 1:1: undeclared reference to 'frobnicate'/);
    assert.match(compileError(() => compileCel("'abc'.startsWith(1)")).message, /at 1:6: found no matching overload for method 'startsWith' applied to 'string.\(int\)'/);
    assert.match(compileError(() => compileCel('has(status)')).message, /invalid argument to has\(\) macro/);
  });

  test('an evaluation error carries the position of the failing selection', () => {
    const p = compileCelBoolean("res.metadata.name == 'web' &&\n req.tag.startsWith('v')", FILTER_VARS);
    const err = evalError(() => p.evaluateBoolean({ res: { metadata: { name: 'web' } }, req: {} }));
    assert.equal(err.code, 'CELEvaluationFailed');
    assert.deepEqual(err.position, { line: 2, column: 5 });
    assert.match(err.message, /tag/);
    // Short-circuit: the missing field is never read.
    assert.equal(p.evaluateBoolean({ res: { metadata: { name: 'api' } }, req: {} }), false);
  });

  test('compiled once: the same expression and options return the same program', () => {
    const a = compileCelBoolean("res.metadata.labels['app'] == 'web'", FILTER_VARS);
    const b = compileCelBoolean("res.metadata.labels['app'] == 'web'", FILTER_VARS);
    assert.equal(a, b);
    assert.notEqual(a, compileCel("res.metadata.labels['app'] == 'web'"));
    // A bad expression is remembered as bad.
    const e1 = compileError(() => compileCel('1 +'));
    const e2 = compileError(() => compileCel('1 +'));
    assert.equal(e1, e2);
  });

  test('struct numbers are doubles, unstructured whole numbers are ints', () => {
    const obj = { status: { replicas: 3, ratio: 0.5 } };
    assert.equal(compileCel('status.replicas + 1', { numbers: 'unstructured' }).evaluate(obj), 4);
    assert.equal(compileCel('status.ratio * 2.0').evaluate(obj), 1);
    // As with structpb in Flux: double + int has no overload.
    const s = compileCel('self.status.replicas + 1', { variables: ['self'] });
    assert.match(evalError(() => s.evaluate({ self: obj })).message, /no matching overload for '_\+_' applied to '\(double, int\)'/);
    // Cross-type numeric comparison works in both.
    assert.equal(compileCelBoolean('self.status.replicas == 3 && self.status.replicas > 2', ['self']).evaluateBoolean({ self: obj }), true);
  });

  test("Flux's extensions: strings, sets, encoders", () => {
    const vars = { req: { tags: ['v1.2.3', 'latest'], name: 'Podinfo' }, res: {} };
    const cases: Array<[string, boolean]> = [
      ["req.name.lowerAscii() == 'podinfo'", true],
      ["req.name.indexOf('info') == 3", true],
      ["sets.contains(req.tags, ['latest'])", true],
      ["sets.intersects(req.tags, ['v2'])", false],
      ["sets.equivalent(['a', 'b'], ['b', 'a'])", true],
      ["base64.encode(b'hi') == 'aGk='", true],
      ["base64.decode('aGk') == b'hi'", true],
      ["req.tags.exists(t, t.matches('^v[0-9]+'))", true],
      ["req.name.reverse() == 'ofnidoP'", true],
      ["'%s-%d'.format(['a', 1]) == 'a-1'", true],
    ];
    for (const [expr, want] of cases) assert.equal(compileCelBoolean(expr, FILTER_VARS).evaluateBoolean(vars), want, expr);
  });

  test('variables are only what was bound: no prototype properties', () => {
    const p = compileCel('toString');
    assert.match(evalError(() => p.evaluate({})).message, /unresolved attribute/);
    const q = compileCelBoolean("'constructor' in req || has(req.__proto__)", FILTER_VARS);
    assert.equal(q.evaluateBoolean({ res: {}, req: {} }), false);
    assert.equal(q.evaluateBoolean({ res: {}, req: JSON.parse('{"__proto__": 1}') as object }), true);
  });

  test('results come back as plain JavaScript', () => {
    const v = compileCel("status.conditions.filter(c, c.status == 'True').map(c, {'type': c.type, 'n': size(c.type)})").evaluate({
      status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'Stalled', status: 'False' }] },
    });
    assert.deepEqual(v, [{ type: 'Ready', n: 5 }]);
  });

  test('evaluateBoolean refuses a non-bool result of a parse-only expression', () => {
    const err = evalError(() => compileCel('status.phase').evaluateBoolean({ status: { phase: 'Ready' } }));
    assert.match(err.message, /the result must be a bool, got string/);
  });
});

describe('ReadyExpression (dependsOn[].readyExpr)', () => {
  test('sees self and dep', () => {
    const r = ReadyExpression.compile(
      "dep.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True') && dep.metadata.labels.tier == self.metadata.labels.tier",
    );
    const self = { metadata: { labels: { tier: 'web' } } };
    const ready = { metadata: { labels: { tier: 'web' } }, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
    assert.equal(r.isReady(self, ready), true);
    assert.equal(r.isReady(self, { ...ready, metadata: { labels: { tier: 'db' } } }), false);
  });

  test('a bad readyExpr names the field and position', () => {
    const err = compileError(() => ReadyExpression.compile('dep.status.ready ==', 'spec.dependsOn[2].readyExpr'));
    assert.match(err.message, /^spec\.dependsOn\[2\]\.readyExpr: invalid CEL expression "dep\.status\.ready ==" at 1:\d+: syntax error/);
    assert.ok(err.position);
    assert.match(compileError(() => ReadyExpression.compile('other.ready == true')).message, /undeclared reference to 'other'/);
  });
});

/**
 * maskSecretValues / maskEchoedValues / maskError / maskSecrets (pure text and object
 * transformations; the API server's own error texts are exercised in secret-errors.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldDiff, renderDiff } from '../../shared/apply/diff.js';
import { maskEchoedValues, maskError, maskSecretValues, secretMasker, valueMasker } from '../../shared/apply/mask.js';
import { KubeApiError } from '../../shared/kube/client.js';
import type { KubeObject } from '../../shared/kube/object.js';
import { FluxlessError } from '../../shared/util/errors.js';

const secret = (fields: Record<string, unknown>, meta: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 's', namespace: 'ns', ...meta },
  ...fields,
});
const b64 = (s: string) => Buffer.from(s).toString('base64');

test('every form of a stringData value is masked: raw, base64, JSON/Go escaped, Go byte lists, hex', () => {
  const v = 'he said "hi" <tag> & left\n';
  const s = secret({ stringData: { note: v } });
  const forms = [
    v,
    JSON.stringify(v).slice(1, -1),
    'he said \\"hi\\" \\u003ctag\\u003e \\u0026 left\\n',
    JSON.stringify(JSON.stringify(v).slice(1, -1)).slice(1, -1),
    b64(v),
    b64(v).replace(/=+$/, ''),
    [...Buffer.from(v)].join(' '),
    [...Buffer.from(v)].map((x) => '0x' + x.toString(16)).join(', '),
    Buffer.from(v).toString('hex'),
  ];
  for (const f of forms) {
    const out = maskSecretValues(`before ${f} after`, [s]);
    assert.equal(out, 'before *** after', `form ${JSON.stringify(f)}`);
  }
});

test('data values are masked encoded and decoded, also inside longer strings', () => {
  const s = secret({ data: { password: b64('hunter2-value'), bin: Buffer.from([0, 255, 1, 2, 3]).toString('base64') } });
  const text = `x=${b64('hunter2-value')} map[password:hunter2-value] "prefix-hunter2-value-suffix" [0 255 1 2 3] []byte{0x0, 0xff, 0x1, 0x2, 0x3}`;
  const out = maskSecretValues(text, [s]);
  assert.doesNotMatch(out, /hunter2/);
  assert.doesNotMatch(out, new RegExp(b64('hunter2-value').replace(/[+/=]/g, '.')));
  assert.doesNotMatch(out, /0 255 1 2 3|0xff/);
  assert.equal(out, 'x=*** map[password:***] "prefix-***-suffix" [***] []byte{***}');
});

test('numbers are masked as JavaScript and Go print them; short values only as whole tokens', () => {
  const s = secret({ stringData: { big: 9389136384292, tiny: 1.5e-7, million: 1e6, flag: true, one: '7' } });
  const out = maskSecretValues(
    'got &value.valueUnstructured{Value:9389136384292} 9.389136384292e+12 {Value:1.5e-07} 0.00000015 1e+06 1000000 {Value:true} port 7, v7 x17 7',
    [s],
  );
  assert.equal(out, 'got &value.valueUnstructured{Value:***} *** {Value:***} *** *** *** {Value:***} port ***, v7 x17 ***');
});

test('values of any shape are masked: nested maps (keys too), lists, scalars in place of the map', () => {
  const shapes = [
    secret({ stringData: { token: { 'nested-key-x': 'nested-value-x' } } }),
    secret({ stringData: ['listed-value-x'] }),
    secret({ stringData: 'scalar-value-x' }),
    secret({ data: 'c2NhbGFyLWRhdGEteA==' }), // "scalar-data-x"
  ];
  const text = 'nested-key-x nested-value-x listed-value-x scalar-value-x scalar-data-x c2NhbGFyLWRhdGEteA==';
  assert.equal(maskSecretValues(text, shapes), '*** *** *** *** *** ***');
});

test('only Secrets of the core group count; top-level keys are not masked', () => {
  const cm: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { color: 'blue-ish' } };
  const other: KubeObject = { apiVersion: 'example.com/v1', kind: 'Secret', metadata: { name: 'x' }, data: { k: 'other-group' } };
  const s = secret({ stringData: { password: 'hunter2-pw' } });
  assert.equal(maskSecretValues('blue-ish other-group password hunter2-pw', [cm, other, s]), 'blue-ish other-group password ***');
  // A LIST item (no apiVersion) of kind Secret is a Secret.
  assert.equal(maskSecretValues('hunter2-pw', [{ kind: 'Secret', metadata: { name: 'x' }, stringData: { p: 'hunter2-pw' } }]), '***');
  assert.equal(valueMasker([])('unchanged'), 'unchanged');
});

test('maskEchoedValues masks what the API server echoes, keeps names, types and field paths', () => {
  const cases: Array<[string, string]> = [
    [
      'failed to create typed patch object: .stringData.token: expected string, got &value.valueUnstructured{Value:map[string]interface {}{"k":"v"}}',
      'failed to create typed patch object: .stringData.token: expected string, got ***',
    ],
    ['.stringData: expected map, got &{some-scalar}', '.stringData: expected map, got ***'],
    ['x: {Value:{nested:{deep}}} tail', 'x: {Value:***} tail'],
    ['Secret "s" is invalid: data[k]: Invalid value: "v\\"q": bad', 'Secret "s" is invalid: data[k]: Invalid value: "***": bad'],
    ['data[k]: Invalid value: map[string]string{"a":"b"}: bad, type: Invalid value: "kubernetes.io/tls": field is immutable', 'data[k]: Invalid value: ***: bad, type: Invalid value: "kubernetes.io/tls": field is immutable'],
    ['metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain', 'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain'],
    ['error found in #10 byte of ...|{"k":"hunt|..., bigger context ...|"data":{"k":"hunter2"}}|...', 'error found in #10 byte of ...|***|..., bigger context ...|***|...'],
  ];
  for (const [input, want] of cases) assert.equal(maskEchoedValues(input), want);
});

test('maskError masks message, stack, hint, Status causes and the cause chain in place', () => {
  const mask = secretMasker([secret({ stringData: { token: 'hunter2-token' } })]);
  const api = new KubeApiError(422, 'Invalid', 'Secret "s" is invalid: x: Invalid value: "hunter2-token"', [{ field: 'x', message: 'Invalid value: "hunter2-token"' }]);
  const outer = new FluxlessError('ApplyFailed', 'apply failed: hunter2-token', { cause: api, hint: 'not hunter2-token' });
  const same = maskError(outer, mask);
  assert.equal(same, outer);
  assert.ok(api instanceof KubeApiError && api.status === 422, 'the class and status are kept');
  const all = [outer.message, outer.stack, outer.hint, api.message, api.stack, JSON.stringify(api.causes)].join('\n');
  assert.doesNotMatch(all, /hunter2/);
  assert.match(outer.message, /apply failed: \*\*\*/);
});

test('fieldDiff masks Secret values of any shape and values repeated in annotations', () => {
  const value = 'hunter2-annotated';
  const before = secret({ data: { password: b64('old-value-x') } }, { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ stringData: { password: value } }) } });
  const after = secret({ data: { password: b64(value), extra: b64('new-extra-x') } }, { annotations: { note: `copy of ${value}` } });
  const text = renderDiff(fieldDiff(before, after));
  assert.doesNotMatch(text, /hunter2|old-value|new-extra/);
  assert.doesNotMatch(text, new RegExp([b64(value), b64('old-value-x'), b64('new-extra-x')].map((s) => s.replace(/[+/=]/g, '.')).join('|')));
  assert.match(text, /~ data\.password: \*\*\* \(before\) -> \*\*\* \(after\)/);
  assert.match(text, /\+ data\.extra: \*\*\*/);
  assert.match(text, /metadata\.annotations\.note: copy of \*\*\*/);

  // Shapes the API would reject still never show a value in a diff.
  for (const shape of [{ stringData: 'scalar-x1' }, { stringData: ['list-x1'] }, { stringData: { k: 12345678901 } }, { data: { k: { nested: 'nested-x1' } } }]) {
    const t = renderDiff(fieldDiff(undefined, secret(shape)));
    assert.doesNotMatch(t, /scalar-x1|list-x1|12345678901|nested-x1/, t);
  }
  // renderDiff with the objects masks changes made elsewhere.
  assert.equal(renderDiff([{ path: 'values.password', op: 'add', after: 'hunter2-pw' }], [secret({ stringData: { p: 'hunter2-pw' } })]), '  + values.password: ***');
});

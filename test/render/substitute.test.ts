import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EnvsubstError,
  SubstitutionError,
  envsubst,
  findUnsetVariables,
  isValidVarName,
  mergeVariables,
  objectId,
  substituteVariables,
  validateVarName,
} from '../../shared/render/substitute.js';
import type { KubeObjectLike } from '../../shared/render/substitute.js';
import { ValidationError } from '../../shared/util/errors.js';

const sub = (text: string, vars: Record<string, string> = {}, strict = false): string =>
  envsubst(text, vars, { strict });

function parseError(text: string): EnvsubstError {
  try {
    envsubst(text, { v: 'abc' }, { strict: false });
  } catch (err) {
    assert.ok(err instanceof EnvsubstError, `expected EnvsubstError for ${text}`);
    assert.equal(err.reason, 'parse');
    return err;
  }
  assert.fail(`expected ${JSON.stringify(text)} to fail to parse`);
}

function strictError(text: string, vars: Record<string, string> = {}): EnvsubstError {
  try {
    envsubst(text, vars, { strict: true });
  } catch (err) {
    assert.ok(err instanceof EnvsubstError, `expected EnvsubstError for ${text}`);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(text)} to fail in strict mode`);
}

describe('envsubst: expansion and escaping', () => {
  test('only ${var} expands; $var stays as written', () => {
    assert.equal(sub('a ${x} b $x c', { x: 'X' }), 'a X b $x c');
    assert.equal(sub('${x}${y}', { x: '1', y: '2' }), '12');
    assert.equal(sub('no dollars here', {}), 'no dollars here');
  });

  test('$${var} yields a literal ${var}; $$ collapses to $ everywhere outside ${}', () => {
    assert.equal(sub('$${x}', { x: 'X' }), '${x}');
    assert.equal(sub('a$$b', {}), 'a$b');
    assert.equal(sub('$$${x}', { x: 'X' }), '$X');
    assert.equal(sub('$$$${x}', { x: 'X' }), '$${x}');
    assert.equal(sub('something $${var=${d}}', { d: 'foo' }), 'something ${var=foo}');
    // Flux's own regression case
    assert.equal(
      sub('some text ${v}$${var$${v}$v${v}', { v: 'abcdEFGH28ij' }),
      'some text abcdEFGH28ij${var${v}$vabcdEFGH28ij',
    );
  });

  test('a backslash outside ${} is plain text', () => {
    assert.equal(sub('\\\\x ${v=${d}}', { d: 'foo' }), '\\\\x foo');
  });

  test('an unset variable is empty outside strict mode', () => {
    assert.equal(sub('[${missing}]', {}), '[]');
  });

  test('lookup may be a function; undefined means not set', () => {
    const seen: string[] = [];
    const out = envsubst(
      '${a}-${b:=def}',
      (name) => {
        seen.push(name);
        return name === 'a' ? 'A' : undefined;
      },
      { strict: true },
    );
    assert.equal(out, 'A-def');
    assert.deepEqual(seen, ['a', 'b']);
  });

  test('inherited object properties are not variables', () => {
    assert.equal(sub('[${toString}]', {}), '[]');
    assert.throws(() => envsubst('${constructor}', {}, { strict: true }), /variable not set/);
  });
});

describe('envsubst: default operators', () => {
  test(':= and := with nested expressions and several pieces', () => {
    assert.equal(sub('${v:=xyz}', {}), 'xyz');
    assert.equal(sub('${v:=xyz}', { v: 'abc' }), 'abc');
    assert.equal(sub('${v:=xyz}', { v: '' }), 'xyz');
    assert.equal(sub('${v:=${d}}', { d: 'foo' }), 'foo');
    assert.equal(sub('foo: ${v=prefix${d}-suffix}', { d: 'foo1' }), 'foo: prefixfoo1-suffix');
    assert.equal(sub('${v=${w^^}}', { w: 'abcdEFGH28ij' }), 'ABCDEFGH28IJ');
    assert.equal(sub('${v:=}', {}), '');
  });

  test(':- and = use the default when the value is empty, not only when unset', () => {
    assert.equal(sub('${v:-fb}', {}), 'fb');
    assert.equal(sub('${v:-fb}', { v: '' }), 'fb');
    assert.equal(sub('${v:-fb}', { v: 'set' }), 'set');
    assert.equal(sub('${v=xyz}', { v: '' }), 'xyz');
    assert.equal(sub('${v=xyz}', { v: 'abc' }), 'abc');
  });

  test(':+ and :? behave like :- in Flux (value, else the word)', () => {
    assert.equal(sub('${v:+alt}', { v: 'x' }), 'x');
    assert.equal(sub('${v:+alt}', { v: '' }), 'alt');
    assert.equal(sub('${v:?msg}', {}), 'msg');
    assert.equal(sub('${v:?msg}', { v: 'x' }), 'x');
  });

  test('the default is not assigned to the variable', () => {
    assert.equal(sub('${v:=one} ${v}', {}), 'one ');
  });

  test('${var-d} and ${var+d} are not supported (parse error, as in Flux)', () => {
    assert.equal(parseError('${v-d}').message, 'missing closing brace');
    assert.equal(parseError('${v+d}').message, 'missing closing brace');
  });

  test('$$ is not an escape inside a default', () => {
    assert.equal(sub('${v:=$${x}}', { x: 'X' }), '$X');
  });
});

describe('envsubst: string operators', () => {
  test('${#var} counts UTF-8 bytes', () => {
    assert.equal(sub('${#v}', { v: 'abcdEFGH28ij' }), '12');
    assert.equal(sub('${#v}', { v: '' }), '0');
    assert.equal(sub('${#v}', { v: 'é' }), '2');
  });

  test('case operators', () => {
    assert.equal(sub('${v^}', { v: 'abcdEFGH28ij' }), 'AbcdEFGH28ij');
    assert.equal(sub('${v^^}', { v: 'abcdEFGH28ij' }), 'ABCDEFGH28IJ');
    assert.equal(sub('${v,}', { v: 'ABCDEFGH28IJ' }), 'aBCDEFGH28IJ');
    assert.equal(sub('${v,,}', { v: 'ABCDEFGH28IJ' }), 'abcdefgh28ij');
    assert.equal(sub('${v^}', { v: 'élan' }), 'Élan');
    assert.equal(sub('${v^}${w,}', { v: '', w: '' }), '');
    // one character maps to one character, as Go's unicode.ToUpper does
    assert.equal(sub('${v^^}', { v: 'straße' }), 'STRAßE');
    // a mixed spelling is not an operator Flux knows: the value is returned
    assert.equal(sub('${v,^}', { v: 'Ab' }), 'Ab');
  });

  test('substring :offset and :offset:length', () => {
    const path_name = '/home/bozo/ideas/thoughts.for.today';
    assert.equal(sub('${path_name:11}', { path_name }), 'ideas/thoughts.for.today');
    assert.equal(sub('${path_name:11:5}', { path_name }), 'ideas');
    const v = '123456789123456789';
    assert.equal(sub('${v:9:50}', { v }), '123456789');
    assert.equal(sub('${v:-3:2}', { v }), v, ':- is the default operator, not a negative offset');
    assert.equal(sub('${v:${o}:2}', { v, o: '-3' }), '78');
    assert.equal(sub('${v:${o}:3}', { v, o: '-300' }), '123');
    assert.equal(sub('${v:0:8}', { v }), '12345678');
    assert.equal(sub('${v:30}', { v }), '');
    assert.equal(sub('${v:1:-1}', { v: 'hello' }), 'ell');
    assert.equal(sub('${v:8:-8}', { v: 'hello world' }), '');
    assert.equal(sub('${v:x}', { v: 'abc' }), 'abc', 'a non-numeric offset returns the value');
    assert.equal(sub('${v:${o}:${l}}', { v: 'abcdef', o: '2', l: '3' }), 'cde');
  });

  test('# ## % %% strip glob patterns (* and ? also match /)', () => {
    assert.equal(sub('${f#*.}', { f: 'bash.string.txt' }), 'string.txt');
    assert.equal(sub('${f##*.}', { f: 'bash.string.txt' }), 'txt');
    assert.equal(sub('${f%.*}', { f: 'bash.string.txt' }), 'bash.string');
    assert.equal(sub('${f%%.*}', { f: 'bash.string.txt' }), 'bash');
    assert.equal(sub('${f#*/}', { f: '/path/to/file' }), 'path/to/file');
    assert.equal(sub('${f##*/}', { f: '/path/to/file' }), 'file');
    assert.equal(sub('${f#?}', { f: '/abc' }), 'abc');
    assert.equal(sub('${f#[a-c]}', { f: 'bcd' }), 'cd');
    assert.equal(sub('${f#[^a-c]}', { f: 'bcd' }), 'bcd');
    assert.equal(sub('${f%x}', { f: 'abc' }), 'abc', 'no match leaves the value');
    assert.equal(sub('${f#[}', { f: '[abc' }), '[abc', 'a malformed pattern leaves the value');
    assert.equal(sub('${f#v}', { f: 'v1.2.3' }), '1.2.3');
  });

  test('/ // /# /% replace literal strings', () => {
    const z = 'abcABC123ABCabc';
    assert.equal(sub('${z/abc/xyz}', { z }), 'xyzABC123ABCabc');
    assert.equal(sub('${z//abc/xyz}', { z }), 'xyzABC123ABCxyz');
    assert.equal(sub('${z/#abc/XYZ}', { z }), 'XYZABC123ABCabc');
    assert.equal(sub('${z/%abc/XYZ}', { z }), 'abcABC123ABCXYZ');
    assert.equal(sub('${z/#/prefix-}', { z: 'v' }), 'prefix-v');
    assert.equal(sub('${z/%/-suffix}', { z: 'v' }), 'v-suffix');
    assert.equal(sub('${z/./}', { z: 'foo.bar' }), 'foobar');
    assert.equal(sub('${z//./}', { z: 'a.b.c' }), 'abc');
    assert.equal(sub('${z/*/x}', { z: 'a*b' }), 'axb', 'the pattern is not a glob');
    assert.equal(sub('${z/\\//-}', { z: 'foo/bar' }), 'foo-bar');
    assert.equal(sub('${z//\\//-}', { z: 'foo/bar/baz' }), 'foo-bar-baz');
    assert.equal(sub('${z//\\\\/|}', { z: 'a\\b' }), 'a|b');
    // Flux quirk: /# and /% with an empty replacement leave the value unchanged
    assert.equal(sub('${z/#abc/}', { z }), z);
    assert.equal(sub('${z/%abc/}', { z }), z);
  });

  test('operators apply to a nested variable name, not to text', () => {
    assert.equal(sub('${v/${from}/${to}}', { v: 'a-b', from: '-', to: '_' }), 'a_b');
  });
});

describe('envsubst: malformed expressions', () => {
  test('each malformed form fails with the engine message and a snippet', () => {
    assert.equal(parseError('${').message, 'unable to parse variable name');
    assert.equal(parseError('x ${ v}').message, 'unable to parse variable name');
    assert.equal(parseError('${v').message, 'missing closing brace');
    assert.equal(parseError('${v!}').message, 'missing closing brace');
    assert.equal(parseError('${v#}').message, 'unable to parse substitution within function');
    assert.equal(parseError('${v:}').message, 'unable to parse substitution within function');
    assert.equal(parseError('${#}').message, 'bad substitution');
    assert.equal(parseError('${v^^^}').message, 'bad substitution');
    assert.equal(parseError('${v/a}').message, 'bad substitution');
    const e = parseError('ok: 1\nbad: ${oops!}\nmore: 2');
    assert.equal(e.snippet, '${oops!}');
    assert.ok(e instanceof ValidationError);
  });

  test('nested defaults evaluate as in Flux', () => {
    const nested = (n: number) => '${a:='.repeat(n) + 'x' + '}'.repeat(n);
    assert.equal(sub(nested(1000), {}), 'x');
    assert.equal(sub(nested(1000), { a: 'set' }), 'set');
  });

  test('absurdly deep nesting never takes the process down', () => {
    // Go evaluates any depth; JavaScript's stack ends somewhere. What matters: the outcome is
    // Flux's result or a typed parse error saying why, and the engine keeps working after it.
    const deep = '${a:='.repeat(100_000) + 'x' + '}'.repeat(100_000);
    let outcome: string;
    try {
      outcome = sub(deep, {});
    } catch (err) {
      assert.ok(err instanceof EnvsubstError, `a typed error, not ${String(err)}`);
      assert.equal(err.reason, 'parse');
      assert.equal(err.message, 'bad substitution: expressions nested too deeply');
      assert.ok(err instanceof ValidationError);
      outcome = 'refused';
    }
    assert.ok(outcome === 'x' || outcome === 'refused', outcome);
    assert.ok(Array.isArray(findUnsetVariables(deep, {})), 'listing unset variables does not throw either');
    assert.equal(sub('${v}', { v: 'still works' }), 'still works');
  });
});

describe('envsubst: strict mode', () => {
  test('a bare unset variable fails with Flux message naming it', () => {
    const e = strictError('value: ${MISSING}');
    assert.equal(e.message, 'variable not set (strict mode): "MISSING"');
    assert.equal(e.reason, 'unset');
    assert.equal(e.variable, 'MISSING');
    assert.match(e.hint ?? '', /substitute: disabled/);
  });

  test('transformations of an unset variable fail too', () => {
    for (const t of ['${m^}', '${m^^}', '${m,}', '${m,,}', '${#m}', '${m:0}', '${m:0:1}', '${m/a/b}', '${m//a/b}',
      '${m/#a/b}', '${m/%a/b}', '${m#a}', '${m##a}', '${m%a}', '${m%%a}']) {
      assert.equal(strictError(t).variable, 'm', t);
    }
  });

  test('default operators tolerate an unset variable', () => {
    assert.equal(sub('${m:-fb}', {}, true), 'fb');
    assert.equal(sub('${m:=fb}', {}, true), 'fb');
    assert.equal(sub('${m=fb}', {}, true), 'fb');
    assert.equal(sub('${m:+fb}', {}, true), 'fb');
    assert.equal(sub('${m:?fb}', {}, true), 'fb');
  });

  test('a variable defined as the empty string is set', () => {
    assert.equal(sub('[${e}]', { e: '' }, true), '[]');
    assert.equal(sub('[${e:=d}]', { e: '' }, true), '[d]');
  });

  test('a default is evaluated even when unused, so an unset variable inside it fails', () => {
    assert.equal(strictError('${set:-${inner}}', { set: 's' }).variable, 'inner');
  });

  test('findUnsetVariables lists every rejected variable in order, once', () => {
    assert.deepEqual(findUnsetVariables('${b} ${a:=x} ${c^^} ${b} ${#d}', {}), ['b', 'c', 'd']);
    assert.deepEqual(findUnsetVariables('${a}', { a: '' }), []);
  });
});

describe('variable names and precedence', () => {
  test('validateVarName follows Flux pattern', () => {
    for (const ok of ['A', '_', 'cluster_env', 'REPLICAS_2', '__proto__']) assert.ok(isValidVarName(ok), ok);
    for (const bad of ['', '2X', 'my-var', 'a.b', 'é', 'a b']) assert.ok(!isValidVarName(bad), bad);
    assert.doesNotThrow(() => validateVarName('GOOD'));
    assert.throws(
      () => validateVarName('my-var'),
      (err: unknown) =>
        err instanceof ValidationError &&
        err.message === "'my-var' var name is invalid, must match '^[_[:alpha:]][_[:alpha:][:digit:]]*$'",
    );
  });

  test('mergeVariables: sources in order, later wins, inline overrides all', () => {
    const vars = mergeVariables(
      [
        { data: { A: 'from-first', B: 'from-first', C: 'from-first' } },
        { data: { B: 'from-second', C: 'from-second' } },
      ],
      { C: 'inline' },
    );
    assert.deepEqual({ ...vars }, { A: 'from-first', B: 'from-second', C: 'inline' });
    assert.deepEqual({ ...mergeVariables([{ data: { X: '1' } }]) }, { X: '1' });
  });

  test('mergeVariables strips newlines from every value (sources and inline)', () => {
    const vars = mergeVariables([{ data: { CERT: 'line1\nline2\n', CR: 'a\r\nb' } }], { IN: 'x\ny' });
    assert.equal(vars.CERT, 'line1line2');
    assert.equal(vars.CR, 'a\rb', 'only \\n is removed, as in Flux');
    assert.equal(vars.IN, 'xy');
  });

  test('mergeVariables keeps __proto__ as an ordinary variable', () => {
    const vars = mergeVariables([{ data: JSON.parse('{"__proto__":"p"}') as Record<string, string> }]);
    assert.equal(Object.keys(vars).length, 1);
    assert.equal(sub('${__proto__}', vars, true), 'p');
  });
});

function deployment(spec: Record<string, unknown>, meta: Partial<KubeObjectLike['metadata']> = {}): KubeObjectLike {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'apps', ...meta }, spec };
}

function configMap(data: Record<string, unknown>, meta: Partial<KubeObjectLike['metadata']> = {}): KubeObjectLike {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'apps', ...meta }, data };
}

function substitutionError(fn: () => unknown): SubstitutionError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SubstitutionError, `expected SubstitutionError, got ${String(err)}`);
    assert.ok(err instanceof ValidationError);
    return err;
  }
  assert.fail('expected a SubstitutionError');
}

describe('substituteVariables: typing after the YAML round trip', () => {
  test('a whole-value placeholder is re-typed as Flux re-types it', () => {
    const [out] = substituteVariables(
      [deployment({ replicas: '${REPLICAS}', paused: '${PAUSED}', enabled: '${ON}', mode: '${MODE}', ratio: '${RATIO}', none: '${EMPTY}' })],
      { REPLICAS: '3', PAUSED: 'false', ON: 'yes', MODE: '0755', RATIO: '0.5', EMPTY: '' },
      { strict: true },
    );
    assert.deepEqual(out.spec, { replicas: 3, paused: false, enabled: true, mode: 493, ratio: 0.5, none: null });
  });

  test('a placeholder inside a larger string keeps the value a string', () => {
    const [out] = substituteVariables(
      [deployment({ image: 'nginx:${TAG}', port: '${PORT}0', label: 'v${N}' })],
      { TAG: '1.25', PORT: '808', N: '1' },
      { strict: true },
    );
    assert.deepEqual(out.spec, { image: 'nginx:1.25', port: 8080, label: 'v1' });
  });

  test('strings that only look like numbers or booleans stay strings when no placeholder touches them', () => {
    const data = { port: '8080', flag: 'yes', octal: '0755', nothing: 'null', empty: '', tilde: '~', ref: '${HOST}' };
    const [out] = substituteVariables([configMap(data)], { HOST: 'example.org' }, { strict: true });
    assert.deepEqual(out.data, { ...data, ref: 'example.org' });
  });

  test('tricky strings and keys survive the round trip unchanged', () => {
    const tricky = ['y', 'N', 'on', 'OFF', '0x10', '1e3', '.5', '08', '+1', '1_000', '2001-12-14', '~', 'Null', '-',
      ' lead', 'trail ', 'a: b', '#c', 'a #c', "it's", '"q"', 'multi\nline\n', 'x\n  y', '- x', '[x]', '{x}', '*a', '&a',
      '!t', '|', '>', '%', '@', '`', '<<', '1:20', '.inf', 'é', 'tab\there', '\u0000nul', 'back\\slash', '$', 'a$'];
    const data: Record<string, unknown> = { list: tricky, ref: '${X}' };
    for (const [i, t] of tricky.entries()) data[t] = i;
    const [out] = substituteVariables([configMap(data)], { X: 'x' }, { strict: true });
    assert.deepEqual(out.data, { ...data, ref: 'x' });
  });

  test('a value that reads as another YAML type in a string field still changes type (Flux gotcha)', () => {
    // Quoting "${PORT}" in the source file does not help: the object is re-serialized first.
    const [out] = substituteVariables([configMap({ PORT: '${PORT}' })], { PORT: '8080' }, { strict: true });
    assert.equal((out.data as Record<string, unknown>).PORT, 8080);
  });

  test('numbers and booleans already in the object are preserved', () => {
    const [out] = substituteVariables(
      [deployment({ replicas: 2, paused: true, ratio: 1.5, nested: [{ n: 1 }, null], name: '${N}' })],
      { N: 'x' },
      { strict: true },
    );
    assert.deepEqual(out.spec, { replicas: 2, paused: true, ratio: 1.5, nested: [{ n: 1 }, null], name: 'x' });
  });

  test('placeholders in keys are substituted; keys that resolve to booleans become "true"/"false"', () => {
    const [out] = substituteVariables(
      [configMap({ '${KEY}': 'v', '${ONKEY}': 'w', '${NUMKEY}': 'z' })],
      { KEY: 'app.conf', ONKEY: 'on', NUMKEY: '0x10' },
      { strict: true },
    );
    assert.deepEqual(out.data, { 'app.conf': 'v', true: 'w', 16: 'z' });
  });

  test('multi-line strings are substituted line by line and stay strings', () => {
    const script = '#!/bin/sh\necho "${GREETING}, $USER"\nexit ${CODE}\n';
    const [out] = substituteVariables(
      [configMap({ 'run.sh': script, 'app.yaml': 'server:\n  host: ${HOST}\n  port: ${PORT}\n' })],
      { GREETING: 'hello: world', CODE: '0', HOST: 'h', PORT: '80' },
      { strict: true },
    );
    assert.deepEqual(out.data, {
      'run.sh': '#!/bin/sh\necho "hello: world, $USER"\nexit 0\n',
      'app.yaml': 'server:\n  host: h\n  port: 80\n',
    });
  });

  test('escapes survive into the object', () => {
    const [out] = substituteVariables(
      [configMap({ a: '$${LITERAL}', b: '$HOME', c: 'cost: $$5', d: '${X}' })],
      { X: 'x' },
      { strict: true },
    );
    assert.deepEqual(out.data, { a: '${LITERAL}', b: '$HOME', c: 'cost: $5', d: 'x' });
  });

  test('the input objects are not modified; untouched objects are returned as they are', () => {
    const withVar = deployment({ replicas: '${R}' });
    const plain = configMap({ a: 'b' });
    const snapshot = structuredClone(withVar);
    const out = substituteVariables([withVar, plain], { R: '2' }, { strict: true });
    assert.deepEqual(withVar, snapshot);
    assert.notEqual(out[0], withVar);
    assert.equal(out[1], plain);
    assert.equal(out.length, 2);
  });
});

describe('substituteVariables: opting out', () => {
  const vars = { R: '2' };

  test('by label', () => {
    const obj = deployment({ replicas: '${R}', missing: '${NOPE}' }, { labels: { 'kustomize.toolkit.fluxcd.io/substitute': 'disabled' } });
    const [out] = substituteVariables([obj], vars, { strict: true });
    assert.equal(out, obj);
    assert.equal((out.spec as Record<string, unknown>).replicas, '${R}');
  });

  test('by annotation', () => {
    const obj = deployment({ replicas: '${R}' }, { annotations: { 'kustomize.toolkit.fluxcd.io/substitute': 'disabled' } });
    const [out] = substituteVariables([obj], vars, { strict: true });
    assert.equal((out.spec as Record<string, unknown>).replicas, '${R}');
  });

  test('only the exact value "disabled" opts out', () => {
    const obj = deployment({ replicas: '${R}' }, { annotations: { 'kustomize.toolkit.fluxcd.io/substitute': 'Disabled' } });
    const [out] = substituteVariables([obj], vars, { strict: true });
    assert.equal((out.spec as Record<string, unknown>).replicas, 2);
  });
});

describe('substituteVariables: failures name the object', () => {
  test('strict mode: the unset variable and the object are in the message', () => {
    const err = substitutionError(() =>
      substituteVariables(
        [configMap({ ok: '${SET}' }, { name: 'first' }), deployment({ replicas: '${REPLICAS}', image: '${IMAGE}' })],
        { SET: 'x' },
        { strict: true },
      ),
    );
    assert.equal(
      err.message,
      `post build failed for 'Deployment/apps/web': envsubst error: variable substitution failed: variable not set (strict mode): "REPLICAS"`,
    );
    assert.equal(err.objectId, 'Deployment/apps/web');
    assert.equal(err.variable, 'REPLICAS');
    assert.deepEqual(err.missing, ['REPLICAS', 'IMAGE']);
    assert.match(err.hint ?? '', /also not set: IMAGE/);
  });

  test('cluster-scoped objects are named Kind/name', () => {
    const ns: KubeObjectLike = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-${TEAM}' } };
    assert.equal(objectId(ns), 'Namespace/team-${TEAM}');
    const err = substitutionError(() => substituteVariables([ns], { OTHER: '1' }, { strict: true }));
    assert.match(err.message, /^post build failed for 'Namespace\/team-\$\{TEAM\}': /);
  });

  test('non-strict mode: an unset variable becomes empty', () => {
    const [out] = substituteVariables([configMap({ a: 'x${UNSET}y', b: '${UNSET}' })], { OTHER: '1' }, { strict: false });
    assert.deepEqual(out.data, { a: 'xy', b: null });
  });

  test('a malformed expression fails with the engine message', () => {
    const err = substitutionError(() => substituteVariables([configMap({ a: 'x ${bad-var} y' })], { A: '1' }, { strict: false }));
    assert.equal(
      err.message,
      `post build failed for 'ConfigMap/apps/cfg': envsubst error: variable substitution failed: missing closing brace`,
    );
    assert.match(err.hint ?? '', /\$\{bad-var\} y/);
  });

  test('a value that breaks the YAML structure fails with YAMLToJSON and the object', () => {
    const err = substitutionError(() => substituteVariables([configMap({ a: '${V}' })], { V: '[unclosed' }, { strict: true }));
    assert.match(err.message, /^post build failed for 'ConfigMap\/apps\/cfg': envsubst error: YAMLToJSON: yaml: line \d+: /);
  });

  test('a YAML failure in a Secret does not echo the substituted content', () => {
    const secret: KubeObjectLike = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', namespace: 'apps' },
      stringData: { password: '${PW}' },
    };
    const err = substitutionError(() => substituteVariables([secret], { PW: '{hunter2' }, { strict: true }));
    assert.match(err.message, /^post build failed for 'Secret\/apps\/s': envsubst error: YAMLToJSON: yaml: line \d+: /);
    assert.ok(!err.message.includes('hunter2'));
    assert.ok(!(err.hint ?? '').includes('hunter2'));
  });

  test('an invalid variable name fails for the first object that is substituted', () => {
    const disabled = configMap({ a: '${A}' }, { labels: { 'kustomize.toolkit.fluxcd.io/substitute': 'disabled' } });
    const err = substitutionError(() =>
      substituteVariables([disabled, configMap({ a: 'no placeholders' }, { name: 'second' })], { 'my-var': '1' }, { strict: true }),
    );
    assert.equal(
      err.message,
      `post build failed for 'ConfigMap/apps/second': envsubst error: 'my-var' var name is invalid, must match '^[_[:alpha:]][_[:alpha:][:digit:]]*$'`,
    );
  });
});

describe('substituteVariables: without variables', () => {
  const obj = configMap({ env: '${cluster_env:=dev}', region: '${REGION}' });

  test('nothing is substituted when there are no variables, even in strict mode', () => {
    const [out] = substituteVariables([obj], {}, { strict: true });
    assert.equal(out, obj);
    assert.equal((out.data as Record<string, unknown>).env, '${cluster_env:=dev}');
  });

  test('always: defaults apply and strict mode checks', () => {
    const [out] = substituteVariables([configMap({ env: '${cluster_env:=dev}' })], {}, { strict: true, always: true });
    assert.equal((out.data as Record<string, unknown>).env, 'dev');
    const err = substitutionError(() => substituteVariables([obj], {}, { strict: true, always: true }));
    assert.equal(err.variable, 'REGION');
  });
});

/**
 * SOPS file formats: each store decrypts files made the way sops makes them (encoder.ts, whose
 * output was checked byte for byte against getsops/sops's published files), the rules that
 * pick encrypted values, the path AAD, the MAC, and errors that never carry values.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { createDecryptor, type Decryptor } from '../../shared/sops/index.js';
import { decryptTree } from '../../shared/sops/tree-decrypt.js';
import { loadEncrypted } from '../../shared/sops/stores.js';
import type { MasterKey, SopsFormat } from '../../shared/sops/types.js';
import { encodeSops, type EncodeOptions } from './encoder.js';
import { ageIdentity, ageKey, dataKey, rejection, secretData, secretValue } from './fixtures.js';

interface Setup {
  dec: Decryptor;
  key: Buffer;
  groups: MasterKey[][];
  encode(plain: string, format: SopsFormat, extra?: Partial<EncodeOptions>): Buffer;
}

async function setup(): Promise<Setup> {
  const id = await ageIdentity();
  const key = dataKey();
  const groups = [[await ageKey(key, id.recipient)]];
  const dec = await createDecryptor({ secretData: secretData({ 'identity.agekey': id.identity + '\n' }), secretName: 'flux-system/sops-age' });
  return {
    dec, key, groups,
    encode: (plain, format, extra = {}) => encodeSops(Buffer.from(plain), format, { dataKey: key, keyGroups: groups, ...extra }),
  };
}

describe('YAML', () => {
  test('nested values, lists, scalar types, comments and the _unencrypted suffix come back as written', async () => {
    const s = await setup();
    const pw = secretValue('pw');
    const plain = [
      '# top comment',
      'app:',
      '    db:',
      `        password: ${pw}`,
      '        port: 5432',
      '        ratio: 0.25',
      '        enabled: true',
      '        none: null',
      '        created: 2024-01-02',
      '    hosts:',
      '        - a.example.com',
      '        - b.example.com',
      'plain_unencrypted:',
      '    note: stays in clear text',
      'multi: |',
      '    line one',
      '    line two',
      '',
    ].join('\n');
    const enc = s.encode(plain, 'yaml');
    const encText = enc.toString();
    assert.ok(!encText.includes(pw), 'the encoded file must not hold the value');
    assert.match(encText, /note: stays in clear text/);
    assert.match(encText, /port: ENC\[AES256_GCM,.*type:int\]/);
    assert.match(encText, /ratio: ENC\[AES256_GCM,.*type:float\]/);
    assert.match(encText, /enabled: ENC\[AES256_GCM,.*type:bool\]/);
    assert.match(encText, /created: ENC\[AES256_GCM,.*type:time\]/);
    assert.match(encText, /#ENC\[AES256_GCM,.*type:comment\]/);
    const out = (await s.dec.decrypt(enc, 'yaml')).toString();
    const doc = parseYaml(out) as { app: { db: Record<string, unknown>; hosts: string[] }; multi: string };
    assert.equal(doc.app.db.password, pw);
    assert.equal(doc.app.db.port, 5432);
    assert.equal(doc.app.db.ratio, 0.25);
    assert.equal(doc.app.db.enabled, true);
    assert.equal(doc.app.db.none, null);
    assert.equal(doc.app.db.created, '2024-01-02T00:00:00Z');
    assert.deepEqual(doc.app.hosts, ['a.example.com', 'b.example.com']);
    assert.equal(doc.multi, 'line one\nline two\n');
    assert.ok(!('sops' in doc));
    assert.match(out, /^# top comment$/m, 'comments are decrypted too');
  });

  test('every document of a stream is decrypted with the first document\'s metadata', async () => {
    const s = await setup();
    const a = secretValue('a');
    const b = secretValue('b');
    const enc = s.encode(`kind: Secret\nstringData:\n    a: ${a}\n---\nkind: Secret\nstringData:\n    b: ${b}\n`, 'yaml', { rules: { encryptedRegex: '^(data|stringData)$' } });
    assert.equal(enc.toString().match(/^sops:$/gm)?.length, 2, 'sops writes the metadata into every document');
    const docs = parseAllDocuments((await s.dec.decrypt(enc, 'yaml')).toString()).map((d) => d.toJS());
    assert.deepEqual(docs, [{ kind: 'Secret', stringData: { a } }, { kind: 'Secret', stringData: { b } }]);
  });

  test('strings that look like other types stay strings in the output', async () => {
    const s = await setup();
    const enc = s.encode('a: "0777"\nb: "true"\nc: "1_000"\nd: "2024-01-01"\ne: "yes"\nf: "null"\ng: ""\n', 'yaml');
    const doc = parseYaml((await s.dec.decrypt(enc, 'yaml')).toString(), { version: '1.1' }) as Record<string, unknown>;
    assert.deepEqual(doc, { a: '0777', b: 'true', c: '1_000', d: '2024-01-01', e: 'yes', f: 'null', g: '' });
  });
});

describe('MAC', () => {
  test('plain leaves enter the MAC in go-yaml\'s reading of them (0777 is 511, 08 is 8, 1_000 is 1000)', async () => {
    const s = await setup();
    const plain = 'a_unencrypted: 0777\nb_unencrypted: 08\nc_unencrypted: 1_000\nd_unencrypted: 2024-1-2\ne_unencrypted: 1e3\nf_unencrypted: True\n';
    const enc = s.encode(plain, 'yaml');
    const tree = loadEncrypted(enc, 'yaml');
    const { mac } = decryptTree(tree.branches, tree.metadata, s.key);
    const expected = createHash('sha512').update('511').update('8').update('1000').update('2024-01-02T00:00:00Z').update('1000').update('True').digest('hex').toUpperCase();
    assert.equal(mac, expected);
    await s.dec.decrypt(enc, 'yaml');
  });

  test('a changed plain value fails the MAC check, and passes with verifyMac off (as Flux after a build)', async () => {
    const s = await setup();
    const pw = secretValue();
    const enc = s.encode(`metadata:\n    name: db\nstringData:\n    password: ${pw}\n`, 'yaml', { rules: { encryptedRegex: '^(data|stringData)$' } });
    const tampered = Buffer.from(enc.toString().replace('name: db', 'name: evil'));
    const err = await rejection(() => s.dec.decrypt(tampered, 'yaml', { where: 'apps/db.enc.yaml' }), [pw]);
    assert.equal(err.code, 'SopsMacMismatch');
    assert.match(err.message, /^'apps\/db\.enc\.yaml': failed to verify sops data integrity: the MAC does not match the values/);
    const out = parseYaml((await s.dec.decrypt(tampered, 'yaml', { verifyMac: false })).toString());
    assert.deepEqual(out, { metadata: { name: 'evil' }, stringData: { password: pw } });
  });

  test('a replaced MAC, a changed lastmodified and a missing MAC are refused', async () => {
    const s = await setup();
    const pw = secretValue();
    const plain = `password: ${pw}\n`;
    const wrongMac = s.encode(plain, 'yaml', { macOverride: 'F'.repeat(128) });
    assert.equal((await rejection(() => s.dec.decrypt(wrongMac, 'yaml'), [pw])).code, 'SopsMacMismatch');
    const good = s.encode(plain, 'yaml', { lastModified: '2026-03-01T10:00:00Z' }).toString();
    const movedTime = Buffer.from(good.replace('2026-03-01T10:00:00Z', '2026-03-01T10:00:01Z'));
    const e2 = await rejection(() => s.dec.decrypt(movedTime, 'yaml'), [pw]);
    assert.match(e2.message, /MAC could not be decrypted/);
    const noMac = Buffer.from(good.replace(/ {4}mac: ENC\[[^\n]*\n/, ''));
    assert.match((await rejection(() => s.dec.decrypt(noMac, 'yaml'), [pw])).message, /the file has no MAC/);
  });

  test('mac_only_encrypted: plain values may change, encrypted ones may not', async () => {
    const s = await setup();
    const pw = secretValue();
    const enc = s.encode(`name: db\npassword: ${pw}\n`, 'yaml', { rules: { encryptedRegex: '^password$' }, macOnlyEncrypted: true });
    assert.match(enc.toString(), /mac_only_encrypted: true/);
    const renamed = Buffer.from(enc.toString().replace('name: db', 'name: other'));
    assert.deepEqual(parseYaml((await s.dec.decrypt(renamed, 'yaml')).toString()), { name: 'other', password: pw });
    // The same file without the flag hashes the plain value too, so its MAC differs.
    const full = s.encode(`name: db\npassword: ${pw}\n`, 'yaml', { rules: { encryptedRegex: '^password$' } });
    const r = await rejection(() => s.dec.decrypt(Buffer.from(full.toString().replace('name: db', 'name: other')), 'yaml'));
    assert.equal(r.code, 'SopsMacMismatch');
  });
});

describe('path AAD', () => {
  test('swapping two encrypted values fails at the moved value, naming its path and not its value', async () => {
    const s = await setup();
    const u = secretValue('user');
    const p = secretValue('pass');
    const enc = s.encode(`db:\n    user: ${u}\n    password: ${p}\n`, 'yaml').toString();
    const userEnc = /user: (ENC\[[^\n]*)/.exec(enc)![1];
    const passEnc = /password: (ENC\[[^\n]*)/.exec(enc)![1];
    const swapped = Buffer.from(enc.replace(userEnc, 'X').replace(passEnc, userEnc).replace('user: X', `user: ${passEnc}`));
    const err = await rejection(() => s.dec.decrypt(swapped, 'yaml', { where: 'db.enc.yaml' }), [u, p]);
    assert.equal(err.code, 'SopsValueDecryptFailed');
    assert.match(err.message, /'db\.enc\.yaml': error decrypting sops tree: Error walking tree: Could not decrypt value at 'db\.user': Could not decrypt with AES_GCM: cipher: message authentication failed/);
  });

  test('list elements share their list\'s path', async () => {
    const s = await setup();
    const enc = s.encode('list:\n    - one\n    - two\n', 'yaml').toString();
    const [a, b] = [...enc.matchAll(/- (ENC\[[^\n]*)/g)].map((m) => m[1]);
    // Reordering elements keeps each value decryptable; only the MAC (order) notices.
    const reordered = Buffer.from(enc.replace(a, 'TMP').replace(b, a).replace('TMP', b));
    assert.deepEqual(parseYaml((await s.dec.decrypt(reordered, 'yaml', { verifyMac: false })).toString()), { list: ['two', 'one'] });
    assert.equal((await rejection(() => s.dec.decrypt(reordered, 'yaml'))).code, 'SopsMacMismatch');
  });
});

describe('selectors', () => {
  const plain = 'apiVersion: v1\nkind: Secret\nmetadata:\n    name: s\n    labels:\n        tier_unencrypted: x\nstringData:\n    token: t0k3n\n    pass_enc: p4ss\n';
  const cases: [string, Partial<EncodeOptions['rules']>, string[], string[]][] = [
    ['encrypted_regex', { encryptedRegex: '^(data|stringData)$' }, ['token', 'pass_enc'], ['apiVersion', 'kind', 'name']],
    ['unencrypted_regex', { unencryptedRegex: '^(apiVersion|kind|metadata)$' }, ['token', 'pass_enc'], ['apiVersion', 'kind', 'name']],
    ['encrypted_suffix', { encryptedSuffix: '_enc' }, ['pass_enc'], ['token', 'kind', 'name']],
    ['unencrypted_suffix (default)', {}, ['token', 'pass_enc', 'kind', 'name'], ['tier_unencrypted']],
  ];
  for (const [name, rules, encrypted, clear] of cases) {
    test(`${name} decides which values are encrypted`, async () => {
      const s = await setup();
      const enc = s.encode(plain, 'yaml', { rules }).toString();
      for (const k of encrypted) assert.match(enc, new RegExp(`${k}: ENC\\[`), `${k} should be encrypted`);
      for (const k of clear) assert.doesNotMatch(enc, new RegExp(`${k}: ENC\\[`), `${k} should be clear`);
      assert.deepEqual(parseYaml((await s.dec.decrypt(Buffer.from(enc), 'yaml')).toString()), parseYaml(plain));
    });
  }

  test('encrypted_comment_regex encrypts the value after a matching comment', async () => {
    const s = await setup();
    const enc = s.encode('# sops:enc\npassword: hunter2\nuser: admin\n', 'yaml', { rules: { encryptedCommentRegex: 'sops:enc' } }).toString();
    assert.match(enc, /password: ENC\[/);
    assert.match(enc, /user: admin/);
    assert.match(enc, /# sops:enc/);
    assert.deepEqual(parseYaml((await s.dec.decrypt(Buffer.from(enc), 'yaml')).toString()), { password: 'hunter2', user: 'admin' });
  });

  test('a comment written further left than the block above it belongs to the next key (go-yaml placement)', async () => {
    const s = await setup();
    const enc = s.encode('outer:\n    inner: 1\n# sops:enc\nnext: hidden\nlast: shown\n', 'yaml', { rules: { encryptedCommentRegex: 'sops:enc' } }).toString();
    assert.match(enc, /inner: 1/);
    assert.match(enc, /next: ENC\[/);
    assert.match(enc, /last: shown/);
    assert.deepEqual(parseYaml((await s.dec.decrypt(Buffer.from(enc), 'yaml')).toString()), { outer: { inner: 1 }, next: 'hidden', last: 'shown' });
  });

  test('a file naming two rules is refused', async () => {
    const s = await setup();
    const enc = s.encode('a: b\n', 'yaml', { rules: { encryptedRegex: '^a$' } }).toString().replace('    encrypted_regex:', '    unencrypted_suffix: _x\n    encrypted_regex:');
    const err = await rejection(() => s.dec.decrypt(Buffer.from(enc), 'yaml'));
    assert.equal(err.code, 'SopsFormatInvalid');
    assert.match(err.message, /Cannot use more than one of encrypted_suffix, unencrypted_suffix/);
  });
});

describe('other stores', () => {
  test('JSON keeps key order, int/float distinction and Go\'s escaping', async () => {
    const s = await setup();
    const enc = s.encode('{"b": 1, "a": 1.5, "big": 9007199254740993, "html": "<a&b>", "nested": {"list": [true, null, "x"]}}', 'json');
    assert.match(enc.toString(), /"sops": \{/);
    const out = (await s.dec.decrypt(enc, 'json')).toString();
    assert.equal(out, '{\n\t"b": 1,\n\t"a": 1.5,\n\t"big": 9007199254740993,\n\t"html": "\\u003ca\\u0026b\\u003e",\n\t"nested": {\n\t\t"list": [\n\t\t\ttrue,\n\t\t\tnull,\n\t\t\t"x"\n\t\t]\n\t}\n}\n');
  });

  test('dotenv: split at the first =, raw spaces kept, \\n is a newline, comments survive', async () => {
    const s = await setup();
    const enc = s.encode('# db settings\nfoo =x\nURL=postgres://u:p@h/db?a=b\nMULTI=one\\ntwo\n', 'dotenv');
    const text = enc.toString();
    assert.match(text, /^sops_mac=ENC\[/m);
    assert.match(text, /^sops_age__list_0__map_enc=-----BEGIN AGE ENCRYPTED FILE-----\\n/m);
    assert.equal((await s.dec.decrypt(enc, 'dotenv')).toString(), '# db settings\nfoo =x\nURL=postgres://u:p@h/db?a=b\nMULTI=one\\ntwo\n');
    // The key "foo " (with its space) is the AAD: renaming it breaks decryption.
    const renamed = Buffer.from(text.replace('foo =', 'foo='));
    assert.match((await rejection(() => s.dec.decrypt(renamed, 'dotenv'))).message, /Could not decrypt value at 'foo'/);
  });

  test('INI: sections, the implicit DEFAULT section and section:key paths', async () => {
    const s = await setup();
    const enc = s.encode('top = level\n\n[db]\nuser = admin\npassword : s3cret\n\n[cache]\nttl = 60\n', 'ini');
    const text = enc.toString();
    assert.match(text, /^\[sops\]$/m);
    assert.match(text, /^password = ENC\[/m);
    assert.equal((await s.dec.decrypt(enc, 'ini')).toString(), 'top = level\n\n[db]\nuser     = admin\npassword = s3cret\n\n[cache]\nttl = 60\n');
  });

  test('binary: the whole file, bytes that are not UTF-8 included', async () => {
    const s = await setup();
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x41, 0x0a, 0xc3, 0x28]);
    const enc = encodeSops(bytes, 'binary', { dataKey: s.key, keyGroups: s.groups });
    assert.match(enc.toString(), /^\{\n\t"data": "ENC\[AES256_GCM,/);
    assert.ok((await s.dec.decrypt(enc, 'binary')).equals(bytes));
  });

  test('a YAML file can be written out as another format (Flux: the data key\'s extension decides)', async () => {
    const s = await setup();
    const enc = s.encode('a: b\nn: 3\n', 'yaml');
    assert.equal((await s.dec.decrypt(enc, 'yaml', { outputFormat: 'json' })).toString(), '{\n\t"a": "b",\n\t"n": 3\n}\n');
    assert.equal((await s.dec.decrypt(enc, 'yaml', { outputFormat: 'dotenv' })).toString(), 'a=b\nn=3\n');
    const err = await rejection(() => s.dec.decrypt(enc, 'yaml', { outputFormat: 'binary' }));
    assert.match(err.message, /failed to emit encrypted YAML file as decrypted binary: error emitting binary store: no binary data found in tree/);
  });
});

describe('malformed input', () => {
  test('no sops metadata, a broken ENC value and invalid YAML give clear errors without values', async () => {
    const s = await setup();
    const noMeta = await rejection(() => s.dec.decrypt(Buffer.from('a: b\n'), 'yaml', { where: 'plain.yaml' }));
    assert.equal(noMeta.message, "'plain.yaml': failed to load encrypted YAML data: sops metadata not found");
    const pw = secretValue();
    const enc = s.encode(`password: ${pw}\nother: x\n`, 'yaml').toString();
    const broken = Buffer.from(enc.replace(/other: ENC\[[^\n]*/, `other: ${pw}`));
    const err = await rejection(() => s.dec.decrypt(broken, 'yaml'), [pw]);
    assert.match(err.message, /Could not decrypt value at 'other': Input string <redacted> does not match sops' data format/);
    const bad = await rejection(() => s.dec.decrypt(Buffer.from('a: [\n'), 'yaml'));
    assert.match(bad.message, /failed to load encrypted YAML data: Error unmarshaling input YAML/);
    const seq = await rejection(() => s.dec.decrypt(Buffer.from('- a\n'), 'yaml'));
    assert.match(seq.message, /YAML documents that are sequences are not supported/);
  });
});

test('decrypting a 1000-key file (timing printed, not asserted)', async () => {
  const s = await setup();
  const lines = Array.from({ length: 1000 }, (_, i) => `key${i}: ${secretValue(String(i))}`);
  const enc = s.encode(lines.join('\n') + '\n', 'yaml');
  await s.dec.decrypt(enc, 'yaml'); // data key recovered and cached
  const t0 = process.hrtime.bigint();
  const out = await s.dec.decrypt(enc, 'yaml');
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(`sops: decrypt + MAC of a 1000-key YAML file (${enc.length} bytes): ${ms.toFixed(1)} ms`);
  assert.equal(Object.keys(parseYaml(out.toString()) as object).length, 1000);
});

/**
 * Standing fault suite (issue 9): a scan for every secret value a fleet uses. The fleet
 * reads its repository with git credentials (a `secretRef` Secret), substitutes variables
 * from a Secret into Secrets it applies (one of them number-like into `stringData`, the
 * API error of finding 5), serves a Receiver whose token is a Secret, and is pushed,
 * drifted and diffed through the real `fluxless` command. None of those values may appear
 * in the server's logs (debug level), in any command's output, or anywhere under the data
 * directory: state records (status, events, inventory), queue files, dead letters and
 * artifacts (decompressed, entry by entry).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { stringify } from 'yaml';
import { assertExit, configMap, faultFleet, kustomization, putSecret, ready, receiver, secretValue, waitFor } from './helpers.js';
import { describeLeaks, scanForSecrets } from './secret-scan.js';

/** A Secret manifest whose stringData the Kustomization fills in from variables. */
function secretManifest(name: string, stringData: Record<string, string>): string {
  return stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, type: 'Opaque', stringData });
}

test('no secret value (git credentials, substituted variables, Secret data, webhook token) in logs, output, status, events, state, queue or artifacts', { timeout: 240_000 }, async (t) => {
  const gitPassword = secretValue('git-password');
  const f = await faultFleet(t, { repoAuth: { username: 'fleet-reader', password: gitPassword }, env: { FLUXLESS_SOURCE_SECRET: 'fleet-auth' } });
  const { ns } = f;
  const dbPassword = secretValue('db-password');
  // Number-like: substituted unquoted into stringData it is a number, and the API server's
  // error quotes it ("expected string, got ...{Value:<it>}"): finding 5.
  const pin = `9${Array.from({ length: 12 }, () => randomInt(10)).join('')}`;
  const drifted = secretValue('drifted-value');
  for (const s of [gitPassword, dbPassword, pin, drifted]) f.secrets.add(s);
  await putSecret(f.client, ns, 'fleet-auth', { username: 'fleet-reader', password: gitPassword });
  await putSecret(f.client, ns, 'app-vars', { DB_PASSWORD: dbPassword, PIN: pin });

  const substitute = { postBuild: { substituteFrom: [{ kind: 'Secret', name: 'app-vars' }] } };
  await f.repo.commit(
    {
      'clusters/dev/receiver.yaml': receiver(ns),
      'clusters/dev/apps.yaml': kustomization(ns, 'apps', './apps', substitute),
      'clusters/dev/numbers.yaml': kustomization(ns, 'numbers', './numbers', substitute),
      'apps/secret.yaml': secretManifest('db', { password: '${DB_PASSWORD}' }),
      'apps/config.yaml': configMap('settings', { v: '1' }),
      'numbers/secret.yaml': 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: pin\ntype: Opaque\nstringData:\n  pin: ${PIN}\n',
    },
    'first',
  );
  await f.repo.push();

  const serve = await f.serve();
  await waitFor('apps Ready and numbers failed', () => ready(f.record('Kustomization', 'apps')).status === 'True' && ready(f.record('Kustomization', 'numbers')).status === 'False', 90_000, serve.output);

  // The values were really used: the applied Secret holds the substituted password.
  const db = await f.get('Secret', 'db');
  assert.equal(Buffer.from(db?.data?.password ?? '', 'base64').toString(), dbPassword, 'the substituted value reached the cluster');
  const numbers = ready(f.record('Kustomization', 'numbers'));
  assert.match(numbers.message ?? '', /Secret\/[^ ]+\/pin/, `the failure names the Secret: ${numbers.message}`);
  t.diagnostic(`numbers: ${numbers.message}`);
  // The scan finds what it looks for: the applied Secret, as the API server returns it, holds the value (base64).
  const control = await scanForSecrets([dbPassword], { texts: [{ where: 'Secret db from the API server', text: JSON.stringify(db) }] });
  assert.deepEqual(control.leaks.map((l) => l.form), ['base64'], 'the scan sees a value where it is');

  // A push through the Receiver (its token), then a drift of the Secret and a diff.
  await f.repo.commit({ 'apps/config.yaml': configMap('settings', { v: '2' }) }, 'second');
  await f.repo.push();
  const rev = `main@sha1:${await f.repo.head()}`;
  assert.equal((await f.push(serve)).status, 200);
  await waitFor('apps at the pushed revision', () => f.record('Kustomization', 'apps')?.status.lastAppliedRevision === rev, 60_000, serve.output);
  await f.client.request('PATCH', `/api/v1/namespaces/${ns}/secrets/db`, { body: { stringData: { password: drifted } }, contentType: 'application/merge-patch+json' });
  const diff = await f.cli(['diff', 'kustomization', 'apps', '-n', ns]);
  assert.equal(diff.code, 1, `the drift shows as a diff:\n${diff.stdout}${diff.stderr}`);
  assert.match(diff.stdout, /Secret\/[^ ]+\/db drifted/);
  for (const args of [['get', 'all', '-n', ns], ['get', 'all', '-n', ns, '-o', 'yaml'], ['events', '-n', ns]]) assertExit(await f.cli(args), 0, `fluxless ${args.join(' ')}`);
  assert.equal(await serve.stop(), 0, serve.output());

  const { leaks, filesScanned } = await scanForSecrets(f.secrets, { dirs: [f.dataDir], texts: f.outputs.map((text, i) => ({ where: `output #${i}`, text })) });
  assert.ok(filesScanned > 10, `the data directory was scanned (${filesScanned} files)`);
  assert.ok(f.outputs.join('').includes('"level":"debug"'), 'the server logged at debug level');
  assert.deepEqual(leaks, [], describeLeaks(leaks));
});

/**
 * Notifications end to end through `fluxless serve` (startLocalRuntime) against the real
 * control plane and git server, with loopback endpoints standing in for Slack, Microsoft
 * Teams, Discord and GitHub that record the exact requests:
 * - a failed reconcile posts an error to Slack and a `failure` commit status for the
 *   revision; the next success posts `success` for the new revision;
 * - an Alert's exclusionList drops a matching event (later events still arrive);
 * - a provider answering 500 is retried through the queue and gets the event once it
 *   recovers; one that stays down is dead-lettered and recorded on its Alert;
 * - `get alerts`, `get alert-providers` and `events --for Kustomization/apps` show it all.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventsCmd, getCmd } from '../../shared/cli/commands.js';
import { readDeliveries } from '../../shared/notify/records.js';
import { readRecord } from '../../shared/state/records.js';
import { configMap, e2e, fleet } from './helpers.js';
import { startForge, startRecorder, type Recorded } from '../notify/recorder.js';

const slack = await startRecorder();
const teams = await startRecorder();
const discord = await startRecorder();
const down = await startRecorder();
const forge = await startForge();
after(async () => {
  for (const r of [slack, teams, discord, down, forge]) await r.close();
});

function notifications(ns: string): string {
  const provider = (name: string, type: string, address: string, extra = '') =>
    `apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n  type: ${type}\n  address: ${address}\n${extra}---\n`;
  const alert = (name: string, providerRef: string, extra = '') =>
    `apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n  providerRef:\n    name: ${providerRef}\n  eventSources:\n    - kind: Kustomization\n      name: apps\n${extra}---\n`;
  return [
    provider('slack', 'slack', `${slack.url}/services/T0/B0/x`, '  channel: deploys\n'),
    provider('github', 'github', `${forge.url}/fleet/fleet`, '  secretRef:\n    name: github-token\n'),
    provider('teams', 'msteams', `${teams.url}/workflows/1`),
    provider('discord', 'discord', `${discord.url}/api/webhooks/1/t`),
    provider('down', 'generic', `${down.url}/hook`),
    alert('slack', 'slack', '  exclusionList:\n    - "excluded-cm"\n  eventMetadata:\n    cluster: dev\n'),
    alert('github', 'github'),
    alert('teams', 'teams'),
    alert('discord', 'discord'),
    alert('down', 'down', '  inclusionList:\n    - "^ConfigMap/.+/after created"\n'),
  ].join('');
}

interface SlackBody {
  channel: string;
  username: string;
  attachments: Array<{ color: string; text: string; author_name: string; fields: Array<{ title: string; value: string }> }>;
}
const slackHas = (pred: (b: SlackBody) => boolean) => (rs: Recorded[]) => rs.some((r) => pred(r.json<SlackBody>()));

test('notifications through fluxless serve: Slack, Teams, Discord and GitHub commit statuses, retries and the DLQ', { timeout: 240_000 }, async (t) => {
  const env = await e2e(t, { FLUXLESS_MAX_RECEIVES: '3' });
  const { ns, repo } = env;
  await env.client.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body: { metadata: { name: 'github-token' }, stringData: { token: 'ghp_test' } } });
  // Discord is down for its first two requests.
  let discordCalls = 0;
  discord.handle(() => (++discordCalls <= 2 ? { status: 500, body: 'upstream unavailable' } : { status: 204 }));
  down.handle(() => ({ status: 500, body: 'always down' }));

  const sha1 = await repo.commit(fleet(ns, { 'a.yaml': configMap('a', { v: '1' }) }, { 'clusters/dev/notifications.yaml': notifications(ns) }), 'first');
  await repo.push();
  const local = await env.start();
  const rt = local.rt;
  await env.waitFor('apps applied at the first revision', async () => (await env.record('Kustomization', 'apps'))?.status.lastAppliedRevision === `main@sha1:${sha1}`);

  await t.test('the first apply: Slack gets the change set with the Alert metadata, GitHub `success` for the revision', async () => {
    await slack.waitFor('the change set on Slack', slackHas((b) => b.attachments[0].text.includes(`ConfigMap/${ns}/a created`)));
    const r = slack.requests.find((x) => x.json<SlackBody>().attachments[0].text.includes(`ConfigMap/${ns}/a created`))!;
    const b = r.json<SlackBody>();
    assert.equal(r.url, '/services/T0/B0/x');
    assert.equal(b.channel, 'deploys');
    assert.equal(b.username, 'kustomize-controller');
    assert.equal(b.attachments[0].color, 'good');
    assert.equal(b.attachments[0].author_name, `kustomization/apps.${ns}`);
    assert.deepEqual(b.attachments[0].fields, [
      { title: 'cluster', value: 'dev', short: false },
      { title: 'revision', value: `main@sha1:${sha1}`, short: false },
    ]);
    assert.ok(!slack.requests.some((x) => x.json<SlackBody>().attachments[0].text.startsWith('Reconciliation finished')), "Slack never gets KS's commit-status update");
    await forge.waitFor('success on the first commit', () => (forge.statuses.get(sha1) ?? []).some((s) => s.state === 'success'));
    const uid = String((await readRecord(rt.state, { kind: 'Provider', namespace: ns, name: 'github' }))?.status.uid);
    assert.match(uid, /^[0-9a-f]{8}-/);
    const post = forge.find('POST', `/api/v3/repos/fleet/fleet/statuses/${sha1}`)[0];
    assert.equal(post.body, `{"state":"success","description":"reconciliation succeeded","context":"kustomization/apps/${uid.split('-')[0]}"}\n`);
    assert.equal(post.headers.authorization, 'Bearer ghp_test');
  });

  await t.test('a provider answering 500 is retried and gets the event once it recovers', async () => {
    await discord.waitFor('Discord recovers', (rs) => rs.length >= 3);
    const bodies = discord.requests.map((r) => r.body);
    assert.equal(discord.requests[0].url, '/api/webhooks/1/t/slack');
    assert.equal(bodies[0], bodies[2], 'the same notification, retried');
    await env.waitFor('the delivery log says sent', async () => (await readDeliveries(rt.state, { kind: 'Kustomization', namespace: ns, name: 'apps' })).some((d) => d.provider === 'discord' && d.outcome === 'sent'));
    const log = (await readDeliveries(rt.state, { kind: 'Kustomization', namespace: ns, name: 'apps' })).filter((d) => d.provider === 'discord');
    assert.deepEqual(log.map((d) => `${d.outcome}#${d.attempt}`).slice(0, 3), ['retrying#1', 'retrying#2', 'sent#3']);
    assert.match(log[0].error ?? '', /status code 500: upstream unavailable/);
  });

  await t.test('a failed reconcile: an error on Slack and a `failure` commit status for its revision', async () => {
    const sha2 = await repo.commit({ 'apps/broken.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: [not, a, map\n' }, 'broken');
    await repo.push();
    await env.push(local);
    await slack.waitFor('the error on Slack', slackHas((b) => b.attachments[0].color === 'danger'));
    const b = slack.requests.map((r) => r.json<SlackBody>()).find((x) => x.attachments[0].color === 'danger')!;
    assert.ok(b.attachments[0].fields.some((f) => f.title === 'revision' && f.value === `main@sha1:${sha2}`), JSON.stringify(b.attachments[0].fields));
    await forge.waitFor('failure on the broken commit', () => (forge.statuses.get(sha2) ?? []).some((s) => s.state === 'failure'));
    const st = forge.statuses.get(sha2)!.find((s) => s.state === 'failure')!;
    assert.match(String(st.description), /failed$/);
    assert.match(String(st.context), /^kustomization\/apps\/[0-9a-f]{8}$/);

    const sha3 = await repo.commit({ 'apps/broken.yaml': null, 'apps/a.yaml': configMap('a', { v: '2' }) }, 'fixed');
    await repo.push();
    await env.push(local);
    await forge.waitFor('success on the fixed commit', () => (forge.statuses.get(sha3) ?? []).some((s) => s.state === 'success' && s.description === 'reconciliation succeeded'));
    await slack.waitFor('the fix on Slack', slackHas((x) => x.attachments[0].text.includes(`ConfigMap/${ns}/a configured`)));
  });

  await t.test('an exclusionList drops a matching event; later events still arrive; a provider that stays down is dead-lettered', async () => {
    await repo.commit({ 'apps/excluded.yaml': configMap('excluded-cm', { v: '1' }) }, 'excluded');
    await repo.push();
    await env.push(local);
    await teams.waitFor('Teams gets the excluded-cm event', (rs) => rs.some((r) => r.body.includes('excluded-cm created')));
    await repo.commit({ 'apps/after.yaml': configMap('after', { v: '1' }) }, 'after');
    await repo.push();
    await env.push(local);
    // Deliveries of one Alert are in order: once the later event reached Slack, an excluded one would have too.
    await slack.waitFor('the later event on Slack', slackHas((x) => x.attachments[0].text.includes(`ConfigMap/${ns}/after created`)));
    assert.ok(!slack.requests.some((r) => r.body.includes('excluded-cm')), 'the excluded event never reached Slack');
    const card = teams.requests.find((r) => r.body.includes('excluded-cm created'))!.json<{ type: string; attachments: Array<{ contentType: string }> }>();
    assert.equal(card.type, 'message');
    assert.equal(card.attachments[0].contentType, 'application/vnd.microsoft.card.adaptive');

    // `down` (inclusionList: only the `after` event) answers 500 every time: three tries, then the DLQ.
    await env.waitFor('the dead-lettered delivery on the Alert', async () => (await readRecord(rt.state, { kind: 'Alert', namespace: ns, name: 'down' }))?.events?.some((e) => e.reason === 'NotificationDispatchFailed') ?? false);
    assert.equal(down.requests.length, 3, 'maxReceives 3: three tries');
    const ev = (await readRecord(rt.state, { kind: 'Alert', namespace: ns, name: 'down' }))!.events!.find((e) => e.reason === 'NotificationDispatchFailed')!;
    assert.match(ev.message, new RegExp(`notification for Kustomization/${ns}/apps moved to the dead-letter queue: delivery failed 3 time\\(s\\).*status code 500: always down`));
    const dead = await rt.queue.listDead();
    assert.ok(dead.some((d) => d.message?.type === 'notify' && d.message.target.name === 'down'), 'the notify message is in the DLQ');

    const events = await eventsCmd(rt, { namespace: ns, forObj: 'Kustomization/apps' });
    assert.match(events, new RegExp(`NotificationSent\\s+Kustomization/apps\\s+Alert ${ns}/slack -> Provider slack \\(slack\\), attempt 1: ReconciliationSucceeded 'ConfigMap/${ns}/a created'`));
    assert.match(events, /NotificationRetrying\s.*Provider discord \(discord\), attempt 1: .*status code 500: upstream unavailable/);
    assert.match(events, /NotificationDeadLettered\s.*Provider down \(generic\), attempt 3: ReconciliationSucceeded 'ConfigMap\/.*\/after created': delivery failed 3 time/);
    const alerts = await getCmd(rt, 'alerts', { namespace: ns, output: 'table' });
    assert.match(alerts, /alert\/slack\s.*True\s+Alert sends info and error events of Kustomization\/.*\/apps to Provider slack/);
    const providers = await getCmd(rt, 'providers', { namespace: ns, output: 'table' });
    assert.match(providers, /provider\/github\s.*True\s+Provider of type github is ready/);
  });
});

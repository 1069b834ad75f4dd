/**
 * `provider: aws`: registry credentials from Amazon ECR with the function's own AWS
 * credentials (the Lambda role, or the default provider chain locally), as Flux's
 * fluxcd/pkg auth/aws does:
 *
 * - the registry host must be an ECR host, `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`
 *   (and the other AWS partitions, `dkr-ecr` dual-stack), or `public.ecr.aws`; anything else
 *   fails (Flux 2.6+). Unlike Flux's unanchored regexp, the whole host must match, so a
 *   host that merely contains an ECR name gets no ECR token;
 * - private ECR: `GetAuthorizationToken` in the region from the host; public ECR: the
 *   ecr-public API in us-east-1;
 * - the token base64-decodes to `AWS:<password>`; it is cached like Flux's token cache:
 *   for 80% of its remaining lifetime, at most one hour.
 */
import type { ECRClientConfig } from '@aws-sdk/client-ecr';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { FluxlessError } from '../util/errors.js';
import type { Credential } from './keychain.js';

/** ECR host pattern (anchored). Groups: account, region, partition domain. */
export const ECR_HOST_PATTERN =
  /^([0-9]+)\.dkr[.-]ecr(?:-fips)?\.([^/.]+)\.(amazonaws\.com(?:\.cn)?|amazonaws\.eu|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov|on\.aws)$/;
/** The public ECR registry host. */
export const PUBLIC_ECR = 'public.ecr.aws';

/** The host does not belong to the provider, or the exchange failed. */
export class ProviderAuthError extends FluxlessError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('AuthenticationFailed', message, options);
  }
}

/** Where and how to ask ECR (all optional: the function's region-free defaults). */
export interface EcrOptions {
  /** ECR API endpoint override (tests: a loopback server). */
  endpoint?: string;
  /** ECR Public API endpoint override. */
  publicEndpoint?: string;
  /** AWS credentials; default the SDK's default provider chain (the function's role). */
  credentials?: ECRClientConfig['credentials'];
  now?: () => number;
  signal?: AbortSignal;
}

/** `{ region }` for an ECR host (`us-east-1` for public.ecr.aws), or throws ProviderAuthError. */
export function parseEcrHost(registry: string): { region: string; account?: string; public: boolean } {
  if (registry === PUBLIC_ECR) return { region: 'us-east-1', public: true };
  const m = ECR_HOST_PATTERN.exec(registry);
  if (!m) {
    throw new ProviderAuthError(`invalid AWS registry: '${registry}'. must match ${ECR_HOST_PATTERN.source}`, {
      hint: "provider 'aws' works only with Amazon ECR registries; use provider 'generic' with spec.secretRef for other registries",
    });
  }
  return { account: m[1], region: m[2], public: false };
}

interface Cached {
  cred: Credential;
  expiresAt: number;
  cacheUntil: number;
}
const cache = new Map<string, Promise<Cached>>();

/** Forgets cached ECR tokens (tests). */
export function clearEcrCache(): void {
  cache.clear();
}

/**
 * The ECR credential for a registry host (cached, see the module comment). Throws
 * ProviderAuthError for a non-ECR host or a failed exchange.
 */
export async function ecrCredential(registry: string, opts: EcrOptions = {}): Promise<Credential & { expiresAt: number }> {
  const host = parseEcrHost(registry);
  const now = opts.now ?? Date.now;
  const key = JSON.stringify([registry, opts.endpoint ?? '', opts.publicEndpoint ?? '', credentialsKey(opts.credentials)]);
  const hit = cache.get(key);
  if (hit) {
    const c = await hit.catch(() => undefined);
    if (c && c.cacheUntil > now()) return { ...c.cred, expiresAt: c.expiresAt };
    if (cache.get(key) === hit) cache.delete(key);
  }
  const p = (host.public ? publicToken(opts) : privateToken(host.region, opts)).then(({ token, expiresAt }) => {
    const cred = decodeToken(token, registry);
    const left = Math.max(0, expiresAt - now());
    return { cred, expiresAt, cacheUntil: now() + Math.min((left * 8) / 10, 3_600_000) };
  });
  cache.set(key, p);
  try {
    const c = await p;
    return { ...c.cred, expiresAt: c.expiresAt };
  } catch (err) {
    if (cache.get(key) === p) cache.delete(key);
    throw err;
  }
}

function credentialsKey(c: EcrOptions['credentials']): string {
  if (!c) return 'default';
  if (typeof c === 'function') return 'provider';
  return c.accessKeyId;
}

async function privateToken(region: string, opts: EcrOptions): Promise<{ token: string; expiresAt: number }> {
  // Loaded on first use: only a repository with provider aws needs the ECR client.
  const { ECRClient, GetAuthorizationTokenCommand } = await import('@aws-sdk/client-ecr');
  const client = new ECRClient({ region, ...(opts.endpoint ? { endpoint: opts.endpoint } : {}), ...(opts.credentials ? { credentials: opts.credentials } : {}), maxAttempts: 2 });
  try {
    const out = await client.send(new GetAuthorizationTokenCommand({}), { abortSignal: opts.signal });
    const data = out.authorizationData?.[0];
    if (!data) throw new ProviderAuthError('no authorization data returned');
    if (!data.authorizationToken) throw new ProviderAuthError('authorization token is nil');
    if (!data.expiresAt) throw new ProviderAuthError('authorization token expiration is nil');
    return { token: data.authorizationToken, expiresAt: data.expiresAt.getTime() };
  } catch (err) {
    if (err instanceof ProviderAuthError) throw err;
    throw new ProviderAuthError(`failed to create artifact registry credentials: ECR GetAuthorizationToken in ${region}: ${(err as Error).message}`, {
      cause: err,
      hint: 'the function role needs ecr:GetAuthorizationToken (and ecr:BatchGetImage, ecr:GetDownloadUrlForLayer on the repository)',
    });
  } finally {
    client.destroy();
  }
}

async function publicToken(opts: EcrOptions): Promise<{ token: string; expiresAt: number }> {
  const endpoint = new URL(opts.publicEndpoint ?? 'https://api.ecr-public.us-east-1.amazonaws.com/');
  const body = '{}';
  const signer = new SignatureV4({
    service: 'ecr-public',
    region: 'us-east-1',
    credentials: opts.credentials ?? defaultProvider(),
    sha256: Hash.bind(null, 'sha256'),
  });
  try {
    const signed = await signer.sign({
      method: 'POST',
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      ...(endpoint.port ? { port: Number(endpoint.port) } : {}),
      path: endpoint.pathname,
      query: {},
      headers: {
        host: endpoint.host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'SpencerFrontendService.GetAuthorizationToken',
      },
      body,
    });
    const res = await fetch(endpoint, { method: 'POST', headers: signed.headers, body, signal: opts.signal });
    const text = await res.text();
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
    const j = JSON.parse(text) as { authorizationData?: { authorizationToken?: string; expiresAt?: number } };
    const d = j.authorizationData;
    if (!d) throw new ProviderAuthError('no authorization data returned');
    if (!d.authorizationToken) throw new ProviderAuthError('authorization token is nil');
    if (d.expiresAt === undefined) throw new ProviderAuthError('authorization token expiration is nil');
    return { token: d.authorizationToken, expiresAt: Math.round(d.expiresAt * 1000) };
  } catch (err) {
    if (err instanceof ProviderAuthError) throw err;
    throw new ProviderAuthError(`failed to create artifact registry credentials: ECR Public GetAuthorizationToken: ${(err as Error).message}`, { cause: err });
  }
}

function decodeToken(token: string, registry: string): Credential {
  const text = Buffer.from(token, 'base64').toString('utf8');
  const parts = text.split(':');
  if (parts.length !== 2) throw new ProviderAuthError(`failed to create artifact registry credentials for ${registry}: invalid authorization token format`);
  return { username: parts[0], password: parts[1] };
}

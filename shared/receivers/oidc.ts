/**
 * Bearer ID tokens for two Receiver types, verified with `jose` (signatures, JWKS
 * fetching and key selection); the claim checks follow the Go libraries Flux uses:
 * - generic-oidc (notification-controller receiver_oidc.go with coreos/go-oidc): pick the
 *   provider whose `issuerURL` equals the token's unverified `iss`, OIDC discovery at
 *   `<issuer>/.well-known/openid-configuration` (its `issuer` must equal the URL), keys
 *   from its `jwks_uri`, algorithms from `id_token_signing_alg_values_supported` (default
 *   RS256); `iss` equal, `aud` containing the provider's audience, `exp` not passed, `nbf`
 *   with go-oidc's 5 minute leeway; then the provider's CEL `variables` and `validations`
 *   over the claims (receiver_claims.go).
 * - gcr (Pub/Sub push, Flux 2.9 authenticateGCRRequest with google.golang.org/api/idtoken):
 *   Google's keys, `aud` equal to the Secret's `audience`, `exp`/`iat` with idtoken's 10 s
 *   skew, `iss` `accounts.google.com` with or without `https://`, `email` equal to the
 *   Secret's `email` and `email_verified` true.
 * Discovery documents and key sets are cached per issuer, so a webhook costs no fetch
 * once warm; a key the cache does not know triggers one refetch (jose's cooldown applies).
 */
import { compactVerify, createRemoteJWKSet, decodeJwt, errors as joseErrors } from 'jose';
import type { JWSAlgorithm, RemoteJWKSet } from 'jose';
import { cel, loadCel } from '../cel/load.js';
import { errorMessage } from '../util/errors.js';
import { OIDC_CLAIM_VARIABLES } from './spec.js';
import type { OidcProvider } from './spec.js';
import { trimEnd } from '../util/trim.js';

/** Verified claims, or why the token is refused (401 unauthenticated, 403 not allowed, 503 issuer unreachable). */
export type TokenCheck =
  | { ok: true; claims: Record<string, unknown> }
  | { ok: false; status: 401 | 403 | 503; reason: string; /** What the Receiver expected: logged, never sent to the caller. */ detail?: string };

/** Options shared by both verifiers. */
export interface TokenVerifierOptions {
  /** HTTP timeout for discovery and key fetches (ms). Default 5000. */
  timeoutMs?: number;
  /** Clock (ms since the epoch), for tests. */
  now?: () => number;
}

/** Options of OidcVerifier. */
export interface OidcVerifierOptions extends TokenVerifierOptions {
  /** How long a discovery document is reused (ms). Default 15 min. */
  discoveryTtlMs?: number;
  /** How long a failed discovery is remembered before retrying (ms). Default 10 s. */
  failureTtlMs?: number;
}

const SUPPORTED_ALGS = new Set<string>(['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'EdDSA', 'Ed25519']);
const MAX_DOCUMENT_BYTES = 1024 * 1024;
const NBF_LEEWAY_S = 5 * 60;

function bearer(authorization: string | undefined): string | { reason: string } {
  const prefix = 'Bearer ';
  if (authorization === undefined || !authorization.startsWith(prefix)) {
    return { reason: 'the Authorization header is missing or malformed (expected "Bearer <token>")' };
  }
  const token = authorization.slice(prefix.length).trim();
  if (token === '') return { reason: 'the Authorization header is missing a bearer token' };
  return token;
}

async function fetchJson(url: string, timeoutMs: number): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error', headers: { accept: 'application/json' } });
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`GET ${url}: HTTP ${res.status}`);
  }
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > MAX_DOCUMENT_BYTES) throw new Error(`GET ${url}: document larger than ${MAX_DOCUMENT_BYTES} bytes`);
  const text = await res.text();
  if (text.length > MAX_DOCUMENT_BYTES) throw new Error(`GET ${url}: document larger than ${MAX_DOCUMENT_BYTES} bytes`);
  return JSON.parse(text) as unknown;
}

interface Discovery {
  jwks: RemoteJWKSet;
  algorithms: JWSAlgorithm[];
}

/** Numeric claim or undefined. */
function numericClaim(claims: Record<string, unknown>, name: string): number | undefined {
  const v = claims[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Verify the signature of `token` with `keys`, returning the payload claims. */
async function verifySignature(token: string, keys: RemoteJWKSet, algorithms: JWSAlgorithm[]): Promise<Record<string, unknown>> {
  const { payload } = await compactVerify(token, keys, { algorithms });
  const claims = JSON.parse(new TextDecoder().decode(payload)) as unknown;
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new Error('the token payload is not a JSON object');
  return claims as Record<string, unknown>;
}

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'no key of the issuer matches the token (kid/alg)';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return `signing algorithm not allowed: ${err.message}`;
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return `malformed token: ${err.message}`;
  if (err instanceof joseErrors.JWKSTimeout) return 'fetching the issuer keys timed out';
  return errorMessage(err);
}

/** generic-oidc token verification with cached discovery per issuer. */
export class OidcVerifier {
  private readonly discoveries = new Map<string, { at: number; ok: boolean; value: Promise<Discovery> }>();
  private readonly timeoutMs: number;
  private readonly ttlMs: number;
  private readonly failureTtlMs: number;
  private readonly now: () => number;

  constructor(opts: OidcVerifierOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.ttlMs = opts.discoveryTtlMs ?? 15 * 60_000;
    this.failureTtlMs = opts.failureTtlMs ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** Verify `Authorization: Bearer <jwt>` against the providers and run their CEL checks. */
  async verify(authorization: string | undefined, providers: readonly OidcProvider[]): Promise<TokenCheck> {
    if (providers.length === 0) return { ok: false, status: 401, reason: 'generic-oidc receiver has no oidcProviders configured' };
    const token = bearer(authorization);
    if (typeof token !== 'string') return { ok: false, status: 401, reason: token.reason };

    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch (err) {
      return { ok: false, status: 401, reason: `failed to parse bearer token: ${describeJoseError(err)}` };
    }
    if (typeof iss !== 'string' || iss === '') return { ok: false, status: 401, reason: "failed to parse bearer token: the token has no 'iss' claim" };
    const provider = providers.find((p) => p.issuerURL === iss);
    if (provider === undefined) return { ok: false, status: 401, reason: `no oidcProvider configured for issuer ${JSON.stringify(iss)}` };

    let discovery: Discovery;
    try {
      discovery = await this.discover(provider.issuerURL);
    } catch (err) {
      return { ok: false, status: 503, reason: `failed to initialize OIDC provider for issuer ${JSON.stringify(provider.issuerURL)}: ${errorMessage(err)}` };
    }

    let claims: Record<string, unknown>;
    try {
      claims = await verifySignature(token, discovery.jwks, discovery.algorithms);
    } catch (err) {
      return { ok: false, status: 401, reason: `failed to verify OIDC token: ${describeJoseError(err)}` };
    }
    const bad = this.checkClaims(claims, provider);
    if (bad !== undefined) return { ok: false, status: 401, reason: `failed to verify OIDC token: ${bad}` };

    await loadCel();
    const denied = evaluateClaimRules(provider, claims);
    if (denied !== undefined) return { ok: false, status: 403, reason: denied };
    return { ok: true, claims };
  }

  /** go-oidc IDTokenVerifier.Verify's claim checks. */
  private checkClaims(claims: Record<string, unknown>, provider: OidcProvider): string | undefined {
    if (claims.iss !== provider.issuerURL) {
      return `id token issued by a different provider, expected ${JSON.stringify(provider.issuerURL)} got ${JSON.stringify(claims.iss)}`;
    }
    const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
    if (!aud.includes(provider.audience)) {
      return `expected audience ${JSON.stringify(provider.audience)} got ${JSON.stringify(claims.aud ?? [])}`;
    }
    const nowS = this.now() / 1000;
    const exp = numericClaim(claims, 'exp');
    if (exp === undefined || exp < nowS) {
      return exp === undefined ? "token has no 'exp' claim" : `token is expired (Token Expiry: ${new Date(exp * 1000).toISOString()})`;
    }
    const nbf = numericClaim(claims, 'nbf');
    if (nbf !== undefined && nowS + NBF_LEEWAY_S < nbf) {
      return `current time ${new Date(nowS * 1000).toISOString()} before the nbf (not before) time: ${new Date(nbf * 1000).toISOString()}`;
    }
    return undefined;
  }

  private discover(issuer: string): Promise<Discovery> {
    const hit = this.discoveries.get(issuer);
    const now = this.now();
    if (hit && now - hit.at < (hit.ok ? this.ttlMs : this.failureTtlMs)) return hit.value;
    const entry = { at: now, ok: true, value: this.load(issuer) };
    entry.value.catch(() => {
      entry.ok = false;
    });
    this.discoveries.set(issuer, entry);
    return entry.value;
  }

  private async load(issuer: string): Promise<Discovery> {
    const url = `${trimEnd(issuer, '/')}/.well-known/openid-configuration`;
    const doc = await fetchJson(url, this.timeoutMs);
    if (typeof doc !== 'object' || doc === null) throw new Error(`${url} is not a JSON object`);
    const d = doc as Record<string, unknown>;
    if (d.issuer !== issuer) {
      throw new Error(`issuer did not match the issuer returned by provider, expected ${JSON.stringify(issuer)} got ${JSON.stringify(d.issuer)}`);
    }
    if (typeof d.jwks_uri !== 'string' || d.jwks_uri === '') throw new Error(`${url} has no jwks_uri`);
    const offered = Array.isArray(d.id_token_signing_alg_values_supported)
      ? (d.id_token_signing_alg_values_supported as unknown[]).filter((a): a is string => typeof a === 'string' && SUPPORTED_ALGS.has(a))
      : [];
    return {
      jwks: createRemoteJWKSet(new URL(d.jwks_uri), { timeoutDuration: this.timeoutMs }),
      algorithms: (offered.length > 0 ? offered : ['RS256']) as JWSAlgorithm[],
    };
  }
}

/**
 * Run a provider's `variables` (in order, as `vars.<name>`) and `validations` over verified
 * claims. Returns the refusal reason, or undefined when every validation holds.
 */
export function evaluateClaimRules(provider: OidcProvider, claims: Record<string, unknown>): string | undefined {
  const vars: Record<string, unknown> = {};
  for (const v of provider.variables) {
    try {
      vars[v.name] = cel().compileCel(v.expression, { variables: OIDC_CLAIM_VARIABLES }).evaluate({ claims, vars });
    } catch (err) {
      return `failed to evaluate variable ${JSON.stringify(v.name)}: ${errorMessage(err)}`;
    }
  }
  const failures: string[] = [];
  for (const v of provider.validations) {
    try {
      if (!cel().compileCelBoolean(v.expression, OIDC_CLAIM_VARIABLES).evaluateBoolean({ claims, vars })) failures.push(v.message);
    } catch (err) {
      return `failed to evaluate validation: ${errorMessage(err)}`;
    }
  }
  return failures.length > 0 ? `token validation failed: ${failures.join('; ')}` : undefined;
}

/** Where Google's ID token keys are and which issuers it uses. */
export interface GoogleIdTokenOptions extends TokenVerifierOptions {
  /**
   * Tests only: a stand-in for Google's JWKS endpoint. Production leaves it unset
   * (https://www.googleapis.com/oauth2/v3/certs).
   */
  jwksUri?: string;
  /** Tests only: the issuers to accept. Default accounts.google.com and https://accounts.google.com. */
  issuers?: readonly string[];
}

/** Google's published ID token keys. */
export const GOOGLE_JWKS_URI = 'https://www.googleapis.com/oauth2/v3/certs';
const GOOGLE_ISSUERS = ['accounts.google.com', 'https://accounts.google.com'];
const GOOGLE_SKEW_S = 10;

/** Verifies Google-signed ID tokens as Pub/Sub push subscriptions send them. */
export class GoogleIdTokenVerifier {
  private jwks: RemoteJWKSet | undefined;
  private readonly jwksUri: string;
  private readonly issuers: readonly string[];
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(opts: GoogleIdTokenOptions = {}) {
    this.jwksUri = opts.jwksUri ?? GOOGLE_JWKS_URI;
    this.issuers = opts.issuers ?? GOOGLE_ISSUERS;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.now = opts.now ?? Date.now;
  }

  /** Verify `Authorization: Bearer <Google ID token>` for the Secret's email and audience. */
  async verify(authorization: string | undefined, expectedEmail: string, expectedAudience: string): Promise<TokenCheck> {
    const token = bearer(authorization);
    if (typeof token !== 'string') return { ok: false, status: 401, reason: token.reason };
    this.jwks ??= createRemoteJWKSet(new URL(this.jwksUri), { timeoutDuration: this.timeoutMs });
    let claims: Record<string, unknown>;
    try {
      claims = await verifySignature(token, this.jwks, ['RS256', 'ES256']);
    } catch (err) {
      return { ok: false, status: 401, reason: `invalid ID token: ${describeJoseError(err)}` };
    }
    if (claims.aud !== expectedAudience) {
      const got = typeof claims.aud === 'string' ? claims.aud : '<unknown>';
      return { ok: false, status: 401, reason: `invalid ID token: audience is '${got}', not the Receiver's audience`, detail: `want '${expectedAudience}'` };
    }
    const nowS = this.now() / 1000;
    const exp = numericClaim(claims, 'exp');
    if (exp === undefined || nowS - GOOGLE_SKEW_S > exp) return { ok: false, status: 401, reason: 'invalid ID token: token expired' };
    const iat = numericClaim(claims, 'iat');
    if (iat !== undefined && nowS + GOOGLE_SKEW_S < iat) return { ok: false, status: 401, reason: 'invalid ID token: token used before issued' };
    const iss = typeof claims.iss === 'string' ? claims.iss : '';
    if (!this.issuers.includes(iss)) {
      return { ok: false, status: 401, reason: `token issuer is '${iss}', want ${this.issuers.map((i) => `'${i}'`).join(' or ')}` };
    }
    const email = typeof claims.email === 'string' ? claims.email : '';
    if (email !== expectedEmail) return { ok: false, status: 401, reason: `token email is '${email}', not the Receiver's service account`, detail: `want '${expectedEmail}'` };
    if (claims.email_verified !== true) return { ok: false, status: 401, reason: `token email '${email}' is not verified` };
    return { ok: true, claims };
  }
}

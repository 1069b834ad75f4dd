/**
 * A loopback OIDC issuer for the tests: discovery document and JWKS over real HTTP on
 * 127.0.0.1, an RSA key made by jose, and a signer for ID tokens. Counts the requests it
 * serves so tests can see what was cached.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { JWTPayload } from 'jose';

export interface TestIssuer {
  /** Base URL, also the `issuer` in the discovery document (unless overridden). */
  url: string;
  jwksUrl: string;
  /** Paths requested so far. */
  requests: string[];
  /** Sign an ID token with the issuer's key (claims win over the defaults: iss, iat, exp in 5 min). */
  sign(claims: JWTPayload, opts?: { kid?: string; alg?: string }): Promise<string>;
  close(): Promise<void>;
}

export async function startIssuer(opts: { discoveryIssuer?: (url: string) => string; algs?: string[] } = {}): Promise<TestIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'key-1', alg: 'RS256', use: 'sig' };
  const requests: string[] = [];
  let url = '';
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/.well-known/openid-configuration') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({
        issuer: opts.discoveryIssuer ? opts.discoveryIssuer(url) : url,
        jwks_uri: `${url}/jwks`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: opts.algs ?? ['RS256'],
      }));
    } else if (req.url === '/jwks') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    jwksUrl: `${url}/jwks`,
    requests,
    async sign(claims, o = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: url, iat: now, exp: now + 300, ...claims })
        .setProtectedHeader({ alg: o.alg ?? 'RS256', kid: o.kid ?? 'key-1', typ: 'JWT' })
        .sign(privateKey);
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * A loopback HTTP endpoint standing in for AWS KMS (JSON 1.1 `TrentService.Decrypt`) and AWS
 * STS (Query `AssumeRole`), recording every request exactly as received. Decrypt answers
 * with the data key registered for the ciphertext blob, or KMS's InvalidCiphertextException.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the endpoint received. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The running endpoint. */
export interface FakeAws {
  url: string;
  requests: RecordedRequest[];
  /** Makes `blob` decrypt to `plaintext` for `keyId` (and only with exactly `context`). */
  register(blob: Buffer, plaintext: Buffer, keyId: string, context?: Record<string, string>): void;
  /** Temporary credentials AssumeRole hands out. */
  readonly assumedAccessKeyId: string;
  close(): Promise<void>;
}

/** Starts the endpoint on 127.0.0.1 and a random port. */
export async function startFakeAws(): Promise<FakeAws> {
  const keys = new Map<string, { plaintext: Buffer; keyId: string; context: Record<string, string> }>();
  const requests: RecordedRequest[] = [];
  const assumedAccessKeyId = 'ASIAFAKEASSUMED00001';
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      const target = req.headers['x-amz-target'];
      if (target === 'TrentService.Decrypt') {
        const input = JSON.parse(body) as { CiphertextBlob: string; KeyId?: string; EncryptionContext?: Record<string, string> };
        const entry = keys.get(input.CiphertextBlob);
        const sameContext = entry && JSON.stringify(Object.entries(entry.context).sort()) === JSON.stringify(Object.entries(input.EncryptionContext ?? {}).sort());
        res.setHeader('content-type', 'application/x-amz-json-1.1');
        if (!entry || !sameContext || input.KeyId !== entry.keyId) {
          res.statusCode = 400;
          res.end(JSON.stringify({ __type: 'InvalidCiphertextException', message: 'The ciphertext, key or encryption context is not valid.' }));
          return;
        }
        res.end(JSON.stringify({ KeyId: entry.keyId, Plaintext: entry.plaintext.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }));
        return;
      }
      const form = new URLSearchParams(body);
      if (form.get('Action') === 'AssumeRole') {
        res.setHeader('content-type', 'text/xml');
        res.end(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>` +
          `<AccessKeyId>${assumedAccessKeyId}</AccessKeyId><SecretAccessKey>assumed-secret</SecretAccessKey>` +
          `<SessionToken>assumed-session-token</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials>` +
          `</AssumeRoleResult></AssumeRoleResponse>`);
        return;
      }
      res.statusCode = 400;
      res.end('unknown request');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    assumedAccessKeyId,
    register(blob, plaintext, keyId, context = {}) {
      keys.set(blob.toString('base64'), { plaintext, keyId, context });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

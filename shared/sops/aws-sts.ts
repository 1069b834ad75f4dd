/**
 * STS AssumeRole for KMS master keys with a `role` (getsops/sops `kms/keysource.go`
 * `createSTSConfig`): a SigV4-signed Query request to the regional STS endpoint with the
 * session name `sops@<hostname>`; the temporary credentials then call KMS.
 */
import os from 'node:os';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

const SESSION_NAME_LIMIT = 64;

/** sops's role session name: `sops@` + the host name without characters STS refuses, max 64. */
export function stsSessionName(hostname: string = os.hostname()): string {
  const name = 'sops@' + hostname.replace(/[^a-zA-Z0-9=,.@-_]+/g, '');
  return name.length >= SESSION_NAME_LIMIT ? name.slice(0, SESSION_NAME_LIMIT) : name;
}

function xmlText(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
  return m ? m[1].replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'") : undefined;
}

/** Options of assumeRole. */
export interface AssumeRoleOptions {
  roleArn: string;
  region: string;
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Override of `https://sts.<region>.amazonaws.com` (tests, VPC endpoints). */
  endpoint?: string;
  fetchImpl?: typeof fetch;
}

/** Calls STS AssumeRole; throws `failed to assume role '<arn>': ...`. */
export async function assumeRole(opts: AssumeRoleOptions): Promise<AwsCredentialIdentity> {
  const url = new URL(opts.endpoint ?? `https://sts.${opts.region}.amazonaws.com/`);
  const body = new URLSearchParams({
    Action: 'AssumeRole',
    RoleArn: opts.roleArn,
    RoleSessionName: stsSessionName(),
    Version: '2011-06-15',
  }).toString();
  const signer = new SignatureV4({ service: 'sts', region: opts.region, credentials: opts.credentials, sha256: Hash.bind(null, 'sha256') });
  const request = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname || '/',
    headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body,
  });
  let text: string;
  let status: number;
  try {
    const res = await (opts.fetchImpl ?? fetch)(url, { method: 'POST', headers: request.headers as Record<string, string>, body });
    status = res.status;
    text = await res.text();
  } catch (err) {
    throw new Error(`failed to assume role '${opts.roleArn}': ${(err as Error).message}`);
  }
  if (status !== 200) {
    const code = xmlText(text, 'Code') ?? `HTTP ${status}`;
    const message = xmlText(text, 'Message') ?? '';
    throw new Error(`failed to assume role '${opts.roleArn}': ${code}${message ? `: ${message}` : ''}`);
  }
  const accessKeyId = xmlText(text, 'AccessKeyId');
  const secretAccessKey = xmlText(text, 'SecretAccessKey');
  const sessionToken = xmlText(text, 'SessionToken');
  if (!accessKeyId || !secretAccessKey) throw new Error(`failed to assume role '${opts.roleArn}': the STS answer has no credentials`);
  return { accessKeyId, secretAccessKey, sessionToken };
}

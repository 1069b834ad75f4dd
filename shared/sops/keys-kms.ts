/**
 * AWS KMS master keys (getsops/sops `kms/keysource.go`, with kustomize-controller's credential
 * handling): the data key is KMS `Decrypt` of the base64 `enc`, with `KeyId` = the key's ARN,
 * the file's encryption context, in the region named by the ARN, after AssumeRole when the key
 * has a `role`. Credentials are the `sops.aws-kms` Secret entry when present, otherwise the
 * function's own (the SDK's default chain, or what the caller passes). The KMS client is
 * loaded on first use: a worker that decrypts nothing with KMS never parses it.
 */
import type * as KmsSdk from '@aws-sdk/client-kms';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { parse as parseYaml } from 'yaml';
import { assumeRole } from './aws-sts.js';
import { decodeStdBase64 } from './base64.js';
import { isRecord } from '../util/guards.js';

/** The KMS client module, loaded on first use. */
type KmsModule = typeof KmsSdk;

const ARN_RE = /^arn:aws[\w-]*:kms:(.+):[0-9]+:(key|alias)\/.+$/;

/** How KMS is reached. Everything is optional; production uses the defaults. */
export interface KmsOptions {
  /** KMS endpoint override (a loopback server in tests, a VPC endpoint). */
  endpoint?: string;
  /** STS endpoint override for keys with a `role`. */
  stsEndpoint?: string;
  /** The function's own credentials; default: the AWS SDK's default provider chain. */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Retry attempts of the KMS client (SDK default 3). */
  maxAttempts?: number;
}

/** The region of a KMS key ARN, or undefined when it is not a KMS ARN. */
export function kmsRegionOf(arn: string): string | undefined {
  return ARN_RE.exec(arn)?.[1];
}

/** A `sops.aws-kms` parse failure (never echoes the entry). */
export class AwsCredentialsError extends Error {}

/** Reads the `sops.aws-kms` entry: YAML `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`. */
export function parseAwsKmsCredentials(data: Uint8Array): AwsCredentialIdentity {
  let doc: unknown;
  try {
    doc = parseYaml(Buffer.from(data).toString('utf8'));
  } catch {
    throw new AwsCredentialsError('failed to unmarshal AWS credentials file: the entry is not valid YAML');
  }
  if (doc !== null && doc !== undefined && !isRecord(doc)) {
    throw new AwsCredentialsError('failed to unmarshal AWS credentials file: the entry is not a YAML mapping');
  }
  // sigs.k8s.io/yaml decodes through encoding/json, which matches field names case-insensitively.
  const get = (name: string): string => {
    if (!doc) return '';
    for (const [k, v] of Object.entries(doc)) if (k.toLowerCase() === name && typeof v === 'string') return v;
    return '';
  };
  const token = get('aws_session_token');
  return {
    accessKeyId: get('aws_access_key_id'),
    secretAccessKey: get('aws_secret_access_key'),
    ...(token ? { sessionToken: token } : {}),
  };
}

/** One KMS master key as stored in a file. */
export interface KmsKeyRef {
  arn: string;
  role: string;
  context: Record<string, string>;
  enc: string;
}

/** Decrypts KMS data keys, caching one client per region and credentials. */
export class KmsDecrypter {
  private readonly clients = new Map<string, KmsSdk.KMSClient>();
  private readonly roleCreds = new Map<string, Promise<AwsCredentialIdentity>>();

  constructor(
    private readonly options: KmsOptions,
    /** Static credentials from the decryption Secret (`sops.aws-kms`), which take precedence. */
    private readonly secretCredentials?: AwsCredentialIdentity,
  ) {}

  private client(kms: KmsModule, region: string, credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined, id: string): KmsSdk.KMSClient {
    const k = `${region}\0${id}`;
    let c = this.clients.get(k);
    if (!c) {
      c = new kms.KMSClient({
        region,
        ...(credentials ? { credentials } : {}),
        ...(this.options.endpoint ? { endpoint: this.options.endpoint } : {}),
        ...(this.options.maxAttempts ? { maxAttempts: this.options.maxAttempts } : {}),
      });
      this.clients.set(k, c);
    }
    return c;
  }

  /** KMS Decrypt of one key's `enc`; throws with sops's messages. */
  async decrypt(key: KmsKeyRef): Promise<Buffer> {
    const blob = decodeStdBase64(key.enc);
    if (!blob) throw new Error('error base64-decoding encrypted data key: illegal base64 data');
    const region = kmsRegionOf(key.arn);
    if (!region) throw new Error(`no valid ARN found in '${key.arn}'`);
    const base = this.secretCredentials ?? this.options.credentials;
    let credentials = base;
    let id = this.secretCredentials ? 'secret' : this.options.credentials ? 'options' : 'default';
    if (key.role) {
      const rk = `${region}\0${key.role}\0${id}`;
      let p = this.roleCreds.get(rk);
      if (!p) {
        const baseCreds = base ?? (await import('@aws-sdk/credential-provider-node')).defaultProvider();
        p = assumeRole({ roleArn: key.role, region, credentials: baseCreds, endpoint: this.options.stsEndpoint });
        p.catch(() => this.roleCreds.delete(rk));
        this.roleCreds.set(rk, p);
      }
      credentials = await p;
      id = `role:${key.role}:${id}`;
    }
    try {
      const kms = await import('@aws-sdk/client-kms');
      const out = await this.client(kms, region, credentials, id).send(new kms.DecryptCommand({
        KeyId: key.arn,
        CiphertextBlob: blob,
        EncryptionContext: key.context,
      }));
      if (!out.Plaintext) throw new Error('KMS returned no plaintext');
      return Buffer.from(out.Plaintext);
    } catch (err) {
      const e = err as Error & { name?: string };
      const name = e.name && e.name !== 'Error' ? `${e.name}: ` : '';
      throw new Error(`failed to decrypt sops data key with AWS KMS: ${name}${e.message}`);
    }
  }

  /** Releases the SDK clients' sockets. */
  destroy(): void {
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }
}

/**
 * Where the management cluster's kubeconfig comes from, in one place: a file (with `~`
 * expanded), the in-cluster service account, the default loading rules ($KUBECONFIG,
 * ~/.kube/config), and for Lambda FLUXLESS_KUBECONFIG_DATA (base64) or an S3 object
 * (FLUXLESS_KUBECONFIG_S3). Every failure names what to set.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { KubeConfig } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import type { FluxlessConfig } from '../config/config.js';
import { EnvironmentError, ValidationError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { expandHome } from '../util/paths.js';
import { createS3Client, isS3NotFound, readS3Body } from '../util/s3.js';

type Env = Record<string, string | undefined>;

/** Kubeconfig sources for the Lambda functions, first match wins. */
export const KUBECONFIG_DATA_ENV = 'FLUXLESS_KUBECONFIG_DATA';
/** An S3 object holding the kubeconfig: `s3://bucket/key` or a key in the state bucket. */
export const KUBECONFIG_S3_ENV = 'FLUXLESS_KUBECONFIG_S3';
/** Reserved: SSM parameters are not supported by this build (a clear error says so). */
export const KUBECONFIG_SSM_ENV = 'FLUXLESS_KUBECONFIG_SSM';

/** Loads a kubeconfig file (`~` expanded); a clear error when it does not exist or does not parse. */
export function loadKubeConfigFile(file: string): KubeConfig {
  const p = expandHome(file);
  if (!existsSync(p)) {
    throw new ValidationError(`kubeconfig ${file} not found`, { hint: 'point cluster.kubeconfig (FLUXLESS_KUBECONFIG) or KUBECONFIG at an existing kubeconfig file' });
  }
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(p);
  } catch (err) {
    throw new ValidationError(`kubeconfig ${file} could not be read: ${errorMessage(err)}`, { hint: 'check that it is a kubeconfig YAML file' });
  }
  return kc;
}

/** A kubeconfig from a file, or the default loading rules ($KUBECONFIG, ~/.kube/config) without one. */
export function loadKubeConfig(file?: string): KubeConfig {
  if (file) return loadKubeConfigFile(file);
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

/** The management cluster's kubeconfig from the configuration: a file, in-cluster, or the defaults. */
export function kubeConfigFor(cfg: FluxlessConfig): KubeConfig {
  if (cfg.cluster.inCluster) {
    const kc = new KubeConfig();
    kc.loadFromCluster();
    return kc;
  }
  return loadKubeConfig(cfg.cluster.kubeconfig);
}

/** Parses kubeconfig YAML from `where`; it must have a current context with a cluster. */
export function parseKubeConfig(text: string, where: string, hint: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromString(text);
  } catch (err) {
    throw new ValidationError(`${where} is not a kubeconfig: ${errorMessage(err)}`, { hint });
  }
  if (!kc.getCurrentCluster()) {
    throw new ValidationError(`${where}: the kubeconfig has no current context with a cluster`, {
      hint: 'set current-context to a context whose cluster is the management cluster',
    });
  }
  const exec = kc.getCurrentUser()?.exec;
  if (exec) log.warn('the kubeconfig user runs an exec credential plugin: its command must exist where Fluxless runs', { command: exec.command });
  return kc;
}

/** `s3://bucket/key`, or a key in the state bucket. */
function kubeConfigObject(cfg: FluxlessConfig, value: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(value);
  if (m) return { bucket: m[1], key: m[2] };
  if (value.startsWith('s3:') || cfg.store.type !== 's3') {
    throw new ValidationError(`${KUBECONFIG_S3_ENV}=${value} is not an s3://bucket/key URL`, {
      hint: 'use s3://<bucket>/<key>, or a key in the state bucket (FLUXLESS_BUCKET)',
    });
  }
  return { bucket: cfg.store.bucket, key: value.replace(/^\/+/, '') };
}

/**
 * The management cluster's kubeconfig on Lambda, in this order: FLUXLESS_KUBECONFIG_DATA
 * (base64; Lambda caps the environment at 4 KB, so only small kubeconfigs fit),
 * FLUXLESS_KUBECONFIG_S3 (read once per container), the configured file or in-cluster.
 * Throws an EnvironmentError naming the variable to set when there is none.
 */
export async function managementKubeConfig(cfg: FluxlessConfig, env: Env = process.env, s3?: S3Client): Promise<KubeConfig> {
  const data = env[KUBECONFIG_DATA_ENV]?.trim();
  if (data) {
    return parseKubeConfig(Buffer.from(data, 'base64').toString('utf8'), KUBECONFIG_DATA_ENV, 'set it to the output of `base64 -w0 < kubeconfig.yaml`');
  }
  const s3ref = env[KUBECONFIG_S3_ENV]?.trim();
  if (s3ref) {
    const { bucket, key } = kubeConfigObject(cfg, s3ref);
    const client = s3 ?? createS3Client({ endpoint: cfg.aws.endpoint, region: cfg.aws.region });
    let text: string;
    try {
      const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      text = (await readS3Body(res.Body)).toString('utf8');
    } catch (err) {
      throw new EnvironmentError(`could not read the kubeconfig s3://${bucket}/${key} (${KUBECONFIG_S3_ENV}): ${errorMessage(err)}`, {
        cause: err,
        hint: isS3NotFound(err) ? `upload it: aws s3 cp kubeconfig.yaml s3://${bucket}/${key} --sse AES256` : 'check the function role (s3:GetObject on that key) and the bucket name',
      });
    } finally {
      if (!s3) client.destroy();
    }
    return parseKubeConfig(text, `s3://${bucket}/${key}`, 'upload a kubeconfig YAML file there');
  }
  if (cfg.cluster.inCluster || cfg.cluster.kubeconfig) return kubeConfigFor(cfg);
  if (env[KUBECONFIG_SSM_ENV]) {
    throw new EnvironmentError(`${KUBECONFIG_SSM_ENV} is set, but loading the kubeconfig from SSM is not supported by this build`, {
      hint: `store the kubeconfig in S3 and set ${KUBECONFIG_S3_ENV}, or put it base64-encoded in ${KUBECONFIG_DATA_ENV}`,
    });
  }
  throw new EnvironmentError('no kubeconfig for the management cluster', {
    hint: `set ${KUBECONFIG_S3_ENV} (an S3 object holding the kubeconfig) or ${KUBECONFIG_DATA_ENV} (the base64-encoded kubeconfig)`,
  });
}

/** A kubeconfig for functions that must not reach a cluster: any request fails to resolve. */
export function noClusterKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'none', server: 'https://no-cluster-for-this-function.invalid', skipTLSVerify: false }],
    users: [{ name: 'none' }],
    contexts: [{ name: 'none', cluster: 'none', user: 'none' }],
    currentContext: 'none',
  });
  return kc;
}

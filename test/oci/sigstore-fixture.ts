/**
 * A self-hosted Sigstore for the tests, made with node:crypto: a Fulcio-like CA that issues
 * short-lived code-signing certificates with an OIDC identity and an embedded SCT from a CT
 * log key, and a Rekor-like log key that signs entry timestamps (SETs). With them the tests
 * write signatures exactly as cosign lays them out in a registry: v2 (`sha256-<hex>.sig`
 * simple-signing layers with certificate and Rekor bundle annotations) and v3 (a Sigstore
 * bundle as an OCI referrer, found through the `sha256-<hex>` referrers tag on a registry
 * without the referrers API). `trustedRoot()` is the `trusted_root.json` a user would put in
 * `spec.verify.trustedRootSecretRef`.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { RegistryClient } from '../../shared/oci/client.js';
import { OCI_INDEX, OCI_MANIFEST } from '../../shared/oci/media-types.js';
import type { RepositoryName } from '../../shared/oci/reference.js';

// ---- DER -------------------------------------------------------------------------------
function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag]), len(body.length), body]);
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const octet = (b: Buffer) => tlv(0x04, b);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const explicit = (n: number, body: Buffer) => tlv(0xa0 | n, body);
const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));
function int(b: Buffer | number): Buffer {
  let v = typeof b === 'number' ? Buffer.from([b]) : b;
  if (v[0] & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return tlv(0x02, v);
}
function oid(s: string): Buffer {
  const p = s.split('.').map(Number);
  const out = [40 * p[0] + p[1]];
  for (const n of p.slice(2)) {
    const enc: number[] = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) enc.unshift((v & 0x7f) | 0x80);
    out.push(...enc);
  }
  return tlv(0x06, Buffer.from(out));
}
function time(d: Date): Buffer {
  const s = d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  return tlv(0x17, Buffer.from(s));
}
const ext = (id: string, value: Buffer, critical = false) => seq(oid(id), ...(critical ? [bool(true)] : []), octet(value));
const name = (cn: string) => seq(set(seq(oid('2.5.4.3'), utf8(cn))));
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
const keyId = (k: KeyObject) => createHash('sha1').update(spki(k)).digest();

function certificate(tbs: Buffer, signer: KeyObject): Buffer {
  return seq(tbs, ECDSA_SHA256, bits(sign('sha256', tbs, signer)));
}

function tbsOf(opts: { serial: Buffer; issuer: Buffer; subject: Buffer; notBefore: Date; notAfter: Date; key: KeyObject; extensions: Buffer[] }): Buffer {
  return seq(explicit(0, int(2)), int(opts.serial), ECDSA_SHA256, opts.issuer, seq(time(opts.notBefore), time(opts.notAfter)), opts.subject, spki(opts.key), explicit(3, seq(...opts.extensions)));
}

/** PEM of a DER certificate. */
export function pem(der: Buffer, label = 'CERTIFICATE'): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

const ec = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });

// ---- Sigstore --------------------------------------------------------------------------
/** An OIDC identity a certificate is issued for. */
export interface Identity {
  issuer: string;
  subject: string;
}

/** A signing key pair as `cosign generate-key-pair` makes it (P-256), with its public PEM. */
export function cosignKeyPair(): { privateKey: KeyObject; publicKey: KeyObject; publicPem: string } {
  const { privateKey, publicKey } = ec();
  return { privateKey, publicKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** The CA, CT log and transparency log of a self-hosted Sigstore (see the module comment). */
export class TestSigstore {
  private readonly ca = ec();
  private readonly ctlog = ec();
  private readonly rekor = ec();
  readonly caName = name('fluxless-test-fulcio');
  readonly caCert: Buffer;
  private logIndex = 0;

  constructor() {
    const now = Date.now();
    this.caCert = certificate(
      tbsOf({
        serial: randomBytes(8),
        issuer: this.caName,
        subject: this.caName,
        notBefore: new Date(now - 86_400_000),
        notAfter: new Date(now + 10 * 86_400_000),
        key: this.ca.publicKey,
        extensions: [
          ext('2.5.29.19', seq(bool(true)), true),
          ext('2.5.29.15', bits(Buffer.from([0x06]), 1), true),
          ext('2.5.29.14', octet(keyId(this.ca.publicKey))),
        ],
      }),
      this.ca.privateKey,
    );
  }

  /** The `trusted_root.json` of this Sigstore. */
  trustedRoot(): string {
    const validFor = { start: new Date(Date.now() - 86_400_000).toISOString() };
    const log = (k: KeyObject, url: string) => ({
      baseUrl: url,
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: spki(k).toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor },
      logId: { keyId: createHash('sha256').update(spki(k)).digest('base64') },
    });
    return JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      tlogs: [log(this.rekor.publicKey, 'https://rekor.test.invalid')],
      certificateAuthorities: [
        { subject: { organization: 'fluxless', commonName: 'fluxless-test-fulcio' }, uri: 'https://fulcio.test.invalid', certChain: { certificates: [{ rawBytes: this.caCert.toString('base64') }] }, validFor },
      ],
      ctlogs: [log(this.ctlog.publicKey, 'https://ctfe.test.invalid')],
      timestampAuthorities: [],
    });
  }

  /** A short-lived code-signing certificate for `id` with an SCT, and its private key (as Fulcio issues them). */
  issue(id: Identity, opts: { codeSigning?: boolean } = {}): { cert: Buffer; key: KeyObject } {
    const leaf = ec();
    const now = Date.now();
    const base = {
      serial: randomBytes(8),
      issuer: this.caName,
      subject: seq(),
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 10 * 60_000),
      key: leaf.publicKey,
    };
    const extensions = [
      ext('2.5.29.15', bits(Buffer.from([0x80]), 7), true),
      ext('2.5.29.37', seq(oid(opts.codeSigning === false ? '1.3.6.1.5.5.7.3.1' : '1.3.6.1.5.5.7.3.3'))),
      ext('2.5.29.35', seq(tlv(0x80, keyId(this.ca.publicKey)))),
      ext('2.5.29.17', seq(tlv(0x86, Buffer.from(id.subject))), true),
      ext('1.3.6.1.4.1.57264.1.1', Buffer.from(id.issuer)),
      ext('1.3.6.1.4.1.57264.1.8', utf8(id.issuer)),
    ];
    // RFC 6962 precertificate entry: the TBS without the SCT extension, signed by the CT log.
    const preTbs = tbsOf({ ...base, extensions });
    const ts = Buffer.alloc(8);
    ts.writeBigUInt64BE(BigInt(now));
    const issuerKeyHash = createHash('sha256').update(spki(this.ca.publicKey)).digest();
    const tbsLen = Buffer.alloc(3);
    tbsLen.writeUIntBE(preTbs.length, 0, 3);
    const signed = Buffer.concat([Buffer.from([0, 0]), ts, Buffer.from([0, 1]), issuerKeyHash, tbsLen, preTbs, Buffer.from([0, 0])]);
    const sctSig = sign('sha256', signed, this.ctlog.privateKey);
    const logId = createHash('sha256').update(spki(this.ctlog.publicKey)).digest();
    const sigLen = Buffer.alloc(2);
    sigLen.writeUInt16BE(sctSig.length);
    const sct = Buffer.concat([Buffer.from([0]), logId, ts, Buffer.from([0, 0]), Buffer.from([4, 3]), sigLen, sctSig]);
    const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
    const list = Buffer.concat([u16(sct.length + 2), u16(sct.length), sct]);
    const tbs = tbsOf({ ...base, extensions: [...extensions, ext('1.3.6.1.4.1.11129.2.4.2', octet(list))] });
    return { cert: certificate(tbs, this.ca.privateKey), key: leaf.privateKey };
  }

  /**
   * An inclusion proof for a logged body (base64, from logEntry) in a one-leaf tree, with the
   * checkpoint signed by the log as a signed note (what Rekor returns and bundles v0.2+ carry).
   */
  inclusionProof(body: string): object {
    const root = createHash('sha256').update(Buffer.concat([Buffer.from([0]), Buffer.from(body, 'base64')])).digest();
    const note = `rekor.test.invalid - 1\n1\n${root.toString('base64')}\n`;
    const hint = createHash('sha256').update(spki(this.rekor.publicKey)).digest().subarray(0, 4);
    const sig = Buffer.concat([hint, sign('sha256', Buffer.from(note), this.rekor.privateKey)]).toString('base64');
    return { logIndex: '0', rootHash: root.toString('base64'), treeSize: '1', hashes: [], checkpoint: { envelope: `${note}\n\u2014 rekor.test.invalid ${sig}\n` } };
  }

  /** A Rekor entry for `body` (a hashedrekord or dsse entry), with its SET. */
  logEntry(body: object): { body: string; integratedTime: number; logIndex: number; logID: string; set: string } {
    const canonical = Buffer.from(canonicalJson(body)).toString('base64');
    const integratedTime = Math.floor(Date.now() / 1000);
    const logIndex = this.logIndex++;
    const logID = createHash('sha256').update(spki(this.rekor.publicKey)).digest('hex');
    const payload = canonicalJson({ body: canonical, integratedTime, logID, logIndex });
    return { body: canonical, integratedTime, logIndex, logID, set: sign('sha256', Buffer.from(payload), this.rekor.privateKey).toString('base64') };
  }
}

/** JSON with keys sorted at every level, no spaces (RFC 8785 for the values used here). */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

// ---- cosign layouts in a registry ---------------------------------------------------------
/** cosign's simple-signing payload for a manifest digest. */
export function simpleSigningPayload(repo: string, digest: string): Buffer {
  return Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': repo }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' }, optional: null }));
}

/** An in-toto statement for a manifest digest, as cosign v3 `sign` writes it. */
export function signStatement(repo: string, digest: string): Buffer {
  return Buffer.from(
    JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: repo, digest: { sha256: digest.slice(7) } }], predicateType: 'https://sigstore.dev/cosign/sign/v1', predicate: {} }),
  );
}

/** DSSE pre-authentication encoding. */
export function pae(type: string, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${payload.length} `), payload]);
}

/** One v2 signature layer: the payload and cosign's annotations. */
export interface LegacyLayer {
  payload: Buffer;
  annotations: Record<string, string>;
}

/** A v2 signature layer signed with `key`; keyless when `cert` (and `sigstore` for the Rekor bundle) are given. */
export function legacyLayer(payload: Buffer, key: KeyObject, opts: { cert?: Buffer; sigstore?: TestSigstore; tamperLog?: boolean } = {}): LegacyLayer {
  const sig = sign('sha256', payload, key).toString('base64');
  const annotations: Record<string, string> = { 'dev.cosignproject.cosign/signature': sig };
  if (opts.cert) {
    annotations['dev.sigstore.cosign/certificate'] = pem(opts.cert);
    if (opts.sigstore) {
      const body = {
        apiVersion: '0.0.1',
        kind: 'hashedrekord',
        spec: {
          data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(opts.tamperLog ? Buffer.from('other') : payload).digest('hex') } },
          signature: { content: sig, publicKey: { content: Buffer.from(pem(opts.cert)).toString('base64') } },
        },
      };
      const e = opts.sigstore.logEntry(body);
      annotations['dev.sigstore.cosign/bundle'] = JSON.stringify({ SignedEntryTimestamp: e.set, Payload: { body: e.body, integratedTime: e.integratedTime, logIndex: e.logIndex, logID: e.logID } });
    }
  }
  return { payload, annotations };
}

/** A cosign v3 bundle (DSSE) for `digest`: with a key (`publicKey` hint) or keyless (certificate + Rekor dsse entry). */
export function v3Bundle(repo: string, digest: string, key: KeyObject, opts: { cert?: Buffer; sigstore?: TestSigstore; statementFor?: string } = {}): object {
  const payload = signStatement(repo, opts.statementFor ?? digest);
  const type = 'application/vnd.in-toto+json';
  const sig = sign('sha256', pae(type, payload), key);
  const envelope = { payload: payload.toString('base64'), payloadType: type, signatures: [{ sig: sig.toString('base64'), keyid: '' }] };
  if (!opts.cert) {
    // Key-signed; with `sigstore`, logged too (cosign sign --key uploads to Rekor by default).
    const tlogEntries = opts.sigstore ? [keyedLogEntry(opts.sigstore, envelope, payload, sig)] : [];
    return { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', verificationMaterial: { publicKey: { hint: 'test-key' }, tlogEntries }, dsseEnvelope: envelope };
  }
  if (!opts.sigstore) throw new Error('a keyless bundle needs the Sigstore that issued its certificate');
  const body = {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: createHash('sha256').update(canonicalJson(envelope)).digest('hex') },
      payloadHash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') },
      signatures: [{ signature: sig.toString('base64'), verifier: Buffer.from(pem(opts.cert)).toString('base64') }],
    },
  };
  const e = opts.sigstore.logEntry(body);
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: {
      certificate: { rawBytes: opts.cert.toString('base64') },
      tlogEntries: [
        {
          logIndex: String(e.logIndex),
          logId: { keyId: Buffer.from(e.logID, 'hex').toString('base64') },
          kindVersion: { kind: 'dsse', version: '0.0.1' },
          integratedTime: String(e.integratedTime),
          inclusionPromise: { signedEntryTimestamp: e.set },
          inclusionProof: opts.sigstore.inclusionProof(e.body),
          canonicalizedBody: e.body,
        },
      ],
    },
    dsseEnvelope: envelope,
  };
}

/** A Rekor dsse entry for a key-signed envelope (the verifier is the key, not a certificate). */
function keyedLogEntry(sigstore: TestSigstore, envelope: object, payload: Buffer, sig: Buffer): object {
  const body = {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: createHash('sha256').update(canonicalJson(envelope)).digest('hex') },
      payloadHash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') },
      signatures: [{ signature: sig.toString('base64'), verifier: Buffer.from('key').toString('base64') }],
    },
  };
  const e = sigstore.logEntry(body);
  return {
    logIndex: String(e.logIndex),
    logId: { keyId: Buffer.from(e.logID, 'hex').toString('base64') },
    kindVersion: { kind: 'dsse', version: '0.0.1' },
    integratedTime: String(e.integratedTime),
    inclusionPromise: { signedEntryTimestamp: e.set },
    inclusionProof: sigstore.inclusionProof(e.body),
    canonicalizedBody: e.body,
  };
}

const EMPTY_CONFIG = Buffer.from('{}');

/** Pushes v2 signature layers to `sha256-<hex>.sig` (replacing what was there), as `cosign sign` does. */
export async function pushLegacySignatures(repo: RepositoryName, digest: string, layers: LegacyLayer[]): Promise<void> {
  const client = new RegistryClient();
  const config = await client.pushBlob(repo, EMPTY_CONFIG);
  const descs = [];
  for (const l of layers) {
    const b = await client.pushBlob(repo, l.payload);
    descs.push({ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', size: b.size, digest: b.digest, annotations: l.annotations });
  }
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: config.size, digest: config.digest }, layers: descs }));
  await client.putManifest({ ...repo, tag: `${digest.replace(':', '-')}.sig` }, manifest, OCI_MANIFEST);
}

/** Pushes a bundle as a referrer of `digest` and lists it in the `sha256-<hex>` referrers tag (OCI 1.1 fallback). */
export async function pushBundle(repo: RepositoryName, digest: string, bundle: object, subjectSize: number): Promise<void> {
  const client = new RegistryClient();
  const type = 'application/vnd.dev.sigstore.bundle.v0.3+json';
  const config = await client.pushBlob(repo, EMPTY_CONFIG);
  const layer = await client.pushBlob(repo, Buffer.from(JSON.stringify(bundle)));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: type,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', size: config.size, digest: config.digest },
      layers: [{ mediaType: type, size: layer.size, digest: layer.digest }],
      subject: { mediaType: OCI_MANIFEST, size: subjectSize, digest },
    }),
  );
  const refDigest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  await client.putManifest({ ...repo, digest: refDigest }, manifest, OCI_MANIFEST);
  const tag = digest.replace(':', '-');
  let existing: object[] = [];
  try {
    const cur = await client.getManifest({ ...repo, tag });
    if (cur.parsed.kind === 'index') existing = cur.parsed.index.manifests;
  } catch {
    existing = [];
  }
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...existing, { mediaType: OCI_MANIFEST, size: manifest.length, digest: refDigest, artifactType: type }] }));
  await client.putManifest({ ...repo, tag }, index, OCI_INDEX);
}

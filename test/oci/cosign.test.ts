/**
 * Cosign verification against the harness's real docker-registry: signatures laid out as
 * cosign v2 (`.sig` tag) and cosign v3 (Sigstore bundle referrers through the referrers
 * tag; this registry has no referrers API), with keys and keyless against a self-hosted
 * Sigstore (sigstore-fixture.ts). Each failure case is one an attacker or a mistake makes:
 * the wrong key, a signature copied from another artifact, a certificate from another CA, a
 * log entry that does not match, an identity the policy does not accept.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { RegistryClient } from '../../shared/oci/client.js';
import { parseTrustedRoot, verifyCosign, type CosignTrust } from '../../shared/oci/cosign/index.js';
import { pushArtifact } from '../../shared/oci/push.js';
import { parseRepository, type RepositoryName } from '../../shared/oci/reference.js';
import { testEnv } from '../harness/index.js';
import { startFront } from './front.js';
import { tree, uniqueRepo } from './helpers.js';
import { TestSigstore, cosignKeyPair, legacyLayer, pushBundle, pushLegacySignatures, simpleSigningPayload, v3Bundle } from './sigstore-fixture.js';

let host = '';
before(async () => {
  host = (await (await testEnv()).registry()).host;
});

const ID = { issuer: 'https://token.actions.githubusercontent.com', subject: 'https://github.com/example/fleet/.github/workflows/release.yaml@refs/tags/v1.0.0' };
const MATCH = [{ issuer: '^https://token.actions.githubusercontent.com$', subject: '^https://github.com/example/fleet/.*$' }];

async function artifact(prefix: string): Promise<{ repo: RepositoryName; name: string; digest: string; size: number }> {
  const name = `${host}/${uniqueRepo(`fluxless/${prefix}`)}`;
  const res = await pushArtifact({ url: `oci://${name}:v1`, path: tree({ 'cm.yaml': `kind: ConfigMap\nmetadata:\n  name: ${prefix}-${Math.random().toString(36).slice(2)}\n` }), source: 'https://github.com/example/fleet', revision: 'main@sha1:' + '1'.repeat(40) });
  const repo = parseRepository(name);
  const m = await new RegistryClient().getManifest({ ...repo, digest: res.digest });
  return { repo, name, digest: res.digest, size: m.bytes.length };
}

const verify = (a: { repo: RepositoryName; digest: string }, trust: CosignTrust) => verifyCosign(new RegistryClient(), a.repo, a.digest, trust);
const keys = (...pems: string[]): CosignTrust => ({ kind: 'keys', keys: pems.map((p, i) => ({ name: `key${i + 1}.pub`, key: createPublicKey(p) })) });

describe('cosign verification (real registry)', () => {
  test('no signature at all: refused, naming what was looked for', async () => {
    const a = await artifact('cosign-none');
    const k = cosignKeyPair();
    await assert.rejects(verify(a, keys(k.publicPem)), (err: Error) => {
      assert.match(err.message, new RegExp(`^no matching signatures were found for '${a.name}@${a.digest}': the artifact has no cosign signature`));
      assert.match(err.message, new RegExp(`no tag ${a.digest.replace(':', '-')}\\.sig`));
      return true;
    });
  });

  test('cosign v2 with a key: the right key verifies; another key, or a signature copied from another artifact, does not', async () => {
    const a = await artifact('cosign-v2-key');
    const signer = cosignKeyPair();
    const other = cosignKeyPair();
    await pushLegacySignatures(a.repo, a.digest, [legacyLayer(simpleSigningPayload(a.name, a.digest), signer.privateKey)]);
    const ok = await verify(a, keys(other.publicPem, signer.publicPem));
    assert.deepEqual(ok, { digest: a.digest, format: 'simple-signing', signer: 'key2.pub' });
    await assert.rejects(verify(a, keys(other.publicPem)), /no matching signatures were found .*signature 1 with key1\.pub: signature verification failed/);

    // A valid signature of artifact A attached to artifact B (same key) is not B's signature.
    const b = await artifact('cosign-v2-copied');
    assert.notEqual(b.digest, a.digest);
    await pushLegacySignatures(b.repo, b.digest, [legacyLayer(simpleSigningPayload(a.name, a.digest), signer.privateKey)]);
    await assert.rejects(verify(b, keys(signer.publicPem)), new RegExp(`the signature is for ${a.digest}, not ${b.digest}`));
  });

  test('cosign v3 bundle with a key, found through the referrers tag; a statement for another digest is refused', async () => {
    const a = await artifact('cosign-v3-key');
    const signer = cosignKeyPair();
    await pushBundle(a.repo, a.digest, v3Bundle(a.name, a.digest, signer.privateKey), a.size);
    assert.deepEqual(await verify(a, keys(signer.publicPem)), { digest: a.digest, format: 'bundle', signer: 'key1.pub' });
    await assert.rejects(verify(a, keys(cosignKeyPair().publicPem)), /bundle 1 with key1\.pub: signature verification failed/);

    // Logged in a transparency log the verifier does not know: with a key, the log is not consulted (Flux's IgnoreTlog).
    const logged = await artifact('cosign-v3-key-logged');
    await pushBundle(logged.repo, logged.digest, v3Bundle(logged.name, logged.digest, signer.privateKey, { sigstore: new TestSigstore() }), logged.size);
    assert.equal((await verify(logged, keys(signer.publicPem))).format, 'bundle');

    const b = await artifact('cosign-v3-other');
    await pushBundle(b.repo, b.digest, v3Bundle(b.name, b.digest, signer.privateKey, { statementFor: a.digest }), b.size);
    await assert.rejects(verify(b, keys(signer.publicPem)), new RegExp(`does not name ${b.digest} among its subjects`));
  });

  test('cosign v3 bundle on the second page of a registry referrers API (Link pagination) is found', async () => {
    const a = await artifact('cosign-v3-paged');
    const signer = cosignKeyPair();
    await pushBundle(a.repo, a.digest, v3Bundle(a.name, a.digest, cosignKeyPair().privateKey), a.size);
    await pushBundle(a.repo, a.digest, v3Bundle(a.name, a.digest, signer.privateKey), a.size);
    const front = await startFront({ upstream: host, referrersPage: 1 });
    try {
      const paged = { ...a, repo: parseRepository(`${front.host}/${a.repo.repository}`) };
      assert.deepEqual(await verify(paged, keys(signer.publicPem)), { digest: a.digest, format: 'bundle', signer: 'key1.pub' });
      const pages = front.requests.filter((r) => r.path.startsWith(`/v2/${a.repo.repository}/referrers/`));
      assert.deepEqual(pages.map((r) => r.path.includes('page=1')), [false, true], 'both pages of the referrers list were read');
      await assert.rejects(verify(paged, keys(cosignKeyPair().publicPem)), /bundle 2 with key1\.pub: signature verification failed/);
    } finally {
      await front.close();
    }
  });

  test('keyless cosign v2 against a self-hosted Sigstore: chain, SCT, Rekor SET and identity are all checked', async () => {
    const sigstore = new TestSigstore();
    const root = parseTrustedRoot(sigstore.trustedRoot(), 'trusted_root.json');
    const trust = (identities = MATCH): CosignTrust => ({ kind: 'keyless', root, identities });

    const a = await artifact('cosign-v2-keyless');
    const { cert, key } = sigstore.issue(ID);
    await pushLegacySignatures(a.repo, a.digest, [legacyLayer(simpleSigningPayload(a.name, a.digest), key, { cert, sigstore })]);
    const ok = await verify(a, trust());
    assert.equal(ok.format, 'simple-signing');
    assert.equal(ok.signer, `issuer '${ID.issuer}', subject '${ID.subject}'`);
    assert.equal((await verify(a, trust([]))).format, 'simple-signing', 'no matchOIDCIdentity: any identity of the trusted CA');
    await assert.rejects(verify(a, trust([{ issuer: '^https://token.actions.githubusercontent.com$', subject: '^https://github.com/someone-else/.*$' }])), /matches no spec\.verify\.matchOIDCIdentity entry/);

    // The same signature checked against another Sigstore's root: its CA and log are not trusted.
    const stranger = parseTrustedRoot(new TestSigstore().trustedRoot(), 'x');
    await assert.rejects(verify(a, { kind: 'keyless', root: stranger, identities: MATCH }), /signature 1: the certificate is not trusted/);

    // A log entry for other content (a SET the log did sign, but not of this signature).
    const b = await artifact('cosign-v2-badlog');
    const issued = sigstore.issue(ID);
    await pushLegacySignatures(b.repo, b.digest, [legacyLayer(simpleSigningPayload(b.name, b.digest), issued.key, { cert: issued.cert, sigstore, tamperLog: true })]);
    await assert.rejects(verify(b, trust()), /signature 1: the transparency log entry does not match the signature: digest mismatch/);

    // No Rekor bundle annotation: refused (offline verification), with what to do.
    const c = await artifact('cosign-v2-nolog');
    const issued2 = sigstore.issue(ID);
    await pushLegacySignatures(c.repo, c.digest, [legacyLayer(simpleSigningPayload(c.name, c.digest), issued2.key, { cert: issued2.cert })]);
    await assert.rejects(verify(c, trust()), /carries no transparency log entry \(dev\.sigstore\.cosign\/bundle\)/);

    // A key-signed signature is not a keyless one.
    const d = await artifact('cosign-v2-keyed');
    await pushLegacySignatures(d.repo, d.digest, [legacyLayer(simpleSigningPayload(d.name, d.digest), cosignKeyPair().privateKey)]);
    await assert.rejects(verify(d, trust()), /carries no certificate .*verify it with spec\.verify\.secretRef/);
  });

  test('keyless cosign v3 bundle: verified with the certificate, SCT and dsse log entry; bundles take precedence over v2 signatures', async () => {
    const sigstore = new TestSigstore();
    const root = parseTrustedRoot(sigstore.trustedRoot(), 'trusted_root.json');
    const a = await artifact('cosign-v3-keyless');
    const { cert, key } = sigstore.issue(ID);
    await pushBundle(a.repo, a.digest, v3Bundle(a.name, a.digest, key, { cert, sigstore }), a.size);
    const ok = await verify(a, { kind: 'keyless', root, identities: MATCH });
    assert.equal(ok.format, 'bundle');

    // A certificate without the code-signing usage is not a signing certificate.
    const b = await artifact('cosign-v3-eku');
    const web = sigstore.issue(ID, { codeSigning: false });
    await pushBundle(b.repo, b.digest, v3Bundle(b.name, b.digest, web.key, { cert: web.cert, sigstore }), b.size);
    await assert.rejects(verify(b, { kind: 'keyless', root, identities: MATCH }), /code signing/);

    // As cosign: when bundles exist, v2 signatures are not consulted.
    const c = await artifact('cosign-precedence');
    const signer = cosignKeyPair();
    await pushBundle(c.repo, c.digest, v3Bundle(c.name, c.digest, cosignKeyPair().privateKey), c.size);
    await pushLegacySignatures(c.repo, c.digest, [legacyLayer(simpleSigningPayload(c.name, c.digest), signer.privateKey)]);
    await assert.rejects(verify(c, keys(signer.publicPem)), /bundle 1 with key1\.pub/);
  });
});

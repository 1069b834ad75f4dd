/**
 * A test-only SOPS encoder that writes files the way getsops/sops does (sops.go `Tree.Encrypt`,
 * aes/cipher.go, stores/*): values encrypted with AES-256-GCM under a 32-byte IV with the key
 * path as AAD, the MAC (SHA-512 over the plaintext leaves in order, uppercase hex) encrypted
 * with `lastmodified` as AAD, and the metadata serialised like `stores.SerializeMetadata`
 * (map keys sorted, empty optional fields left out, flattened for dotenv and INI).
 *
 * Master key layers are made separately (age with the age-encryption package or the real
 * `age` CLI, OpenPGP with openpgp, KMS by the test's loopback endpoint), so a fixture can say
 * exactly which tool produced each part.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { armor, Encrypter } from 'age-encryption';
import * as openpgp from 'openpgp';
import { formatFloatF } from '../../shared/sops/go-strconv.js';
import { shouldBeEncrypted } from '../../shared/sops/rules.js';
import { emitDotenvBranch } from '../../shared/sops/store-dotenv.js';
import { emitIniBranches } from '../../shared/sops/store-ini.js';
import { emitJsonBranch } from '../../shared/sops/store-json.js';
import { emitYamlBranches } from '../../shared/sops/store-yaml.js';
import { loadPlain } from '../../shared/sops/stores.js';
import { MAC_ONLY_ENCRYPTED_INIT } from '../../shared/sops/tree-decrypt.js';
import { Branch, Comment, SopsTime, type CryptRules, type MasterKey, type SopsFormat, type TreeItem, type TreeValue } from '../../shared/sops/types.js';

/** Chooses the IV of a value (sops reuses IVs of unchanged values); undefined means random. */
export type IvChooser = (aad: string, plain: Buffer) => Buffer | undefined;

/** What to encrypt with. */
export interface EncodeOptions {
  dataKey: Buffer;
  /** Key groups with their `enc` already made; one group is written as flat lists. */
  keyGroups: MasterKey[][];
  /** At most one rule; none means sops's default `unencrypted_suffix: _unencrypted`. */
  rules?: Partial<CryptRules>;
  macOnlyEncrypted?: boolean;
  shamirThreshold?: number;
  lastModified?: string;
  version?: string;
  iv?: IvChooser;
  /** Store the MAC as given instead of computing it (to make tampered fixtures). */
  macOverride?: string;
}

/** sops Cipher.Encrypt. */
export function encryptValue(v: TreeValue, key: Buffer, aad: string, iv?: IvChooser): string {
  let plain: Buffer;
  let type: string;
  if (typeof v === 'string') { type = 'str'; plain = Buffer.from(v, 'utf8'); }
  else if (typeof v === 'bigint') { type = 'int'; plain = Buffer.from(v.toString()); }
  else if (typeof v === 'number') { type = 'float'; plain = Buffer.from(formatFloatF(v)); }
  else if (typeof v === 'boolean') { type = 'bool'; plain = Buffer.from(v ? 'True' : 'False'); }
  else if (v instanceof SopsTime) { type = 'time'; plain = Buffer.from(v.text); }
  else if (v instanceof Comment) { type = 'comment'; plain = Buffer.from(v.value, 'utf8'); }
  else if (v instanceof Uint8Array) { type = 'str'; plain = Buffer.from(v); }
  else throw new Error(`Value to encrypt has unsupported type ${typeof v}`);
  if (plain.length === 0) return '';
  const nonce = iv?.(aad, plain) ?? randomBytes(32);
  const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
  c.setAAD(Buffer.from(aad, 'utf8'));
  const data = Buffer.concat([c.update(plain), c.final()]);
  const tag = c.getAuthTag();
  return `ENC[AES256_GCM,data:${data.toString('base64')},iv:${nonce.toString('base64')},tag:${tag.toString('base64')},type:${type}]`;
}

function macBytes(v: TreeValue): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (typeof v === 'bigint') return Buffer.from(v.toString());
  if (typeof v === 'number') return Buffer.from(formatFloatF(v));
  if (typeof v === 'boolean') return Buffer.from(v ? 'True' : 'False');
  if (v instanceof SopsTime) return Buffer.from(v.text);
  if (v instanceof Uint8Array) return Buffer.from(v);
  throw new Error('unexpected leaf');
}

/** sops Tree.Encrypt over documents; returns the encrypted documents and the MAC (hex). */
export function encryptBranches(branches: Branch[], rules: CryptRules, key: Buffer, macOnlyEncrypted: boolean, iv?: IvChooser): { branches: Branch[]; mac: string } {
  const hash = createHash('sha512');
  if (macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_INIT);
  const leaf = (v: TreeValue, path: string[], stack: string[][]): TreeValue => {
    const isComment = v instanceof Comment;
    const encrypted = shouldBeEncrypted(rules, path, stack, isComment);
    if ((!macOnlyEncrypted || encrypted) && !isComment) hash.update(macBytes(v));
    if (!encrypted) return v;
    const enc = encryptValue(v, key, path.join(':') + ':', iv);
    return isComment ? new Comment(enc, (v as Comment).inline) : enc;
  };
  const walk = (v: TreeValue, path: string[], stack: string[][]): TreeValue => {
    if (v === null) return null;
    if (v instanceof Branch) return walkBranch(v, path, stack);
    if (Array.isArray(v)) {
      const s = [...stack, [] as string[]];
      const lvl = s.length - 1;
      return v.map((x) => {
        const c = x instanceof Comment;
        if (c) s[lvl] = [...s[lvl], x.value];
        const out = walk(x, path, s);
        if (!c) s[lvl] = [];
        return out;
      });
    }
    return leaf(v, path, stack);
  };
  const walkBranch = (b: Branch, path: string[], stack: string[][]): Branch => {
    const s = [...stack, [] as string[]];
    const lvl = s.length - 1;
    const items: TreeItem[] = [];
    for (const item of b.items) {
      if (item.key instanceof Comment) {
        s[lvl] = [...s[lvl], item.key.value];
        items.push({ key: walk(item.key, path, s) as Comment, value: item.value });
        continue;
      }
      items.push({ key: item.key, value: walk(item.value, [...path, item.key], s) });
      s[lvl] = [];
    }
    return new Branch(items);
  };
  const out = branches.map((b) => walkBranch(b, [], []));
  return { branches: out, mac: hash.digest('hex').toUpperCase() };
}

type Meta = { [k: string]: TreeValue | Meta | Meta[] };

/** A Go value as stores.goToSops makes it: maps become branches with sorted keys. */
function toSops(v: Meta | Meta[] | TreeValue): TreeValue {
  if (Array.isArray(v)) return v.map((x) => toSops(x as Meta));
  if (v !== null && typeof v === 'object' && !(v instanceof Branch) && !(v instanceof Comment) && !(v instanceof SopsTime) && !(v instanceof Uint8Array)) {
    const keys = Object.keys(v).sort();
    return new Branch(keys.map((k) => ({ key: k, value: toSops((v as Meta)[k]) })));
  }
  return v as TreeValue;
}

function keyEntries(group: MasterKey[]): Meta {
  const out: Meta = {};
  const push = (field: string, e: Meta) => { ((out[field] ??= []) as Meta[]).push(e); };
  for (const k of group) {
    switch (k.type) {
      case 'age': push('age', { recipient: k.recipient, enc: k.enc }); break;
      case 'pgp': push('pgp', { created_at: k.createdAt, enc: k.enc, fp: k.fingerprint }); break;
      case 'kms': {
        const e: Meta = { arn: k.arn, created_at: k.createdAt, enc: k.enc, aws_profile: k.awsProfile };
        if (k.role) e.role = k.role;
        if (Object.keys(k.context).length) e.context = { ...k.context };
        push('kms', e);
        break;
      }
      case 'gcp_kms': push('gcp_kms', { resource_id: k.resourceId, created_at: k.createdAt, enc: k.enc }); break;
      case 'azure_kv': push('azure_kv', { vault_url: k.vaultUrl, name: k.name, version: k.version, created_at: k.createdAt, enc: k.enc }); break;
      case 'hc_vault': push('hc_vault', { vault_address: k.vaultAddress, engine_path: k.enginePath, key_name: k.keyName, created_at: k.createdAt, enc: k.enc }); break;
      case 'hckms': push('hckms', { key_id: k.keyId, created_at: k.createdAt, enc: k.enc }); break;
    }
  }
  return out;
}

/** The metadata branch as stores.SerializeMetadata writes it (before flattening). */
export function metadataBranch(opts: EncodeOptions, encryptedMac: string, rules: CryptRules): Branch {
  const m: Meta = {
    lastmodified: opts.lastModified ?? '2026-01-01T00:00:00Z',
    mac: encryptedMac,
    version: opts.version ?? '3.10.2',
  };
  for (const [field, value] of Object.entries({
    unencrypted_suffix: rules.unencryptedSuffix, encrypted_suffix: rules.encryptedSuffix,
    unencrypted_regex: rules.unencryptedRegex, encrypted_regex: rules.encryptedRegex,
    unencrypted_comment_regex: rules.unencryptedCommentRegex, encrypted_comment_regex: rules.encryptedCommentRegex,
  })) if (value) m[field] = value;
  if (opts.macOnlyEncrypted) m.mac_only_encrypted = true;
  if (opts.shamirThreshold) m.shamir_threshold = BigInt(opts.shamirThreshold);
  if (opts.keyGroups.length === 1) Object.assign(m, keyEntries(opts.keyGroups[0]));
  else {
    m.key_groups = opts.keyGroups.map((g) => {
      // keygroup's hc_vault and age have no omitempty: empty lists are written.
      const e = keyEntries(g);
      e.hc_vault ??= [];
      e.age ??= [];
      return e;
    });
  }
  return toSops(m) as Branch;
}

/** stores.flattenTreeBranch: `pgp[0].enc` becomes `<prefix>pgp__list_0__map_enc`. */
function flatten(b: Branch, prefix: string): TreeItem[] {
  const out: TreeItem[] = [];
  const descend = (v: TreeValue, key: string) => {
    if (v instanceof Branch) {
      for (const i of v.items) if (!(i.key instanceof Comment)) descend(i.value, `${key}__map_${i.key}`);
    } else if (Array.isArray(v)) {
      v.filter((x) => !(x instanceof Comment)).forEach((x, n) => descend(x, `${key}__list_${n}`));
    } else {
      out.push({ key, value: v });
    }
  };
  for (const i of b.items) if (!(i.key instanceof Comment)) descend(i.value, `${prefix}${i.key}`);
  return out;
}

/** Encrypts a plain file of `format` into a SOPS file, as `sops encrypt` would. */
export function encodeSops(plain: Uint8Array, format: SopsFormat, opts: EncodeOptions): Buffer {
  const rules: CryptRules = {
    unencryptedSuffix: '', encryptedSuffix: '', unencryptedRegex: '', encryptedRegex: '',
    unencryptedCommentRegex: '', encryptedCommentRegex: '', ...opts.rules,
  };
  if (!Object.values(rules).some((v) => v !== '')) rules.unencryptedSuffix = '_unencrypted';
  const docs = loadPlain(plain, format);
  const { branches, mac } = encryptBranches(docs, rules, opts.dataKey, opts.macOnlyEncrypted ?? false, opts.iv);
  const lastModified = opts.lastModified ?? '2026-01-01T00:00:00Z';
  const encMac = encryptValue(opts.macOverride ?? mac, opts.dataKey, lastModified, opts.iv);
  const md = metadataBranch({ ...opts, lastModified }, encMac, rules);
  switch (format) {
    case 'yaml':
      return emitYamlBranches(branches.map((b) => new Branch([...b.items, { key: 'sops', value: md }])));
    case 'json':
    case 'binary':
      return emitJsonBranch(new Branch([...branches[0].items, { key: 'sops', value: md }]));
    case 'dotenv':
      return emitDotenvBranch(new Branch([...branches[0].items, ...flatten(md, 'sops_')]));
    case 'ini': {
      const flat = flatten(md, '').map((i) => (typeof i.value === 'string' ? { key: i.key, value: i.value.replaceAll('\n', '\\n') } : i));
      return emitIniBranches([new Branch([...branches[0].items, { key: 'sops', value: new Branch(flat) }])]);
    }
  }
}

/** The armored age file of a data key, made with the age-encryption package. */
export async function ageEnc(dataKey: Buffer, recipient: string): Promise<string> {
  const e = new Encrypter();
  e.addRecipient(recipient);
  return armor.encode(await e.encrypt(dataKey));
}

/** The armored age file of a data key, made by the real `age` binary (`age -a -r <recipient>`). */
export function ageEncWithCli(dataKey: Buffer, recipient: string): string {
  const r = spawnSync('age', ['--armor', '--recipient', recipient], { input: dataKey });
  if (r.status !== 0) throw new Error(`age failed: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** A new identity from the real `age-keygen` binary. */
export function ageKeygen(): { identity: string; recipient: string; file: string } {
  const r = spawnSync('age-keygen', [], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`age-keygen failed: ${r.stderr}`);
  const identity = r.stdout.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
  const recipient = /public key: (age1[0-9a-z]+)/.exec(r.stdout + r.stderr)![1];
  return { identity, recipient, file: r.stdout };
}

/** The armored PGP MESSAGE of a data key for `publicKey` (openpgp). */
export async function pgpEnc(dataKey: Buffer, publicKeyArmored: string): Promise<string> {
  const key = await openpgp.readKey({ armoredKey: publicKeyArmored });
  const out = await openpgp.encrypt({ message: await openpgp.createMessage({ binary: dataKey }), encryptionKeys: key, format: 'armored' });
  return (out as string).trimEnd();
}

/**
 * The `sops` metadata block (getsops/sops `stores/stores.go` and `stores/metadata.go`): read
 * with mapstructure's weak typing (so the flattened dotenv/INI strings work), validated as
 * `metadata.ToInternal` does, and turned into key groups in sops's order (kms, gcp_kms,
 * hckms, azure_kv, hc_vault, pgp, age).
 */
import { formatFloatF, parseGoIntBase0 } from './go-strconv.js';
import { normalizeRfc3339 } from './go-time.js';
import { SopsError } from './errors.js';
import { Branch, Comment, SopsTime, type MasterKey, type SopsMetadata, type TreeValue } from './types.js';

type Plain = string | number | bigint | boolean | null | Plain[] | { [k: string]: Plain };

/** sops `sopsToGoMap`: comments dropped, branches become objects (last duplicate wins). */
function toPlain(v: TreeValue): Plain {
  if (v instanceof Branch) {
    const out: { [k: string]: Plain } = {};
    for (const item of v.items) {
      if (item.key instanceof Comment) continue;
      out[item.key] = toPlain(item.value);
    }
    return out;
  }
  if (Array.isArray(v)) return v.filter((x) => !(x instanceof Comment)).map(toPlain);
  if (v instanceof SopsTime) return v.text;
  if (v instanceof Comment) return v.value;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  return v;
}

function invalid(field: string, want: string, got: Plain): SopsError {
  const kind = got === null ? 'null' : Array.isArray(got) ? 'list' : typeof got === 'object' ? 'map' : typeof got;
  return new SopsError('SopsFormatInvalid', `invalid sops metadata: '${field}' expected type '${want}', got unconvertible type '${kind}'`);
}

/** mapstructure's weakly typed string. */
function str(obj: { [k: string]: Plain }, field: string, path = field): string {
  const v = obj[field];
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return formatFloatF(v);
  throw invalid(path, 'string', v);
}

function int(obj: { [k: string]: Plain }, field: string): number {
  const v = obj[field];
  if (v === undefined || v === null) return 0;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    if (v === '') return 0;
    const n = parseGoIntBase0(v);
    if (n === undefined) throw new SopsError('SopsFormatInvalid', `invalid sops metadata: cannot parse '${field}' as int`);
    return Number(n);
  }
  throw invalid(field, 'int', v);
}

function bool(obj: { [k: string]: Plain }, field: string): boolean {
  const v = obj[field];
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return v !== 0n;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') {
    if (v === '') return false;
    const b = { '1': true, t: true, T: true, TRUE: true, true: true, True: true, '0': false, f: false, F: false, FALSE: false, false: false, False: false }[v];
    if (b === undefined) throw new SopsError('SopsFormatInvalid', `invalid sops metadata: cannot parse '${field}' as bool`);
    return b;
  }
  throw invalid(field, 'bool', v);
}

function list(obj: { [k: string]: Plain }, field: string, path = field): { [k: string]: Plain }[] {
  const v = obj[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(path, 'slice', v);
  return v.map((e, i) => {
    if (e === null) return {};
    if (typeof e !== 'object' || Array.isArray(e)) throw invalid(`${path}[${i}]`, 'struct', e);
    return e as { [k: string]: Plain };
  });
}

function createdAt(e: { [k: string]: Plain }, path: string): string {
  const s = str(e, 'created_at', `${path}.created_at`);
  if (normalizeRfc3339(s) === undefined) {
    throw new SopsError('SopsFormatInvalid', `invalid sops metadata: ${path}.created_at '${s}' is not an RFC 3339 time`);
  }
  return s;
}

function group(g: { [k: string]: Plain }, prefix: string): MasterKey[] {
  const out: MasterKey[] = [];
  const p = (f: string) => (prefix ? `${prefix}.${f}` : f);
  list(g, 'kms', p('kms')).forEach((e, i) => {
    const path = `${p('kms')}[${i}]`;
    const ctxRaw = e.context;
    const context: Record<string, string> = {};
    if (ctxRaw !== undefined && ctxRaw !== null) {
      if (typeof ctxRaw !== 'object' || Array.isArray(ctxRaw)) throw invalid(`${path}.context`, 'map', ctxRaw);
      for (const k of Object.keys(ctxRaw)) {
        if (ctxRaw[k] === null) continue; // map[string]*string: nil entries are not sent
        context[k] = str(ctxRaw, k, `${path}.context.${k}`);
      }
    }
    out.push({ type: 'kms', arn: str(e, 'arn'), role: str(e, 'role'), context, enc: str(e, 'enc'), createdAt: createdAt(e, path), awsProfile: str(e, 'aws_profile') });
  });
  list(g, 'gcp_kms', p('gcp_kms')).forEach((e, i) => {
    out.push({ type: 'gcp_kms', resourceId: str(e, 'resource_id'), enc: str(e, 'enc'), createdAt: createdAt(e, `${p('gcp_kms')}[${i}]`) });
  });
  list(g, 'hckms', p('hckms')).forEach((e, i) => {
    out.push({ type: 'hckms', keyId: str(e, 'key_id'), enc: str(e, 'enc'), createdAt: createdAt(e, `${p('hckms')}[${i}]`) });
  });
  list(g, 'azure_kv', p('azure_kv')).forEach((e, i) => {
    out.push({ type: 'azure_kv', vaultUrl: str(e, 'vault_url'), name: str(e, 'name'), version: str(e, 'version'), enc: str(e, 'enc'), createdAt: createdAt(e, `${p('azure_kv')}[${i}]`) });
  });
  list(g, 'hc_vault', p('hc_vault')).forEach((e, i) => {
    out.push({ type: 'hc_vault', vaultAddress: str(e, 'vault_address'), enginePath: str(e, 'engine_path'), keyName: str(e, 'key_name'), enc: str(e, 'enc'), createdAt: createdAt(e, `${p('hc_vault')}[${i}]`) });
  });
  list(g, 'pgp', p('pgp')).forEach((e, i) => {
    const fp = str(e, 'fp');
    out.push({ type: 'pgp', fingerprint: fp, enc: str(e, 'enc'), createdAt: createdAt(e, `${p('pgp')}[${i}]`) });
  });
  list(g, 'age', p('age')).forEach((e) => {
    out.push({ type: 'age', recipient: str(e, 'recipient'), enc: str(e, 'enc') });
  });
  return out;
}

/** Reads the metadata branch of a file into SopsMetadata; throws SopsError like sops's ToInternal. */
export function parseMetadata(tree: Branch): SopsMetadata {
  const m = toPlain(tree) as { [k: string]: Plain };
  const lastModified = str(m, 'lastmodified');
  const lastModifiedAad = normalizeRfc3339(lastModified);
  if (lastModifiedAad === undefined) {
    throw new SopsError('SopsFormatInvalid', `invalid sops metadata: lastmodified '${lastModified}' is not an RFC 3339 time`);
  }
  const flat = group(m, '');
  let keyGroups: MasterKey[][];
  if (flat.length > 0) keyGroups = [flat];
  else {
    const groups = list(m, 'key_groups');
    if (groups.length === 0) throw new SopsError('SopsFormatInvalid', 'invalid sops metadata: No keys found in file');
    keyGroups = groups.map((g, i) => group(g, `key_groups[${i}]`));
  }
  const rules = {
    unencryptedSuffix: str(m, 'unencrypted_suffix'),
    encryptedSuffix: str(m, 'encrypted_suffix'),
    unencryptedRegex: str(m, 'unencrypted_regex'),
    encryptedRegex: str(m, 'encrypted_regex'),
    unencryptedCommentRegex: str(m, 'unencrypted_comment_regex'),
    encryptedCommentRegex: str(m, 'encrypted_comment_regex'),
  };
  const count = Object.values(rules).filter((v) => v !== '').length;
  if (count > 1) {
    throw new SopsError('SopsFormatInvalid',
      'invalid sops metadata: Cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex in the same file');
  }
  if (count === 0) rules.unencryptedSuffix = '_unencrypted';
  return {
    ...rules,
    lastModified,
    lastModifiedAad,
    mac: str(m, 'mac'),
    macOnlyEncrypted: bool(m, 'mac_only_encrypted'),
    version: str(m, 'version'),
    keyGroups,
    shamirThreshold: int(m, 'shamir_threshold'),
  };
}

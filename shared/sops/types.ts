/**
 * The in-memory model of a SOPS document, after getsops/sops's `sops.Tree`: every format is
 * loaded into ordered branches of items so the walk that decrypts values and computes the MAC
 * is the same for YAML, JSON, dotenv, INI and binary files.
 *
 * Value types follow what sops's Go stores produce: `string` (str), `bigint` (int, any Go
 * `int`), `number` (float64), `boolean`, `null`, SopsTime (YAML timestamps and `type:time`),
 * `Uint8Array` (`type:bytes`), Comment, Branch (a mapping) and arrays (a list).
 */

/** The file formats sops reads and writes. */
export type SopsFormat = 'yaml' | 'json' | 'dotenv' | 'ini' | 'binary';

/** All formats, in the order detection tries them. */
export const SOPS_FORMATS: readonly SopsFormat[] = ['yaml', 'json', 'dotenv', 'ini', 'binary'];

/** A comment line (YAML `#...`, dotenv `#...`, INI `;...`), possibly encrypted (`type:comment`). */
export class Comment {
  constructor(
    readonly value: string,
    /** An end-of-line comment (YAML line comment) rather than a whole-line one. */
    readonly inline = false,
  ) {}
}

/** A timestamp: `text` is its Go `time.Time.MarshalText` form (RFC 3339 with nanoseconds). */
export class SopsTime {
  constructor(readonly text: string) {}
}

/** One entry of a mapping: a key (or a comment standing where a key would) and its value. */
export interface TreeItem {
  key: string | Comment;
  value: TreeValue;
}

/** An ordered mapping (sops `TreeBranch`). */
export class Branch {
  constructor(readonly items: TreeItem[] = []) {}
}

/** Any value of a sops tree. */
export type TreeValue = string | bigint | number | boolean | null | SopsTime | Uint8Array | Comment | Branch | TreeValue[];

/** One master key of a key group, as stored in the file's metadata. */
export type MasterKey =
  | { type: 'age'; recipient: string; enc: string }
  | { type: 'pgp'; fingerprint: string; enc: string; createdAt: string }
  | { type: 'kms'; arn: string; role: string; context: Record<string, string>; enc: string; createdAt: string; awsProfile: string }
  | { type: 'gcp_kms'; resourceId: string; enc: string; createdAt: string }
  | { type: 'azure_kv'; vaultUrl: string; name: string; version: string; enc: string; createdAt: string }
  | { type: 'hc_vault'; vaultAddress: string; enginePath: string; keyName: string; enc: string; createdAt: string }
  | { type: 'hckms'; keyId: string; enc: string; createdAt: string };

/** The key types sops knows, by their metadata field name. */
export type MasterKeyType = MasterKey['type'];

/** Which values a file encrypts: exactly one rule applies (sops's default is `unencrypted_suffix: _unencrypted`). */
export interface CryptRules {
  unencryptedSuffix: string;
  encryptedSuffix: string;
  unencryptedRegex: string;
  encryptedRegex: string;
  unencryptedCommentRegex: string;
  encryptedCommentRegex: string;
}

/** The `sops:` metadata of a file, as sops's `stores.metadata.ToInternal` makes it. */
export interface SopsMetadata extends CryptRules {
  /** The `lastmodified` text as written. */
  lastModified: string;
  /** `lastmodified` re-formatted as Go's RFC 3339 (the AAD of the MAC). */
  lastModifiedAad: string;
  /** The encrypted MAC (`ENC[...]`), or '' when the file has none. */
  mac: string;
  macOnlyEncrypted: boolean;
  version: string;
  keyGroups: MasterKey[][];
  shamirThreshold: number;
}

/** A loaded encrypted file: its documents (without `sops`) and its metadata. */
export interface SopsTree {
  branches: Branch[];
  metadata: SopsMetadata;
}

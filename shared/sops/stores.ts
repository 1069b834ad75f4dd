/**
 * One interface over the five sops stores: load an encrypted file into documents + metadata,
 * load a plain file (for tests that encrypt), and emit decrypted documents in a format.
 */
import { isUtf8 } from 'node:buffer';
import { SopsError } from './errors.js';
import { extractNestedMetadata, extractPrefixedMetadata, extractSectionMetadata } from './store-metadata.js';
import { emitDotenvBranch, parseDotenvBranch } from './store-dotenv.js';
import { emitIniBranches, parseIniBranch } from './store-ini.js';
import { emitBinary, emitJsonBranch, parseJsonBranch } from './store-json.js';
import { emitYamlBranches, parseYamlBranches } from './store-yaml.js';
import { Branch, type SopsFormat, type SopsTree } from './types.js';

/** How Flux names formats in messages (kustomize-controller `sopsFormatToString`). */
export const FORMAT_NAMES: Record<SopsFormat, string> = { binary: 'binary', dotenv: 'dotenv', ini: 'INI', json: 'JSON', yaml: 'YAML' };

/** Parses the documents of a plain (or encrypted) file, metadata included. */
export function loadPlain(bytes: Uint8Array, format: SopsFormat): Branch[] {
  switch (format) {
    case 'yaml': return parseYamlBranches(bytes);
    case 'json': return [parseJsonBranch(bytes)];
    case 'dotenv': return [parseDotenvBranch(bytes)];
    case 'ini': return [parseIniBranch(bytes)];
    case 'binary': {
      // Go strings hold any bytes: keep a file that is not UTF-8 as bytes.
      const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return [new Branch([{ key: 'data', value: isUtf8(b) ? b.toString('utf8') : new Uint8Array(b) }])];
    }
  }
}

/** Loads an encrypted file: its documents without `sops`, and the parsed metadata. */
export function loadEncrypted(bytes: Uint8Array, format: SopsFormat): SopsTree {
  switch (format) {
    case 'yaml': return extractNestedMetadata(parseYamlBranches(bytes));
    // The binary store reads its JSON envelope with the JSON store.
    case 'json':
    case 'binary': return extractNestedMetadata([parseJsonBranch(bytes)]);
    case 'dotenv': return extractPrefixedMetadata([parseDotenvBranch(bytes)]);
    case 'ini': return extractSectionMetadata([parseIniBranch(bytes)]);
  }
}

/** Writes decrypted documents in `format`. */
export function emitPlain(branches: Branch[], format: SopsFormat): Buffer {
  switch (format) {
    case 'yaml': return emitYamlBranches(branches);
    case 'json':
      if (branches.length === 0) throw new SopsError('SopsFormatInvalid', 'Error marshaling to json: no document');
      return emitJsonBranch(branches[0]);
    case 'dotenv':
      if (branches.length === 0) return Buffer.alloc(0);
      return emitDotenvBranch(branches[0]);
    case 'ini': return emitIniBranches(branches);
    case 'binary': return emitBinary(branches);
  }
}

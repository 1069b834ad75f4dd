/**
 * The alias pre-scan of YAML inputs: every file a build makes kustomize parse as YAML, and
 * every inline patch, is checked against go-yaml's alias budget before kustomize runs
 * (kustomize expands aliases in resources with no budget of its own).
 *
 * Cheap by construction: a file without both an anchor and an alias token is never parsed,
 * and a file's verdict is remembered per inode (with its size and mtime), so the hard links
 * of one extracted artifact that every build of a fleet materializes are scanned once per
 * process, not once per build.
 */
import type { Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { ExcessiveAliasingError } from './errors.js';
import { ValidationError } from '../util/errors.js';
import { YamlSyntaxError, analyseYaml, mayHaveAliases } from './yaml-analysis.js';

/** Verdicts by `dev:ino:size:mtime`: '' within budget, 'excessive', or why it cannot be analysed. */
const verdicts = new Map<string, string>();
const MAX_VERDICTS = 50_000;

/** '' when `text` is within go-yaml's alias budget, 'excessive' when not, else the parse problem. */
export function aliasVerdict(text: string): string {
  if (!mayHaveAliases(text)) return '';
  try {
    return analyseYaml(text).excessive ? 'excessive' : '';
  } catch (err) {
    if (err instanceof YamlSyntaxError) return err.message;
    throw err;
  }
}

function raise(verdict: string, shown: string): void {
  if (verdict === '') return;
  if (verdict === 'excessive') throw new ExcessiveAliasingError(shown);
  throw new ValidationError(`cannot check ${shown} for excessive YAML aliasing: ${verdict}`, {
    hint: 'the file uses anchors and aliases (&name / *name) but does not parse; fix the YAML',
  });
}

const keyOf = (st: Stats) => `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;

function remember(key: string, verdict: string): void {
  if (verdicts.size >= MAX_VERDICTS) verdicts.delete(verdicts.keys().next().value as string);
  verdicts.set(key, verdict);
}

/**
 * Records the verdict for a file read elsewhere (the generator reads every file it lists),
 * so the pre-scan does not read it again. `st` must be the stat of that very file.
 */
export function noteFileAliasVerdict(st: Stats, text: string): void {
  if (st.isFile()) remember(keyOf(st), aliasVerdict(text));
}

/**
 * Throws ExcessiveAliasingError (naming the file as `shown`) when the YAML file at `file`
 * exceeds go-yaml's alias budget. `st` is its stat when the caller has it. A missing or
 * unreadable file is left for kustomize to report.
 */
export async function assertFileAliasBudget(file: string, shown: string, st?: Stats): Promise<void> {
  if (!st) {
    try {
      st = await stat(file);
    } catch {
      return;
    }
  }
  if (!st.isFile()) return;
  const key = keyOf(st);
  let verdict = verdicts.get(key);
  if (verdict === undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      return;
    }
    verdict = aliasVerdict(text);
    remember(key, verdict);
  }
  raise(verdict, shown);
}

/** Throws ExcessiveAliasingError (naming `shown`) when inline YAML text exceeds go-yaml's alias budget. */
export function assertTextAliasBudget(text: string, shown: string): void {
  raise(aliasVerdict(text), shown);
}

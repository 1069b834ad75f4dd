/**
 * A nesting check to run before the `yaml` package composes a document. Its composer recurses
 * once per level: a few kilobytes of `[[[[...` exhaust the stack, and when that happens while
 * V8 compiles a regular expression (a warm process tiers its regexps up), the process dies
 * with "FATAL ERROR: RegExpCompiler Allocation failed - process out of memory", which no
 * try/catch sees. The CST parser keeps its own stack, so walking its tokens iteratively
 * measures the depth safely; deeper input is refused before anything recurses on it.
 */
import { Parser } from 'yaml';

/**
 * Deepest YAML nesting accepted: far beyond any Kubernetes object (CRD schemas stay under
 * 100), well within what the composer survives (about 800 levels on Node's default stack).
 */
export const MAX_YAML_NESTING = 400;

interface Tok {
  type?: string;
  value?: Tok;
  key?: Tok | null;
  items?: { key?: Tok | null; value?: Tok | null }[];
}

/**
 * An upper bound of the nesting of `text`, from one pass over its characters: the deepest
 * flow nesting (`[`, `{`, even inside quotes) plus, for block collections, twice the widest
 * indentation and line-leading `- ` / `? ` indicators (a block level needs one more column,
 * or an indicator; a sequence under a key may stay at the key's column, hence twice).
 */
function nestingBound(text: string): number {
  let flow = 0;
  let maxFlow = 0;
  let maxBlock = 0;
  let lineStart = true;
  let lead = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) {
      lineStart = true;
      lead = 0;
      continue;
    }
    if (lineStart) {
      if (c === 0x20 || c === 0x09) {
        lead++;
        continue;
      }
      if ((c === 0x2d || c === 0x3f) && (text.charCodeAt(i + 1) === 0x20 || text.charCodeAt(i + 1) === 0x0a || i + 1 === text.length)) {
        lead += 2;
        i++;
        if (text.charCodeAt(i) === 0x0a) {
          i--;
        }
        continue;
      }
      lineStart = false;
      if (lead > maxBlock) maxBlock = lead;
    }
    if (c === 0x5b || c === 0x7b) {
      flow++;
      if (flow > maxFlow) maxFlow = flow;
    } else if ((c === 0x5d || c === 0x7d) && flow > 0) flow--;
  }
  if (lead > maxBlock) maxBlock = lead;
  return maxFlow + 2 * (maxBlock + 1);
}

/** The message for YAML nested deeper than `max` levels, or undefined. Linear time, no recursion. */
export function yamlNestingProblem(text: string, max = MAX_YAML_NESTING): string | undefined {
  // Cheap exits: a short text, or one whose nesting bound is within the limit (nearly all),
  // cannot reach it; only the others get the exact count from the CST.
  if (text.length < max || nestingBound(text) <= max) return undefined;
  const stack: [Tok, number][] = [];
  for (const token of new Parser().parse(text)) {
    stack.push([token as Tok, 0]);
    while (stack.length) {
      const [t, d] = stack.pop()!;
      if (d > max) return `YAML nested more than ${max} levels deep`;
      if (t.type === 'document' && t.value) stack.push([t.value, d]);
      const items = t.items;
      if (!items) continue;
      for (const it of items) {
        if (it.key && typeof it.key === 'object') stack.push([it.key, d + 1]);
        if (it.value && typeof it.value === 'object') stack.push([it.value, d + 1]);
      }
    }
  }
  return undefined;
}

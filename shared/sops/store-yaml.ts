/**
 * The YAML store (getsops/sops `stores/yaml`): every document of a stream becomes a branch,
 * comments become Comment items where go-yaml reports them (head and line comments before
 * the item they belong to, foot comments after it), scalars resolve as go-yaml v3 does, and
 * decrypted documents are written back in go-yaml's style (4-space indentation, indented
 * sequences, literal blocks for multi-line strings, `---` between documents).
 */
import { isAlias, isMap, isPair, isScalar, isSeq, parseAllDocuments, Scalar, type Document, type Node as YNode } from 'yaml';
import { SopsError } from './errors.js';
import { formatFloatG } from './go-strconv.js';
import { mustQuoteString, resolveYamlScalar } from './yaml-scalars.js';
import { Branch, Comment, SopsTime, type TreeItem, type TreeValue } from './types.js';
import { countTrailing } from '../util/trim.js';
import { yamlNestingProblem } from '../util/yaml-depth.js';

const INDENT = 4;

function fail(message: string, cause?: unknown): SopsError {
  return new SopsError('SopsFormatInvalid', `Error unmarshaling input YAML: ${message}`, { cause });
}

function commentLines(text: string | null | undefined, inline = false): Comment[] {
  if (!text) return [];
  return text.split('\n').filter((l) => l !== '').map((l) => new Comment(l, inline));
}

/** Expanded nodes allowed per document: aliases are copied, so a bomb must stop somewhere. */
const MAX_EXPANDED_NODES = 1_000_000;

type Ranged = { range?: [number, number, number] | null };
type Collection = YNode & Ranged & { items: unknown[]; commentBefore?: string | null; comment?: string | null };

class Loader {
  private expanded = 0;
  /** Trailing comment lines of a nested block written at a lesser indentation: they belong further out. */
  private escaped: { col: number; comment: Comment }[] = [];
  constructor(private readonly doc: Document, private readonly src: string) {}

  private column(offset: number): number {
    return offset - (this.src.lastIndexOf('\n', offset - 1) + 1);
  }

  /**
   * Splits a collection's trailing comment by the source indentation of its lines, as go-yaml
   * does: lines indented like the items stay with the collection, lines further left are
   * handed to the enclosing collection (they come before its next item).
   */
  private trailing(n: Collection, lastEnd: number | undefined): Comment[] {
    const lines = commentLines(n.comment);
    if (lines.length === 0 || !n.range || lastEnd === undefined) return lines;
    const itemCol = this.column(n.range[0]);
    const region = this.src.slice(lastEnd, Math.max(lastEnd, n.range[2]));
    const found = [...region.matchAll(/^([ \t]*)#(.*)$/gm)].filter((m) => m[2] !== '');
    if (found.length !== lines.length) return lines;
    const own: Comment[] = [];
    found.forEach((m, i) => {
      if (m[1].length >= itemCol) own.push(lines[i]);
      else this.escaped.push({ col: m[1].length, comment: lines[i] });
    });
    return own;
  }

  /** Hands escaped comments that belong at `col` (or deeper) to `push`. */
  private drain(col: number, push: (c: Comment) => void): void {
    if (this.escaped.length === 0) return;
    const keep: { col: number; comment: Comment }[] = [];
    for (const e of this.escaped) {
      if (e.col >= col) push(e.comment);
      else keep.push(e);
    }
    this.escaped = keep;
  }

  private endOf(node: unknown): number | undefined {
    const r = (node as Ranged | null)?.range;
    return r ? r[1] : undefined;
  }

  private deref(node: unknown, depth = 0): unknown {
    if (isAlias(node)) {
      if (depth > 64) throw fail('alias chain too deep');
      return this.deref(node.resolve(this.doc), depth + 1);
    }
    return node;
  }

  scalar(node: Scalar, asKey: boolean): TreeValue {
    const quoted = node.type !== undefined && node.type !== Scalar.PLAIN;
    const text = node.value === null || node.value === undefined ? '' : String(node.value);
    const r = resolveYamlScalar(text, quoted, node.tag);
    if (r.uint64) throw fail(asKey ? 'Tree contains a non-string key (type uint64)' : 'Cannot walk value, unknown type: uint64');
    return r.value;
  }

  key(node: unknown): string {
    const n = this.deref(node);
    if (n === null || n === undefined) throw fail('Tree contains a non-string key (type <nil>). Only string keys are supported');
    if (!isScalar(n)) throw fail('Tree contains a non-string key (type map or list). Only string keys are supported');
    const v = this.scalar(n, true);
    if (typeof v !== 'string') {
      const t = v === null ? '<nil>' : typeof v === 'bigint' ? 'int' : typeof v === 'number' ? 'float64' : typeof v === 'boolean' ? 'bool' : v instanceof SopsTime ? 'time.Time' : 'unknown';
      throw fail(`Tree contains a non-string key (type ${t}): ${String(n.value)}. Only string keys are supported`);
    }
    return v;
  }

  value(node: unknown): TreeValue {
    if (++this.expanded > MAX_EXPANDED_NODES) throw fail('document contains excessive aliasing');
    const n = this.deref(node);
    if (n === null || n === undefined) return null;
    if (isScalar(n)) return this.scalar(n, false);
    if (isMap(n)) return this.map(n as Collection);
    if (isSeq(n)) return this.seq(n as Collection);
    throw fail('unsupported YAML node');
  }

  map(n: Collection, lead: Comment[] = [], withHead = true): Branch {
    const items: TreeItem[] = [];
    const pushComments = (cs: Comment[]) => { for (const c of cs) items.push({ key: c, value: null }); };
    const col = n.range ? this.column(n.range[0]) : 0;
    pushComments(lead);
    if (withHead) pushComments(commentLines(n.commentBefore));
    let lastEnd: number | undefined;
    for (const p of n.items) {
      if (!isPair(p)) continue;
      const k = p.key as (YNode & { commentBefore?: string | null; comment?: string | null }) | null;
      pushComments(commentLines(k?.commentBefore));
      pushComments(commentLines(k?.comment));
      const v = this.deref(p.value) as (YNode & { commentBefore?: string | null; comment?: string | null }) | null;
      const scalarValue = v === null || v === undefined || isScalar(v);
      if (scalarValue && v) {
        pushComments(commentLines(v.commentBefore));
        pushComments(commentLines(v.comment, true));
      }
      items.push({ key: this.key(p.key), value: this.value(p.value) });
      this.drain(col, (c) => items.push({ key: c, value: null }));
      lastEnd = this.endOf(p.value) ?? this.endOf(p.key);
    }
    pushComments(this.trailing(n, lastEnd));
    return new Branch(items);
  }

  seq(n: Collection, withHead = true): TreeValue[] {
    const out: TreeValue[] = withHead ? [...commentLines(n.commentBefore)] : [];
    const col = n.range ? this.column(n.range[0]) : 0;
    let lastEnd: number | undefined;
    for (const item of n.items) {
      const it = item as (YNode & { commentBefore?: string | null; comment?: string | null }) | null;
      if (it && !isAlias(it)) {
        out.push(...commentLines(it.commentBefore));
        if (isScalar(it)) out.push(...commentLines(it.comment, true));
      }
      out.push(this.collectionValue(item));
      this.drain(col, (c) => out.push(c));
      lastEnd = this.endOf(item);
    }
    out.push(...this.trailing(n, lastEnd));
    return out;
  }

  /** A list item: its own head comments were taken by the list. */
  private collectionValue(item: unknown): TreeValue {
    if (++this.expanded > MAX_EXPANDED_NODES) throw fail('document contains excessive aliasing');
    const n = this.deref(item);
    if (isMap(n)) return this.map(n as Collection, [], false);
    if (isSeq(n)) return this.seq(n as Collection, false);
    return this.value(n);
  }

  document(): Branch {
    const lead = commentLines(this.doc.commentBefore);
    const contents = this.deref(this.doc.contents);
    let branch: Branch;
    if (contents === null || contents === undefined) branch = new Branch(lead.map((c) => ({ key: c, value: null })));
    else if (isMap(contents)) branch = this.map(contents as Collection, lead);
    else if (isSeq(contents)) throw fail('YAML documents that are sequences are not supported');
    else if (isScalar(contents)) {
      if (this.scalar(contents, false) !== null) throw fail('YAML documents that are values are not supported');
      branch = new Branch(lead.map((c) => ({ key: c, value: null })));
    } else throw fail('unsupported YAML document');
    const escaped: Comment[] = [];
    this.drain(0, (c) => escaped.push(c));
    if (escaped.length) branch = new Branch([...branch.items, ...escaped.map((c) => ({ key: c, value: null }))]);
    const tail = commentLines(this.doc.comment);
    return tail.length ? new Branch([...branch.items, ...tail.map((c) => ({ key: c, value: null }))]) : branch;
  }
}

/** Parses a YAML stream into one branch per document, as sops's YAML store loads it. */
export function parseYamlBranches(bytes: Uint8Array): Branch[] {
  const text = Buffer.from(bytes).toString('utf8');
  if (text.length === 0) return [];
  let docs: Document[];
  const deep = yamlNestingProblem(text);
  if (deep) throw fail(deep);
  try {
    docs = parseAllDocuments(text, { schema: 'failsafe', uniqueKeys: true, prettyErrors: false }) as unknown as Document[];
  } catch (err) {
    throw fail((err as Error).message, err);
  }
  const out: Branch[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw fail(doc.errors[0].message.split('\n')[0]);
    out.push(new Loader(doc, text).document());
  }
  return out;
}

// ---- emitter ---------------------------------------------------------------------------

/** libyaml's printable set; tabs and line breaks are handled by the callers. */
function isPrintable(s: string): boolean {
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c === 0x09 || c === 0x0a) continue;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xdfff) || c === 0xfffe || c === 0xffff) return false;
  }
  return true;
}

function plainAllowed(s: string): boolean {
  if (s === '' || s !== s.trim() || s.includes('\n') || s.includes('\t') || !isPrintable(s)) return false;
  if (/^(---|\.\.\.)(\s|$)/.test(s)) return false;
  const first = s[0];
  if (',[]{}#&*!|>\'"%@`'.includes(first)) return false;
  if ('-?:'.includes(first) && (s.length === 1 || s[1] === ' ')) return false;
  if (s.includes(': ') || s.includes(' #') || s.endsWith(':')) return false;
  return true;
}

function doubleQuoted(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c === 0) out += '\\0';
    else if (c < 0x20 || c === 0x7f || (c >= 0x80 && c <= 0x9f) || c === 0xfeff || (c >= 0xd800 && c <= 0xdfff)) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c === 0x2028) out += '\\L';
    else if (c === 0x2029) out += '\\P';
    else out += ch;
  }
  return out + '"';
}

function literalAllowed(s: string): boolean {
  if (!isPrintable(s.replace(/[\t\n]/g, ''))) return false;
  if (/^[ \t]/.test(s) || / \n|\t\n/.test(s) || /[ \t]$/.test(s)) return false;
  return !s.includes('\r');
}

/** How go-yaml writes a string: plain, single-quoted, double-quoted or a literal block. */
function stringScalar(s: string, indent: number): string {
  if (s.includes('\n')) {
    if (literalAllowed(s)) {
      const trailing = countTrailing(s, '\n');
      const chomp = trailing === 0 ? '-' : trailing === 1 ? '' : '+';
      const body = trailing === 0 ? s : s.slice(0, s.length - (trailing === 1 ? 1 : 0));
      const pad = ' '.repeat(indent);
      const lines = (chomp === '+' ? s.slice(0, -1) : body).split('\n');
      return `|${chomp}\n` + lines.map((l) => (l === '' ? '' : pad + l)).join('\n');
    }
    return doubleQuoted(s);
  }
  if (mustQuoteString(s)) return doubleQuoted(s);
  if (plainAllowed(s)) return s;
  if (isPrintable(s) && !s.includes('\t')) return `'${s.replaceAll("'", "''")}'`;
  return doubleQuoted(s);
}

function scalarText(v: TreeValue, indent: number): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return stringScalar(v, indent);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return '.nan';
    if (v === Infinity) return '.inf';
    if (v === -Infinity) return '-.inf';
    return formatFloatG(v);
  }
  if (v instanceof SopsTime) return v.text;
  if (v instanceof Uint8Array) {
    const b = Buffer.from(v);
    const s = b.toString('utf8');
    return Buffer.from(s, 'utf8').equals(b) ? stringScalar(s, indent) : `!!binary ${b.toString('base64')}`;
  }
  if (v instanceof Comment) return stringScalar(v.value, indent);
  return 'null';
}

function isCollection(v: TreeValue): v is Branch | TreeValue[] {
  return v instanceof Branch || Array.isArray(v);
}

function isEmptyCollection(v: Branch | TreeValue[]): boolean {
  return v instanceof Branch ? !v.items.some((i) => !(i.key instanceof Comment)) : !v.some((x) => !(x instanceof Comment));
}

class Emitter {
  readonly lines: string[] = [];

  private comments(cs: Comment[], indent: number): void {
    for (const c of cs) this.lines.push(' '.repeat(indent) + '#' + c.value);
  }

  /**
   * Writes `value` after `prefix` (e.g. `key:` or `-`), at nesting `indent`; block scalars are
   * indented from `blockBase` (go-yaml indents them from the enclosing sequence dash).
   */
  private entry(prefix: string, value: TreeValue, indent: number, inline: Comment[], firstPad: string, blockBase = indent): void {
    const line = (s: string) => firstPad + s + (inline.length ? ' #' + inline.map((c) => c.value).join(' #') : '');
    if (isCollection(value)) {
      if (isEmptyCollection(value)) {
        this.lines.push(line(`${prefix} ${value instanceof Branch ? '{}' : '[]'}`));
        return;
      }
      this.lines.push(line(prefix));
      if (value instanceof Branch) this.branch(value, indent + INDENT);
      else this.seq(value, indent + INDENT);
      return;
    }
    const text = scalarText(value, blockBase + INDENT);
    const [head, ...rest] = text.split('\n');
    this.lines.push(line(`${prefix} ${head}`));
    this.lines.push(...rest);
  }

  branch(b: Branch, indent: number, firstPad?: string, blockBase = indent): void {
    let head: Comment[] = [];
    let inline: Comment[] = [];
    let first = true;
    for (const item of b.items) {
      if (item.key instanceof Comment) {
        (item.key.inline ? inline : head).push(item.key);
        continue;
      }
      const pad = first && firstPad !== undefined ? firstPad : ' '.repeat(indent);
      if (first && firstPad !== undefined && head.length) {
        // A comment cannot sit between "- " and the first key; put it on the line above.
        this.comments(head, indent);
        head = [];
      }
      this.comments(head, indent);
      head = [];
      const key = scalarText(item.key, indent + INDENT);
      this.entry(`${key}:`, item.value, indent, inline, pad, blockBase);
      inline = [];
      first = false;
    }
    this.comments([...head, ...inline], indent);
  }

  seq(list: TreeValue[], indent: number): void {
    let head: Comment[] = [];
    let inline: Comment[] = [];
    for (const v of list) {
      if (v instanceof Comment) {
        (v.inline ? inline : head).push(v);
        continue;
      }
      this.comments(head, indent);
      head = [];
      const pad = ' '.repeat(indent);
      if (isCollection(v) && !isEmptyCollection(v) && inline.length) {
        // go-yaml keeps these as line comments; on a block collection they go above it.
        this.comments(inline, indent);
        inline = [];
      }
      if (v instanceof Branch && !isEmptyCollection(v)) {
        this.branch(v, indent + 2, pad + '- ', indent);
      } else if (Array.isArray(v) && !isEmptyCollection(v)) {
        this.lines.push(pad + '-');
        this.seq(v, indent + 2);
      } else {
        this.entry('-', v, indent, inline, pad);
      }
      inline = [];
    }
    this.comments([...head, ...inline], indent);
  }
}

/** Writes decrypted documents as sops's YAML store does (go-yaml, indent 4). */
export function emitYamlBranches(branches: readonly Branch[]): Buffer {
  const docs = branches.map((b) => {
    const e = new Emitter();
    if (!b.items.some((i) => !(i.key instanceof Comment))) {
      e.lines.push(...b.items.map((i) => '#' + (i.key as Comment).value), '{}');
    } else {
      e.branch(b, 0);
    }
    return e.lines.join('\n') + '\n';
  });
  return Buffer.from(docs.join('---\n'), 'utf8');
}

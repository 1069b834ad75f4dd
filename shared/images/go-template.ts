/**
 * A Go `text/template` engine for commit message templates: the subset Flux users write.
 *
 * Supported: text and `{{ }}` actions with `{{-` / `-}}` trimming and comments (`{{/*` to its close);
 * pipelines (`a | f b`), parenthesised pipelines, fields and niladic methods (`.Changed.Objects`,
 * `$x.Kind`), variables (`$x := ...`, `$x = ...`, `$`), string/raw-string/char/number/bool/nil
 * literals; `if` / `else if` / `else`, `range` (with `$i, $v :=`, `else`, `break`,
 * `continue`), `with` / `else with`; Go's builtin functions and a set of Sprig's hermetic
 * functions (templateFunctions in go-template-funcs.ts). `define`, `template` and `block`
 * are refused with a clear error, as is any function not in the set.
 *
 * Values follow Go: maps with string keys range in sorted order, structs print as
 * `{field ...}`, a value with a String() method prints that, a missing map key prints
 * `<no value>`, and the truthiness of `if` is Go's. Errors read like Go's
 * (`template: <name>:<line>:<col>: executing "<name>" at <.Foo>: can't evaluate field Foo in
 * type source.TemplateData`), so callers can recognise them.
 */
import { FluxlessError } from '../util/errors.js';
import { callFunction, isFunction } from './go-template-funcs.js';
import { GoMap, GoStruct, NO_VALUE, formatValue, indirectTypeName, isTrue, type GoValue } from './go-values.js';
import { trimEnd } from '../util/trim.js';

/** A template that failed to parse or execute; the message is Go's. */
export class TemplateError extends FluxlessError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super('TemplateFailed', message, opts);
  }
}

interface Tok {
  k: 'ident' | 'field' | 'var' | 'string' | 'number' | 'char' | 'pipe' | 'lparen' | 'rparen' | 'declare' | 'assign' | 'comma' | 'dot';
  v: string;
  pos: number;
  /** Offset just after the token in the source. */
  end: number;
}

type Arg =
  | { t: 'field'; chain: string[]; pos: number; text: string }
  | { t: 'var'; name: string; chain: string[]; pos: number; text: string }
  | { t: 'dot'; pos: number; text: string }
  | { t: 'lit'; value: GoValue; pos: number; text: string }
  | { t: 'fn'; name: string; pos: number; text: string }
  | { t: 'sub'; pipe: Pipeline; chain: string[]; pos: number; text: string };

interface Command {
  args: Arg[];
  pos: number;
}

interface Pipeline {
  decl: string[];
  assign: boolean;
  cmds: Command[];
  pos: number;
}

type Node =
  | { t: 'text'; text: string }
  | { t: 'action'; pipe: Pipeline }
  | { t: 'if' | 'with'; pipe: Pipeline; list: Node[]; elseList?: Node[] }
  | { t: 'range'; pipe: Pipeline; list: Node[]; elseList?: Node[] }
  | { t: 'break' | 'continue'; pos: number };

class BreakSignal {}
class ContinueSignal {}

/** A parsed template. */
export class GoTemplate {
  private constructor(
    readonly name: string,
    private readonly src: string,
    private readonly root: Node[],
  ) {}

  /** Parses `src`; throws TemplateError with Go's message (`template: <name>:<line>: ...`). */
  static parse(name: string, src: string): GoTemplate {
    return new GoTemplate(name, src, new Parser(name, src).parseAll());
  }

  /** Executes the template with `data` as dot; throws TemplateError. */
  execute(data: GoValue): string {
    const ex = new Executor(this.name, this.src, data);
    const out: string[] = [];
    ex.run(this.root, data, [new Map([['$', data]])], out);
    return out.join('');
  }
}

function lineCol(src: string, pos: number): { line: number; col: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < pos && i < src.length; i++) {
    if (src[i] === '\n') {
      line++;
      last = i;
    }
  }
  return { line, col: pos - last - 1 };
}

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);

class Parser {
  private pos = 0;
  private rangeDepth = 0;
  constructor(
    private readonly name: string,
    private readonly src: string,
  ) {}

  private fail(at: number, msg: string): never {
    throw new TemplateError(`template: ${this.name}:${lineCol(this.src, at).line}: ${msg}`);
  }

  /** The next item: text up to the next action, or an action's tokens. */
  private items: Array<{ kind: 'text'; text: string } | { kind: 'action'; toks: Tok[]; pos: number }> = [];

  private scan(): void {
    const s = this.src;
    let i = 0;
    let text = '';
    while (i < s.length) {
      const open = s.indexOf('{{', i);
      if (open < 0) {
        text += s.slice(i);
        break;
      }
      text += s.slice(i, open);
      let j = open + 2;
      const trimLeft = s[j] === '-' && /[ \t\r\n]/.test(s[j + 1] ?? '');
      if (trimLeft) {
        text = trimEnd(text, ' \t\r\n');
        j += 1;
      }
      if (text) this.items.push({ kind: 'text', text });
      text = '';
      // A comment action (optionally trimmed).
      const afterSpace = j + (s.slice(j).match(/^[ \t\r\n]*/)?.[0].length ?? 0);
      if (s.startsWith('/*', trimLeft ? afterSpace : j)) {
        const start = trimLeft ? afterSpace : j;
        const endC = s.indexOf('*/', start + 2);
        if (endC < 0) this.fail(open, 'unclosed comment');
        let k = endC + 2;
        let trimRight = false;
        const m = /^[ \t\r\n]+-\}\}/.exec(s.slice(k));
        if (m) {
          trimRight = true;
          k += m[0].length;
        } else if (s.startsWith('}}', k)) k += 2;
        else this.fail(open, 'comment ends before closing delimiter');
        i = trimRight ? k + (s.slice(k).match(/^[ \t\r\n]*/)?.[0].length ?? 0) : k;
        continue;
      }
      const { toks, end, trimRight } = this.lexAction(j, open);
      this.items.push({ kind: 'action', toks, pos: open });
      i = trimRight ? end + (s.slice(end).match(/^[ \t\r\n]*/)?.[0].length ?? 0) : end;
    }
    if (text) this.items.push({ kind: 'text', text });
  }

  private lexAction(start: number, open: number): { toks: Tok[]; end: number; trimRight: boolean } {
    const s = this.src;
    const toks: Tok[] = [];
    let i = start;
    for (;;) {
      if (i >= s.length) this.fail(open, 'unclosed action');
      const c = s[i];
      if (/[ \t\r\n]/.test(c)) {
        const m = /^[ \t\r\n]+-\}\}/.exec(s.slice(i, i + 64));
        if (m) return { toks, end: i + m[0].length, trimRight: true };
        i++;
        continue;
      }
      if (s.startsWith('}}', i)) return { toks, end: i + 2, trimRight: false };
      const before = toks.length;
      this.lexToken(toks, s, i, c);
      i = this.lexEnd;
      for (let t = before; t < toks.length; t++) toks[t].end = i;
    }
  }

  private lexEnd = 0;

  /** Lexes one token at `i` into `toks`; sets lexEnd to the offset after it. */
  private lexToken(toks: Tok[], s: string, i: number, c: string): void {
    const pos = i;
    if (c === '|') {
      toks.push({ k: 'pipe', v: c, pos, end: 0 });
      i++;
    } else if (c === '(') {
      toks.push({ k: 'lparen', v: c, pos, end: 0 });
      i++;
    } else if (c === ')') {
      toks.push({ k: 'rparen', v: c, pos, end: 0 });
      i++;
    } else if (c === ',') {
      toks.push({ k: 'comma', v: c, pos, end: 0 });
      i++;
    } else if (s.startsWith(':=', i)) {
      toks.push({ k: 'declare', v: ':=', pos, end: 0 });
      i += 2;
    } else if (c === '=') {
      toks.push({ k: 'assign', v: '=', pos, end: 0 });
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') {
        if (s[j] === '\\') j++;
        if (s[j] === '\n') this.fail(pos, 'unterminated quoted string');
        j++;
      }
      if (j >= s.length) this.fail(pos, 'unterminated quoted string');
      toks.push({ k: 'string', v: unquoteGo(s.slice(i, j + 1), () => this.fail(pos, `malformed string ${s.slice(i, j + 1)}`)), pos, end: 0 });
      i = j + 1;
    } else if (c === '`') {
      const j = s.indexOf('`', i + 1);
      if (j < 0) this.fail(pos, 'unterminated raw quoted string');
      toks.push({ k: 'string', v: s.slice(i + 1, j), pos, end: 0 });
      i = j + 1;
    } else if (c === "'") {
      const m = /^'(\\.|[^'\\])'/.exec(s.slice(i));
      if (!m) this.fail(pos, 'malformed character constant');
      toks.push({ k: 'char', v: unquoteGo(`"${m[1] === '"' ? '\\"' : m[1]}"`, () => this.fail(pos, 'malformed character constant')), pos, end: 0 });
      i += m[0].length;
    } else if (c === '$') {
      const m = /^\$[A-Za-z0-9_]*/.exec(s.slice(i))!;
      toks.push({ k: 'var', v: m[0], pos, end: 0 });
      i += m[0].length;
    } else if (c === '.') {
      const m = /^\.[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i));
      if (m) {
        toks.push({ k: 'field', v: m[0].slice(1), pos, end: 0 });
        i += m[0].length;
      } else if (/[0-9]/.test(s[i + 1] ?? '')) {
        const n = /^\.[0-9]+(?:[eE][+-]?[0-9]+)?/.exec(s.slice(i))!;
        toks.push({ k: 'number', v: n[0], pos, end: 0 });
        i += n[0].length;
      } else {
        toks.push({ k: 'dot', v: '.', pos, end: 0 });
        i++;
      }
    } else if (/[0-9+-]/.test(c)) {
      const m = /^[+-]?(?:0[xX][0-9a-fA-F_]+|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9]+)?)/.exec(s.slice(i));
      if (!m || m[0] === '+' || m[0] === '-') this.fail(pos, `unexpected "${c}" in command`);
      toks.push({ k: 'number', v: m[0], pos, end: 0 });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i))!;
      toks.push({ k: 'ident', v: m[0], pos, end: 0 });
      i += m[0].length;
    } else {
      this.fail(pos, `unexpected "${c}" in command`);
    }
    this.lexEnd = i;
  }

  parseAll(): Node[] {
    this.scan();
    this.pos = 0;
    const { list, end } = this.parseList();
    if (end) this.fail(end.pos, `unexpected {{${end.word}}}`);
    return list;
  }

  /** Parses nodes until `{{end}}` or `{{else ...}}` (returned) or the end of input. */
  private parseList(): { list: Node[]; end?: { word: 'end' | 'else'; pos: number; rest: Tok[] } } {
    const list: Node[] = [];
    while (this.pos < this.items.length) {
      const item = this.items[this.pos++];
      if (item.kind === 'text') {
        list.push({ t: 'text', text: item.text });
        continue;
      }
      const toks = item.toks;
      if (toks.length === 0) this.fail(item.pos, 'missing value for command');
      const first = toks[0];
      if (first.k === 'ident' && KEYWORDS.has(first.v)) {
        switch (first.v) {
          case 'end':
            if (toks.length > 1) this.fail(item.pos, 'unexpected tokens after end');
            return { list, end: { word: 'end', pos: item.pos, rest: [] } };
          case 'else':
            return { list, end: { word: 'else', pos: item.pos, rest: toks.slice(1) } };
          case 'if':
          case 'with':
            list.push(this.parseControl(first.v, toks.slice(1), item.pos));
            continue;
          case 'range':
            list.push(this.parseControl('range', toks.slice(1), item.pos));
            continue;
          case 'break':
          case 'continue':
            if (this.rangeDepth === 0) this.fail(item.pos, `{{${first.v}}} outside {{range}}`);
            if (toks.length > 1) this.fail(item.pos, `unexpected tokens in {{${first.v}}}`);
            list.push({ t: first.v, pos: item.pos });
            continue;
          default:
            this.fail(item.pos, `{{${first.v}}} is not supported in Fluxless commit message templates (define, template and block are not)`);
        }
      }
      list.push({ t: 'action', pipe: this.parsePipeline(toks, item.pos, false) });
    }
    return { list };
  }

  private parseControl(kind: 'if' | 'with' | 'range', toks: Tok[], pos: number): Node {
    if (toks.length === 0) this.fail(pos, `missing value for ${kind}`);
    const pipe = this.parsePipeline(toks, pos, kind === 'range');
    if (kind === 'range') this.rangeDepth++;
    const body = this.parseList();
    if (kind === 'range') this.rangeDepth--;
    if (!body.end) this.fail(pos, 'unexpected EOF');
    let elseList: Node[] | undefined;
    if (body.end.word === 'else') {
      const rest = body.end.rest;
      if (rest.length > 0 && rest[0].k === 'ident' && (rest[0].v === 'if' || rest[0].v === 'with') && kind !== 'range') {
        // `{{else if ...}}`: a nested control whose {{end}} closes this one too.
        const nestedKind = rest[0].v as 'if' | 'with';
        const nested = this.parseElseChain(nestedKind, rest.slice(1), body.end.pos);
        elseList = [nested];
      } else {
        if (rest.length > 0) this.fail(body.end.pos, 'unexpected tokens after else');
        const e = this.parseList();
        if (!e.end || e.end.word !== 'end') this.fail(body.end.pos, e.end ? 'expected end; found else' : 'unexpected EOF');
        elseList = e.list;
      }
    }
    return { t: kind, pipe, list: body.list, ...(elseList ? { elseList } : {}) };
  }

  /** `{{else if x}}...` up to the shared {{end}}. */
  private parseElseChain(kind: 'if' | 'with', toks: Tok[], pos: number): Node {
    if (toks.length === 0) this.fail(pos, `missing value for ${kind}`);
    const pipe = this.parsePipeline(toks, pos, false);
    const body = this.parseList();
    if (!body.end) this.fail(pos, 'unexpected EOF');
    let elseList: Node[] | undefined;
    if (body.end.word === 'else') {
      const rest = body.end.rest;
      if (rest.length > 0 && rest[0].k === 'ident' && (rest[0].v === 'if' || rest[0].v === 'with')) {
        elseList = [this.parseElseChain(rest[0].v as 'if' | 'with', rest.slice(1), body.end.pos)];
      } else {
        if (rest.length > 0) this.fail(body.end.pos, 'unexpected tokens after else');
        const e = this.parseList();
        if (!e.end || e.end.word !== 'end') this.fail(body.end.pos, 'unexpected EOF');
        elseList = e.list;
      }
    }
    return { t: kind, pipe, list: body.list, ...(elseList ? { elseList } : {}) };
  }

  private parsePipeline(toks: Tok[], pos: number, allowTwoVars: boolean): Pipeline {
    let i = 0;
    const decl: string[] = [];
    let assign = false;
    // Declarations: $x := ..., $i, $v := ..., $x = ...
    if (toks[0]?.k === 'var') {
      if (toks[1]?.k === 'declare' || toks[1]?.k === 'assign') {
        decl.push(toks[0].v);
        assign = toks[1].k === 'assign';
        i = 2;
      } else if (allowTwoVars && toks[1]?.k === 'comma' && toks[2]?.k === 'var' && toks[3]?.k === 'declare') {
        decl.push(toks[0].v, toks[2].v);
        i = 4;
      }
    }
    const cmds: Command[] = [];
    let cur: Arg[] = [];
    let cmdPos = toks[i]?.pos ?? pos;
    const end = toks.length;
    while (i < end) {
      const t = toks[i];
      if (t.k === 'pipe') {
        if (cur.length === 0) this.fail(t.pos, 'missing command');
        cmds.push({ args: cur, pos: cmdPos });
        cur = [];
        i++;
        cmdPos = toks[i]?.pos ?? t.pos;
        continue;
      }
      const { arg, next } = this.parseArg(toks, i);
      cur.push(arg);
      i = next;
    }
    if (cur.length === 0) this.fail(pos, decl.length ? 'missing value for command' : 'missing command');
    cmds.push({ args: cur, pos: cmdPos });
    for (const c of cmds.slice(1)) {
      if (c.args[0].t !== 'fn') this.fail(c.pos, `non executable command in pipeline stage ${cmds.indexOf(c) + 1}`);
    }
    return { decl, assign, cmds, pos };
  }

  /** Fields written right after the previous token (`$x.Kind`, `(...).Name`, `.A.B`). */
  private fieldChain(toks: Tok[], i: number): { chain: string[]; next: number } {
    const chain: string[] = [];
    while (i > 0 && toks[i]?.k === 'field' && toks[i].pos === toks[i - 1].end) {
      chain.push(toks[i].v);
      i++;
    }
    return { chain, next: i };
  }

  private parseArg(toks: Tok[], i: number): { arg: Arg; next: number } {
    const t = toks[i];
    const text = (a: number, b: number) => this.src.slice(toks[a].pos, toks[b - 1].end);
    switch (t.k) {
      case 'field': {
        const chain = [t.v];
        let j = i + 1;
        const more = this.fieldChain(toks, j);
        chain.push(...more.chain);
        j = more.next;
        return { arg: { t: 'field', chain, pos: t.pos, text: text(i, j) }, next: j };
      }
      case 'var': {
        const more = this.fieldChain(toks, i + 1);
        return { arg: { t: 'var', name: t.v, chain: more.chain, pos: t.pos, text: text(i, more.next) }, next: more.next };
      }
      case 'dot':
        return { arg: { t: 'dot', pos: t.pos, text: '.' }, next: i + 1 };
      case 'string':
      case 'char':
        return { arg: { t: 'lit', value: t.k === 'char' ? (t.v.codePointAt(0) ?? 0) : t.v, pos: t.pos, text: text(i, i + 1) }, next: i + 1 };
      case 'number': {
        const n = Number(t.v.replaceAll('_', ''));
        if (!Number.isFinite(n)) this.fail(t.pos, `bad number syntax: ${JSON.stringify(t.v)}`);
        return { arg: { t: 'lit', value: n, pos: t.pos, text: t.v }, next: i + 1 };
      }
      case 'ident': {
        if (t.v === 'true' || t.v === 'false') return { arg: { t: 'lit', value: t.v === 'true', pos: t.pos, text: t.v }, next: i + 1 };
        if (t.v === 'nil') return { arg: { t: 'lit', value: null, pos: t.pos, text: 'nil' }, next: i + 1 };
        if (KEYWORDS.has(t.v)) this.fail(t.pos, `unexpected <${t.v}> in command`);
        if (!isFunction(t.v)) this.fail(t.pos, `function "${t.v}" not defined`);
        return { arg: { t: 'fn', name: t.v, pos: t.pos, text: t.v }, next: i + 1 };
      }
      case 'lparen': {
        let depth = 1;
        let j = i + 1;
        while (j < toks.length && depth > 0) {
          if (toks[j].k === 'lparen') depth++;
          else if (toks[j].k === 'rparen') depth--;
          if (depth > 0) j++;
        }
        if (depth !== 0) this.fail(t.pos, 'unclosed left paren');
        const pipe = this.parsePipeline(toks.slice(i + 1, j), t.pos, false);
        const more = this.fieldChain(toks, j + 1);
        return { arg: { t: 'sub', pipe, chain: more.chain, pos: t.pos, text: text(i, more.next) }, next: more.next };
      }
      default:
        this.fail(t.pos, `unexpected "${t.v}" in operand`);
    }
  }
}

/** Go's strconv.Unquote of a double-quoted string literal. */
function unquoteGo(lit: string, bad: () => never): string {
  const body = lit.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = body[++i];
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", a: '\x07', b: '\b', f: '\f', v: '\v' };
    if (n in simple) out += simple[n];
    else if (n === 'x' && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) {
      out += String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(body.slice(i + 1, i + 5))) {
      out += String.fromCodePoint(parseInt(body.slice(i + 1, i + 5), 16));
      i += 4;
    } else if (n === 'U' && /^[0-9a-fA-F]{8}$/.test(body.slice(i + 1, i + 9))) {
      out += String.fromCodePoint(parseInt(body.slice(i + 1, i + 9), 16));
      i += 8;
    } else if (/[0-7]/.test(n ?? '') && /^[0-7]{3}$/.test(body.slice(i, i + 3))) {
      out += String.fromCharCode(parseInt(body.slice(i, i + 3), 8));
      i += 2;
    } else bad();
  }
  return out;
}

type Scope = Array<Map<string, GoValue>>;

class Executor {
  constructor(
    private readonly name: string,
    private readonly src: string,
    private readonly data: GoValue,
  ) {}

  private fail(pos: number, at: string, msg: string): never {
    const { line, col } = lineCol(this.src, pos);
    throw new TemplateError(`template: ${this.name}:${line}:${col}: executing "${this.name}" at <${at}>: ${msg}`);
  }

  run(list: Node[], dot: GoValue, scope: Scope, out: string[]): void {
    for (const n of list) this.node(n, dot, scope, out);
  }

  private node(n: Node, dot: GoValue, scope: Scope, out: string[]): void {
    switch (n.t) {
      case 'text':
        out.push(n.text);
        return;
      case 'action': {
        const v = this.pipeline(n.pipe, dot, scope);
        if (n.pipe.decl.length === 0) out.push(formatValue(v));
        return;
      }
      case 'if':
      case 'with': {
        const inner: Scope = [...scope, new Map()];
        const v = this.pipeline(n.pipe, dot, inner);
        if (isTrue(v)) this.run(n.list, n.t === 'with' ? v : dot, inner, out);
        else if (n.elseList) this.run(n.elseList, dot, [...scope, new Map()], out);
        return;
      }
      case 'range':
        return this.range(n, dot, scope, out);
      case 'break':
        throw new BreakSignal();
      case 'continue':
        throw new ContinueSignal();
    }
  }

  private range(n: Extract<Node, { t: 'range' }>, dot: GoValue, scope: Scope, out: string[]): void {
    const decl = n.pipe.decl;
    const inner: Scope = [...scope, new Map()];
    const v = this.pipeline({ ...n.pipe, decl: [] }, dot, inner);
    let pairs: Array<[GoValue, GoValue]>;
    if (Array.isArray(v)) pairs = v.map((x, i) => [i, x]);
    else if (v instanceof GoMap) pairs = v.sortedEntries();
    else if (v === null || v === NO_VALUE) pairs = [];
    else if (typeof v === 'number' && Number.isInteger(v)) pairs = Array.from({ length: Math.max(0, v) }, (_, i) => [i, i]);
    else this.fail(n.pipe.pos, this.pipeText(n.pipe), `range can't iterate over ${formatValue(v)}`);
    if (pairs.length === 0) {
      if (n.elseList) this.run(n.elseList, dot, [...scope, new Map()], out);
      return;
    }
    for (const [k, val] of pairs) {
      const s: Scope = [...scope, new Map()];
      if (decl.length === 1) s[s.length - 1].set(decl[0], val);
      else if (decl.length === 2) {
        s[s.length - 1].set(decl[0], k);
        s[s.length - 1].set(decl[1], val);
      }
      try {
        this.run(n.list, val, s, out);
      } catch (err) {
        if (err instanceof BreakSignal) break;
        if (err instanceof ContinueSignal) continue;
        throw err;
      }
    }
  }

  private pipeText(p: Pipeline): string {
    return p.cmds.map((c) => c.args.map((a) => a.text).join(' ')).join(' | ');
  }

  private lookupVar(scope: Scope, name: string, pos: number): GoValue {
    for (let i = scope.length - 1; i >= 0; i--) if (scope[i].has(name)) return scope[i].get(name)!;
    this.fail(pos, name, `undefined variable: ${name}`);
  }

  private pipeline(p: Pipeline, dot: GoValue, scope: Scope): GoValue {
    let value: GoValue = NO_VALUE;
    let first = true;
    for (const cmd of p.cmds) {
      value = this.command(cmd, dot, scope, first ? undefined : value);
      first = false;
    }
    if (p.decl.length === 1) {
      const name = p.decl[0];
      if (p.assign) {
        let found = false;
        for (let i = scope.length - 1; i >= 0; i--) {
          if (scope[i].has(name)) {
            scope[i].set(name, value);
            found = true;
            break;
          }
        }
        if (!found) this.fail(p.pos, name, `undefined variable: ${name}`);
      } else scope[scope.length - 1].set(name, value);
    }
    return value;
  }

  private command(cmd: Command, dot: GoValue, scope: Scope, piped: GoValue | undefined): GoValue {
    const [head, ...rest] = cmd.args;
    if (head.t === 'fn') {
      const args = rest.map((a) => () => this.arg(a, dot, scope));
      if (piped !== undefined) args.push(() => piped);
      try {
        return callFunction(head.name, args);
      } catch (err) {
        if (err instanceof TemplateError) throw err;
        this.fail(head.pos, head.text, `error calling ${head.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (rest.length > 0) this.fail(rest[0].pos, head.text, `can't give argument to non-function ${head.text}`);
    if (piped !== undefined) this.fail(cmd.pos, head.text, `can't give argument to non-function ${head.text}`);
    return this.arg(head, dot, scope);
  }

  private arg(a: Arg, dot: GoValue, scope: Scope): GoValue {
    switch (a.t) {
      case 'lit':
        return a.value;
      case 'dot':
        return dot;
      case 'field':
        return this.chain(dot, a.chain, a);
      case 'var':
        return this.chain(this.lookupVar(scope, a.name, a.pos), a.chain, a);
      case 'sub':
        return this.chain(this.pipeline(a.pipe, dot, scope), a.chain, a);
      case 'fn':
        return callFunction(a.name, []);
    }
  }

  private chain(v: GoValue, chain: string[], a: Arg): GoValue {
    let cur = v;
    for (const f of chain) {
      if (cur instanceof GoStruct) {
        if (f in cur.fields) cur = cur.fields[f];
        else if (cur.methods && f in cur.methods) cur = cur.methods[f]();
        else this.fail(a.pos, a.text, `can't evaluate field ${f} in type ${cur.type}`);
      } else if (cur instanceof GoMap && cur.stringKeys) {
        cur = cur.get(f);
      } else if (cur === null || cur === NO_VALUE) {
        this.fail(a.pos, a.text, `nil pointer evaluating ${indirectTypeName(cur)}.${f}`);
      } else {
        this.fail(a.pos, a.text, `can't evaluate field ${f} in type ${indirectTypeName(cur)}`);
      }
    }
    return cur;
  }
}

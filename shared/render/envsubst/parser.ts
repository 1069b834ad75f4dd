/**
 * The envsubst parser: a port of github.com/fluxcd/pkg/envsubst parse/parse.go. It turns a
 * template into text nodes and function nodes (`${param<name>args...}`), failing with the
 * engine's own messages.
 */
import { COLON, COMMA, CARET, EQUAL, HASH, MINUS, PERCENT, PLUS, QUESTION, RBRACE, SLASH } from './chars.js';
import {
  ESC_ALL,
  ESC_DOLLAR,
  SCAN_ESCAPE,
  SCAN_IDENT,
  SCAN_LBRACK,
  SCAN_RBRACK,
  Tok,
  acceptColon,
  acceptCasingFunc,
  acceptDefaultFunc,
  acceptHashFunc,
  acceptIdent,
  acceptNotClosing,
  acceptNotSlash,
  acceptOneColon,
  acceptOneEqual,
  acceptOneHash,
  acceptPercentFunc,
  acceptReplaceFunc,
  acceptRune,
  acceptSlash,
  rejectColonClose,
  type Accept,
  type Scanner,
} from './scanner.js';

/** A parsed template piece. */
export type Node = TextNode | FuncNode;
/** Literal text. */
export interface TextNode {
  kind: 'text';
  value: string;
}
/** `${param}` with an operator `name` ('' for none) and its arguments. */
export interface FuncNode {
  kind: 'func';
  param: string;
  name: string;
  args: Node[];
}

/** The engine's parse error messages. */
export const ERR_BAD_SUBSTITUTION = 'bad substitution';
/** See ERR_BAD_SUBSTITUTION. */
export const ERR_MISSING_CLOSING_BRACE = 'missing closing brace';
/** See ERR_BAD_SUBSTITUTION. */
export const ERR_PARSE_VARIABLE_NAME = 'unable to parse variable name';
/** See ERR_BAD_SUBSTITUTION. */
export const ERR_PARSE_FUNC_SUBSTITUTION = 'unable to parse substitution within function';
/** See ERR_BAD_SUBSTITUTION. */
export const ERR_PARSE_DEFAULT_FUNCTION = 'unable to parse default function';

/** A malformed expression; the message is the engine's. */
export class ParseFailure extends Error {}

const text = (value: string): TextNode => ({ kind: 'text', value });

/** Parses a whole template from a Scanner. */
export class Parser {
  private readonly s: Scanner;
  /** Logical position of the `${` that opened the current top-level expression. */
  exprStart = -1;

  constructor(s: Scanner) {
    this.s = s;
  }

  /** `parseAny`, iteratively (the Go version recurses once per token). */
  parse(): Node[] {
    const nodes: Node[] = [];
    for (;;) {
      this.s.accept = acceptRune;
      this.s.mode = SCAN_IDENT | SCAN_LBRACK | SCAN_ESCAPE;
      this.s.escapeChars = ESC_DOLLAR;
      switch (this.s.scan()) {
        case Tok.Ident:
          nodes.push(text(this.s.string()));
          break;
        case Tok.EOF:
          return nodes;
        case Tok.Lbrack:
          this.exprStart = this.s.start;
          nodes.push(this.parseFunc());
          break;
        default:
          throw new ParseFailure(ERR_BAD_SUBSTITUTION);
      }
    }
  }

  private parseFunc(): Node {
    const s = this.s;
    s.escapeChars = ESC_ALL;
    if (s.peek() === HASH) return this.parseLenFunc();

    s.accept = acceptIdent;
    s.mode = SCAN_IDENT;
    if (s.scan() !== Tok.Ident) throw new ParseFailure(ERR_PARSE_VARIABLE_NAME);
    const name = s.string();

    switch (s.peek()) {
      case COLON:
        return this.parseDefaultOrSubstr(name);
      case EQUAL:
        return this.parseDefaultFunc(name);
      case COMMA:
      case CARET:
        return this.parseCasingFunc(name);
      case SLASH:
        return this.parseReplaceFunc(name);
      case HASH:
        return this.parseRemoveFunc(name, acceptHashFunc);
      case PERCENT:
        return this.parseRemoveFunc(name, acceptPercentFunc);
    }

    s.accept = acceptIdent;
    s.mode = SCAN_RBRACK;
    if (s.scan() === Tok.Rbrack) return { kind: 'func', param: name, name: '', args: [] };
    throw new ParseFailure(ERR_MISSING_CLOSING_BRACE);
  }

  private parseParam(accept: Accept, mode: number): Node {
    const s = this.s;
    s.accept = accept;
    s.mode = mode | SCAN_LBRACK;
    switch (s.scan()) {
      case Tok.Lbrack:
        return this.parseFunc();
      case Tok.Ident:
      case Tok.Rbrack:
        return text(s.string());
      default:
        throw new ParseFailure(ERR_PARSE_FUNC_SUBSTITUTION);
    }
  }

  private parseDefaultOrSubstr(name: string): Node {
    const s = this.s;
    s.read();
    const r = s.peek();
    s.unread();
    if (r === EQUAL || r === MINUS || r === QUESTION || r === PLUS) return this.parseDefaultFunc(name);
    return this.parseSubstrFunc(name);
  }

  private newFunc(param: string, accept: Accept, err: string): FuncNode {
    const s = this.s;
    s.accept = accept;
    s.mode = SCAN_IDENT;
    if (s.scan() !== Tok.Ident) throw new ParseFailure(err);
    return { kind: 'func', param, name: s.string(), args: [] };
  }

  private parseSubstrFunc(name: string): Node {
    const s = this.s;
    const node = this.newFunc(name, acceptOneColon, ERR_BAD_SUBSTITUTION);
    node.args.push(this.parseParam(rejectColonClose, SCAN_IDENT));
    s.accept = acceptColon;
    s.mode = SCAN_IDENT | SCAN_RBRACK;
    switch (s.scan()) {
      case Tok.Rbrack:
        return node;
      case Tok.Ident:
        break;
      default:
        throw new ParseFailure(ERR_BAD_SUBSTITUTION);
    }
    node.args.push(this.parseParam(acceptNotClosing, SCAN_IDENT));
    this.consumeRbrack();
    return node;
  }

  private parseRemoveFunc(name: string, accept: Accept): Node {
    const node = this.newFunc(name, accept, ERR_BAD_SUBSTITUTION);
    node.args.push(this.parseParam(acceptNotClosing, SCAN_IDENT));
    this.consumeRbrack();
    return node;
  }

  private parseReplaceFunc(name: string): Node {
    const s = this.s;
    const node = this.newFunc(name, acceptReplaceFunc, ERR_BAD_SUBSTITUTION);
    // An empty pattern (${v/#/x}) is recorded as "" so evaluation still sees two arguments.
    if (s.peek() === SLASH) node.args.push(text(''));
    else node.args.push(this.parseParam(acceptNotSlash, SCAN_IDENT | SCAN_ESCAPE));

    s.accept = acceptSlash;
    s.mode = SCAN_IDENT;
    if (s.scan() !== Tok.Ident) throw new ParseFailure(ERR_BAD_SUBSTITUTION);

    if (s.peek() === RBRACE) {
      this.consumeRbrack();
      return node;
    }
    node.args.push(this.parseParam(acceptNotClosing, SCAN_IDENT | SCAN_ESCAPE));
    this.consumeRbrack();
    return node;
  }

  private parseDefaultFunc(name: string): Node {
    const s = this.s;
    const node = this.newFunc(
      name,
      s.peek() === EQUAL ? acceptOneEqual : acceptDefaultFunc,
      ERR_PARSE_DEFAULT_FUNCTION,
    );
    for (;;) {
      if (s.peek() === RBRACE) {
        this.consumeRbrack();
        return node;
      }
      node.args.push(this.parseParam(acceptNotClosing, SCAN_IDENT));
    }
  }

  private parseCasingFunc(name: string): Node {
    const node = this.newFunc(name, acceptCasingFunc, ERR_BAD_SUBSTITUTION);
    this.consumeRbrack();
    return node;
  }

  private parseLenFunc(): Node {
    const s = this.s;
    s.accept = acceptOneHash;
    s.mode = SCAN_IDENT;
    if (s.scan() !== Tok.Ident) throw new ParseFailure(ERR_BAD_SUBSTITUTION);
    const fname = s.string();
    s.accept = acceptIdent;
    s.mode = SCAN_IDENT;
    if (s.scan() !== Tok.Ident) throw new ParseFailure(ERR_BAD_SUBSTITUTION);
    const node: FuncNode = { kind: 'func', param: s.string(), name: fname, args: [] };
    this.consumeRbrack();
    return node;
  }

  private consumeRbrack(): void {
    this.s.mode = SCAN_RBRACK;
    if (this.s.scan() !== Tok.Rbrack) throw new ParseFailure(ERR_BAD_SUBSTITUTION);
  }
}

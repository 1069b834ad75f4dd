/** Byte values the envsubst scanner, parser and pattern matcher compare against. */

/** End of text: Go's scanner uses rune 0 as EOF, so a NUL character also ends the text. */
export const EOF = 0;
/** `$` */
export const DOLLAR = 0x24;
/** `{` */
export const LBRACE = 0x7b;
/** `}` */
export const RBRACE = 0x7d;
/** `\` */
export const BACKSLASH = 0x5c;
/** `/` */
export const SLASH = 0x2f;
/** `:` */
export const COLON = 0x3a;
/** `#` */
export const HASH = 0x23;
/** `%` */
export const PERCENT = 0x25;
/** `=` */
export const EQUAL = 0x3d;
/** `-` */
export const MINUS = 0x2d;
/** `?` */
export const QUESTION = 0x3f;
/** `+` */
export const PLUS = 0x2b;
/** `,` */
export const COMMA = 0x2c;
/** `^` */
export const CARET = 0x5e;
/** `_` */
export const UNDERSCORE = 0x5f;
/** `*` */
export const STAR = 0x2a;
/** `[` */
export const LBRACKET = 0x5b;
/** `]` */
export const RBRACKET = 0x5d;

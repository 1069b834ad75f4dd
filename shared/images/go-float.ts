/**
 * Go's `strconv.ParseFloat(s, 64)`, which the `numerical` ImagePolicy uses to read tags:
 * decimal and hexadecimal floating-point literals (Go syntax, `_` between digits), `inf`,
 * `infinity` and `nan` in any case (the infinities with an optional sign). A value that
 * overflows a float64 is an error in Go (ErrRange), so it is refused here too.
 */

const DECIMAL = /^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/;
const HEX = /^([+-]?)0[xX](?:_?([0-9a-fA-F](?:_?[0-9a-fA-F])*)?(?:\.([0-9a-fA-F](?:_?[0-9a-fA-F])*)?)?)[pP]([+-]?\d(?:_?\d)*)$/;
const SPECIAL = /^([+-]?)(inf|infinity)$/i;

/** The float64 Go's ParseFloat would return for `s`, or undefined where Go returns an error. */
export function parseGoFloat(s: string): number | undefined {
  const special = SPECIAL.exec(s);
  if (special) return special[1] === '-' ? -Infinity : Infinity;
  if (/^nan$/i.test(s)) return NaN;
  if (DECIMAL.test(s)) {
    const v = Number(s.replaceAll('_', ''));
    return Number.isFinite(v) ? v : undefined;
  }
  const hex = HEX.exec(s);
  if (hex) {
    const int = (hex[2] ?? '').replaceAll('_', '');
    const frac = (hex[3] ?? '').replaceAll('_', '');
    if (!int && !frac) return undefined;
    let mantissa = 0;
    for (const d of int + frac) mantissa = mantissa * 16 + parseInt(d, 16);
    const exp = Number(hex[4].replaceAll('_', '')) - 4 * frac.length;
    const v = mantissa * 2 ** exp;
    if (!Number.isFinite(v)) return undefined;
    return hex[1] === '-' ? -v : v;
  }
  return undefined;
}

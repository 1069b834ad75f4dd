/**
 * Trimming runs of characters in linear time.
 *
 * A regex such as `/\/+$/` is quadratic in V8 on a long run that is not at the end of the
 * string (`"a" + "/".repeat(20000) + "a"` takes seconds), and several of these strings come
 * from webhook bodies or Git. These loops do the same work in one pass.
 */

/** `s` without the trailing characters that appear in `chars` (`trimEnd(url, '/')`). */
export function trimEnd(s: string, chars: string): string {
  let end = s.length;
  while (end > 0 && chars.includes(s[end - 1]!)) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** `s` without the leading characters that appear in `chars`. */
export function trimStart(s: string, chars: string): string {
  let start = 0;
  while (start < s.length && chars.includes(s[start]!)) start++;
  return start === 0 ? s : s.slice(start);
}

/** `s` without the leading and trailing characters that appear in `chars`. */
export function trimBoth(s: string, chars: string): string {
  return trimStart(trimEnd(s, chars), chars);
}

/** How many characters at the end of `s` appear in `chars`. */
export function countTrailing(s: string, chars: string): number {
  return s.length - trimEnd(s, chars).length;
}

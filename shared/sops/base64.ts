/** Base64 decoding as strict as Go's `base64.StdEncoding` (padding required; CR/LF ignored). */

const STD = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decodes standard base64 the way Go does, or returns undefined for text Go would reject. */
export function decodeStdBase64(text: string): Buffer | undefined {
  const s = text.includes('\n') || text.includes('\r') ? text.replace(/[\r\n]/g, '') : text;
  if (s.length % 4 !== 0 || !STD.test(s)) return undefined;
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  if (s.slice(0, s.length - pad).includes('=')) return undefined;
  return Buffer.from(s, 'base64');
}

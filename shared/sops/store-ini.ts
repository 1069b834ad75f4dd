/**
 * The INI store (getsops/sops `stores/ini`, reading and writing with go-ini v1 options
 * `AllowNonUniqueSections`): every section is a branch item (the implicit `DEFAULT` section
 * first), keys are strings, `=` or `:` separates key and value, `#`/`;` start comments (also
 * inline), and a repeated key in a section replaces the earlier value in place.
 */
import { SopsError } from './errors.js';
import { valueToText } from './store-dotenv.js';
import { Branch, Comment, type TreeItem, type TreeValue } from './types.js';

const DEFAULT_SECTION = 'DEFAULT';

interface IniKey {
  name: string;
  value: string;
  comment: string;
}

interface IniSection {
  name: string;
  comment: string;
  keys: IniKey[];
}

function fail(line: number, msg: string): SopsError {
  return new SopsError('SopsFormatInvalid', `Could not unmarshal input data: line ${line}: ${msg}`);
}

function hasSurroundedQuote(s: string, q: string): boolean {
  return s.length >= 2 && s[0] === q && s[s.length - 1] === q && s.indexOf(q, 1) === s.length - 1;
}

function stripCommentChar(comment: string): string {
  if (comment.startsWith(';')) return comment.replace(/^[; ]+/, '');
  if (comment.startsWith('#')) return comment.replace(/^[# ]+/, '');
  return comment;
}

/** Parses INI text as go-ini does with sops's options. Error messages carry line numbers only. */
function parseIni(text: string): IniSection[] {
  let src = text;
  if (src.charCodeAt(0) === 0xfeff) src = src.slice(1);
  const lines = src.split('\n');
  const sections: IniSection[] = [{ name: DEFAULT_SECTION, comment: '', keys: [] }];
  let section = sections[0];
  let comment = '';
  let autoCount = 1;
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i] + (i < lines.length - 1 ? '\n' : '');
    const line = raw.replace(/^\s+/, '');
    if (line.length === 0) continue;
    if (line[0] === '#' || line[0] === ';') {
      comment += line;
      continue;
    }
    if (line[0] === '[') {
      const close = line.lastIndexOf(']');
      if (close === -1) throw fail(lineNo, 'unclosed section');
      const name = line.slice(1, close);
      if (name.length === 0) throw fail(lineNo, 'empty section name');
      section = { name, comment: '', keys: [] };
      sections.push(section);
      const rest = line.slice(close + 1);
      const ci = rest.search(/[#;]/);
      if (ci !== -1) comment += rest.slice(ci);
      section.comment = comment.trim();
      comment = '';
      autoCount = 1;
      continue;
    }
    // Key name.
    let kname: string;
    let offset: number;
    let keyQuote = '';
    if (line[0] === '"') keyQuote = line.length > 6 && line.startsWith('"""') ? '"""' : '"';
    else if (line[0] === '`') keyQuote = '`';
    if (keyQuote) {
      const start = keyQuote.length;
      let pos = line.indexOf(keyQuote, start);
      if (pos === -1) throw fail(lineNo, 'missing closing key quote');
      const d = line.slice(pos + start).search(/[=:]/);
      if (d < 0) throw fail(lineNo, 'key-value delimiter not found');
      kname = line.slice(start, pos).trim();
      pos += d;
      offset = pos + start + 1;
    } else {
      const end = line.search(/[=:]/);
      if (end < 0) throw fail(lineNo, 'key-value delimiter not found');
      if (end === 0) throw fail(lineNo, 'empty key name');
      kname = line.slice(0, end).trim();
      offset = end + 1;
    }
    if (kname === '-') kname = `#${autoCount++}`;
    // Value.
    let value: string;
    let v = line.slice(offset).replace(/^\s+/, '');
    if (v.length === 0) value = '';
    else {
      let valQuote = '';
      if (v.length > 3 && v.startsWith('"""')) valQuote = '"""';
      else if (v[0] === '`') valQuote = '`';
      if (valQuote) {
        const start = valQuote.length;
        const pos = v.slice(start).lastIndexOf(valQuote);
        if (pos === -1) {
          // Multi-line value: read until a line containing the closing quote.
          let acc = v.slice(start);
          for (;;) {
            i++;
            if (i >= lines.length) throw fail(lineNo, 'missing closing key quote');
            const next = lines[i] + (i < lines.length - 1 ? '\n' : '');
            const p = next.lastIndexOf(valQuote);
            if (p > -1) {
              acc += next.slice(0, p);
              const after = next.slice(p);
              const ci = after.search(/[#;]/);
              if (ci !== -1) comment += after.slice(ci).trim();
              break;
            }
            acc += next;
          }
          value = acc;
        } else {
          value = v.slice(start, start + pos);
        }
      } else {
        v = v.trim();
        if (v.endsWith('\\')) {
          // Continuation lines.
          let acc = v.slice(0, -1);
          for (;;) {
            i++;
            if (i >= lines.length) break;
            const next = lines[i].trim();
            if (next.length === 0) break;
            acc += next;
            if (!acc.endsWith('\\')) break;
            acc = acc.slice(0, -1);
          }
          value = acc;
        } else {
          const ci = v.search(/[#;]/);
          if (ci > -1) {
            comment += v.slice(ci);
            v = v.slice(0, ci).trim();
          }
          if (hasSurroundedQuote(v, "'") || hasSurroundedQuote(v, '"')) v = v.slice(1, -1);
          value = v;
        }
      }
    }
    if (kname.length === 0) throw fail(lineNo, 'error creating new key: empty key name');
    let key = section.keys.find((k) => k.name === kname);
    if (key) key.value = value;
    else section.keys.push((key = { name: kname, value, comment: '' }));
    key.comment = comment.trim();
    comment = '';
  }
  return sections;
}

/** Parses an INI file into one branch: a section per item, as sops's INI store loads it. */
export function parseIniBranch(bytes: Uint8Array): Branch {
  const sections = parseIni(Buffer.from(bytes).toString('utf8'));
  return new Branch(sections.map((s): TreeItem => {
    const items: TreeItem[] = [];
    if (s.comment !== '') items.push({ key: new Comment(stripCommentChar(s.comment)), value: null });
    for (const k of s.keys) {
      items.push({ key: k.name, value: k.value });
      if (k.comment !== '') items.push({ key: new Comment(stripCommentChar(k.comment)), value: null });
    }
    return { key: s.name, value: new Branch(items) };
  }));
}

function commentLines(comment: string, trimAll: boolean): string {
  return comment.split('\n').map((l) => {
    if (l === '') return '; ';
    if (l[0] !== '#' && l[0] !== ';') return '; ' + (trimAll ? l.trim() : l);
    return l[0] + ' ' + l.slice(1).trim();
  }).join('\n') + '\n';
}

/** Writes sections as go-ini's WriteTo does (aligned `=`, a blank line between sections). */
export function emitIniBranches(branches: readonly Branch[]): Buffer {
  const sections: IniSection[] = [];
  for (const branch of branches) {
    for (const item of branch.items) {
      if (item.key instanceof Comment) continue;
      if (!(item.value instanceof Branch)) {
        throw new SopsError('SopsFormatInvalid', 'Error marshaling to INI: Section values should always be TreeBranches');
      }
      const sec: IniSection = { name: item.key, comment: '', keys: [] };
      const entries = item.value.items;
      let first = 0;
      if (entries.length > 0 && entries[0].key instanceof Comment) {
        sec.comment = entries[0].key.value;
        first = 1;
      }
      let last: IniKey | undefined;
      for (let i = first; i < entries.length; i++) {
        const e = entries[i];
        if (e.key instanceof Comment) {
          if (last) last.comment = e.key.value;
          continue;
        }
        const text = valueToText(e.value as TreeValue);
        const existing = sec.keys.find((k) => k.name === e.key);
        if (existing) { existing.value = text; last = existing; }
        else { last = { name: e.key, value: text, comment: '' }; sec.keys.push(last); }
      }
      sections.push(sec);
    }
  }
  let out = '';
  sections.forEach((sec, i) => {
    if (sec.comment.length > 0) out += commentLines(sec.comment, false);
    if (i > 0 || sec.name.toUpperCase() !== DEFAULT_SECTION) out += `[${sec.name}]\n`;
    else if (sec.keys.length === 0) return;
    const names = sec.keys.map((k) => (k.name.includes('"') || /[=:]/.test(k.name) ? '`' + k.name + '`' : k.name.includes('`') ? '"""' + k.name + '"""' : k.name));
    const align = Math.max(0, ...names.map((n) => n.length));
    sec.keys.forEach((k, j) => {
      if (k.comment.length > 0) out += commentLines(k.comment, true);
      let val = k.value;
      if (/[\n`]/.test(val)) val = '"""' + val + '"""';
      else if (/[#;]/.test(val)) val = '`' + val + '`';
      else if (val.trim().length !== val.length) val = '"' + val + '"';
      out += names[j] + ' '.repeat(align - names[j].length) + ' = ' + val + '\n';
    });
    if (i < sections.length - 1) out += '\n';
  });
  return Buffer.from(out, 'utf8');
}

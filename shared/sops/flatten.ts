/**
 * Flattened metadata of the dotenv and INI stores (getsops/sops `stores/flatten.go`):
 * `age__list_0__map_enc` is `age[0].enc`. Only unflattening is needed to read files.
 */
import { Branch, Comment, type TreeItem, type TreeValue } from './types.js';

const MAP_SEP = '__map_';
const LIST_SEP = '__list_';

type Token = { map: string } | { list: number };

function tokenize(path: string): Token[] {
  const tokens: Token[] = [];
  let state: 'normal' | 'map' | 'list' = 'normal';
  let lastEnd = 0;
  let i = 0;
  const finish = () => {
    if (state === 'normal') tokens.push({ map: path.slice(lastEnd, i) });
    else if (state === 'map') tokens.push({ map: path.slice(lastEnd + MAP_SEP.length, i) });
    else {
      const n = Number.parseInt(path.slice(lastEnd + LIST_SEP.length, i), 10);
      tokens.push({ list: Number.isNaN(n) ? 0 : n });
    }
    lastEnd = i;
  };
  while (i < path.length) {
    if (path.startsWith(MAP_SEP, i)) {
      finish();
      state = 'map';
      i += MAP_SEP.length;
    } else if (path.startsWith(LIST_SEP, i)) {
      finish();
      state = 'list';
      i += LIST_SEP.length;
    } else {
      i++;
    }
  }
  finish();
  return tokens;
}

interface Node {
  value?: { v: TreeValue };
  subkeys?: Map<string, Node>;
  indices?: Map<number, Node>;
}

function convert(node: Node): TreeValue {
  const kinds = Number(node.value !== undefined) + Number((node.subkeys?.size ?? 0) > 0) + Number((node.indices?.size ?? 0) > 0);
  if (kinds > 1) throw new Error('Type mismatch');
  if (node.value) return node.value.v;
  if (node.subkeys && node.subkeys.size > 0) {
    const keys = [...node.subkeys.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return new Branch(keys.map((k) => ({ key: k, value: convert(node.subkeys!.get(k)!) })));
  }
  if (node.indices && node.indices.size > 0) {
    const idx = [...node.indices.keys()];
    const max = Math.max(...idx);
    if (Math.min(...idx) !== 0 || max + 1 !== idx.length) throw new Error('Incomplete list');
    const out: TreeValue[] = [];
    for (let i = 0; i <= max; i++) out.push(convert(node.indices.get(i)!));
    return out;
  }
  return new Branch([]);
}

/** sops `unflattenTreeBranch`; throws on collisions, type mismatches and incomplete lists. */
export function unflattenBranch(items: readonly TreeItem[]): Branch {
  const root: Node = {};
  for (const item of items) {
    if (item.key instanceof Comment) continue;
    let node = root;
    for (const t of tokenize(item.key)) {
      let next: Node | undefined;
      if ('map' in t) {
        node.subkeys ??= new Map();
        next = node.subkeys.get(t.map);
        if (!next) node.subkeys.set(t.map, (next = {}));
      } else {
        node.indices ??= new Map();
        next = node.indices.get(t.list);
        if (!next) node.indices.set(t.list, (next = {}));
      }
      node = next;
    }
    if (node.value) throw new Error(`Error while unflattening "${item.key}": Duplicate value`);
    node.value = { v: item.value };
  }
  const out = convert(root);
  if (!(out instanceof Branch)) throw new Error('Internal error: cannot find root');
  return out;
}

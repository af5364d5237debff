// GoogleSQL lexical structure: https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical
import { invalidQuery } from '../api-error.js';

export type TokenKind =
  | 'ident' // unquoted identifier or keyword
  | 'quoted' // `backquoted` identifier
  | 'string' // string literal (value decoded)
  | 'bytes' // bytes literal (value: one char per byte, 0-255)
  | 'number'
  | 'param' // @name (value: name)
  | 'sysvar' // @@name
  | 'positional' // ?
  | 'op'; // punctuation and operators

export interface Token {
  kind: TokenKind;
  /** Decoded value: identifier name, string contents, operator text, number text. */
  value: string;
  line: number;
  column: number;
  /** Character offsets in the query, for adjacency checks (e.g. `my-project`). */
  start: number;
  end: number;
}

/** A token, or a parenthesized / bracketed group of nodes. */
export type Node = Token | Group;

export interface Group {
  kind: 'group';
  open: '(' | '[';
  children: Node[];
  line: number;
  column: number;
  start: number;
  end: number;
}

// The predicates narrow to intersections that a plain Token / Group is not assignable to, so a false
// result (wrong spelling, other bracket) does not rule the whole type out.
export const isGroup = <O extends '(' | '['>(n: Node | undefined, open?: O): n is Group & { open: O } =>
  n !== undefined && n.kind === 'group' && (open === undefined || n.open === open);

export const isOp = (n: Node | undefined, value?: string): n is Token & { kind: 'op' } =>
  n !== undefined && n.kind === 'op' && (value === undefined || n.value === value);

/** An unquoted identifier with this (case-insensitive) keyword spelling. */
export const isWord = (n: Node | undefined, ...words: string[]): n is Token & { kind: 'ident' } =>
  n !== undefined && n.kind === 'ident' && (words.length === 0 || words.includes(n.value.toUpperCase()));

export const position = (n: { line: number; column: number }): string => `[${n.line}:${n.column}]`;

const THREE_CHAR_OPS = ['>>=', '<<='];
const TWO_CHAR_OPS = ['<=', '>=', '<>', '!=', '||', '<<', '>>', '=>', '->'];
const ONE_CHAR_OPS = '()[]{},.;+-*/%=<>&|^~:';

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '?': '?',
  '"': '"',
  "'": "'",
  '`': '`',
};

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const here = (): { line: number; column: number } => ({ line, column: i - lineStart + 1 });
  const advance = (to: number): void => {
    for (let k = i; k < to; k++) {
      if (sql[k] === '\n') {
        line++;
        lineStart = k + 1;
      }
    }
    i = to;
  };
  const syntax = (message: string, at = here()): never => {
    throw invalidQuery(`Syntax error: ${message} at ${position(at)}`);
  };

  while (i < sql.length) {
    const c = sql[i] ?? '';
    const next = sql[i + 1] ?? '';
    if (/\s/.test(c)) {
      advance(i + 1);
      continue;
    }
    if (c === '#' || (c === '-' && next === '-')) {
      const nl = sql.indexOf('\n', i);
      advance(nl < 0 ? sql.length : nl);
      continue;
    }
    if (c === '/' && next === '*') {
      const endComment = sql.indexOf('*/', i + 2);
      if (endComment < 0) syntax('Unclosed comment');
      advance(endComment + 2);
      continue;
    }
    const at = here();
    const start = i;
    const push = (kind: TokenKind, value: string, end: number): void => {
      tokens.push({ kind, value, ...at, start, end });
      advance(end);
    };

    // String and bytes literals, with optional r/b prefixes in either order.
    const prefix = /^(?:[rR][bB]?|[bB][rR]?)?(?=['"])/.exec(sql.slice(i, i + 3));
    if (prefix !== null && (prefix[0] !== '' || c === "'" || c === '"')) {
      const flags = prefix[0].toLowerCase();
      const raw = flags.includes('r');
      const bytes = flags.includes('b');
      const q = sql[i + flags.length] ?? '';
      const triple = sql.startsWith(q.repeat(3), i + flags.length);
      const delimiter = triple ? q.repeat(3) : q;
      let k = i + flags.length + delimiter.length;
      let value = '';
      for (;;) {
        if (k >= sql.length || (!triple && sql[k] === '\n'))
          syntax(triple ? 'Unclosed triple-quoted string literal' : 'Unclosed string literal', at);
        if (sql.startsWith(delimiter, k)) break;
        const ch = sql[k] ?? '';
        if (ch === '\\') {
          const esc = sql[k + 1] ?? '';
          if (raw) {
            value += ch + esc;
            k += 2;
            continue;
          }
          const decoded = decodeEscape(sql, k, bytes);
          if (decoded === undefined) return syntax(`Illegal escape sequence: \\${esc}`, at);
          value += decoded.text;
          k = decoded.next;
          continue;
        }
        value += bytes ? Buffer.from(ch, 'utf8').toString('latin1') : ch;
        k++;
      }
      push(bytes ? 'bytes' : 'string', value, k + delimiter.length);
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i)) as RegExpExecArray;
      push('ident', m[0], i + m[0].length);
      continue;
    }
    if (c === '`') {
      let k = i + 1;
      let value = '';
      while (sql[k] !== '`') {
        if (k >= sql.length || sql[k] === '\n') syntax('Unclosed identifier literal', at);
        if (sql[k] === '\\') {
          const decoded = decodeEscape(sql, k, false);
          if (decoded === undefined) return syntax(`Illegal escape sequence: \\${sql[k + 1] ?? ''}`, at);
          value += decoded.text;
          k = decoded.next;
        } else {
          value += sql[k];
          k++;
        }
      }
      if (value === '') syntax('Invalid empty identifier', at);
      push('quoted', value, k + 1);
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(next))) {
      const hex = /^0[xX][0-9A-Fa-f]+/.exec(sql.slice(i));
      const text = (hex ?? /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(sql.slice(i)))?.[0] ?? c;
      push('number', text, i + text.length);
      continue;
    }
    if (c === '@') {
      const m = /^@(@?)([A-Za-z_][A-Za-z0-9_]*|`[^`]+`)/.exec(sql.slice(i));
      if (m === null) return syntax('Unexpected "@"');
      const [whole, second, name] = m as unknown as [string, string, string];
      push(second === '@' ? 'sysvar' : 'param', name.replace(/^`|`$/g, ''), i + whole.length);
      continue;
    }
    if (c === '?') {
      push('positional', '?', i + 1);
      continue;
    }
    const op =
      THREE_CHAR_OPS.find((o) => sql.startsWith(o, i)) ??
      TWO_CHAR_OPS.find((o) => sql.startsWith(o, i)) ??
      (ONE_CHAR_OPS.includes(c) ? c : undefined);
    if (op === undefined) syntax(`Illegal input character "${c}"`);
    push('op', op as string, i + (op as string).length);
  }
  return tokens;
}

function decodeEscape(sql: string, k: number, bytes: boolean): { text: string; next: number } | undefined {
  const esc = sql[k + 1] ?? '';
  const simple = SIMPLE_ESCAPES[esc];
  if (simple !== undefined) return { text: simple, next: k + 2 };
  if (/[0-7]/.test(esc)) {
    const digits = sql.slice(k + 1, k + 4);
    if (!/^[0-7]{3}$/.test(digits)) return undefined;
    return { text: String.fromCharCode(parseInt(digits, 8)), next: k + 4 };
  }
  if (esc === 'x' || esc === 'X') {
    const digits = sql.slice(k + 2, k + 4);
    if (!/^[0-9A-Fa-f]{2}$/.test(digits)) return undefined;
    return { text: String.fromCharCode(parseInt(digits, 16)), next: k + 4 };
  }
  if ((esc === 'u' || esc === 'U') && !bytes) {
    const n = esc === 'u' ? 4 : 8;
    const digits = sql.slice(k + 2, k + 2 + n);
    if (!new RegExp(`^[0-9A-Fa-f]{${n}}$`).test(digits)) return undefined;
    return { text: String.fromCodePoint(parseInt(digits, 16)), next: k + 2 + n };
  }
  return undefined;
}

/** Nests tokens into ( ) and [ ] groups; unbalanced brackets are syntax errors. */
export function buildTree(tokens: readonly Token[], endPosition: { line: number; column: number }): Node[] {
  const root: Node[] = [];
  const stack: { group: Group; close: string }[] = [];
  let current = root;
  for (const t of tokens) {
    if (t.kind === 'op' && (t.value === '(' || t.value === '[')) {
      const group: Group = {
        kind: 'group',
        open: t.value,
        children: [],
        line: t.line,
        column: t.column,
        start: t.start,
        end: t.end,
      };
      current.push(group);
      stack.push({ group, close: t.value === '(' ? ')' : ']' });
      current = group.children;
      continue;
    }
    if (t.kind === 'op' && (t.value === ')' || t.value === ']')) {
      const top = stack.pop();
      if (top === undefined || top.close !== t.value)
        throw invalidQuery(`Syntax error: Unexpected "${t.value}" at ${position(t)}`);
      top.group.end = t.end;
      current = stack.length > 0 ? (stack[stack.length - 1] as { group: Group }).group.children : root;
      continue;
    }
    current.push(t);
  }
  if (stack.length > 0) {
    throw invalidQuery(`Syntax error: Unexpected end of script at ${position(endPosition)}`);
  }
  return root;
}

/** Where the script ends, for "Unexpected end of script" errors. */
export function endOf(sql: string): { line: number; column: number } {
  const trimmed = sql.replace(/\s+$/, '');
  const lines = trimmed.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1] ?? '').length + 1 };
}

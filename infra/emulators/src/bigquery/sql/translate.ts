// GoogleSQL → DuckDB SQL by rewriting a token tree, not by a full parser: DuckDB's dialect is close
// enough that clauses, operators and most functions pass through, and only names (tables, CTEs,
// pseudo-columns), literals, parameters, and functions whose syntax or meaning differ are rewritten.
import { invalidQuery } from '../api-error.js';
import { quoteIdent, quoteString, type FieldSchema } from '../schema.js';
import { DATE_PART_WORDS, extractSql, FUNCTIONS, intervalSql, type Call } from './functions.js';
import { jsonObjectSql, jsonValueSql } from './json-string.js';
import { fieldOf } from './result-schema.js';
import { normalizeTimestampText, parseParameters, type Parameters } from './parameters.js';
import {
  buildTree,
  endOf,
  isGroup,
  isOp,
  isWord,
  position,
  tokenize,
  type Group,
  type Node,
  type Token,
} from './tokenizer.js';
import { duckScalarTypeOf, duckTypeOf, type SqlType } from './type-names.js';
import type { QueryContext, TableRef } from './types.js';

/** Result columns the query left unnamed; execute.ts renames them f0_, f1_... as BigQuery does. */
export const ANONYMOUS_PREFIX = '__bq_anon_';

export interface Translation {
  sql: string;
  referencedTables: TableRef[];
}

// https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical#reserved_keywords
const RESERVED = new Set(
  `ALL AND ANY ARRAY AS ASC ASSERT_ROWS_MODIFIED AT BETWEEN BY CASE CAST COLLATE CONTAINS CREATE CROSS CUBE CURRENT
  DEFAULT DEFINE DESC DISTINCT ELSE END ENUM ESCAPE EXCEPT EXCLUDE EXISTS EXTRACT FALSE FETCH FOLLOWING FOR FROM FULL
  GROUP GROUPING GROUPS HASH HAVING IF IGNORE IN INNER INTERSECT INTERVAL INTO IS JOIN LATERAL LEFT LIKE LIMIT LOOKUP
  MERGE NATURAL NEW NO NOT NULL NULLS OF ON OR ORDER OUTER OVER PARTITION PRECEDING PROTO QUALIFY RANGE RECURSIVE
  RESPECT RIGHT ROLLUP ROWS SELECT SET SOME STRUCT TABLESAMPLE THEN TO TREAT TRUE UNBOUNDED UNION UNNEST USING WHEN
  WHERE WINDOW WITH WITHIN`.split(/\s+/),
);

/** Reserved words that may still name a function (`IF(...)`, `LEFT(...)`). */
const CALLABLE_KEYWORDS = new Set(['IF', 'LEFT', 'RIGHT', 'GROUPING', 'HASH', 'CONTAINS']);

const JOIN_WORDS = ['INNER', 'CROSS', 'LEFT', 'RIGHT', 'FULL', 'NATURAL', 'OUTER', 'JOIN'];

/** Functions callable without parentheses. */
const NILADIC_FUNCTIONS = ['CURRENT_TIMESTAMP', 'CURRENT_DATE', 'CURRENT_DATETIME', 'CURRENT_TIME'];

const SELECT_CLAUSES = ['FROM', 'WHERE', 'GROUP', 'HAVING', 'QUALIFY', 'WINDOW', 'ORDER', 'LIMIT', 'OFFSET'];

interface TableInfo {
  fields?: FieldSchema[];
  partitionTimeColumn?: string;
  /** A subquery's DuckDB SQL: its result schema is worked out when TO_JSON_STRING needs it. */
  subquerySql?: string;
}

interface Scope {
  tables: Map<string, TableInfo>;
  parent?: Scope;
}

const newScope = (parent?: Scope): Scope => ({
  tables: new Map(),
  ...(parent !== undefined ? { parent } : {}),
});

function lookupTable(scope: Scope | undefined, name: string): TableInfo | undefined {
  for (let s = scope; s !== undefined; s = s.parent) {
    const t = s.tables.get(name.toLowerCase());
    if (t !== undefined) return t;
  }
  return undefined;
}

function* scopeTables(scope: Scope | undefined): Generator<[string, TableInfo]> {
  for (let s = scope; s !== undefined; s = s.parent) yield* s.tables;
}

/** BigQuery's way of naming a token in "Unexpected ..." messages. */
function describe(n: Node | undefined): string {
  if (n === undefined) return 'end of script';
  if (n.kind === 'group') return `"${n.open}"`;
  switch (n.kind) {
    case 'ident':
      return RESERVED.has(n.value.toUpperCase())
        ? `keyword ${n.value.toUpperCase()}`
        : `identifier "${n.value}"`;
    case 'quoted':
      return `identifier \`${n.value}\``;
    case 'string':
      return `string literal "${n.value}"`;
    case 'bytes':
      return 'bytes literal';
    case 'number':
      return /^\d+$/.test(n.value) ? `integer literal "${n.value}"` : `floating point literal "${n.value}"`;
    default:
      return `"${n.value}"`;
  }
}

const isName = (n: Node | undefined): n is Token & { kind: 'ident' | 'quoted' } =>
  n !== undefined && (n.kind === 'quoted' || (n.kind === 'ident' && !RESERVED.has(n.value.toUpperCase())));

/** Splits at top-level commas, keeping those inside ARRAY<...> / STRUCT<...> type parameters. */
function splitCommas(nodes: readonly Node[]): Node[][] {
  const parts: Node[][] = [[]];
  let angles = 0;
  for (const [k, n] of nodes.entries()) {
    if (isOp(n, '<') && (angles > 0 || isWord(nodes[k - 1], 'ARRAY', 'STRUCT'))) angles++;
    else if (angles > 0 && isOp(n, '>')) angles--;
    else if (angles > 0 && isOp(n, '>>')) angles = Math.max(0, angles - 2);
    if (isOp(n, ',') && angles === 0) parts.push([]);
    else (parts[parts.length - 1] as Node[]).push(n);
  }
  return nodes.length === 0 ? [] : parts;
}

const isSubquery = (g: Group): boolean =>
  isWord(g.children[0], 'SELECT', 'WITH') || (isGroup(g.children[0], '(') && isSubquery(g.children[0]));

class Translator {
  private anonymous = 0;
  private relations = 0;
  private positional = 0;
  private readonly ctes = new Set<string>();
  readonly referenced: TableRef[] = [];

  constructor(
    private readonly ctx: QueryContext,
    private readonly params: Parameters,
    private readonly end: { line: number; column: number },
  ) {}

  syntax(n: Node | undefined): never {
    const at = n === undefined ? this.end : n;
    throw invalidQuery(`Syntax error: Unexpected ${describe(n)} at ${position(at)}`);
  }

  async statement(input: Node[]): Promise<string> {
    let nodes = input;
    while (isOp(nodes[nodes.length - 1], ';')) nodes = nodes.slice(0, -1);
    const first = nodes[0];
    if (first === undefined) this.syntax(undefined);
    const semicolon = nodes.find((n) => isOp(n, ';'));
    if (semicolon !== undefined)
      throw invalidQuery(
        `Multi-statement scripts are not supported by the BigQuery emulator (";" at ${position(semicolon)}).`,
      );
    if (!isWord(first, 'SELECT', 'WITH') && !isGroup(first, '(')) {
      const word = first.kind === 'ident' ? first.value.toUpperCase() : describe(first);
      throw invalidQuery(
        `Unsupported statement ${word} at ${position(first)}: the BigQuery emulator only runs queries (SELECT or WITH).`,
      );
    }
    return this.query(nodes, undefined);
  }

  async query(nodes: Node[], parent: Scope | undefined): Promise<string> {
    let i = 0;
    let prefix = '';
    if (isWord(nodes[0], 'WITH')) {
      i = 1;
      const recursive = isWord(nodes[1], 'RECURSIVE');
      if (recursive) i++;
      const ctes: { name: string; body: Group }[] = [];
      for (;;) {
        const name = nodes[i];
        if (!isName(name)) this.syntax(name);
        if (!isWord(nodes[i + 1], 'AS')) this.syntax(nodes[i + 1]);
        const body = nodes[i + 2];
        if (!isGroup(body, '(')) this.syntax(body);
        ctes.push({ name: name.value, body });
        i += 3;
        if (!isOp(nodes[i], ',')) break;
        i++;
      }
      for (const c of ctes) this.ctes.add(c.name.toLowerCase());
      const parts: string[] = [];
      for (const c of ctes)
        parts.push(`${quoteIdent(c.name)} AS (${await this.query(c.body.children, parent)})`);
      prefix = `WITH ${recursive ? 'RECURSIVE ' : ''}${parts.join(', ')} `;
    }
    const rest = nodes.slice(i);
    if (rest.length === 0) this.syntax(undefined);

    const segments: Node[][] = [[]];
    const operators: string[] = [];
    for (let k = 0; k < rest.length; k++) {
      const n = rest[k] as Node;
      if (isWord(n, 'UNION', 'INTERSECT', 'EXCEPT') && !(isWord(n, 'EXCEPT') && isGroup(rest[k + 1], '('))) {
        const kind = rest[k + 1];
        if (!isWord(kind, 'ALL', 'DISTINCT'))
          throw invalidQuery(
            `Syntax error: Expected keyword ALL or keyword DISTINCT but got ${describe(kind)} at ${position(kind ?? this.end)}`,
          );
        const op = n.value.toUpperCase();
        operators.push(kind.value.toUpperCase() === 'ALL' ? `${op} ALL` : op);
        segments.push([]);
        k++;
        continue;
      }
      (segments[segments.length - 1] as Node[]).push(n);
    }
    const translated: string[] = [];
    for (const seg of segments) translated.push(await this.queryTerm(seg, parent));
    let sql = translated[0] as string;
    for (const [k, op] of operators.entries()) sql += ` ${op} ${translated[k + 1] as string}`;
    return prefix + sql;
  }

  private async queryTerm(seg: Node[], parent: Scope | undefined): Promise<string> {
    const first = seg[0];
    if (isWord(first, 'SELECT')) return this.select(seg, parent);
    if (isGroup(first, '(') && isSubquery(first)) {
      const inner = `(${await this.query(first.children, parent)})`;
      return seg.length > 1
        ? `SELECT * FROM ${inner} ${await this.trailingClauses(seg.slice(1), newScope(parent))}`
        : inner;
    }
    return this.syntax(first);
  }

  /** ORDER BY / LIMIT / OFFSET after a parenthesized query. */
  private async trailingClauses(nodes: Node[], scope: Scope): Promise<string> {
    const clauses = this.splitClauses(nodes, 0, 'NONE');
    if ((clauses.get('NONE') ?? []).length > 0) this.syntax(clauses.get('NONE')?.[0]);
    return this.clauseSql(clauses, scope);
  }

  private splitClauses(seg: Node[], start: number, first: string): Map<string, Node[]> {
    const clauses = new Map<string, Node[]>();
    let current = first;
    let from = start;
    for (let k = start; k < seg.length; k++) {
      const n = seg[k] as Node;
      if (n.kind !== 'ident') continue;
      const word = n.value.toUpperCase();
      if (!SELECT_CLAUSES.includes(word)) continue;
      if (word === 'FROM' && isWord(seg[k - 1], 'DISTINCT')) continue;
      if (word === 'OFFSET' && current !== 'LIMIT') continue;
      clauses.set(current, seg.slice(from, k));
      if (clauses.has(word)) this.syntax(n);
      current = word;
      from = k + 1;
      if (word === 'GROUP' || word === 'ORDER') {
        if (!isWord(seg[k + 1], 'BY')) this.syntax(seg[k + 1]);
        from = k + 2;
        k++;
      }
    }
    clauses.set(current, seg.slice(from));
    for (const [name, nodes] of clauses)
      if (name !== first && nodes.length === 0) this.syntax(seg[seg.indexOf(nodes[0] as Node)]);
    return clauses;
  }

  private async clauseSql(clauses: Map<string, Node[]>, scope: Scope): Promise<string> {
    // In output order: clause key as tokenized, its DuckDB keyword, and how its body translates.
    const renderers: [string, string, (nodes: Node[]) => Promise<string>][] = [
      ['WHERE', 'WHERE', (n) => this.expr(n, scope)],
      ['GROUP', 'GROUP BY', (n) => this.groupList(n, scope)],
      ['HAVING', 'HAVING', (n) => this.expr(n, scope)],
      ['QUALIFY', 'QUALIFY', (n) => this.expr(n, scope)],
      ['WINDOW', 'WINDOW', (n) => this.windowDefinitions(n, scope)],
      ['ORDER', 'ORDER BY', (n) => this.orderList(n, scope)],
      ['LIMIT', 'LIMIT', (n) => this.expr(n, scope)],
      ['OFFSET', 'OFFSET', (n) => this.expr(n, scope)],
    ];
    const parts: string[] = [];
    for (const [key, keyword, render] of renderers) {
      const nodes = clauses.get(key);
      if (nodes !== undefined) parts.push(`${keyword} ${await render(nodes)}`);
    }
    return parts.join(' ');
  }

  private async select(seg: Node[], parent: Scope | undefined): Promise<string> {
    const scope = newScope(parent);
    let i = 1;
    let distinct = false;
    let asStruct = false;
    if (isWord(seg[i], 'DISTINCT')) {
      distinct = true;
      i++;
    } else if (isWord(seg[i], 'ALL')) i++;
    if (isWord(seg[i], 'AS') && isWord(seg[i + 1], 'STRUCT', 'VALUE')) {
      asStruct = (seg[i + 1] as Token).value.toUpperCase() === 'STRUCT';
      i += 2;
    }
    const clauses = this.splitClauses(seg, i, 'SELECT');
    const from = clauses.get('FROM');
    const fromSql = from !== undefined ? await this.fromClause(from, scope) : undefined;
    const list = clauses.get('SELECT') ?? [];
    if (list.length === 0) this.syntax(seg[i]);
    const items = await this.selectList(list, scope, asStruct);
    const rest = await this.clauseSql(clauses, scope);
    return [
      `SELECT${distinct ? ' DISTINCT' : ''} ${items}`,
      fromSql !== undefined ? `FROM ${fromSql}` : '',
      rest,
    ]
      .filter((p) => p !== '')
      .join(' ');
  }

  // ---- select list ----

  private async selectList(nodes: Node[], scope: Scope, asStruct: boolean): Promise<string> {
    const items: { sql: string; name?: string; star?: boolean; bare?: boolean }[] = [];
    for (const entry of splitCommas(nodes)) {
      if (entry.length === 0) this.syntax(nodes.find((n) => isOp(n, ',')));
      const starAt = entry.findIndex((n) => isOp(n, '*'));
      if (starAt >= 0 && (starAt === 0 || isOp(entry[starAt - 1], '.'))) {
        const before = entry.slice(0, Math.max(0, starAt - 1));
        if (before.every((n) => isName(n) || isOp(n, '.'))) {
          items.push({ sql: await this.star(before, entry.slice(starAt + 1), scope), star: true });
          continue;
        }
      }
      let alias: string | undefined;
      let exprNodes = entry;
      const last = entry[entry.length - 1];
      const beforeLast = entry[entry.length - 2];
      if (entry.length >= 3 && isWord(beforeLast, 'AS') && isName(last)) {
        alias = last.value;
        exprNodes = entry.slice(0, -2);
      } else if (
        entry.length >= 2 &&
        isName(last) &&
        beforeLast !== undefined &&
        beforeLast.kind !== 'op' &&
        !(beforeLast.kind === 'ident' && RESERVED.has(beforeLast.value.toUpperCase())) &&
        !entry.some((n) => isWord(n, 'INTERVAL'))
      ) {
        alias = last.value;
        exprNodes = entry.slice(0, -1);
      }
      const sql = await this.expr(exprNodes, scope);
      const niladic = exprNodes.length === 1 && isWord(exprNodes[0], ...NILADIC_FUNCTIONS);
      const inferred = alias === undefined && !niladic ? this.inferName(exprNodes) : undefined;
      // A plain column path keeps DuckDB's own name (its last part), so `SELECT x` never reads `x AS x`.
      const plainPath =
        inferred !== undefined && (sql === quoteIdent(inferred) || sql.endsWith(`.${quoteIdent(inferred)}`));
      items.push({
        sql,
        name: alias ?? inferred ?? `${ANONYMOUS_PREFIX}${this.anonymous++}`,
        ...(plainPath ? { bare: true } : {}),
      });
    }
    if (asStruct) {
      if (items.some((it) => it.star === true))
        throw invalidQuery('SELECT AS STRUCT * is not supported by the emulator.');
      return `struct_pack(${items.map((it) => `${quoteIdent(it.name as string)} := ${it.sql}`).join(', ')})`;
    }
    return items
      .map((it) =>
        it.star === true || it.bare === true ? it.sql : `${it.sql} AS ${quoteIdent(it.name as string)}`,
      )
      .join(', ');
  }

  /** BigQuery names a column selected by path after its last part. */
  private inferName(nodes: Node[]): string | undefined {
    if (nodes.length === 0 || nodes.length % 2 === 0) return undefined;
    for (const [k, n] of nodes.entries()) {
      if (k % 2 === 0 ? !isName(n) : !isOp(n, '.')) return undefined;
    }
    const last = nodes[nodes.length - 1] as Token;
    return last.kind === 'quoted' ? last.value.split('.').pop() : last.value;
  }

  private async star(path: Node[], modifiers: Node[], scope: Scope): Promise<string> {
    const names = path.filter((n): n is Token => n.kind !== 'op').map((n) => n.value);
    const base = names.length > 0 ? `${names.map(quoteIdent).join('.')}.*` : '*';
    const excluded: string[] = [];
    let replace = '';
    let k = 0;
    while (k < modifiers.length) {
      const word = modifiers[k];
      const group = modifiers[k + 1];
      if (isWord(word, 'EXCEPT') && isGroup(group, '(')) {
        for (const col of splitCommas(group.children)) {
          const c = col[0];
          if (col.length !== 1 || !isName(c)) this.syntax(col[1] ?? c);
          excluded.push(quoteIdent(c.value));
        }
      } else if (isWord(word, 'REPLACE') && isGroup(group, '(')) {
        const parts: string[] = [];
        for (const item of splitCommas(group.children)) {
          const name = item[item.length - 1];
          if (!isWord(item[item.length - 2], 'AS') || !isName(name)) this.syntax(item[item.length - 1]);
          parts.push(`${await this.expr(item.slice(0, -2), scope)} AS ${quoteIdent(name.value)}`);
        }
        replace = ` REPLACE (${parts.join(', ')})`;
      } else this.syntax(word);
      k += 2;
    }
    // Pseudo-columns never appear in SELECT *.
    const tables =
      names.length === 1
        ? [scope.tables.get((names[0] as string).toLowerCase())]
        : names.length === 0
          ? [...scope.tables.values()]
          : [];
    for (const t of tables) {
      if (t?.partitionTimeColumn !== undefined && !excluded.includes(quoteIdent(t.partitionTimeColumn)))
        excluded.push(quoteIdent(t.partitionTimeColumn));
    }
    return `${base}${excluded.length > 0 ? ` EXCLUDE (${excluded.join(', ')})` : ''}${replace}`;
  }

  // ---- FROM ----

  private async fromClause(nodes: Node[], scope: Scope): Promise<string> {
    if (nodes.length === 0) this.syntax(undefined);
    const out: string[] = [];
    let i = 0;
    const item = async (): Promise<void> => {
      const r = await this.fromItem(nodes, i, scope);
      out.push(r.sql);
      i = r.next;
    };
    await item();
    const joinStart = (k: number): boolean =>
      isWord(nodes[k], 'JOIN') || (isWord(nodes[k], ...JOIN_WORDS) && !isGroup(nodes[k + 1], '('));
    while (i < nodes.length) {
      if (isOp(nodes[i], ',')) {
        out.push(',');
        i++;
        await item();
        continue;
      }
      const words: string[] = [];
      while (isWord(nodes[i], 'INNER', 'CROSS', 'LEFT', 'RIGHT', 'FULL', 'NATURAL', 'OUTER'))
        words.push((nodes[i++] as Token).value.toUpperCase());
      if (!isWord(nodes[i], 'JOIN')) this.syntax(nodes[i]);
      i++;
      out.push(`${words.join(' ')} JOIN`.trim());
      await item();
      if (isWord(nodes[i], 'ON')) {
        const start = ++i;
        while (i < nodes.length && !isOp(nodes[i], ',') && !joinStart(i)) i++;
        out.push(`ON ${await this.expr(nodes.slice(start, i), scope)}`);
      } else if (isWord(nodes[i], 'USING')) {
        const group = nodes[i + 1];
        if (!isGroup(group, '(')) this.syntax(group);
        const cols = splitCommas(group.children).map((c) => {
          if (c.length !== 1 || !isName(c[0])) this.syntax(c[0]);
          return quoteIdent((c[0] as Token).value);
        });
        out.push(`USING (${cols.join(', ')})`);
        i += 2;
      } else if (!words.includes('CROSS') && !words.includes('NATURAL')) {
        out.push('ON TRUE');
      }
    }
    return out.join(' ');
  }

  /** A path of names (`a.b.c`, `` `p.d.t` ``, `my-project.d.t`) starting at nodes[i]. */
  private pathAt(nodes: Node[], i: number): { parts: string[]; next: number } {
    const parts: string[] = [];
    let k = i;
    for (;;) {
      const n = nodes[k];
      if (n === undefined || (n.kind !== 'ident' && n.kind !== 'quoted')) this.syntax(n);
      let name = n.value;
      let end = n.end;
      k++;
      // Unquoted project names may contain dashes: my-project-123.dataset.table, region-us.
      while (n.kind === 'ident' && isOp(nodes[k], '-') && (nodes[k] as Token).start === end) {
        const after = nodes[k + 1];
        if (
          after === undefined ||
          (after.kind !== 'ident' && after.kind !== 'number') ||
          after.start !== end + 1
        )
          break;
        name += `-${after.value}`;
        end = after.end;
        k += 2;
      }
      parts.push(...(n.kind === 'quoted' ? name.split('.') : [name]));
      if (isOp(nodes[k], '.') && (nodes[k + 1]?.kind === 'ident' || nodes[k + 1]?.kind === 'quoted')) {
        k++;
        continue;
      }
      return { parts, next: k };
    }
  }

  private async fromItem(nodes: Node[], start: number, scope: Scope): Promise<{ sql: string; next: number }> {
    const n = nodes[start];
    if (n === undefined) this.syntax(undefined);
    let i = start;
    let relation: string;
    let defaultAlias: string | undefined;
    let info: TableInfo = {};
    let tableRef: TableRef | undefined;

    if (isGroup(n, '(')) {
      if (isSubquery(n)) {
        relation = `(${await this.query(n.children, scope.parent)})`;
        info = { subquerySql: relation };
      } else relation = `(${await this.fromClause(n.children, scope)})`;
      i++;
    } else if (isWord(n, 'UNNEST') && isGroup(nodes[i + 1], '(')) {
      return this.unnestItem(
        await this.expr((nodes[i + 1] as Group).children, scope),
        nodes,
        i + 2,
        scope,
        undefined,
      );
    } else {
      const path = this.pathAt(nodes, i);
      i = path.next;
      const parts = path.parts;
      const first = parts[0] as string;
      if (parts.length === 1 && this.ctes.has(first.toLowerCase())) {
        relation = quoteIdent(first);
        defaultAlias = first;
      } else if (parts.length >= 2 && lookupTable(scope, first) !== undefined) {
        // `FROM t, t.arr AS x` unnests an array reached through an earlier alias.
        const arraySql = parts.map(quoteIdent).join('.');
        return this.unnestItem(arraySql, nodes, i, scope, parts[parts.length - 1]);
      } else {
        const schemaAt = parts.findIndex((p) => p.toUpperCase() === 'INFORMATION_SCHEMA');
        if (schemaAt >= 0) {
          relation = await this.informationSchema(parts, schemaAt);
          defaultAlias = parts[parts.length - 1];
        } else {
          tableRef = this.tableRef(parts, n);
          defaultAlias = tableRef.tableId;
        }
      }
    }

    let alias: string | undefined;
    let at: number | undefined;
    for (;;) {
      if (isWord(nodes[i], 'AS') && isName(nodes[i + 1])) {
        alias = (nodes[i + 1] as Token).value;
        i += 2;
      } else if (isName(nodes[i]) && !isWord(nodes[i], ...JOIN_WORDS)) {
        alias = (nodes[i] as Token).value;
        i++;
      } else if (
        isWord(nodes[i], 'FOR') &&
        isWord(nodes[i + 1], 'SYSTEM_TIME') &&
        isWord(nodes[i + 2], 'AS')
      ) {
        if (!isWord(nodes[i + 3], 'OF')) this.syntax(nodes[i + 3]);
        if (tableRef === undefined)
          throw invalidQuery(
            `FOR SYSTEM_TIME AS OF applies to tables only at ${position(nodes[i] as Token)}`,
          );
        const exprStart = i + 4;
        let k = exprStart;
        while (
          k < nodes.length &&
          !isOp(nodes[k], ',') &&
          !isWord(nodes[k], 'AS', 'ON', 'USING', 'TABLESAMPLE', ...JOIN_WORDS)
        )
          k++;
        if (k === exprStart) this.syntax(nodes[k]);
        at = await this.evaluateTimestamp(nodes.slice(exprStart, k), scope);
        i = k;
      } else if (
        isWord(nodes[i], 'TABLESAMPLE') &&
        isWord(nodes[i + 1], 'SYSTEM') &&
        isGroup(nodes[i + 2], '(')
      ) {
        // Sampling is a cost optimisation; the emulator returns every row.
        i += 3;
      } else break;
    }

    if (tableRef !== undefined) {
      const resolved = await this.ctx.resolver.table(tableRef, at);
      if (
        !this.referenced.some(
          (r) =>
            r.projectId === tableRef.projectId &&
            r.datasetId === tableRef.datasetId &&
            r.tableId === tableRef.tableId,
        )
      )
        this.referenced.push(tableRef);
      relation = resolved.sql;
      info = {
        fields: resolved.fields,
        ...(resolved.partitionTimeColumn !== undefined
          ? { partitionTimeColumn: resolved.partitionTimeColumn }
          : {}),
      };
    }
    const name = alias ?? defaultAlias;
    if (name !== undefined) scope.tables.set(name.toLowerCase(), info);
    return { sql: name !== undefined ? `${relation!} AS ${quoteIdent(name)}` : relation!, next: i };
  }

  private unnestItem(
    arraySql: string,
    nodes: Node[],
    start: number,
    scope: Scope,
    defaultAlias: string | undefined,
  ): { sql: string; next: number } {
    let i = start;
    let alias = defaultAlias;
    if (isWord(nodes[i], 'AS') && isName(nodes[i + 1])) {
      alias = (nodes[i + 1] as Token).value;
      i += 2;
    } else if (isName(nodes[i]) && !isWord(nodes[i], ...JOIN_WORDS)) {
      alias = (nodes[i] as Token).value;
      i++;
    }
    let offset: string | undefined;
    if (isWord(nodes[i], 'WITH') && isWord(nodes[i + 1], 'OFFSET')) {
      offset = 'offset';
      i += 2;
      if (isWord(nodes[i], 'AS') && isName(nodes[i + 1])) {
        offset = (nodes[i + 1] as Token).value;
        i += 2;
      } else if (isName(nodes[i]) && !isWord(nodes[i], ...JOIN_WORDS)) {
        offset = (nodes[i] as Token).value;
        i++;
      }
    }
    const column = alias ?? `${ANONYMOUS_PREFIX}${this.anonymous++}`;
    if (alias !== undefined) scope.tables.set(alias.toLowerCase(), {});
    const offsetSql = offset !== undefined ? `, unnest(range(len(${arraySql})))` : '';
    const names = [column, ...(offset !== undefined ? [offset] : [])].map(quoteIdent).join(', ');
    const relation = `__unnest_${this.relations++}`;
    // The names go on the relation, not in the select list: DuckDB would read a select-list alias
    // back inside the array expression (`UNNEST(e) AS e` refers to the outer column e in GoogleSQL).
    return {
      sql: `(SELECT unnest(${arraySql})${offsetSql}) AS ${quoteIdent(relation)}(${names})`,
      next: i,
    };
  }

  private tableRef(parts: string[], at: Node): TableRef {
    if (parts.some((p) => p === ''))
      throw invalidQuery(`Invalid table name: ${parts.join('.')} at ${position(at)}`);
    if (parts.length === 1) {
      const dataset = this.ctx.defaultDataset;
      if (dataset === undefined)
        throw invalidQuery(
          `Table name "${parts[0] as string}" missing dataset while no default dataset is set in the request.`,
        );
      return {
        projectId: dataset.projectId ?? this.ctx.defaultProjectId,
        datasetId: dataset.datasetId,
        tableId: parts[0] as string,
      };
    }
    if (parts.length === 2)
      return {
        projectId: this.ctx.defaultProjectId,
        datasetId: parts[0] as string,
        tableId: parts[1] as string,
      };
    if (parts.length === 3)
      return { projectId: parts[0] as string, datasetId: parts[1] as string, tableId: parts[2] as string };
    throw invalidQuery(`Invalid table name: ${parts.join('.')} at ${position(at)}`);
  }

  private async informationSchema(parts: string[], schemaAt: number): Promise<string> {
    const view = parts
      .slice(schemaAt + 1)
      .join('.')
      .toUpperCase();
    const before = parts.slice(0, schemaAt);
    if (view === '')
      throw invalidQuery('INFORMATION_SCHEMA needs a view name, such as INFORMATION_SCHEMA.TABLES.');
    const isRegion = (p: string | undefined): boolean =>
      p !== undefined && p.toLowerCase().startsWith('region-');
    let scope: { projectId: string; datasetId?: string };
    if (before.length === 1 && isRegion(before[0])) scope = { projectId: this.ctx.defaultProjectId };
    else if (before.length === 2 && isRegion(before[1])) scope = { projectId: before[0] as string };
    else if (before.length === 1) scope = { projectId: this.ctx.defaultProjectId, datasetId: before[0] };
    else if (before.length === 2) scope = { projectId: before[0] as string, datasetId: before[1] };
    else if (before.length === 0 && this.ctx.defaultDataset !== undefined)
      scope = {
        projectId: this.ctx.defaultDataset.projectId ?? this.ctx.defaultProjectId,
        datasetId: this.ctx.defaultDataset.datasetId,
      };
    else throw invalidQuery(`Invalid INFORMATION_SCHEMA reference: ${parts.join('.')}`);
    return (await this.ctx.resolver.informationSchema(view, scope)).sql;
  }

  /** FOR SYSTEM_TIME AS OF <expr>: evaluated once, to epoch milliseconds. */
  private async evaluateTimestamp(nodes: Node[], scope: Scope): Promise<number> {
    const sql = await this.expr(nodes, newScope(scope.parent));
    let rows;
    try {
      const reader = await this.ctx.connection.runAndReadAll(
        `SELECT epoch_us(CAST((${sql}) AS TIMESTAMPTZ)) AS t`,
      );
      rows = reader.getRowObjectsJson();
    } catch (err) {
      throw invalidQuery(
        `Invalid FOR SYSTEM_TIME AS OF expression at ${position(nodes[0] as Node)}: ${(err as Error).message.split('\n')[0] ?? ''}`,
      );
    }
    const micros = rows[0]?.['t'];
    if (micros === null || micros === undefined)
      throw invalidQuery('FOR SYSTEM_TIME AS OF expression must not be NULL');
    return Math.floor(Number(micros) / 1000);
  }

  // ---- lists ----

  private async groupList(nodes: Node[], scope: Scope): Promise<string> {
    const items: string[] = [];
    for (const item of splitCommas(nodes)) {
      const only = item[0];
      items.push(item.length === 1 && only?.kind === 'number' ? only.value : await this.expr(item, scope));
    }
    return items.join(', ');
  }

  /** ORDER BY items, with BigQuery's default NULL order (first when ascending, last when descending). */
  private async orderList(nodes: Node[], scope: Scope): Promise<string> {
    const items: string[] = [];
    for (const item of splitCommas(nodes)) {
      let body = item;
      let direction = '';
      let nulls = '';
      if (isWord(body[body.length - 2], 'NULLS') && isWord(body[body.length - 1], 'FIRST', 'LAST')) {
        nulls = ` NULLS ${(body[body.length - 1] as Token).value.toUpperCase()}`;
        body = body.slice(0, -2);
      }
      if (isWord(body[body.length - 1], 'ASC', 'DESC')) {
        direction = (body[body.length - 1] as Token).value.toUpperCase();
        body = body.slice(0, -1);
      }
      if (nulls === '') nulls = direction === 'DESC' ? ' NULLS LAST' : ' NULLS FIRST';
      const only = body[0];
      const sql = body.length === 1 && only?.kind === 'number' ? only.value : await this.expr(body, scope);
      items.push(`${sql}${direction !== '' ? ` ${direction}` : ''}${nulls}`);
    }
    return items.join(', ');
  }

  private async windowSpec(nodes: Node[], scope: Scope): Promise<string> {
    const orderAt = nodes.findIndex((n, k) => isWord(n, 'ORDER') && isWord(nodes[k + 1], 'BY'));
    if (orderAt < 0) return this.expr(nodes, scope);
    let frameAt = nodes.findIndex((n, k) => k > orderAt && isWord(n, 'ROWS', 'RANGE'));
    if (frameAt < 0) frameAt = nodes.length;
    const head = orderAt > 0 ? `${await this.expr(nodes.slice(0, orderAt), scope)} ` : '';
    const frame = frameAt < nodes.length ? ` ${await this.expr(nodes.slice(frameAt), scope)}` : '';
    return `${head}ORDER BY ${await this.orderList(nodes.slice(orderAt + 2, frameAt), scope)}${frame}`;
  }

  private async windowDefinitions(nodes: Node[], scope: Scope): Promise<string> {
    const defs: string[] = [];
    for (const def of splitCommas(nodes)) {
      const [name, as, spec] = def;
      if (!isName(name) || !isWord(as, 'AS') || !isGroup(spec, '(')) this.syntax(def[0]);
      defs.push(`${quoteIdent(name.value)} AS (${await this.windowSpec(spec.children, scope)})`);
    }
    return defs.join(', ');
  }

  private async exprList(nodes: Node[], scope: Scope): Promise<string> {
    const parts: string[] = [];
    for (const item of splitCommas(nodes)) {
      if (item.length === 0) this.syntax(nodes.find((n) => isOp(n, ',')));
      parts.push(await this.expr(item, scope));
    }
    return parts.join(', ');
  }

  // ---- expressions ----

  async expr(nodes: Node[], scope: Scope): Promise<string> {
    const out: string[] = [];
    let operand = false;
    let xorLeft: string | undefined;
    const pushOperand = (sql: string): void => {
      if (xorLeft !== undefined) {
        out.push(`xor(${xorLeft}, ${sql})`);
        xorLeft = undefined;
      } else out.push(sql);
      operand = true;
    };
    let i = 0;
    while (i < nodes.length) {
      const n = nodes[i] as Node;
      const next = nodes[i + 1];
      if (n.kind === 'group' || n.kind !== 'op' || isOp(n, '*')) {
        if (isOp(n, '*') && operand) {
          out.push('*');
          operand = false;
          i++;
          continue;
        }
        if (n.kind === 'ident' && RESERVED.has(n.value.toUpperCase()) && !this.startsPrimary(n, next)) {
          const word = n.value.toUpperCase();
          if (word === 'IN' && isWord(next, 'UNNEST') && isGroup(nodes[i + 2], '(')) {
            out.push(`IN (SELECT unnest(${await this.expr((nodes[i + 2] as Group).children, scope)}))`);
            operand = true;
            i += 3;
            continue;
          }
          if (word === 'OVER') {
            const spec = next;
            if (isGroup(spec, '(')) out.push(`OVER (${await this.windowSpec(spec.children, scope)})`);
            else if (isName(spec)) out.push(`OVER ${quoteIdent(spec.value)}`);
            else this.syntax(spec);
            operand = true;
            i += 2;
            continue;
          }
          out.push(word);
          operand = ['TRUE', 'FALSE', 'NULL', 'END'].includes(word);
          i++;
          continue;
        }
        if (
          n.kind === 'ident' &&
          ['FIRST', 'LAST'].includes(n.value.toUpperCase()) &&
          isWord(nodes[i - 1], 'NULLS')
        ) {
          out.push(n.value.toUpperCase());
          i++;
          continue;
        }
        if (isWord(n, 'ROW') && isWord(nodes[i - 1], 'CURRENT')) {
          out.push('ROW');
          i++;
          continue;
        }
        const primary = await this.primary(nodes, i, scope);
        let sql = primary.sql;
        i = primary.next;
        // Postfix: array subscripts and field access on computed values.
        for (;;) {
          const p = nodes[i];
          if (isGroup(p, '[')) {
            sql = await this.subscript(sql, p, scope);
            i++;
          } else if (isOp(p, '.') && isName(nodes[i + 1])) {
            sql = `struct_extract(${sql}, ${quoteString((nodes[i + 1] as Token).value)})`;
            i += 2;
          } else break;
        }
        pushOperand(sql);
        continue;
      }
      // Operators.
      if (n.value === '^') {
        xorLeft = out.pop();
        operand = false;
        i++;
        continue;
      }
      const op = n.value === '!=' ? '<>' : n.value === '=>' ? ':=' : n.value;
      if (op === '.' || op === ';' || op === '{' || op === '}') this.syntax(n);
      out.push(op);
      operand = false;
      i++;
    }
    if (xorLeft !== undefined) this.syntax(undefined);
    return out.join(' ');
  }

  /** Reserved words that begin an expression of their own (CAST(...), ARRAY<...>, INTERVAL ...). */
  private startsPrimary(n: Token, next: Node | undefined): boolean {
    const word = n.value.toUpperCase();
    if (word === 'INTERVAL') return true;
    if (word === 'CAST' || word === 'EXTRACT' || CALLABLE_KEYWORDS.has(word)) return isGroup(next, '(');
    if (word === 'ARRAY' || word === 'STRUCT') return isOp(next, '<') || isGroup(next);
    return false;
  }

  private async primary(nodes: Node[], i: number, scope: Scope): Promise<{ sql: string; next: number }> {
    const n = nodes[i] as Node;
    const next = nodes[i + 1];
    if (n.kind === 'group') {
      if (n.open === '[') return { sql: `[${await this.exprList(n.children, scope)}]`, next: i + 1 };
      if (isSubquery(n)) return { sql: `(${await this.query(n.children, scope)})`, next: i + 1 };
      if (n.children.length === 0) this.syntax(undefined);
      return { sql: `(${await this.exprList(n.children, scope)})`, next: i + 1 };
    }
    switch (n.kind) {
      case 'string':
        return { sql: quoteString(n.value), next: i + 1 };
      case 'bytes':
        return {
          sql:
            n.value === ''
              ? "CAST('' AS BLOB)"
              : `from_hex('${Buffer.from(n.value, 'latin1').toString('hex')}')`,
          next: i + 1,
        };
      case 'number':
        return { sql: this.numberSql(n), next: i + 1 };
      case 'param':
        return { sql: this.namedParameter(n), next: i + 1 };
      case 'positional':
        return { sql: this.positionalParameter(n), next: i + 1 };
      case 'sysvar':
        return { sql: this.systemVariable(n), next: i + 1 };
      case 'op':
        if (n.value === '*') return { sql: '*', next: i + 1 };
        return this.syntax(n);
      default:
        break;
    }
    const word = n.kind === 'ident' ? n.value.toUpperCase() : '';

    if (n.kind === 'ident') {
      if ((word === 'CAST' || word === 'SAFE_CAST') && isGroup(next, '('))
        return { sql: await this.cast(next, scope, word === 'SAFE_CAST'), next: i + 2 };
      if (word === 'EXTRACT' && isGroup(next, '('))
        return { sql: await this.extract(next, scope), next: i + 2 };
      if (word === 'INTERVAL') return this.interval(nodes, i, scope);
      if (word === 'ARRAY' || word === 'STRUCT') {
        let k = i + 1;
        let type: SqlType | undefined;
        if (isOp(nodes[k], '<')) {
          const parsed = this.parseTypeParams(nodes, k, word);
          type = parsed.type;
          k = parsed.next;
        }
        const body = nodes[k];
        if (word === 'ARRAY' && isGroup(body, '(') && isSubquery(body))
          return { sql: `ARRAY(${await this.query(body.children, scope)})`, next: k + 1 };
        if (word === 'ARRAY' && isGroup(body, '[')) {
          const list = `[${await this.exprList(body.children, scope)}]`;
          return { sql: type !== undefined ? `CAST(${list} AS ${duckTypeOf(type)})` : list, next: k + 1 };
        }
        if (word === 'STRUCT' && isGroup(body, '('))
          return { sql: await this.struct(body, type, scope), next: k + 1 };
        this.syntax(body);
      }
      // Typed literals: DATE '2020-01-01', TIMESTAMP '...', NUMERIC '1.5', JSON '{}'...
      if (next !== undefined && next.kind === 'string') {
        const literal = this.typedLiteral(word, next.value, n);
        if (literal !== undefined) return { sql: literal, next: i + 2 };
      }
      if (NILADIC_FUNCTIONS.includes(word) && !isGroup(next, '('))
        return { sql: this.callSql(word, [], n), next: i + 1 };
      if (isGroup(next, '(') && (!RESERVED.has(word) || CALLABLE_KEYWORDS.has(word)))
        return this.call([n.value], next, i + 2, scope, n);
    }
    // A path: column, alias.column, struct fields, or a namespaced function (SAFE.X(...), NET.HOST(...)).
    const path = this.pathAt(nodes, i);
    const callGroup = nodes[path.next];
    if (isGroup(callGroup, '(')) return this.call(path.parts, callGroup, path.next + 1, scope, n);
    return { sql: this.columnPath(path.parts, scope), next: path.next };
  }

  private columnPath(parts: string[], scope: Scope): string {
    const pseudo = (name: string, qualifier?: string): string | undefined => {
      const upper = name.toUpperCase();
      if (upper !== '_PARTITIONTIME' && upper !== '_PARTITIONDATE') return undefined;
      const table =
        qualifier !== undefined
          ? lookupTable(scope, qualifier)
          : [...scopeTables(scope)].map(([, t]) => t).find((t) => t.partitionTimeColumn !== undefined);
      if (table?.partitionTimeColumn === undefined) return undefined;
      const column =
        (qualifier !== undefined ? `${quoteIdent(qualifier)}.` : '') + quoteIdent(table.partitionTimeColumn);
      return upper === '_PARTITIONDATE' ? `CAST(${column} AS DATE)` : column;
    };
    const direct = parts.length === 1 ? pseudo(parts[0] as string) : undefined;
    if (direct !== undefined) return direct;
    if (parts.length === 2) {
      const qualified = pseudo(parts[1] as string, parts[0]);
      if (qualified !== undefined) return qualified;
    }
    return parts.map(quoteIdent).join('.');
  }

  private numberSql(n: Token): string {
    if (/^0[xX]/.test(n.value)) return `CAST(${BigInt(n.value).toString()} AS BIGINT)`;
    if (/^\d+$/.test(n.value)) {
      if (BigInt(n.value) > 9223372036854775807n)
        throw invalidQuery(`Invalid integer literal: ${n.value} at ${position(n)}`);
      return `CAST(${n.value} AS BIGINT)`;
    }
    return `CAST(${quoteString(n.value)} AS DOUBLE)`;
  }

  private typedLiteral(word: string, value: string, at: Token): string | undefined {
    switch (word) {
      case 'DATE':
        return `CAST(${quoteString(value.trim())} AS DATE)`;
      case 'DATETIME':
        return `CAST(${quoteString(value.trim().replace('T', ' '))} AS TIMESTAMP)`;
      case 'TIME':
        return `CAST(${quoteString(value.trim())} AS TIME)`;
      case 'TIMESTAMP':
        return `CAST(${quoteString(normalizeTimestampText(value))} AS TIMESTAMPTZ)`;
      case 'NUMERIC':
      case 'BIGNUMERIC':
      case 'DECIMAL':
      case 'BIGDECIMAL':
        if (!/^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(value))
          throw invalidQuery(`Invalid ${word} literal: "${value}" at ${position(at)}`);
        return `CAST(${quoteString(value.trim())} AS DECIMAL(38,9))`;
      case 'JSON':
        // GoogleSQL keeps JSON values in a normalized form: no insignificant whitespace.
        return `json(${quoteString(value)})`;
      default:
        return undefined;
    }
  }

  private namedParameter(n: Token): string {
    const sql = this.params.named.get(n.value.toLowerCase());
    if (this.params.mode === 'POSITIONAL')
      throw invalidQuery(`Named parameters cannot be used with positional parameter mode at ${position(n)}`);
    if (sql === undefined) throw invalidQuery(`Query parameter '${n.value}' not found at ${position(n)}`);
    return `(${sql})`;
  }

  private positionalParameter(n: Token): string {
    if (this.params.mode === 'NAMED')
      throw invalidQuery(`Positional parameters cannot be used with named parameter mode at ${position(n)}`);
    const sql = this.params.positional[this.positional++];
    if (sql === undefined)
      throw invalidQuery(`Query parameter number ${this.positional} not found at ${position(n)}`);
    return `(${sql})`;
  }

  private systemVariable(n: Token): string {
    switch (n.value.toLowerCase()) {
      case 'project_id':
        return quoteString(this.ctx.defaultProjectId);
      case 'dataset_id':
        return this.ctx.defaultDataset !== undefined
          ? quoteString(this.ctx.defaultDataset.datasetId)
          : 'CAST(NULL AS VARCHAR)';
      case 'time_zone':
        return "'UTC'";
      case 'location':
        return "'US'";
      default:
        throw invalidQuery(`Unrecognized system variable @@${n.value} at ${position(n)}`);
    }
  }

  private interval(nodes: Node[], i: number, scope: Scope): Promise<{ sql: string; next: number }> {
    let k = i + 1;
    while (
      k < nodes.length &&
      !(nodes[k]?.kind === 'ident' && DATE_PART_WORDS.has((nodes[k] as Token).value.toUpperCase()))
    )
      k++;
    const unit = nodes[k];
    if (unit === undefined || k === i + 1) this.syntax(unit);
    if (isWord(nodes[k + 1], 'TO'))
      throw invalidQuery(
        `INTERVAL ... TO ... literals are not supported by the emulator at ${position(nodes[i] as Node)}`,
      );
    return this.expr(nodes.slice(i + 1, k), scope).then((amount) => ({
      sql: intervalSql(amount, (unit as Token).value.toUpperCase()),
      next: k + 1,
    }));
  }

  private async subscript(base: string, group: Group, scope: Scope): Promise<string> {
    const inner = group.children;
    const head = inner[0];
    let mode = 'OFFSET';
    let indexNodes = inner;
    if (
      inner.length === 2 &&
      isWord(head, 'OFFSET', 'ORDINAL', 'SAFE_OFFSET', 'SAFE_ORDINAL') &&
      isGroup(inner[1], '(')
    ) {
      mode = head.value.toUpperCase();
      indexNodes = (inner[1] as Group).children;
    }
    if (indexNodes.length === 0) this.syntax(undefined);
    const index = await this.expr(indexNodes, scope);
    if (inner.length === 1 && head?.kind === 'string')
      return `json_extract(${base}, ${quoteString(`$.${head.value}`)})`;
    const zeroBased = mode === 'OFFSET' || mode === 'SAFE_OFFSET';
    const position1 = zeroBased ? `(${index}) + 1` : `(${index})`;
    const lowest = zeroBased ? 0 : 1;
    const value = `${base}[${position1}]`;
    if (mode.startsWith('SAFE_')) return `CASE WHEN (${index}) >= ${lowest} THEN ${value} END`;
    const last = zeroBased ? `len(${base}) - 1` : `len(${base})`;
    return `CASE WHEN (${index}) < ${lowest} OR (${index}) > ${last} THEN error('Array index ' || (${index}) || ' is out of bounds (overflow)') ELSE ${value} END`;
  }

  // ---- types ----

  private parseType(nodes: Node[], i: number): { type: SqlType; next: number } {
    const n = nodes[i];
    if (!isWord(n) && n?.kind !== 'quoted') this.syntax(n);
    const word = n.value.toUpperCase();
    if (word === 'ARRAY' || word === 'STRUCT') {
      if (!isOp(nodes[i + 1], '<')) this.syntax(nodes[i + 1]);
      return this.parseTypeParams(nodes, i + 1, word);
    }
    if (duckScalarTypeOf(word) === undefined)
      throw invalidQuery(`Type not found: ${n.value} at ${position(n)}`);
    let next = i + 1;
    if (isGroup(nodes[next], '(')) next++; // STRING(10), NUMERIC(10, 2): parameters do not change the stored type.
    return { type: { kind: 'scalar', name: word }, next };
  }

  /** `<...>` after ARRAY or STRUCT, starting at the `<`. */
  private parseTypeParams(nodes: Node[], i: number, kind: string): { type: SqlType; next: number } {
    // `>>` closes two levels: split it into two `>` tokens in a copy of the list.
    const list = nodes.flatMap((node): Node[] =>
      isOp(node, '>>')
        ? [
            { ...node, value: '>' },
            { ...node, value: '>', start: node.start + 1 },
          ]
        : [node],
    );
    const shift = list.length - nodes.length;
    let k = i + 1;
    if (kind === 'ARRAY') {
      const element = this.parseType(list, k);
      k = element.next;
      if (!isOp(list[k], '>')) this.syntax(list[k]);
      return {
        type: { kind: 'array', element: element.type },
        next: this.unshift(nodes, list, k + 1, shift),
      };
    }
    const fields: { name?: string; type: SqlType }[] = [];
    while (!isOp(list[k], '>')) {
      let name: string | undefined;
      const first = list[k];
      const second = list[k + 1];
      if (
        isName(first) &&
        second !== undefined &&
        !isOp(second, ',') &&
        !isOp(second, '>') &&
        !isOp(second, '<')
      ) {
        name = first.value;
        k++;
      }
      const parsed = this.parseType(list, k);
      fields.push({ ...(name !== undefined ? { name } : {}), type: parsed.type });
      k = parsed.next;
      if (isOp(list[k], ',')) k++;
      else if (!isOp(list[k], '>')) this.syntax(list[k]);
    }
    return { type: { kind: 'struct', fields }, next: this.unshift(nodes, list, k + 1, shift) };
  }

  /** Maps an index in the `>>`-split copy back to the original list. */
  private unshift(nodes: Node[], list: Node[], k: number, shift: number): number {
    if (shift === 0) return k;
    const at = list[k];
    if (at === undefined) return nodes.length;
    const original = nodes.findIndex(
      (n) => n.start === at.start || (n.kind !== 'group' && n.start === at.start - 1 && isOp(n, '>>')),
    );
    return original < 0 ? nodes.length : original;
  }

  private async cast(group: Group, scope: Scope, safe: boolean): Promise<string> {
    const asAt = group.children.findIndex((c) => isWord(c, 'AS'));
    if (asAt <= 0) this.syntax(group.children[asAt] ?? undefined);
    const value = await this.expr(group.children.slice(0, asAt), scope);
    const parsed = this.parseType(group.children, asAt + 1);
    if (parsed.next < group.children.length) {
      const extra = group.children[parsed.next];
      if (isWord(extra, 'FORMAT'))
        throw invalidQuery(`CAST ... FORMAT is not supported by the emulator at ${position(extra)}`);
      this.syntax(extra);
    }
    const type = duckTypeOf(parsed.type);
    return `${safe ? 'TRY_CAST' : 'CAST'}(${value} AS ${type})`;
  }

  private async extract(group: Group, scope: Scope): Promise<string> {
    const children = group.children;
    const fromAt = children.findIndex((c) => isWord(c, 'FROM'));
    if (fromAt <= 0) this.syntax(children[0]);
    const part = this.partWord(children.slice(0, fromAt));
    if (part === undefined) this.syntax(children[0]);
    const atAt = children.findIndex(
      (c, k) => k > fromAt && isWord(c, 'AT') && isWord(children[k + 1], 'TIME'),
    );
    const valueNodes = children.slice(fromAt + 1, atAt < 0 ? undefined : atAt);
    let value = await this.expr(valueNodes, scope);
    if (atAt >= 0) value = `timezone(${await this.expr(children.slice(atAt + 3), scope)}, ${value})`;
    return extractSql(part, value);
  }

  /** `DAY`, `WEEK(MONDAY)`... as one upper-case word. */
  private partWord(nodes: Node[]): string | undefined {
    const [first, second] = nodes;
    if (!isWord(first)) return undefined;
    const word = first.value.toUpperCase();
    if (nodes.length === 1) return DATE_PART_WORDS.has(word) || word === 'DATE' ? word : undefined;
    if (nodes.length === 2 && word === 'WEEK' && isGroup(second, '(') && isWord(second.children[0]))
      return `WEEK(${second.children[0].value.toUpperCase()})`;
    return undefined;
  }

  private async struct(body: Group, type: SqlType | undefined, scope: Scope): Promise<string> {
    const items = splitCommas(body.children);
    const fields: { name: string | undefined; sql: string }[] = [];
    for (const item of items) {
      let name: string | undefined;
      let valueNodes = item;
      const last = item[item.length - 1];
      if (item.length >= 3 && isWord(item[item.length - 2], 'AS') && isName(last)) {
        name = last.value;
        valueNodes = item.slice(0, -2);
      } else name = this.inferName(item);
      fields.push({ name, sql: await this.expr(valueNodes, scope) });
    }
    if (type !== undefined) return `CAST(row(${fields.map((f) => f.sql).join(', ')}) AS ${duckTypeOf(type)})`;
    if (fields.length === 0) throw invalidQuery('STRUCT() needs at least one field in the emulator.');
    return `struct_pack(${fields.map((f, k) => `${quoteIdent(f.name ?? `_field_${k + 1}`)} := ${f.sql}`).join(', ')})`;
  }

  // ---- function calls ----

  private async call(
    nameParts: string[],
    group: Group,
    next: number,
    scope: Scope,
    at: Token,
  ): Promise<{ sql: string; next: number }> {
    let parts = nameParts;
    let safe = false;
    if (parts.length > 1 && (parts[0] as string).toUpperCase() === 'SAFE') {
      safe = true;
      parts = parts.slice(1);
    }
    const name = parts.join('.').toUpperCase();
    let children = group.children;
    let distinct = false;
    if (isWord(children[0], 'DISTINCT')) {
      distinct = true;
      children = children.slice(1);
    }
    let orderBy: string | undefined;
    let limit: string | undefined;
    let ignoreNulls = false;
    const cut = (k: number): void => {
      children = children.slice(0, k);
    };
    const limitAt = children.findIndex((c) => isWord(c, 'LIMIT'));
    if (limitAt >= 0) {
      limit = await this.expr(children.slice(limitAt + 1), scope);
      cut(limitAt);
    }
    const orderAt = children.findIndex((c, k) => isWord(c, 'ORDER') && isWord(children[k + 1], 'BY'));
    if (orderAt >= 0) {
      orderBy = await this.orderList(children.slice(orderAt + 2), scope);
      cut(orderAt);
    }
    const nullsAt = children.findIndex(
      (c, k) => isWord(c, 'IGNORE', 'RESPECT') && isWord(children[k + 1], 'NULLS'),
    );
    if (nullsAt >= 0) {
      ignoreNulls = isWord(children[nullsAt], 'IGNORE');
      cut(nullsAt);
    }
    const rawArgs = splitCommas(children);
    if (rawArgs.some((a) => a.length === 0)) this.syntax(children.find((c) => isOp(c, ',')));

    if (name === 'TO_JSON_STRING') {
      return { sql: this.wrapSafe(await this.toJsonString(rawArgs, scope), safe), next };
    }
    const args: string[] = [];
    const partsOfArgs: (string | undefined)[] = [];
    const literals: (string | undefined)[] = [];
    for (const a of rawArgs) {
      const part = this.partWord(a);
      partsOfArgs.push(part);
      literals.push(a.length === 1 && a[0]?.kind === 'string' ? a[0].value : undefined);
      args.push(part !== undefined && a.length === 2 ? quoteString(part) : await this.expr(a, scope));
    }
    const sql = this.callSql(name, args, at, {
      parts: partsOfArgs,
      literals,
      distinct,
      ignoreNulls,
      ...(orderBy !== undefined ? { orderBy } : {}),
      ...(limit !== undefined ? { limit } : {}),
    });
    return { sql: this.wrapSafe(sql, safe), next };
  }

  private wrapSafe(sql: string, safe: boolean): string {
    return safe ? `try(${sql})` : sql;
  }

  private callSql(name: string, args: string[], at: Token, extra: Partial<Call> = {}): string {
    const call: Call = {
      name,
      args,
      parts: extra.parts ?? [],
      literals: extra.literals ?? [],
      distinct: extra.distinct ?? false,
      ignoreNulls: extra.ignoreNulls ?? false,
      ...(extra.orderBy !== undefined ? { orderBy: extra.orderBy } : {}),
      ...(extra.limit !== undefined ? { limit: extra.limit } : {}),
      now: this.ctx.now,
      at: position(at),
    };
    const translate = FUNCTIONS[name];
    if (translate !== undefined) return translate(call);
    if (name.includes('.'))
      throw invalidQuery(`Function not found: ${name.toLowerCase()} at ${position(at)}`);
    const orderBy = call.orderBy !== undefined ? ` ORDER BY ${call.orderBy}` : '';
    return `${name.toLowerCase()}(${call.distinct ? 'DISTINCT ' : ''}${args.join(', ')}${orderBy})`;
  }

  /** TO_JSON_STRING: exact BigQuery encodings where the argument's schema is known (a row alias or a table column). */
  private async toJsonString(rawArgs: Node[][], scope: Scope): Promise<string> {
    const [value, pretty] = rawArgs;
    if (value === undefined || rawArgs.length > 2)
      throw invalidQuery('TO_JSON_STRING takes one or two arguments.');
    if (pretty !== undefined) await this.expr(pretty, scope);
    const path = value.every((n, k) => (k % 2 === 0 ? isName(n) : isOp(n, '.'))) && value.length % 2 === 1;
    if (path) {
      const names = value.filter((n): n is Token => n.kind !== 'op').map((n) => n.value);
      const first = names[0] as string;
      const table = lookupTable(scope, first);
      const fields = table?.fields ?? (await this.subqueryFields(table));
      if (names.length === 1 && fields !== undefined)
        return jsonObjectSql(fields, (col) => `${quoteIdent(first)}.${quoteIdent(col)}`, 0, undefined);
      const field = this.knownField(names, scope);
      if (field !== undefined) return jsonValueSql(field, this.columnPath(names, scope));
    }
    return `CAST(to_json(${await this.expr(value, scope)}) AS VARCHAR)`;
  }

  /**
   * A subquery's result schema, as a query of it would return (DATETIME a DATETIME, not text), so that
   * `TO_JSON_STRING(alias)` encodes its row as BigQuery does; undefined when the subquery cannot be read
   * on its own (it names a CTE or an outer column).
   */
  private async subqueryFields(table: TableInfo | undefined): Promise<FieldSchema[] | undefined> {
    if (table?.subquerySql === undefined) return undefined;
    try {
      const reader = await this.ctx.connection.runAndReadAll(
        `SELECT * FROM ${table.subquerySql} AS __described LIMIT 0`,
      );
      const types = reader.columnTypes();
      table.fields = reader.columnNames().map((name, k) => fieldOf(name, types[k]!));
      return table.fields;
    } catch {
      return undefined;
    }
  }

  /** The schema of `t.col` / `col` (and struct fields below it) when exactly one table in scope has it. */
  private knownField(names: string[], scope: Scope): FieldSchema | undefined {
    const find = (fields: readonly FieldSchema[] | undefined, name: string): FieldSchema | undefined =>
      fields?.find((f) => f.name.toLowerCase() === name.toLowerCase());
    let field: FieldSchema | undefined;
    let rest: string[];
    const qualified = names.length >= 2 ? lookupTable(scope, names[0] as string) : undefined;
    if (qualified !== undefined) {
      field = find(qualified.fields, names[1] as string);
      rest = names.slice(2);
    } else {
      const candidates = [...scopeTables(scope)]
        .map(([, t]) => find(t.fields, names[0] as string))
        .filter((f): f is FieldSchema => f !== undefined);
      if (candidates.length !== 1) return undefined;
      field = candidates[0];
      rest = names.slice(1);
    }
    for (const part of rest) {
      if (field === undefined || field.type !== 'RECORD' || field.mode === 'REPEATED') return undefined;
      field = find(field.fields, part);
    }
    return field;
  }
}

/** Translates one GoogleSQL query to DuckDB SQL, resolving the tables it reads. */
export async function translateQuery(query: string, ctx: QueryContext): Promise<Translation> {
  const end = endOf(query);
  const tree = buildTree(tokenize(query), end);
  const params = parseParameters(ctx.parameters, ctx.parameterMode);
  const translator = new Translator(ctx, params, end);
  const sql = await translator.statement(tree);
  return { sql, referencedTables: translator.referenced };
}

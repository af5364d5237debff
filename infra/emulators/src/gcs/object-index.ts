/**
 * Orders names as GCS lists them: by Unicode code point (= UTF-8 byte order). JS `<` compares UTF-16
 * code units, which differs only when one side is a surrogate (a code point above U+FFFF).
 */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

export interface ListQuery {
  readonly prefix: string;
  readonly delimiter?: string;
  readonly startOffset?: string;
  readonly endOffset?: string;
  readonly glob?: RegExp;
  readonly includeTrailingDelimiter: boolean;
  readonly maxResults: number;
  /** Resume from this name (inclusive): the decoded page token. */
  readonly cursor?: string;
}

export interface ListPage<T> {
  readonly items: T[];
  readonly prefixes: string[];
  /** The name the next page starts from, when there is one. */
  readonly nextCursor?: string;
}

/** The live objects of one bucket: a map for lookups plus names kept sorted for prefix listing. */
export class ObjectIndex<T extends { readonly name: string }> {
  private readonly byName = new Map<string, T>();
  private names: string[] = [];

  get size(): number {
    return this.byName.size;
  }

  get(name: string): T | undefined {
    return this.byName.get(name);
  }

  /** Loads many entries at once (start-up): one sort instead of one insertion each. */
  load(entries: Iterable<T>): void {
    for (const entry of entries) this.byName.set(entry.name, entry);
    this.names = [...this.byName.keys()].sort(compareNames);
  }

  set(entry: T): void {
    if (!this.byName.has(entry.name)) this.names.splice(this.lowerBound(entry.name), 0, entry.name);
    this.byName.set(entry.name, entry);
  }

  delete(name: string): boolean {
    if (!this.byName.delete(name)) return false;
    this.names.splice(this.lowerBound(name), 1);
    return true;
  }

  list(q: ListQuery): ListPage<T> {
    const items: T[] = [];
    const prefixes: string[] = [];
    let from = q.prefix;
    if (q.startOffset !== undefined && compareNames(q.startOffset, from) > 0) from = q.startOffset;
    if (q.cursor !== undefined && compareNames(q.cursor, from) > 0) from = q.cursor;
    let i = this.lowerBound(from);
    while (i < this.names.length) {
      const name = this.names[i]!;
      if (!name.startsWith(q.prefix)) break;
      if (q.endOffset !== undefined && compareNames(name, q.endOffset) >= 0) break;
      const cut = q.delimiter ? name.indexOf(q.delimiter, q.prefix.length) : -1;
      if (cut >= 0) {
        const commonPrefix = name.slice(0, cut + q.delimiter!.length);
        // A name that is the prefix itself ("dir/") is also an item with includeTrailingDelimiter.
        const trailingItem = q.includeTrailingDelimiter && name === commonPrefix;
        if (!q.glob || q.glob.test(name) || this.anyUnder(commonPrefix, i, q)) {
          if (items.length + prefixes.length >= q.maxResults) return { items, prefixes, nextCursor: name };
          prefixes.push(commonPrefix);
          if (trailingItem && (!q.glob || q.glob.test(name))) items.push(this.byName.get(name)!);
        }
        i = this.endOfPrefix(commonPrefix, i);
        continue;
      }
      if (!q.glob || q.glob.test(name)) {
        if (items.length + prefixes.length >= q.maxResults) return { items, prefixes, nextCursor: name };
        items.push(this.byName.get(name)!);
      }
      i++;
    }
    return { items, prefixes };
  }

  /** Whether a name under `commonPrefix` (from index `from`) matches the glob and the end offset. */
  private anyUnder(commonPrefix: string, from: number, q: ListQuery): boolean {
    const end = this.endOfPrefix(commonPrefix, from);
    for (let i = from; i < end; i++) {
      const name = this.names[i]!;
      if (q.endOffset !== undefined && compareNames(name, q.endOffset) >= 0) return false;
      if (q.glob!.test(name)) return true;
    }
    return false;
  }

  /** First index at or after `from` whose name does not start with `prefix`. */
  private endOfPrefix(prefix: string, from: number): number {
    let lo = from;
    let hi = this.names.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.names[mid]!.startsWith(prefix)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private lowerBound(name: string): number {
    let lo = 0;
    let hi = this.names.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareNames(this.names[mid]!, name) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

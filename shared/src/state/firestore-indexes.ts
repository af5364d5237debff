// The query shapes FirestoreStateStore issues and the composite indexes that serve them: the source of
// truth for infra/terraform (infra/terraform/README.md). test/terraform/firestore-indexes.test.ts records the
// queries the real store issues against the emulator and proves each is a shape declared here, served by
// these indexes.
//
// Firestore's rules, as `unservedBy` models them (https://firebase.google.com/docs/firestore/query-data/index-overview,
// "Taking advantage of index merging"; the same for Datastore mode:
// https://cloud.google.com/datastore/docs/concepts/optimize-indexes):
// - a single-field index exists for every field, both directions: a query on one field (filter, range,
//   sort) needs nothing more; the document id order (`__name__` ascending) ends every index;
// - equality filters (`==`, and `in`, a disjunction of equalities) on any fields without a sort are
//   served by merging single-field indexes;
// - equality filters with a sort (or a range) on another field need, for each equality field, a composite
//   index of equality fields followed by the sort: indexes (a, c) and (b, c) merge to serve
//   `a == x && b == y order by c`, so one index per filterable field covers every combination;
// - sum() and average() are computed by scanning an index of the aggregated field
//   (https://cloud.google.com/blog/products/databases/aggregate-with-sum-and-avg-in-firestore): with
//   equality filters, a composite index of those filters followed by the aggregated field.

export type IndexOrder = 'ASCENDING' | 'DESCENDING';

export interface IndexField {
  readonly fieldPath: string;
  readonly order: IndexOrder;
}

export interface CompositeIndex {
  /** The collection id (`tasks` is each operation's subcollection: query scope COLLECTION). */
  readonly collection: string;
  readonly fields: readonly IndexField[];
}

/** One query of the store, with the filters it may add (any subset of `optionalEquality`). */
export interface QueryShape {
  /** The StateStore method that issues it. */
  readonly method: string;
  readonly collection: string;
  readonly equality: readonly string[];
  readonly optionalEquality: readonly string[];
  /** An inequality filter (`<`, `>`...), present or not. */
  readonly optionalRange?: string;
  readonly orderBy: readonly IndexField[];
  /** Fields summed (AggregateField.sum) over the matches. */
  readonly sums: readonly string[];
}

/** One concrete query: what the client sent. */
export interface ConcreteQuery {
  readonly collection: string;
  readonly equality: readonly string[];
  readonly range?: string;
  readonly orderBy: readonly IndexField[];
  readonly sums: readonly string[];
}

const DOCUMENT_ID = '__name__';
const desc = (fieldPath: string): IndexField => ({ fieldPath, order: 'DESCENDING' });
const asc = (fieldPath: string): IndexField => ({ fieldPath, order: 'ASCENDING' });
const shape = (s: Partial<QueryShape> & Pick<QueryShape, 'method' | 'collection'>): QueryShape => ({
  equality: [],
  optionalEquality: [],
  orderBy: [],
  sums: [],
  ...s,
});

/** Every query FirestoreStateStore issues (firestore-state-store.ts, method by method). */
export const FIRESTORE_QUERY_SHAPES: readonly QueryShape[] = [
  shape({
    method: 'listOperations',
    collection: 'operations',
    optionalEquality: ['status', 'kind', 'projectId'],
    optionalRange: 'createdAt',
    orderBy: [desc('createdAt')],
  }),
  shape({ method: 'countTasks', collection: 'tasks', equality: ['status'] }),
  shape({
    method: 'hasUnfinishedTasks',
    collection: 'tasks',
    equality: ['status'],
    optionalEquality: ['phase'],
  }),
  shape({
    method: 'sumTasks',
    collection: 'tasks',
    equality: ['status'],
    sums: ['rows', 'bytes', 'fileCount'],
  }),
  shape({
    method: 'listTasks',
    collection: 'tasks',
    optionalEquality: ['status', 'phase'],
    orderBy: [asc(DOCUMENT_ID)],
  }),
  shape({
    method: 'listBackups',
    collection: 'backups',
    optionalEquality: ['projectId'],
    orderBy: [desc('snapshotMillis')],
  }),
];

/** The composite indexes the shapes above need (single-field indexes are Firestore's defaults). */
export const FIRESTORE_INDEXES: readonly CompositeIndex[] = [
  ...['status', 'kind', 'projectId'].map((f) => ({
    collection: 'operations',
    fields: [asc(f), desc('createdAt')],
  })),
  ...['rows', 'bytes', 'fileCount'].map((f) => ({ collection: 'tasks', fields: [asc('status'), asc(f)] })),
  { collection: 'backups', fields: [asc('projectId'), desc('snapshotMillis')] },
];

/** Every concrete query a shape stands for (each subset of its optional filters, with and without its range). */
export function concreteQueries(s: QueryShape): ConcreteQuery[] {
  const subsets = s.optionalEquality.reduce<string[][]>(
    (acc, field) => [...acc, ...acc.map((subset) => [...subset, field])],
    [[]],
  );
  const ranges = s.optionalRange === undefined ? [undefined] : [undefined, s.optionalRange];
  return subsets.flatMap((subset) =>
    ranges.map((range) => ({
      collection: s.collection,
      equality: [...s.equality, ...subset],
      ...(range === undefined ? {} : { range }),
      orderBy: s.orderBy,
      sums: s.sums,
    })),
  );
}

/** Whether `q` is one of the queries `s` stands for. */
export function shapeCovers(s: QueryShape, q: ConcreteQuery): boolean {
  return (
    s.collection === q.collection &&
    s.equality.every((f) => q.equality.includes(f)) &&
    q.equality.every((f) => s.equality.includes(f) || s.optionalEquality.includes(f)) &&
    (q.range === undefined || q.range === s.optionalRange) &&
    sameFields(withoutDocumentId(s.orderBy), withoutDocumentId(q.orderBy)) &&
    [...q.sums].sort().join() === [...s.sums].sort().join()
  );
}

/** Why `q` needs an index `indexes` lack, or undefined when Firestore can serve it (rules above). */
export function unservedBy(q: ConcreteQuery, indexes: readonly CompositeIndex[]): string | undefined {
  const sorts = withoutDocumentId(q.orderBy);
  if (q.range !== undefined && sorts.length > 0 && sorts[0]?.fieldPath !== q.range) {
    return `${q.collection}: the range on ${q.range} must be its first sort`;
  }
  const suffixes: IndexField[][] = q.sums.map((f) => [asc(f)]);
  if (q.sums.length === 0) suffixes.push(sorts.length > 0 ? [...sorts] : q.range ? [asc(q.range)] : []);
  for (const suffix of suffixes) {
    if (suffix.length === 0) continue; // equality only: merged single-field indexes
    if (q.equality.length === 0) {
      if (suffix.length === 1) continue; // one field: its single-field index
      if (!indexes.some((i) => i.collection === q.collection && sameFields(i.fields, suffix))) {
        return `${q.collection}: no index on ${describe(suffix)}`;
      }
      continue;
    }
    for (const field of q.equality) {
      const served = indexes.some((i) => {
        if (i.collection !== q.collection || i.fields.length <= suffix.length) return false;
        const prefix = i.fields.slice(0, i.fields.length - suffix.length);
        return (
          sameFields(i.fields.slice(prefix.length), suffix) &&
          prefix.some((f) => f.fieldPath === field) &&
          prefix.every((f) => q.equality.includes(f.fieldPath))
        );
      });
      if (!served) return `${q.collection}: no index on ${field} then ${describe(suffix)}`;
    }
  }
  return undefined;
}

function withoutDocumentId(fields: readonly IndexField[]): IndexField[] {
  return fields.filter((f) => !(f.fieldPath === DOCUMENT_ID && f.order === 'ASCENDING'));
}

function sameFields(a: readonly IndexField[], b: readonly IndexField[]): boolean {
  return (
    a.length === b.length && a.every((f, i) => f.fieldPath === b[i]?.fieldPath && f.order === b[i]?.order)
  );
}

const describe = (fields: readonly IndexField[]): string =>
  fields.map((f) => `${f.fieldPath} ${f.order === 'ASCENDING' ? 'asc' : 'desc'}`).join(', ');

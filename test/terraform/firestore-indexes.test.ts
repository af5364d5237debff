// The Firestore composite indexes (shared/src/state/firestore-indexes.ts, deployed by infra/terraform):
// every query the real store issues against the emulator is a declared shape, and every declared shape is
// served by the declared indexes under Firestore's rules. The emulator serves any query without indexes,
// so the queries are recorded as the client serializes them.
import { startStack, type RunningStack } from '@bqbr/emulators';
import {
  concreteQueries,
  createClients,
  FIRESTORE_INDEXES,
  FIRESTORE_QUERY_SHAPES,
  FirestoreStateStore,
  shapeCovers,
  unservedBy,
  type ConcreteQuery,
  type IndexField,
} from '@bqbr/shared';
import { Query, type Firestore } from '@google-cloud/firestore';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';

const PROJECT = `indexes-${randomUUID().slice(0, 8)}`;

interface FieldFilterProto {
  readonly field: { readonly fieldPath: string };
  readonly op: string;
}
interface FilterProto {
  readonly fieldFilter?: FieldFilterProto;
  readonly compositeFilter?: { readonly filters: readonly FilterProto[] };
}
interface StructuredQueryProto {
  readonly from: readonly { readonly collectionId?: string }[];
  readonly where?: FilterProto;
  readonly orderBy?: readonly {
    readonly field: { readonly fieldPath: string };
    readonly direction?: string;
  }[];
}

const EQUALITY = new Set(['EQUAL', 'IN']);

function fieldFilters(filter: FilterProto | undefined): FieldFilterProto[] {
  if (filter === undefined) return [];
  if (filter.fieldFilter) return [filter.fieldFilter];
  return (filter.compositeFilter?.filters ?? []).flatMap(fieldFilters);
}

function concrete(q: StructuredQueryProto, sums: readonly string[]): ConcreteQuery {
  const filters = fieldFilters(q.where);
  const range = filters.find((f) => !EQUALITY.has(f.op))?.field.fieldPath;
  return {
    collection: q.from[0]?.collectionId ?? '',
    equality: filters.filter((f) => EQUALITY.has(f.op)).map((f) => f.field.fieldPath),
    ...(range === undefined ? {} : { range }),
    orderBy: (q.orderBy ?? []).map((o): IndexField => ({
      fieldPath: o.field.fieldPath,
      order: o.direction === 'DESCENDING' ? 'DESCENDING' : 'ASCENDING',
    })),
    sums,
  };
}

/** Records every query the client serializes until the returned function is called. */
function recordQueries(firestore: Firestore): { readonly queries: ConcreteQuery[]; restore(): void } {
  const queries: ConcreteQuery[] = [];
  type ToProto = (this: unknown, ...args: unknown[]) => Record<string, unknown>;
  const queryProto = Query.prototype as unknown as { toProto: ToProto };
  // AggregateQuery is not exported: its prototype from an instance.
  const aggregateProto = Object.getPrototypeOf(firestore.collection('any').count()) as { toProto: ToProto };
  const originalQuery = queryProto.toProto;
  const originalAggregate = aggregateProto.toProto;
  let inAggregate = 0;
  queryProto.toProto = function (...args) {
    const request = originalQuery.apply(this, args);
    if (inAggregate === 0) queries.push(concrete(request.structuredQuery as StructuredQueryProto, []));
    return request;
  };
  aggregateProto.toProto = function (...args) {
    inAggregate += 1;
    try {
      const request = originalAggregate.apply(this, args);
      const aggregation = request.structuredAggregationQuery as {
        structuredQuery: StructuredQueryProto;
        aggregations: readonly { sum?: { field: { fieldPath: string } } }[];
      };
      const sums = aggregation.aggregations.flatMap((a) => (a.sum ? [a.sum.field.fieldPath] : []));
      queries.push(concrete(aggregation.structuredQuery, sums));
      return request;
    } finally {
      inAggregate -= 1;
    }
  };
  return {
    queries,
    restore() {
      queryProto.toProto = originalQuery;
      aggregateProto.toProto = originalAggregate;
    },
  };
}

const describeQuery = (q: ConcreteQuery): string => JSON.stringify(q);

describe('Firestore indexes (shared/src/state/firestore-indexes.ts)', function () {
  it('serve every concrete query of every declared shape', function () {
    const unserved = FIRESTORE_QUERY_SHAPES.flatMap((s) =>
      concreteQueries(s).flatMap((q) => {
        const why = unservedBy(q, FIRESTORE_INDEXES);
        return why === undefined ? [] : [`${s.method}: ${why}`];
      }),
    );
    expect(unserved).to.deep.equal([]);
  });

  it('are each needed: dropping any one leaves a query unserved', function () {
    for (const dropped of FIRESTORE_INDEXES) {
      const rest = FIRESTORE_INDEXES.filter((i) => i !== dropped);
      const unserved = FIRESTORE_QUERY_SHAPES.flatMap(concreteQueries).filter(
        (q) => unservedBy(q, rest) !== undefined,
      );
      expect(unserved, JSON.stringify(dropped)).to.not.deep.equal([]);
    }
  });

  it('refuse a new query shape no index serves', function () {
    const sortedByUpdate: ConcreteQuery = {
      collection: 'operations',
      equality: ['status'],
      orderBy: [{ fieldPath: 'updatedAt', order: 'DESCENDING' }],
      sums: [],
    };
    expect(unservedBy(sortedByUpdate, FIRESTORE_INDEXES)).to.equal(
      'operations: no index on status then updatedAt desc',
    );
    const twoSorts: ConcreteQuery = {
      collection: 'backups',
      equality: [],
      orderBy: [
        { fieldPath: 'snapshotMillis', order: 'DESCENDING' },
        { fieldPath: 'projectId', order: 'ASCENDING' },
      ],
      sums: [],
    };
    expect(unservedBy(twoSorts, FIRESTORE_INDEXES)).to.equal(
      'backups: no index on snapshotMillis desc, projectId asc',
    );
  });

  describe('the queries the real store issues', function () {
    let stack: RunningStack | undefined;
    let firestore: Firestore | undefined;
    let recorder: ReturnType<typeof recordQueries> | undefined;

    before(async function () {
      this.timeout(120_000);
      stack = await startStack({ services: ['firestore'], ports: { firestore: 0 }, projectId: PROJECT });
      firestore = createClients(stack.env, PROJECT).firestore;
    });

    after(async function () {
      recorder?.restore();
      await firestore?.terminate();
      await stack?.stop();
    });

    it('are each a declared shape', async function () {
      const store = new FirestoreStateStore(firestore!);
      // The queries need no documents: the client serializes each the same way.
      const operationId = `op-${randomUUID()}`;
      const now = new Date().toISOString();

      recorder = recordQueries(firestore!);
      // Every query method, with each optional filter absent and present.
      await store.listOperations({});
      await store.listOperations({
        status: 'RUNNING',
        kind: 'backup',
        projectId: 'src',
        createdBefore: now,
        limit: 5,
      });
      await store.listOperations({ kind: 'backup' });
      await store.countTasks(operationId);
      await store.hasUnfinishedTasks(operationId);
      await store.hasUnfinishedTasks(operationId, 1);
      await store.sumTasks(operationId);
      await store.listTasks(operationId);
      await store.listTasks(operationId, {
        status: 'PENDING',
        phase: 1,
        startAfter: 'sales.orders',
        limit: 2,
      });
      await store.listBackups();
      await store.listBackups({ projectId: 'src' });
      recorder.restore();

      const { queries } = recorder;
      expect(queries.length).to.be.greaterThan(10);
      const undeclared = queries.filter((q) => !FIRESTORE_QUERY_SHAPES.some((s) => shapeCovers(s, q)));
      expect(undeclared.map(describeQuery)).to.deep.equal([]);
      // Every declared shape was seen: none is left over from a query that no longer exists.
      const unseen = FIRESTORE_QUERY_SHAPES.filter((s) => !queries.some((q) => shapeCovers(s, q)));
      expect(unseen.map((s) => s.method)).to.deep.equal([]);
    });

    it('would catch a query of a shape not declared', async function () {
      recorder = recordQueries(firestore!);
      await firestore!
        .collection('operations')
        .where('status', '==', 'RUNNING')
        .orderBy('updatedAt', 'desc')
        .get();
      recorder.restore();
      const [query] = recorder.queries;
      expect(query).to.deep.include({ collection: 'operations', equality: ['status'] });
      expect(FIRESTORE_QUERY_SHAPES.some((s) => shapeCovers(s, query!))).to.equal(false);
    });
  });
});

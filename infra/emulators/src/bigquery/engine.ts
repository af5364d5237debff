import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

/** A row as DuckDB's JSON conversion gives it: VARCHARs as strings, STRUCTs as objects, LISTs as arrays. */
export type JsonRow = Record<string, unknown>;

/**
 * One DuckDB database shared by the emulator, with a small pool of connections: DuckDB runs one
 * statement at a time per connection, while separate connections run in parallel (MVCC).
 */
export class Engine {
  private readonly idle: DuckDBConnection[] = [];
  private readonly waiters: ((c: DuckDBConnection) => void)[] = [];
  private created = 0;
  private closed = false;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly maxConnections: number,
  ) {}

  /** `path` is a database file, or ':memory:'. */
  static async open(path: string, maxConnections = 4): Promise<Engine> {
    // TimeZone is set per connection: ICU (built in) loads only once the instance exists.
    const instance = await DuckDBInstance.create(path);
    return new Engine(instance, maxConnections);
  }

  async withConnection<T>(fn: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = await this.acquire();
    try {
      return await fn(connection);
    } finally {
      this.release(connection);
    }
  }

  /** Runs `fn` inside one transaction on one connection; rolls back if it throws. */
  async transaction<T>(fn: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.withConnection(async (c) => {
      await c.run('BEGIN TRANSACTION');
      try {
        const result = await fn(c);
        await c.run('COMMIT');
        return result;
      } catch (err) {
        await c.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  async run(sql: string): Promise<void> {
    await this.withConnection(async (c) => {
      await c.run(sql);
    });
  }

  /** Rows with DuckDB's JSON conversion (BIGINT and DECIMAL as strings). */
  async all(sql: string): Promise<JsonRow[]> {
    return this.withConnection(async (c) => rowsOf(c, sql));
  }

  close(): Promise<void> {
    this.closed = true;
    for (const c of this.idle.splice(0)) c.closeSync();
    this.instance.closeSync();
    return Promise.resolve();
  }

  private async acquire(): Promise<DuckDBConnection> {
    if (this.closed) throw new Error('The BigQuery emulator is closed.');
    const ready = this.idle.pop();
    if (ready) return ready;
    if (this.created < this.maxConnections) {
      this.created++;
      const connection = await this.instance.connect();
      await connection.run("SET TimeZone='UTC'");
      return connection;
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(connection: DuckDBConnection): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(connection);
    else if (this.closed) connection.closeSync();
    else this.idle.push(connection);
  }
}

export async function rowsOf(connection: DuckDBConnection, sql: string): Promise<JsonRow[]> {
  const reader = await connection.runAndReadAll(sql);
  return reader.getRowObjectsJson();
}

/** Reads a query's rows in chunks, so large tables never sit in memory whole. */
export async function* streamRows(connection: DuckDBConnection, sql: string): AsyncGenerator<JsonRow[]> {
  const result = await connection.stream(sql);
  for await (const rows of result.yieldRowObjectJson()) yield rows;
}

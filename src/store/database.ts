/**
 * The store port. Everything above src/store talks to PostgreSQL through this
 * small interface, so the same code runs on a PostgreSQL server (node-postgres
 * pool) and on embedded PGlite.
 *
 * Glossary:
 * - Queryable: anything that runs one SQL statement (the database itself, or an open transaction).
 * - Database: a Queryable that can also open transactions, listen for notifications and close.
 */

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface QueryOptions {
  /**
   * Keep the statement prepared on each connection (default: false). Worth it for
   * large statements on hot paths, where planning costs more than executing.
   */
  prepare?: boolean;
}

/** Runs one parameterised SQL statement. */
export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>>;
  /** Runs a script of one or more statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export type DatabaseKind = 'postgres' | 'pglite';

export interface Database extends Queryable {
  readonly kind: DatabaseKind;
  /** Runs fn inside BEGIN/COMMIT; rolls back and rethrows when fn throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Subscribes to NOTIFY on a channel; resolves to an unsubscribe function. `onLost` runs if the
   * connection that listens is lost (notifications may have been missed since; the subscription
   * is gone and must be taken again). Without it, a lost listening connection is fatal to the
   * process, as an unhandled connection error.
   */
  listen(channel: string, onNotify: (payload: string) => void, onLost?: () => void): Promise<() => Promise<void>>;
  /** The connection pool now: connections open, idle, and callers waiting for one (PostgreSQL only). */
  pool?(): PoolStats;
  close(): Promise<void>;
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

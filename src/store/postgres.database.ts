import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Database, Queryable, QueryOptions, QueryResult } from './database.ts';

// BIGINT and NUMERIC come back as strings: quantities and money must stay exact.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

export interface PostgresOptions {
  connectionString: string;
  /** Pool size (default: 20). */
  poolSize?: number;
  applicationName?: string;
}

const statementNames = new Map<string, string>();

// A prepared statement is named after its text, so the same text always maps to the same name.
function toConfig(sql: string, params: readonly unknown[] | undefined, options: QueryOptions | undefined): pg.QueryConfig {
  const values = params as unknown[] | undefined;
  if (!options?.prepare) return { text: sql, values };
  let name = statementNames.get(sql);
  if (!name) {
    name = `syncline_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
    statementNames.set(sql, name);
  }
  return { name, text: sql, values };
}

/** A Database backed by a PostgreSQL server through a node-postgres pool. */
export function openPostgres(options: PostgresOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 20,
    application_name: options.applicationName ?? 'syncline',
  });
  // An idle client losing its connection (server restart) must not crash the process;
  // the pool discards it and the next query opens a new one.
  pool.on('error', () => {});

  interface Subscription {
    channel: string;
    onNotify: (payload: string) => void;
    onLost: (() => void) | undefined;
  }
  interface Listener {
    client: pg.PoolClient;
    channels: Map<string, Set<Subscription>>;
    lost: boolean;
  }
  let shared: Promise<Listener> | undefined;
  // The listener being opened or in use, to tell whether a lost one is still the shared one.
  let opened: Promise<Listener> | undefined;
  const openListener = async (): Promise<Listener> => {
    try {
      const client = await pool.connect();
      const listener: Listener = { client, channels: new Map(), lost: false };
      client.on('notification', (message: pg.Notification) => {
        for (const h of listener.channels.get(message.channel) ?? []) h.onNotify(message.payload ?? '');
      });
      // The subscribers that can recover are told; if any cannot, the error stays fatal (as unhandled).
      const onLoss = (error?: Error) => {
        if (listener.lost) return;
        listener.lost = true;
        if (shared === opened) shared = undefined;
        const subscriptions = [...listener.channels.values()].flatMap((set) => [...set]);
        listener.channels.clear();
        client.release(true);
        for (const s of subscriptions) s.onLost?.();
        if (error && subscriptions.some((s) => !s.onLost)) throw error;
      };
      client.on('error', (error: Error) => onLoss(error));
      client.on('end', () => onLoss());
      return listener;
    } catch (error) {
      shared = undefined;
      throw error;
    }
  };

  const query = async <R>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>> => {
    const result = await pool.query(toConfig(sql, params, options));
    return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
  };

  return {
    kind: 'postgres',
    pool: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    query,
    async exec(sql) {
      await pool.query(sql);
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      const tx: Queryable = {
        async query<R>(sql: string, params?: readonly unknown[], options?: QueryOptions) {
          const result = await client.query(toConfig(sql, params, options));
          return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
        },
        async exec(sql: string) {
          await client.query(sql);
        },
      };
      let broken = false;
      try {
        await client.query('BEGIN');
        const value = await fn(tx);
        await client.query('COMMIT');
        return value;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw error;
      } finally {
        client.release(broken);
      }
    },
    // One connection carries every channel this process listens to: each would otherwise hold a
    // connection of the pool for good (the worker's jobs, its targets' breakers, the API's access).
    async listen(channel, onNotify, onLost) {
      const entry: Subscription = { channel, onNotify, onLost };
      const listener = await (shared ??= opened = openListener());
      let handlers = listener.channels.get(channel);
      if (!handlers) {
        handlers = new Set();
        listener.channels.set(channel, handlers);
        await listener.client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      }
      handlers.add(entry);
      return async () => {
        const current = listener.channels.get(channel);
        if (listener.lost || !current?.delete(entry) || current.size > 0) return;
        listener.channels.delete(channel);
        try {
          await listener.client.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`);
        } finally {
          if (listener.channels.size === 0 && shared && !listener.lost) {
            shared = undefined;
            // Back to the pool, no longer ours: its later end is not a lost listener.
            listener.lost = true;
            listener.client.release();
          }
        }
      };
    },
    async close() {
      await pool.end();
    },
  };
}

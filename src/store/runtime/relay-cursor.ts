import type { Queryable } from '../database.ts';
import type { FeedCursor } from '../../runtime/outbox/outbox.ts';

// Any constant works; it only has to be the same in every Syncline process.
const RELAY_LOCK_KEY = 7_305_311_002;

/**
 * Becomes the relay for this transaction, or returns false when another process is.
 * A transaction-scoped advisory lock gives the transaction no transaction id, so it
 * does not hold back the outbox rows it is about to read (see readFeed).
 */
export async function tryLeadRelay(tx: Queryable, name: string): Promise<boolean> {
  const result = await tx.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS locked', [RELAY_LOCK_KEY % 2_147_483_647, name]);
  return result.rows[0]?.locked === true;
}

export async function readRelayCursor(tx: Queryable, name: string): Promise<FeedCursor | undefined> {
  const result = await tx.query<{ tx_id: string; position: string }>('SELECT tx_id::text, position FROM runtime_relay_cursor WHERE name = $1', [name]);
  const row = result.rows[0];
  return row ? { txId: row.tx_id, position: String(row.position) } : undefined;
}

export async function writeRelayCursor(tx: Queryable, name: string, cursor: FeedCursor): Promise<void> {
  await tx.query(
    `INSERT INTO runtime_relay_cursor (name, tx_id, position, updated_at) VALUES ($1, $2::xid8, $3, now())
     ON CONFLICT (name) DO UPDATE SET tx_id = EXCLUDED.tx_id, position = EXCLUDED.position, updated_at = now()`,
    [name, cursor.txId, cursor.position],
  );
}

export interface RelayBacklogRow {
  name: string;
  updated_at: Date | string;
  behind: string;
}

/** Every relay cursor with the number of outbox events after it (a NATS relay waiting on an outage grows here). */
export async function relayBacklogs(db: Queryable): Promise<RelayBacklogRow[]> {
  const result = await db.query<RelayBacklogRow>(
    `SELECT c.name, c.updated_at,
            (SELECT count(*) FROM outbox_event e WHERE (e.tx_id, e.position) > (c.tx_id, c.position)) AS behind
       FROM runtime_relay_cursor c
      ORDER BY c.name`,
  );
  return result.rows;
}

/** How far one relay is behind: see relayLag. */
export interface RelayLagRow {
  behind: number;
  lagMs: number;
  oldestWriterMs: number;
}

/**
 * One relay's lag, in one statement: the outbox events after its cursor, the age of the oldest
 * of them (ms), and, when `writers` is set, the age of the oldest transaction of this database
 * still writing (ms), which the relay cannot pass (readFeed reads in transaction order).
 */
export async function relayLag(db: Queryable, name: string, options: { writers: boolean }): Promise<RelayLagRow> {
  const after = `FROM outbox_event e, runtime_relay_cursor c WHERE c.name = $1 AND (e.tx_id, e.position) > (c.tx_id, c.position)`;
  const writers = options.writers
    ? `(SELECT coalesce(max(extract(epoch FROM clock_timestamp() - a.xact_start)) * 1000, 0) FROM pg_stat_activity a
         WHERE a.datname = current_database() AND a.backend_xid IS NOT NULL AND a.pid <> pg_backend_pid())`
    : '0';
  const row = (await db.query<{ behind: string; lag_ms: string | null; writer_ms: string }>(
    `SELECT (SELECT count(*) ${after}) AS behind,
            (SELECT extract(epoch FROM clock_timestamp() - e.time) * 1000 ${after} ORDER BY e.tx_id, e.position LIMIT 1) AS lag_ms,
            ${writers} AS writer_ms`,
    [name],
  )).rows[0]!;
  return { behind: Number(row.behind), lagMs: Math.round(Number(row.lag_ms ?? 0)), oldestWriterMs: Math.round(Number(row.writer_ms)) };
}

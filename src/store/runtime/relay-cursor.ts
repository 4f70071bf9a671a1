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

import type { Queryable } from '../../store/database.ts';
import { OUTBOX_COLUMNS, toCloudEvent, type OutboxRow } from '../outbox/outbox.ts';
import type { CloudEvent } from '../../model/cloud-event.ts';

/** Where a replay starts: an event (itself included) or a time (events at or after it). */
export type ReplayStart = { eventId: string } | { time: string };

/** True when the outbox holds an event with this id. */
export async function eventExists(db: Queryable, eventId: string): Promise<boolean> {
  const result = await db.query('SELECT 1 FROM outbox_event WHERE id = $1', [eventId]);
  return result.rowCount > 0;
}

/** Committed events from a start, in commit order, at most limit of them. */
export async function selectEventsFrom(db: Queryable, start: ReplayStart, limit: number): Promise<CloudEvent[]> {
  const result =
    'eventId' in start
      ? await db.query<OutboxRow>(
          `SELECT ${OUTBOX_COLUMNS}
             FROM outbox_event e, (SELECT tx_id, position FROM outbox_event WHERE id = $1) AS start
            WHERE (e.tx_id, e.position) >= (start.tx_id, start.position)
            ORDER BY e.tx_id, e.position
            LIMIT $2`,
          [start.eventId, limit],
        )
      : await db.query<OutboxRow>(
          `SELECT ${OUTBOX_COLUMNS}
             FROM outbox_event e WHERE e.time >= $1
            ORDER BY e.tx_id, e.position
            LIMIT $2`,
          [start.time, limit],
        );
  return result.rows.map(toCloudEvent);
}

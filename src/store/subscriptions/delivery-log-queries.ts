import type { Queryable } from '../database.ts';

/** One HTTP attempt to deliver an event to a subscription. */
export interface DeliveryAttemptRow {
  id: string;
  eventId: string;
  eventType: string;
  subject: string;
  attempt: number;
  at: string;
  statusCode: number | null;
  latencyMs: number;
  outcome: 'delivered' | 'failed';
  error: string | null;
}

export async function insertDeliveryAttempt(db: Queryable, subscriptionId: string, a: Omit<DeliveryAttemptRow, 'id' | 'at'>): Promise<void> {
  await db.query(
    `INSERT INTO webhook_delivery_attempt (subscription_id, event_id, event_type, subject, attempt, status_code, latency_ms, outcome, error)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [subscriptionId, a.eventId, a.eventType, a.subject, a.attempt, a.statusCode, a.latencyMs, a.outcome, a.error],
  );
}

/** Attempts of a subscription, newest first, optionally of one event and older than a cursor id. */
export async function selectDeliveryAttempts(
  db: Queryable,
  subscriptionId: string,
  filter: { eventId?: string | undefined; before?: string | undefined },
  limit: number,
): Promise<DeliveryAttemptRow[]> {
  const result = await db.query<{
    id: string;
    event_id: string;
    event_type: string;
    subject: string;
    attempt: number;
    at: Date;
    status_code: number | null;
    latency_ms: number;
    outcome: DeliveryAttemptRow['outcome'];
    error: string | null;
  }>(
    `SELECT id::text AS id, event_id, event_type, subject, attempt, at, status_code, latency_ms, outcome, error
       FROM webhook_delivery_attempt
      WHERE subscription_id = $1 AND ($2::text IS NULL OR event_id = $2) AND ($3::bigint IS NULL OR id < $3)
      -- The table's id: the output column of the same name is text and would sort as text.
      ORDER BY webhook_delivery_attempt.id DESC
      LIMIT $4`,
    [subscriptionId, filter.eventId ?? null, filter.before ?? null, limit],
  );
  return result.rows.map((r) => ({
    id: r.id,
    eventId: r.event_id,
    eventType: r.event_type,
    subject: r.subject,
    attempt: r.attempt,
    at: new Date(r.at).toISOString(),
    statusCode: r.status_code,
    latencyMs: r.latency_ms,
    outcome: r.outcome,
    error: r.error,
  }));
}

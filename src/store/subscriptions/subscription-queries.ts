import type { Queryable } from '../database.ts';

/** A webhook subscription row as the domain sees it (secrets included: never send this out as is). */
export interface SubscriptionRow {
  id: string;
  url: string;
  types: string[];
  channel: string | null;
  description: string | null;
  status: 'active' | 'paused' | 'disabled';
  statusReason: string | null;
  secret: string;
  previousSecret: string | null;
  previousSecretUntil: string | null;
  ratePerSecond: number;
  maxConcurrency: number;
  failingSince: string | null;
  createdAt: string;
  updatedAt: string;
}

interface Raw {
  id: string;
  url: string;
  types: string[];
  channel: string | null;
  description: string | null;
  status: SubscriptionRow['status'];
  status_reason: string | null;
  secret: string;
  previous_secret: string | null;
  previous_secret_until: Date | null;
  rate_per_second: number;
  max_concurrency: number;
  failing_since: Date | null;
  created_at: Date;
  updated_at: Date;
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

function fromRaw(r: Raw): SubscriptionRow {
  return {
    id: r.id,
    url: r.url,
    types: r.types,
    channel: r.channel,
    description: r.description,
    status: r.status,
    statusReason: r.status_reason,
    secret: r.secret,
    previousSecret: r.previous_secret,
    previousSecretUntil: iso(r.previous_secret_until),
    ratePerSecond: r.rate_per_second,
    maxConcurrency: r.max_concurrency,
    failingSince: iso(r.failing_since),
    createdAt: iso(r.created_at)!,
    updatedAt: iso(r.updated_at)!,
  };
}

export async function insertSubscription(
  db: Queryable,
  s: Pick<SubscriptionRow, 'id' | 'url' | 'types' | 'channel' | 'description' | 'secret' | 'ratePerSecond' | 'maxConcurrency'>,
): Promise<SubscriptionRow> {
  const result = await db.query<Raw>(
    `INSERT INTO webhook_subscription (id, url, types, channel, description, secret, rate_per_second, max_concurrency)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
    [s.id, s.url, s.types, s.channel, s.description, s.secret, s.ratePerSecond, s.maxConcurrency],
  );
  return fromRaw(result.rows[0]!);
}

/** One subscription; `lock` takes its row lock for the caller's transaction. */
export async function selectSubscription(db: Queryable, id: string, lock = false): Promise<SubscriptionRow | undefined> {
  const result = await db.query<Raw>(`SELECT * FROM webhook_subscription WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  return result.rows[0] ? fromRaw(result.rows[0]) : undefined;
}

/** Every subscription, oldest first. */
export async function selectSubscriptions(db: Queryable): Promise<SubscriptionRow[]> {
  const result = await db.query<Raw>('SELECT * FROM webhook_subscription ORDER BY created_at, id');
  return result.rows.map(fromRaw);
}

/** Subscriptions that still receive events (active or paused), with what matching needs. */
export async function selectReceivingSubscriptions(db: Queryable): Promise<Pick<SubscriptionRow, 'id' | 'types' | 'channel'>[]> {
  const result = await db.query<{ id: string; types: string[]; channel: string | null }>(
    "SELECT id, types, channel FROM webhook_subscription WHERE status <> 'disabled' ORDER BY id",
    [],
    { prepare: true },
  );
  return result.rows;
}

export async function updateStatus(db: Queryable, id: string, status: SubscriptionRow['status'], reason: string | null): Promise<SubscriptionRow | undefined> {
  const result = await db.query<Raw>(
    `UPDATE webhook_subscription
        SET status = $2, status_reason = $3, failing_since = CASE WHEN $2 = 'active' THEN NULL ELSE failing_since END, updated_at = now()
      WHERE id = $1 RETURNING *`,
    [id, status, reason],
  );
  return result.rows[0] ? fromRaw(result.rows[0]) : undefined;
}

/** The settings a client may change; absent fields keep their value. */
export type SubscriptionSettings = Partial<Pick<SubscriptionRow, 'url' | 'types' | 'channel' | 'description' | 'ratePerSecond' | 'maxConcurrency'>>;

/** Changes settings of a subscription; the row as it is after the change. */
export async function updateSettings(db: Queryable, id: string, change: SubscriptionSettings): Promise<SubscriptionRow | undefined> {
  const has = (field: keyof SubscriptionSettings) => change[field] !== undefined;
  const result = await db.query<Raw>(
    `UPDATE webhook_subscription
        SET url = CASE WHEN $2 THEN $3 ELSE url END,
            types = CASE WHEN $4 THEN $5::text[] ELSE types END,
            channel = CASE WHEN $6 THEN $7 ELSE channel END,
            description = CASE WHEN $8 THEN $9 ELSE description END,
            rate_per_second = CASE WHEN $10 THEN $11::int ELSE rate_per_second END,
            max_concurrency = CASE WHEN $12 THEN $13::int ELSE max_concurrency END,
            updated_at = now()
      WHERE id = $1 RETURNING *`,
    [
      id,
      has('url'),
      change.url ?? null,
      has('types'),
      change.types ?? null,
      has('channel'),
      change.channel ?? null,
      has('description'),
      change.description ?? null,
      has('ratePerSecond'),
      change.ratePerSecond ?? null,
      has('maxConcurrency'),
      change.maxConcurrency ?? null,
    ],
  );
  return result.rows[0] ? fromRaw(result.rows[0]) : undefined;
}

/** Replaces the secret; the old one keeps signing for overlapMs. */
export async function rotateSecret(db: Queryable, id: string, secret: string, overlapMs: number): Promise<SubscriptionRow | undefined> {
  const result = await db.query<Raw>(
    `UPDATE webhook_subscription
        SET previous_secret = secret, previous_secret_until = now() + $3 * interval '1 millisecond', secret = $2, updated_at = now()
      WHERE id = $1 RETURNING *`,
    [id, secret, overlapMs],
  );
  return result.rows[0] ? fromRaw(result.rows[0]) : undefined;
}

export async function deleteSubscription(db: Queryable, id: string): Promise<boolean> {
  const result = await db.query('DELETE FROM webhook_subscription WHERE id = $1', [id]);
  return result.rowCount > 0;
}

/** A delivery succeeded: the subscription is no longer failing. */
export async function clearFailing(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE webhook_subscription SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL', [id]);
}

/**
 * A delivery failed: marks the subscription failing (if it was not) and, when it has been
 * failing for longer than pauseAfterMs and is still active, pauses it. Returns true when
 * this call paused it.
 */
export async function markFailing(db: Queryable, id: string, pauseAfterMs: number, reason: string): Promise<boolean> {
  const result = await db.query<{ paused: boolean }>(
    `WITH old AS (SELECT status, failing_since FROM webhook_subscription WHERE id = $1 FOR UPDATE)
     UPDATE webhook_subscription s
        SET failing_since = coalesce(old.failing_since, now()),
            status = CASE WHEN pause THEN 'paused' ELSE old.status END,
            status_reason = CASE WHEN pause THEN $3 ELSE s.status_reason END,
            updated_at = CASE WHEN pause THEN now() ELSE s.updated_at END
       FROM old, LATERAL (SELECT old.status = 'active' AND old.failing_since < now() - $2 * interval '1 millisecond' AS pause) AS d
      WHERE s.id = $1
      RETURNING d.pause AS paused`,
    [id, pauseAfterMs, reason],
  );
  return result.rows[0]?.paused ?? false;
}

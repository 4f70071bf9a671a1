import type { Queryable } from '../database.ts';

/** Why a job became a dead letter, as stored with it. */
export interface DeadLetterReason {
  errorClass: string;
  errorCode: string;
  reason: string;
  remediation: string;
  excerpt: unknown;
}

/**
 * Moves a job into runtime_dead_letter in one statement (delete and insert commit
 * together). Only the lease holder may; returns false when the job is no longer its.
 */
export async function moveToDeadLetter(
  db: Queryable,
  job: { id: string; worker: string; deadLetterId: string; maxAttempts: number },
  why: DeadLetterReason,
): Promise<boolean> {
  const result = await db.query(
    `WITH j AS (DELETE FROM runtime_job WHERE id = $1 AND locked_by = $2 RETURNING *)
     INSERT INTO runtime_dead_letter (id, job_id, type, lane, payload, ordering_key, target, job_key, correlation_id,
                                      attempts, max_attempts, error_class, error_code, reason, remediation, excerpt, enqueued_at)
     SELECT $3, j.id, j.type, j.lane, j.payload, j.ordering_key, j.target, j.job_key, j.correlation_id,
            j.attempts, $9, $4, $5, $6, $7, $8::jsonb, j.created_at
       FROM j`,
    [job.id, job.worker, job.deadLetterId, why.errorClass, why.errorCode, why.reason, why.remediation, JSON.stringify(why.excerpt ?? null), job.maxAttempts],
  );
  return result.rowCount > 0;
}

export interface DeadLetterRow {
  id: string;
  job_id: string;
  type: string;
  lane: number;
  payload: unknown;
  ordering_key: string | null;
  target: string | null;
  job_key: string | null;
  correlation_id: string;
  attempts: number;
  max_attempts: number;
  error_class: string;
  error_code: string;
  reason: string;
  remediation: string;
  excerpt: unknown;
  enqueued_at: Date | string;
  failed_at: Date | string;
  status: string;
  resolved_at: Date | string | null;
  resolved_by: string | null;
  resolution_note: string | null;
  replay_job_id: string | null;
}

/** Filters shared by listing and replay-by-filter; every field narrows. */
export interface DeadLetterFilter {
  status?: 'open' | 'replayed' | 'discarded' | undefined;
  type?: string | undefined;
  target?: string | undefined;
  /** Case-insensitive substring of the reason or the error code. */
  reason?: string | undefined;
  /** Exactly this error code (the console's groups; index runtime_dead_letter_open_code_idx). */
  code?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
}

function where(filter: DeadLetterFilter, params: unknown[]): string {
  const clauses: string[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    clauses.push(sql.replace('?', `$${params.length}`));
  };
  if (filter.status) add('d.status = ?', filter.status);
  if (filter.type) add('d.type = ?', filter.type);
  if (filter.target) add('d.target = ?', filter.target);
  if (filter.code) add('d.error_code = ?', filter.code);
  if (filter.reason) {
    params.push(filter.reason.replace(/[%_\\]/g, '\\$&'));
    const n = `$${params.length}`;
    clauses.push(`(d.reason ILIKE '%' || ${n} || '%' OR d.error_code ILIKE '%' || ${n} || '%')`);
  }
  if (filter.since) add('d.failed_at >= ?::timestamptz', filter.since);
  if (filter.until) add('d.failed_at < ?::timestamptz', filter.until);
  return clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '';
}

/** Lists dead letters, newest first; `before` is the id of the last row of the previous page. */
export async function listDeadLetters(db: Queryable, filter: DeadLetterFilter, page: { limit: number; before?: string | undefined }): Promise<DeadLetterRow[]> {
  const params: unknown[] = [];
  let clause = where(filter, params);
  if (page.before) {
    params.push(page.before);
    clause += `${clause ? ' AND' : 'WHERE'} d.id < $${params.length}`;
  }
  params.push(page.limit);
  const result = await db.query<DeadLetterRow>(`SELECT d.* FROM runtime_dead_letter d ${clause} ORDER BY d.id DESC LIMIT $${params.length}`, params);
  return result.rows;
}

export async function getDeadLetter(db: Queryable, id: string): Promise<DeadLetterRow | undefined> {
  const result = await db.query<DeadLetterRow>('SELECT d.* FROM runtime_dead_letter d WHERE d.id = $1', [id]);
  return result.rows[0];
}

export interface AuditRow {
  id: string;
  at: Date | string;
  actor: string;
  action: string;
  dead_letter_id: string | null;
  detail: unknown;
}

export async function listAudit(db: Queryable, deadLetterId: string): Promise<AuditRow[]> {
  const result = await db.query<AuditRow>('SELECT * FROM runtime_ops_audit WHERE dead_letter_id = $1 ORDER BY id', [deadLetterId]);
  return result.rows;
}

/**
 * Replays open dead letters chosen by id or by filter (at most `limit`): each becomes a
 * new job with its original type, payload, keys and correlation id (and the job type's
 * current retry policy), is marked replayed,
 * and an audit row records who did it. A dead letter whose job key is queued again
 * already is marked replayed onto that job. Returns what was replayed.
 */
export async function replayDeadLetters(
  tx: Queryable,
  selection: { ids: readonly string[] } | { filter: DeadLetterFilter; limit: number },
  actor: string,
): Promise<{ id: string; job_id: string }[]> {
  const params: unknown[] = [];
  let chosen: string;
  if ('ids' in selection) {
    params.push(selection.ids);
    chosen = `SELECT d.id FROM runtime_dead_letter d WHERE d.id = ANY($1::text[]) AND d.status = 'open' ORDER BY d.id FOR UPDATE SKIP LOCKED`;
  } else {
    const clause = where({ ...selection.filter, status: 'open' }, params);
    params.push(selection.limit);
    chosen = `SELECT d.id FROM runtime_dead_letter d ${clause} ORDER BY d.id LIMIT $${params.length} FOR UPDATE SKIP LOCKED`;
  }
  params.push(actor);
  const actorParam = `$${params.length}`;
  const result = await tx.query<{ id: string; job_id: string }>(
    `WITH chosen AS (${chosen}),
     letters AS (SELECT d.* FROM runtime_dead_letter d JOIN chosen USING (id)),
     ins AS (
       -- No explicit max_attempts: the replay runs under the job type's current policy.
       INSERT INTO runtime_job (type, lane, payload, ordering_key, target, job_key, correlation_id, replay_of)
       SELECT l.type, l.lane, l.payload, l.ordering_key, l.target, l.job_key, l.correlation_id, l.id
         FROM letters l ORDER BY l.id
       ON CONFLICT (job_key) DO NOTHING
       RETURNING id, replay_of
     ),
     matched AS (
       SELECT l.id AS dead_letter_id,
              coalesce((SELECT i.id FROM ins i WHERE i.replay_of = l.id),
                       (SELECT j.id FROM runtime_job j WHERE j.job_key = l.job_key)) AS job_id
         FROM letters l
     ),
     upd AS (
       UPDATE runtime_dead_letter d
          SET status = 'replayed', resolved_at = now(), resolved_by = ${actorParam}, replay_job_id = m.job_id
         FROM matched m WHERE d.id = m.dead_letter_id
       RETURNING d.id, m.job_id
     ),
     audit AS (
       INSERT INTO runtime_ops_audit (actor, action, dead_letter_id, detail)
       SELECT ${actorParam}, 'replay', u.id, jsonb_build_object('jobId', u.job_id::text) FROM upd u
     ),
     wake AS (SELECT pg_notify('syncline_jobs', '0') FROM (SELECT 1 FROM ins LIMIT 1) x)
     SELECT u.id, u.job_id::text AS job_id, (SELECT count(*) FROM wake) AS woke FROM upd u ORDER BY u.id`,
    params,
  );
  return result.rows.map((r) => ({ id: r.id, job_id: r.job_id }));
}

/** Discards an open dead letter with a reason; returns false when it is not open. */
export async function discardDeadLetter(tx: Queryable, id: string, actor: string, note: string): Promise<boolean> {
  const result = await tx.query(
    `WITH upd AS (
       UPDATE runtime_dead_letter SET status = 'discarded', resolved_at = now(), resolved_by = $2, resolution_note = $3
        WHERE id = $1 AND status = 'open' RETURNING id
     )
     INSERT INTO runtime_ops_audit (actor, action, dead_letter_id, detail)
     SELECT $2, 'discard', upd.id, jsonb_build_object('reason', $3::text) FROM upd`,
    [id, actor, note],
  );
  return result.rowCount > 0;
}

/** Open dead letters counted per error code and target (the console's Exceptions groups). */
export async function openDeadLetterGroups(db: Queryable): Promise<{ code: string; target: string | null; count: number }[]> {
  const result = await db.query<{ code: string; target: string | null; count: number }>(
    `SELECT error_code AS code, target, count(*)::integer AS count FROM runtime_dead_letter WHERE status = 'open' GROUP BY 1, 2`,
  );
  return result.rows;
}

/** Ids of the open dead letters matching the filter, oldest first, at most `limit`. */
export async function openDeadLetterIds(db: Queryable, filter: DeadLetterFilter, limit: number): Promise<string[]> {
  const params: unknown[] = [];
  const clause = where({ ...filter, status: 'open' }, params);
  params.push(limit);
  const result = await db.query<{ id: string }>(`SELECT d.id FROM runtime_dead_letter d ${clause} ORDER BY d.id LIMIT $${params.length}`, params);
  return result.rows.map((r) => r.id);
}

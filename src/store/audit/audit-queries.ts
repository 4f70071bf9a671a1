import type { Queryable } from '../database.ts';

export interface AuditRow {
  id: string;
  occurredAt: string;
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  details: Record<string, unknown>;
  correlationId: string | null;
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  /** ISO 8601; inclusive. */
  from?: string;
  /** ISO 8601; exclusive. */
  to?: string;
  /** Only events older than this id (the cursor of the previous page). */
  before?: string;
}

export async function insertAuditEvent(db: Queryable, event: Omit<AuditRow, 'occurredAt'>): Promise<void> {
  await db.query(
    `INSERT INTO audit_event (id, actor, action, target_type, target_id, details, correlation_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [event.id, event.actor, event.action, event.targetType, event.targetId, JSON.stringify(event.details), event.correlationId],
  );
}

/** Audit events matching the filter, newest first (ids are time-ordered). */
export async function selectAuditEvents(db: Queryable, filter: AuditFilter, limit: number): Promise<AuditRow[]> {
  const result = await db.query<{
    id: string;
    occurred_at: Date;
    actor: string;
    action: string;
    target_type: string;
    target_id: string;
    details: Record<string, unknown>;
    correlation_id: string | null;
  }>(
    `SELECT id, occurred_at, actor, action, target_type, target_id, details, correlation_id FROM audit_event
      WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR action = $2)
        AND ($3::text IS NULL OR target_type = $3) AND ($4::text IS NULL OR target_id = $4)
        AND ($5::timestamptz IS NULL OR occurred_at >= $5) AND ($6::timestamptz IS NULL OR occurred_at < $6)
        AND ($7::text IS NULL OR id < $7)
      ORDER BY id DESC LIMIT $8`,
    [filter.actor ?? null, filter.action ?? null, filter.targetType ?? null, filter.targetId ?? null, filter.from ?? null, filter.to ?? null, filter.before ?? null, limit],
  );
  return result.rows.map((row) => ({
    id: row.id,
    occurredAt: new Date(row.occurred_at).toISOString(),
    actor: row.actor,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    details: row.details,
    correlationId: row.correlation_id,
  }));
}

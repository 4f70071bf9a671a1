import { userInfo } from 'node:os';
import { newId } from '../../model/ids.ts';
import type { Queryable } from '../../store/database.ts';
import { insertAuditEvent, selectAuditEvents, type AuditFilter, type AuditRow } from '../../store/audit/audit-queries.ts';

/**
 * The audit trail: who did what to which target, when, under which correlation id.
 *
 * Glossary:
 * - actor: `client:<client id>` for an API client, `console:<user id>` for a console user,
 *   `cli:<os user>` for the command line.
 * - action: a stable dotted name, e.g. `client.disabled`, `dead_letter.replayed`.
 * - target: a type (`client`, `signing_key`, `dead_letter`, `order`) and an id.
 * - details: a small object without secrets or personal data (ids, scopes, limits, counts).
 */
export const AUDIT_ACTIONS = [
  'client.created',
  'client.updated',
  'client.disabled',
  'client.enabled',
  'client.secret_rotated',
  'signing_key.rotated',
  'token.revoked',
  'dead_letter.replayed',
  'dead_letter.discarded',
  'dead_letter.bulk_replayed',
  'order.hold_released',
  'order.cancel_requested',
  'order.retried',
  'order.amended',
  'order.amendment_applied',
  'order.amendment_rejected',
  'subscription.created',
  'subscription.updated',
  'subscription.paused',
  'subscription.resumed',
  'subscription.disabled',
  'subscription.deleted',
  'subscription.secret_rotated',
  'subscription.replayed',
  'console_user.created',
  'console_user.removed',
  'console_user.role_changed',
  'console_user.disabled',
  'console_user.enabled',
  'console_user.password_reset',
  'console_user.password_changed',
  'console.signed_in',
  'console.sign_in_refused',
  'console.signed_out',
  'erp_routing.changed',
  'customer.merged',
  'customer.kept_apart',
  'customer.unmerged',
  'customer.consent_recorded',
  'customer.exported',
  'customer.erased',
  'customer.merge_confirmed',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export type AuditEvent = AuditRow;
export type { AuditFilter };

/** Who acts and under which correlation id; passed down to every audited action. */
export interface AuditContext {
  actor: string;
  correlationId: string | null;
}

/** The actor name of an API client. */
export function clientActor(clientId: string): string {
  return `client:${clientId}`;
}

/** The actor name of a person signed in to the console (their user id: no e-mail in the trail). */
export function consoleActor(userId: string): string {
  return `console:${userId}`;
}

/** The actor name of the person running the command line (`cli:<os user>`). */
export function cliActor(): string {
  let name = 'unknown';
  try {
    name = userInfo().username;
  } catch {
    // no passwd entry (some containers): keep "unknown"
  }
  return `cli:${name}`;
}

/** Records one audit event; pass the action's transaction so both commit together. */
export async function recordAudit(
  db: Queryable,
  who: AuditContext,
  event: { action: AuditAction; targetType: string; targetId: string; details?: Record<string, unknown> },
): Promise<void> {
  await insertAuditEvent(db, {
    id: newId('auditEvent'),
    actor: who.actor,
    action: event.action,
    targetType: event.targetType,
    targetId: event.targetId,
    details: event.details ?? {},
    correlationId: who.correlationId,
  });
}

/** A page of audit events, newest first; `next` is the cursor of the following page. */
export async function listAudit(db: Queryable, filter: Omit<AuditFilter, 'before'>, page: { limit: number; cursor?: string }): Promise<{ items: AuditEvent[]; next: string | null }> {
  const rows = await selectAuditEvents(db, { ...filter, before: page.cursor }, page.limit + 1);
  const items = rows.slice(0, page.limit);
  return { items, next: rows.length > page.limit ? items.at(-1)!.id : null };
}

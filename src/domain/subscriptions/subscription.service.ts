import { newId } from '../../model/ids.ts';
import { EVENT_TYPES } from '../../model/cloud-event.ts';
import type { EventData } from '../../model/events.ts';
import type { Database, Queryable } from '../../store/database.ts';
import { appendEvents } from '../../runtime/outbox/outbox.ts';
import {
  clearFailing,
  deleteSubscription,
  insertSubscription,
  markFailing,
  rotateSecret,
  selectSubscription,
  selectSubscriptions,
  updateSettings,
  updateStatus,
  type SubscriptionRow,
} from '../../store/subscriptions/subscription-queries.ts';
import { runIdempotent, type IdempotencyClaim, type IdempotentOutcome } from '../../store/idempotency/idempotency-records.ts';
import { selectDeliveryAttempts, type DeliveryAttemptRow } from '../../store/subscriptions/delivery-log-queries.ts';
import { recordAudit, type AuditContext } from '../audit/audit.ts';
import { newWebhookSecret } from './webhook-signature.ts';

/**
 * Webhook subscriptions: a URL that receives the events of some types, signed with a
 * secret Syncline generates. The secret leaves only in the answers that create or rotate
 * it. Every change by a client is audited; changes Syncline makes itself (pausing a
 * failing subscriber, disabling one that answered 410) are audited as `system:webhooks`
 * and announced as events.
 *
 * Glossary:
 * - status: active (delivering), paused (events queue up and are delivered on resume),
 *   disabled (events are dropped; the subscriber said 410 Gone). Resume makes either active.
 * - failing since: the time of the first failed attempt after the last success.
 */

/** Events Syncline publishes about subscriptions; subject: the subscription id. */

/** The actor of changes Syncline makes to subscriptions itself. */
export const WEBHOOKS_ACTOR: AuditContext = { actor: 'system:webhooks', correlationId: null };

/** A subscription as shown to clients: never a secret. */
export interface SubscriptionView {
  id: string;
  url: string;
  types: string[];
  channel: string | null;
  description: string | null;
  status: SubscriptionRow['status'];
  statusReason: string | null;
  rateLimitPerSecond: number;
  maxConcurrency: number;
  failingSince: string | null;
  previousSecretValidUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewSubscription {
  url: string;
  types: string[];
  channel?: string | undefined;
  description?: string | undefined;
  /** Deliveries per second (default: 50; 0: unlimited). */
  rateLimitPerSecond?: number | undefined;
  /** Deliveries in flight at once, across processes (default: 4). */
  maxConcurrency?: number | undefined;
}

/** Deliveries per second to a subscription unless it says otherwise. */
export const DEFAULT_RATE_PER_SECOND = 50;
/** Deliveries in flight at once to a subscription unless it says otherwise. */
export const DEFAULT_MAX_CONCURRENCY = 4;

/** The default overlap during which the previous secret still signs (24 h). */
export const DEFAULT_SECRET_OVERLAP_MS = 24 * 3_600_000;

export type NotFound = { kind: 'not-found' };
const notFound: NotFound = { kind: 'not-found' };

/** The client view of a row. */
export function viewOf(row: SubscriptionRow): SubscriptionView {
  const previousValid = row.previousSecretUntil !== null && Date.parse(row.previousSecretUntil) > Date.now();
  return {
    id: row.id,
    url: row.url,
    types: row.types,
    channel: row.channel,
    description: row.description,
    status: row.status,
    statusReason: row.statusReason,
    rateLimitPerSecond: row.ratePerSecond,
    maxConcurrency: row.maxConcurrency,
    failingSince: row.failingSince,
    previousSecretValidUntil: previousValid ? row.previousSecretUntil : null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** The secrets that sign a delivery now: the current one, and the previous one during its overlap. */
export function signingSecrets(row: SubscriptionRow, now = Date.now()): string[] {
  return row.previousSecret && row.previousSecretUntil && Date.parse(row.previousSecretUntil) > now ? [row.secret, row.previousSecret] : [row.secret];
}

/**
 * A created subscription. secret is null when the answer is a replay of an
 * Idempotency-Key: the secret is shown once and never kept outside the subscription
 * row, so the idempotency record holds only the subscription id (see docs/events.md).
 */
export interface CreatedSubscription {
  subscription: SubscriptionView;
  secret: string | null;
}

/**
 * Creates a subscription (the URL already checked by the caller) and returns it with its
 * secret. Under an idempotency claim, a replay returns the subscription as it is now
 * without the secret, or not-found when it has been deleted since.
 */
export async function createSubscription(
  db: Database,
  input: NewSubscription,
  who: AuditContext,
  idempotency?: IdempotencyClaim,
): Promise<IdempotentOutcome<CreatedSubscription | NotFound>> {
  const secret = newWebhookSecret();
  let created: SubscriptionRow | undefined;
  const outcome = await runIdempotent(db, idempotency, async (tx): Promise<{ subscriptionId: string }> => {
    created = await insertSubscription(tx, {
      id: newId('subscription'),
      url: input.url,
      types: [...new Set(input.types)],
      channel: input.channel ?? null,
      description: input.description ?? null,
      secret,
      ratePerSecond: input.rateLimitPerSecond ?? DEFAULT_RATE_PER_SECOND,
      maxConcurrency: input.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY,
    });
    await recordAudit(tx, who, {
      action: 'subscription.created',
      targetType: 'subscription',
      targetId: created.id,
      details: { types: created.types, channel: created.channel, host: new URL(created.url).host },
    });
    return { subscriptionId: created.id };
  });
  if (outcome.kind !== 'done') return outcome;
  if (!outcome.replayed) return { ...outcome, result: { subscription: viewOf(created!), secret } };
  const now = await selectSubscription(db, outcome.result.subscriptionId);
  return { ...outcome, result: now ? { subscription: viewOf(now), secret: null } : notFound };
}

/**
 * A change to a subscription, with JSON merge-patch meaning: an absent field keeps its
 * value; null clears channel and description and puts the rate limit and concurrency
 * back to their defaults.
 */
export interface SubscriptionChange {
  url?: string | undefined;
  types?: string[] | undefined;
  channel?: string | null | undefined;
  description?: string | null | undefined;
  rateLimitPerSecond?: number | null | undefined;
  maxConcurrency?: number | null | undefined;
}

/**
 * Changes a subscription's settings (the URL already checked by the caller), audited as
 * subscription.updated with the names of the fields changed. Deliveries already queued
 * keep going to the subscription and use the new URL and limits from their next attempt;
 * new types and channel apply to events committed after the change.
 */
export async function changeSubscription(db: Database, id: string, change: SubscriptionChange, who: AuditContext): Promise<SubscriptionView | NotFound> {
  return db.transaction(async (tx) => {
    const before = await selectSubscription(tx, id, true);
    if (!before) return notFound;
    const row = (await updateSettings(tx, id, {
      url: change.url,
      types: change.types && [...new Set(change.types)],
      channel: change.channel,
      description: change.description,
      ratePerSecond: change.rateLimitPerSecond === null ? DEFAULT_RATE_PER_SECOND : change.rateLimitPerSecond,
      maxConcurrency: change.maxConcurrency === null ? DEFAULT_MAX_CONCURRENCY : change.maxConcurrency,
    }))!;
    const fields = (Object.keys(change) as (keyof SubscriptionChange)[]).filter((f) => change[f] !== undefined).sort();
    await recordAudit(tx, who, {
      action: 'subscription.updated',
      targetType: 'subscription',
      targetId: id,
      details: { fields, ...(change.url !== undefined ? { host: new URL(row.url).host } : {}) },
    });
    return viewOf(row);
  });
}

/** Every subscription, oldest first. */
export async function listSubscriptions(db: Queryable): Promise<SubscriptionView[]> {
  return (await selectSubscriptions(db)).map(viewOf);
}

/** One subscription, without its secret. */
export async function showSubscription(db: Queryable, id: string): Promise<SubscriptionView | undefined> {
  const row = await selectSubscription(db, id);
  return row ? viewOf(row) : undefined;
}

/**
 * Pauses or resumes a subscription. Resuming (also a disabled one) clears its failing
 * state; `onResumed` runs in the same transaction so that waiting deliveries become due.
 */
export async function setSubscriptionPaused(
  db: Database,
  id: string,
  paused: boolean,
  who: AuditContext,
  onResumed: (tx: Queryable) => Promise<void>,
): Promise<SubscriptionView | NotFound> {
  return db.transaction(async (tx) => {
    const before = await selectSubscription(tx, id, true);
    if (!before) return notFound;
    const row = (await updateStatus(tx, id, paused ? 'paused' : 'active', paused ? 'paused by a client' : null))!;
    await recordAudit(tx, who, { action: paused ? 'subscription.paused' : 'subscription.resumed', targetType: 'subscription', targetId: id, details: { from: before.status } });
    if (!paused) await onResumed(tx);
    return viewOf(row);
  });
}

/**
 * Deletes a subscription and its delivery log; deliveries still queued are dropped.
 * `onDeleted` runs in the same transaction (the runtime forgets the subscription's target).
 */
export async function removeSubscription(db: Database, id: string, who: AuditContext, onDeleted: (tx: Queryable) => Promise<void>): Promise<boolean> {
  return db.transaction(async (tx) => {
    if (!(await deleteSubscription(tx, id))) return false;
    await recordAudit(tx, who, { action: 'subscription.deleted', targetType: 'subscription', targetId: id });
    await onDeleted(tx);
    return true;
  });
}

/** Gives a subscription a new secret; the previous one keeps signing for overlapMs. */
export async function rotateSubscriptionSecret(
  db: Database,
  id: string,
  overlapMs: number,
  who: AuditContext,
): Promise<{ subscription: SubscriptionView; secret: string } | NotFound> {
  const secret = newWebhookSecret();
  return db.transaction(async (tx) => {
    const row = await rotateSecret(tx, id, secret, overlapMs);
    if (!row) return notFound;
    await recordAudit(tx, who, { action: 'subscription.secret_rotated', targetType: 'subscription', targetId: id, details: { overlapMs } });
    return { subscription: viewOf(row), secret };
  });
}

/** A page of a subscription's delivery attempts, newest first. */
export async function listDeliveryAttempts(
  db: Queryable,
  id: string,
  filter: { eventId?: string | undefined; before?: string | undefined },
  limit: number,
): Promise<{ items: DeliveryAttemptRow[]; next: string | null } | NotFound> {
  if (!(await selectSubscription(db, id))) return notFound;
  const rows = await selectDeliveryAttempts(db, id, filter, limit + 1);
  const items = rows.slice(0, limit);
  return { items, next: rows.length > limit ? items.at(-1)!.id : null };
}

/** A delivery succeeded: the subscriber is healthy again. */
export async function deliverySucceeded(db: Queryable, id: string): Promise<void> {
  await clearFailing(db, id);
}

function statusEvent(type: typeof EVENT_TYPES.subscriptionPaused | typeof EVENT_TYPES.subscriptionDisabled, row: { id: string }, reason: string, correlationId: string) {
  const data = { subscriptionId: row.id, reason } satisfies EventData<typeof type>;
  return { id: newId('event'), type, source: '/syncline/subscriptions', subject: row.id, time: new Date().toISOString(), correlationId, data };
}

/**
 * A delivery failed. When every attempt has failed for longer than pauseAfterMs, the
 * subscription is paused, audited, and `subscription.paused` is published. Returns true
 * when this failure paused it.
 */
export async function deliveryFailed(db: Database, id: string, pauseAfterMs: number, correlationId: string): Promise<boolean> {
  const reason = `every delivery failed for longer than ${Math.round(pauseAfterMs / 1000)} s`;
  return db.transaction(async (tx) => {
    if (!(await markFailing(tx, id, pauseAfterMs, reason))) return false;
    await recordAudit(tx, { ...WEBHOOKS_ACTOR, correlationId }, { action: 'subscription.paused', targetType: 'subscription', targetId: id, details: { reason } });
    await appendEvents(tx, [statusEvent(EVENT_TYPES.subscriptionPaused, { id }, reason, correlationId)]);
    return true;
  });
}

/** The subscriber answered 410 Gone: the subscription is disabled, audited and announced. */
export async function subscriberGone(db: Database, id: string, correlationId: string): Promise<void> {
  const reason = 'the subscriber answered 410 Gone';
  await db.transaction(async (tx) => {
    const before = await selectSubscription(tx, id, true);
    if (!before || before.status === 'disabled') return;
    await updateStatus(tx, id, 'disabled', reason);
    await recordAudit(tx, { ...WEBHOOKS_ACTOR, correlationId }, { action: 'subscription.disabled', targetType: 'subscription', targetId: id, details: { reason } });
    await appendEvents(tx, [statusEvent(EVENT_TYPES.subscriptionDisabled, { id }, reason, correlationId)]);
  });
}

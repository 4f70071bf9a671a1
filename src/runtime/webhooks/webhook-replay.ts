import type { Database } from '../../store/database.ts';
import { selectSubscription } from '../../store/subscriptions/subscription-queries.ts';
import { recordAudit, type AuditContext } from '../../domain/audit/audit.ts';
import { enqueue } from '../queue.ts';
import { deliveryJob, wants } from './webhook-delivery.ts';
import { eventExists, selectEventsFrom, type ReplayStart } from './replay-events.ts';

/** Most events one replay request re-delivers; replay again from the last one for more. */
export const MAX_REPLAY_EVENTS = 10_000;

export type ReplayResult = { kind: 'replayed'; events: number; lastEventId: string | null; truncated: boolean } | { kind: 'not-found' } | { kind: 'unknown-event' };

/**
 * Re-delivers a subscription's events from a point (an event id, itself included, or a
 * time), in commit order behind what is already queued for it. Each is a new delivery of
 * the same event: same webhook-id, so a receiver that deduplicates sees a duplicate.
 */
export async function replaySubscription(db: Database, id: string, start: ReplayStart, who: AuditContext): Promise<ReplayResult> {
  return db.transaction(async (tx) => {
    const subscription = await selectSubscription(tx, id);
    if (!subscription) return { kind: 'not-found' };
    if ('eventId' in start && !(await eventExists(tx, start.eventId))) return { kind: 'unknown-event' };
    const events = await selectEventsFrom(tx, start, MAX_REPLAY_EVENTS + 1);
    const truncated = events.length > MAX_REPLAY_EVENTS;
    const chosen = events.slice(0, MAX_REPLAY_EVENTS).filter((e) => wants(subscription, e));
    const replay = `replay-${Date.now().toString(36)}`;
    await enqueue(tx, chosen.map((e) => deliveryJob(id, e, replay)));
    await recordAudit(tx, who, { action: 'subscription.replayed', targetType: 'subscription', targetId: id, details: { ...start, events: chosen.length, truncated } });
    return { kind: 'replayed', events: chosen.length, lastEventId: events.slice(0, MAX_REPLAY_EVENTS).at(-1)?.id ?? null, truncated };
  });
}

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../../config/config.ts';
import type { CloudEvent } from '../../model/cloud-event.ts';
import type { Database, Queryable } from '../../store/database.ts';
import { selectReceivingSubscriptions, selectSubscription, type SubscriptionRow } from '../../store/subscriptions/subscription-queries.ts';
import { insertDeliveryAttempt } from '../../store/subscriptions/delivery-log-queries.ts';
import { deliveryFailed, deliverySucceeded, signingSecrets, subscriberGone } from '../../domain/subscriptions/subscription.service.ts';
import { signatureHeader } from '../../domain/subscriptions/webhook-signature.ts';
import { matchesType, type RuntimeRegistry } from '../registry.ts';
import type { HandlerContext, JobSpec } from '../runtime.ts';
import { createTargetCaller } from '../targets/target-caller.ts';
import { parseRetryAfter, TargetError } from '../targets/target-errors.ts';
import { resolveTargetPolicy } from '../targets/target-policy.ts';
import { upsertTarget } from '../../store/runtime/target-queries.ts';
import { postWebhook } from './webhook-post.ts';

/**
 * Webhook deliveries on the job runtime (docs/adr/0012): the relay routes each committed
 * event to every subscription that wants it as a job `webhook:deliver` with ordering key
 * `sub:<subscription>:<subject>` (so one subscription's deliveries for a subject run one at
 * a time, in commit order) and target `webhook:<subscription>` (its own rate limit,
 * concurrency cap and breaker, so a slow or dead subscriber only delays itself).
 */

export const WEBHOOK_JOB_TYPE = 'webhook:deliver';

/** How long a delivery of a paused subscription waits before it looks again (resume makes it due at once). */
const PAUSED_RECHECK_MS = 5 * 60_000;

/** The payload of a delivery job. */
export interface DeliveryPayload {
  subscriptionId: string;
  event: CloudEvent;
}

/** The runtime target of a subscription. */
export function webhookTarget(subscriptionId: string): string {
  return `webhook:${subscriptionId}`;
}

/** True when a subscription wants the event: its types, and its channel when it has one. */
export function wants(subscription: Pick<SubscriptionRow, 'types' | 'channel'>, event: CloudEvent): boolean {
  if (!matchesType(subscription.types, event.type)) return false;
  if (subscription.channel === null) return true;
  const data = event.data as { channel?: unknown } | null;
  return typeof data === 'object' && data !== null && data.channel === subscription.channel;
}

/** The job that delivers one event to one subscription; a replay gets its own job key. */
export function deliveryJob(subscriptionId: string, event: CloudEvent, replay?: string): JobSpec {
  return {
    type: WEBHOOK_JOB_TYPE,
    payload: { subscriptionId, event } satisfies DeliveryPayload,
    // Third-party endpoints: bulk may fill only part of a worker's slots, so order work never waits for them.
    lane: 'bulk',
    orderingKey: `sub:${subscriptionId}:${event.subject ?? ''}`,
    target: webhookTarget(subscriptionId),
    jobKey: `webhook:${subscriptionId}:${event.id}${replay ? `:${replay}` : ''}`,
    correlationId: event.correlationid,
  };
}

/** Routes relayed events to the subscriptions that receive them (in the relay's transaction). */
export async function routeToSubscriptions(tx: Queryable, events: readonly CloudEvent[]): Promise<JobSpec[]> {
  const subscriptions = await selectReceivingSubscriptions(tx);
  if (subscriptions.length === 0) return [];
  const jobs: JobSpec[] = [];
  for (const event of events) for (const s of subscriptions) if (wants(s, event)) jobs.push(deliveryJob(s.id, event));
  return jobs;
}

export interface WebhookDeliveryOptions {
  db: Database;
  config: Config;
  logger: Logger;
}

const isSuccess = (status: number) => status >= 200 && status < 300;

/** Registers the event router and the delivery handler with a worker's registry. */
export function registerWebhookDeliveries(registry: RuntimeRegistry, { db, config }: WebhookDeliveryOptions): void {
  const settings = config.webhooks;
  // Targets whose row and concurrency slots this process has written, with the limits written.
  const published = new Set<string>();
  registry.route(routeToSubscriptions);
  registry.register<DeliveryPayload>(
    WEBHOOK_JOB_TYPE,
    (payload, context) => deliver(db, settings, published, payload, context),
    // Attempts never run out before the pause rule applies; the schedule spreads them over hours.
    { maxAttempts: 1000, backoffScheduleMs: settings.retryScheduleMs, timeoutMs: settings.timeoutMs + 30_000 },
  );
}

async function deliver(
  db: Database,
  settings: Config['webhooks'],
  published: Set<string>,
  { subscriptionId, event }: DeliveryPayload,
  context: HandlerContext,
): Promise<void> {
  const subscription = await selectSubscription(db, subscriptionId);
  // Deleted or disabled: the event is dropped (a disabled subscription can be resumed and replayed).
  if (!subscription || subscription.status === 'disabled') return;
  if (subscription.status === 'paused') {
    throw new TargetError('SUBSCRIPTION_PAUSED', `subscription ${subscriptionId} is paused`, { retry: 'throttled', retryAt: new Date(Date.now() + PAUSED_RECHECK_MS) });
  }
  const name = webhookTarget(subscriptionId);
  const policy = resolveTargetPolicy({
    ratePerSecond: subscription.ratePerSecond,
    maxConcurrency: subscription.maxConcurrency,
    timeoutMs: settings.timeoutMs,
    // Waiting for a slot holds a worker slot: give it back soon and wait in the queue instead.
    maxWaitMs: 200,
    breaker: { failureThreshold: 5, cooldownMs: settings.breakerCooldownMs },
  });
  // The concurrency cap needs the target's slot rows before the first call.
  const version = `${name}:${policy.ratePerSecond}:${policy.maxConcurrency}`;
  if (!published.has(version)) {
    await upsertTarget(db, name, policy, policy.maxConcurrency);
    published.add(version);
  }
  const caller = createTargetCaller(db, name, policy, `${context.job.id}:${randomUUID()}`, context.signal);
  const body = JSON.stringify(event);
  let started: number | undefined;
  let status: number | null = null;
  try {
    const answer = await caller.call(async (signal) => {
      started = performance.now();
      const timestamp = Math.floor(Date.now() / 1000);
      const headers = {
        'content-type': 'application/cloudevents+json; charset=utf-8',
        'user-agent': 'Syncline-Webhooks/1',
        'webhook-id': event.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signatureHeader(signingSecrets(subscription), event.id, timestamp, body),
      };
      const result = await postWebhook(subscription.url, headers, body, settings.networks, signal);
      status = result.status;
      if (isSuccess(result.status) || result.status === 410) return result;
      const retryAt = parseRetryAfter(result.retryAfter);
      const throttled = result.status === 429 || (result.status === 503 && retryAt !== undefined);
      throw new TargetError(`WEBHOOK_HTTP_${result.status}`, `the subscriber answered ${result.status}`, { retry: throttled ? 'throttled' : 'transient', target: name, retryAt });
    });
    await insertDeliveryAttempt(db, subscriptionId, attemptOf(event, context.attempt, started, answer.status, null));
    if (answer.status === 410) await subscriberGone(db, subscriptionId, event.correlationid);
    else await deliverySucceeded(db, subscriptionId);
  } catch (error) {
    // Not attempted (breaker open, rate limit, no free slot): the runtime defers the job.
    if (started === undefined) throw error;
    const message = error instanceof Error ? error.message : String(error);
    await insertDeliveryAttempt(db, subscriptionId, attemptOf(event, context.attempt, started, status, message));
    if (await deliveryFailed(db, subscriptionId, settings.pauseAfterMs, event.correlationid)) {
      throw new TargetError('SUBSCRIPTION_PAUSED', `subscription ${subscriptionId} was paused: ${message}`, { retry: 'throttled', retryAt: new Date(Date.now() + PAUSED_RECHECK_MS) });
    }
    throw error instanceof TargetError ? error : new TargetError('WEBHOOK_UNREACHABLE', `the subscriber could not be reached: ${message}`, { retry: 'transient', target: name, cause: error });
  }
}

function attemptOf(event: CloudEvent, attempt: number, started: number | undefined, statusCode: number | null, error: string | null) {
  return {
    eventId: event.id,
    eventType: event.type,
    subject: event.subject ?? '',
    attempt,
    statusCode,
    latencyMs: started === undefined ? 0 : Math.round(performance.now() - started),
    outcome: error === null ? ('delivered' as const) : ('failed' as const),
    error: error?.slice(0, 500) ?? null,
  };
}

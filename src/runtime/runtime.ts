import type { TraceCarrier } from '../observability/tracing.ts';
/**
 * The durable runtime's public interfaces: what flows and connectors use to
 * enqueue work, handle it and talk to external systems safely.
 *
 * Glossary:
 * - Job: one unit of work (a type, a JSON payload), stored in runtime_job until it succeeds or becomes a dead letter.
 * - Lane: a priority class: `critical` (order capture, reservation, payment), `normal` (ERP posting, fulfilment,
 *   status sync), `bulk` (enrichment, exports, reconciliation). Lower lanes are claimed first and bulk work may
 *   only fill part of a worker's slots, so bulk never delays critical work.
 * - Ordering key: jobs with the same key run one at a time, in enqueue order (an order id keeps create, shipment
 *   and invoice in sequence). Jobs without a key run in parallel.
 * - Job key: the business identity of a job (`erp-post:ord_123`); while a job with that key is queued, enqueuing it
 *   again does nothing. Handlers use it to make their effects idempotent.
 * - Lease: a claimed job belongs to its worker until `locked_until`; a crashed worker's jobs come back after it.
 * - Target: an external system a job calls (`erp:tryton-main`). Its policy (rate limit, concurrency cap, timeout,
 *   circuit breaker) is enforced in PostgreSQL, so it holds across every worker process.
 * - Retry class: how a failure is treated (SynclineError.retry): transient = retry with backoff, throttled = retry at
 *   the target's reset time without counting an attempt, permanent = dead letter at once.
 * - Dead letter: a job that failed permanently or ran out of attempts, kept with a readable reason for an operator
 *   to replay or discard.
 */
import type { Queryable } from '../store/database.ts';
import type { RetryClass } from '../domain/errors.ts';

export const LANES = ['critical', 'normal', 'bulk'] as const;
export type Lane = (typeof LANES)[number];

export function laneNumber(lane: Lane): number {
  return LANES.indexOf(lane);
}

export function laneName(n: number): Lane {
  return LANES[n] ?? 'normal';
}

/** A job to enqueue. */
export interface JobSpec {
  type: string;
  payload: unknown;
  /** (default: 'normal') */
  lane?: Lane;
  orderingKey?: string | undefined;
  /** The target the handler calls, if any; while its breaker is open the job waits in the queue. */
  target?: string | undefined;
  jobKey?: string | undefined;
  /** Not before this time (default: now). */
  runAt?: Date | undefined;
  correlationId: string;
  /** Overrides the job type's policy (default: the registered policy's maxAttempts, else 10). */
  maxAttempts?: number | undefined;
  /** The W3C trace context the job continues (default: the active span's, see src/observability/tracing.ts). */
  trace?: TraceCarrier | undefined;
}

/** Retry policy of a job type. Every field has a default. */
export interface JobPolicy {
  /** Attempts before the job becomes a dead letter (default: 10). */
  maxAttempts?: number;
  /** First retry delay before jitter (default: 1000 ms). */
  backoffBaseMs?: number;
  /** Longest retry delay (default: 300000 ms). */
  backoffCapMs?: number;
  /**
   * Retry delays by attempt, the last one repeating, each with up to ±10% jitter; when set it
   * replaces the exponential backoff (default: none). For retries spread over hours (webhooks).
   */
  backoffScheduleMs?: readonly number[];
  /** The handler is abandoned (transient failure) after this long (default: 300000 ms). */
  timeoutMs?: number;
}

/** A claimed job as a handler sees it. */
export interface Job<P = unknown> {
  id: string;
  type: string;
  lane: Lane;
  payload: P;
  orderingKey: string | null;
  target: string | null;
  jobKey: string | null;
  correlationId: string;
  /** 1 on the first run. */
  attempt: number;
  maxAttempts: number;
}

/** What a handler may call on a target: the call runs only within the target's policy. */
export interface TargetCaller {
  /**
   * Runs `fn` when the target's breaker, rate limit and concurrency cap allow it, with the
   * target's timeout as an AbortSignal. Failures feed the breaker.
   */
  call<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
}

export interface HandlerContext {
  job: Job;
  correlationId: string;
  attempt: number;
  /** Aborted when the job's timeout passes or the worker is told to stop at once. */
  signal: AbortSignal;
  /** A caller for the named target (default: the job's target). */
  target(name?: string): TargetCaller;
  /** Enqueues follow-up work (in its own transaction). */
  enqueue(spec: JobSpec): Promise<void>;
  logger: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
}

export type JobHandler<P = unknown> = (payload: P, context: HandlerContext) => Promise<void>;

/** A job that has just become a dead letter, as its type's hook sees it. */
export interface DeadLetterNotice<P = unknown> {
  deadLetterId: string;
  job: Job<P>;
  errorClass: RetryClass;
  errorCode: string;
  /** The error's message, as stored with the dead letter. */
  message: string;
}

/** Optional hooks of a job type. */
export interface JobHooks<P = unknown> {
  /**
   * Runs in the transaction that moves a job of this type to the dead letters, so the
   * owner can record what the failure means for its subject (an order on hold). If it
   * throws, the job is dead-lettered without it and the error is logged.
   */
  onDeadLetter?(notice: DeadLetterNotice<P>, tx: Queryable): Promise<void>;
}

/** Enqueues inside the caller's transaction (so a job exists if and only if the caller's change committed). */
export type Enqueue = (tx: Queryable, specs: JobSpec | readonly JobSpec[]) => Promise<string[]>;

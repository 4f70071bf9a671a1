import { SynclineError, type RetryClass } from '../domain/errors.ts';
import type { JobPolicy } from './runtime.ts';
import { TargetError, type ExchangeExcerpt } from './targets/target-errors.ts';

/** What happens to a job after its handler failed. */
export type FailureDecision =
  | { kind: 'retry'; runAt: Date }
  /** Throttled or waiting for a breaker: retried at runAt without counting the attempt. */
  | { kind: 'defer'; runAt: Date }
  | { kind: 'dead-letter' };

export interface ClassifiedError {
  retry: RetryClass;
  code: string;
  message: string;
  retryAt: Date | undefined;
  excerpt: ExchangeExcerpt | undefined;
  remediation: string | undefined;
}

export const DEFAULT_JOB_POLICY: Required<JobPolicy> = {
  maxAttempts: 10,
  backoffBaseMs: 1000,
  backoffCapMs: 300_000,
  backoffScheduleMs: [],
  timeoutMs: 300_000,
};

/** Classifies anything a handler threw. Unknown errors are transient: a bug fix plus retry can help. */
export function classifyError(error: unknown): ClassifiedError {
  if (error instanceof TargetError) {
    return { retry: error.retry, code: error.code, message: error.message, retryAt: error.retryAt, excerpt: error.excerpt, remediation: error.remediation };
  }
  if (error instanceof SynclineError) {
    const remediation = typeof error.details?.remediation === 'string' ? error.details.remediation : undefined;
    return { retry: error.retry, code: error.code, message: error.message, retryAt: undefined, excerpt: undefined, remediation };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { retry: 'transient', code: 'UNHANDLED_ERROR', message, retryAt: undefined, excerpt: undefined, remediation: undefined };
}

/**
 * A policy's schedule (backoffScheduleMs) when it has one, else exponential backoff with
 * "equal jitter": half the delay is fixed, half random, so
 * retries spread out but never come back immediately.
 */
export function backoffDelayMs(attempt: number, policy: Required<JobPolicy>, random = Math.random): number {
  const schedule = policy.backoffScheduleMs;
  if (schedule.length > 0) {
    const planned = schedule[Math.min(Math.max(0, attempt - 1), schedule.length - 1)]!;
    return Math.round(planned * (0.9 + random() * 0.2));
  }
  const exponential = Math.min(policy.backoffCapMs, policy.backoffBaseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential / 2 + random() * (exponential / 2));
}

/** Decides retry, defer or dead letter for a failed attempt (attempt is 1-based). */
export function decideFailure(
  error: ClassifiedError,
  attempt: number,
  maxAttempts: number,
  policy: Required<JobPolicy>,
  now = Date.now(),
  random = Math.random,
): FailureDecision {
  if (error.retry === 'permanent') return { kind: 'dead-letter' };
  if (error.retry === 'throttled') {
    // No reset time given: wait like a first retry rather than hammering the target.
    const at = error.retryAt && error.retryAt.getTime() > now ? error.retryAt : new Date(now + backoffDelayMs(1, policy, random));
    return { kind: 'defer', runAt: at };
  }
  if (attempt >= maxAttempts) return { kind: 'dead-letter' };
  return { kind: 'retry', runAt: new Date(now + backoffDelayMs(attempt, policy, random)) };
}

/** A remediation hint for an operator reading the dead letter. */
export function remediationFor(error: ClassifiedError, target: string | null, attempts: number): string {
  if (error.remediation) return error.remediation;
  if (error.retry === 'permanent') {
    return 'The failure is permanent for this input: correct the data, mapping or configuration it names, then replay.';
  }
  const where = target ? `Check that ${target} is reachable and healthy` : 'Check the logs for this correlation id';
  return `${where}; the job failed ${attempts} times in a row. Replay it once the cause is fixed.`;
}

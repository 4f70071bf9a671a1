import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '../../store/database.ts';
import { acquireTarget, finishTargetCall, recordTargetOutcome, releaseSlot, takeSlot, upsertTarget } from '../../store/runtime/target-queries.ts';
import { classifyError } from '../retry-policy.ts';
import type { TargetCaller } from '../runtime.ts';
import { TargetError } from './target-errors.ts';
import type { ResolvedTargetPolicy } from './target-policy.ts';
import type { BreakerView } from './breaker-view.ts';

/**
 * A TargetCaller for one target and one job: takes a concurrency slot, then an atomic
 * breaker + rate-limit grant from PostgreSQL, and only then runs the call, so that the
 * target sees the limits whichever process the call comes from.
 *
 * A caller's first call does not wait in the handler for a rate-limit grant (ADR 0020): when
 * the grant is due later than SHORT_WAIT_MS it throws a throttled error carrying the time it is
 * due, and the job yields its worker slot, deferred to then without counting an attempt. Once a
 * call went through, later calls of the same caller (the rest of an exchange of several
 * requests, such as an ERP posting) may wait up to `maxWaitMs` for theirs: yielding half-way
 * would repeat the requests already spent against the quota on the next run. A concurrency
 * slot frees as soon as any call returns: every call may wait up to `maxWaitMs` for one. While
 * a call waits, the worker lends the job's slot to other work (`waiting`, docs/runtime.md).
 */
/**
 * With a worker's BreakerView, a target with no rate limit and no concurrency cap whose breaker
 * the view knows to be closed and clean is called without a grant (docs/adr/0034); its calls are
 * counted in batches, and a failure is recorded as always.
 */
/** A grant due within this long is awaited in the handler: a reschedule and a claim cost more. */
const SHORT_WAIT_MS = 100;

/**
 * Told when a call starts and stops waiting for a rate-limit grant or a concurrency slot (a
 * worker lends the job's slot meanwhile); returns the function that ends the wait.
 */
export type WaitNotice = () => () => void;

export function createTargetCaller(
  db: Database,
  name: string,
  policy: ResolvedTargetPolicy,
  holder: string,
  jobSignal: AbortSignal,
  view?: BreakerView,
  waiting?: WaitNotice,
): TargetCaller {
  // Nothing to meter: only the breaker needs PostgreSQL, and the view may know it is closed.
  const unmetered = view !== undefined && policy.ratePerSecond <= 0 && policy.burst <= 0 && policy.maxConcurrency <= 0;
  const windowMs = 1000 + policy.windowMarginMs;
  const burstWindowMs = policy.burst > 0 && policy.ratePerSecond > 0 ? Math.ceil((policy.burst * windowMs) / policy.ratePerSecond) : 0;
  const grantParams = {
    limit: policy.ratePerSecond,
    windowMs,
    burst: policy.burst > 0 && policy.burst < policy.ratePerSecond ? policy.burst : 0,
    burstWindowMs,
    probeMs: policy.timeoutMs + 5000,
    ratioWindowMs: policy.breaker.windowMs,
    // A call is abandoned at its timeout, so it cannot reach the target later than this.
    holdMs: policy.timeoutMs + 1000,
  };
  // Set once a call of this caller was granted: it is in the middle of an exchange.
  let engaged = false;
  const throttled = (code: string, message: string, waitMs: number) =>
    new TargetError(code, message, { retry: 'throttled', target: name, retryAt: new Date(Date.now() + Math.max(waitMs, 50)) });
  const wait = async (ms: number) => {
    const done = waiting?.();
    try {
      await sleep(ms, undefined, { signal: jobSignal });
    } finally {
      done?.();
    }
  };

  async function grant(deadline: number): Promise<{ probe: boolean; failures: number; reach: string | null }> {
    for (let registered = false; ; ) {
      const result = await acquireTarget(db, name, grantParams);
      switch (result.outcome) {
        case 'granted':
        case 'probe':
          return { probe: result.outcome === 'probe', failures: result.consecutive_failures, reach: result.reach };
        case 'breaker-open':
          throw throttled('TARGET_BREAKER_OPEN', `the circuit breaker of ${name} is open`, result.wait_ms);
        case 'unknown':
          if (registered) throw new TargetError('TARGET_UNKNOWN', `target ${name} could not be registered`, { retry: 'transient', target: name });
          await upsertTarget(db, name, policy, policy.maxConcurrency);
          registered = true;
          break;
        case 'rate-limited':
          if (Date.now() + result.wait_ms > deadline) {
            throw throttled('TARGET_RATE_LIMITED', `the rate limit of ${name} is reached`, result.wait_ms);
          }
          await wait(result.wait_ms);
      }
    }
  }

  async function slot(deadline: number): Promise<number | undefined> {
    if (policy.maxConcurrency <= 0) return undefined;
    for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
      const taken = await takeSlot(db, name, holder, policy.timeoutMs + 5000);
      if (taken !== undefined) return taken;
      if (Date.now() + delay > deadline) throw throttled('TARGET_BUSY', `all ${policy.maxConcurrency} concurrency slots of ${name} are in use`, 250);
      await wait(delay);
    }
  }

  return {
    async call<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
      const deadline = Date.now() + policy.maxWaitMs;
      const held = await slot(deadline);
      try {
        const fast = unmetered && view.healthy(name);
        const asked = unmetered ? view.asked(name) : 0;
        const { probe, failures, reach } = fast
          ? { probe: false, failures: 0, reach: null }
          : await grant(engaged ? deadline : Date.now() + Math.min(SHORT_WAIT_MS, policy.maxWaitMs));
        if (fast) view.count(name, policy.breaker.windowMs);
        else if (unmetered) view.note(name, !probe && failures === 0, asked);
        engaged = true;
        const signal = AbortSignal.any([jobSignal, AbortSignal.timeout(policy.timeoutMs)]);
        let value: T;
        try {
          value = await new Promise<T>((resolve, reject) => {
            const onAbort = () =>
              reject(
                jobSignal.aborted
                  ? jobSignal.reason
                  : new TargetError('TARGET_TIMEOUT', `${name} did not answer within ${policy.timeoutMs} ms`, { retry: 'transient', target: name }),
              );
            signal.addEventListener('abort', onAbort, { once: true });
            fn(signal).then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
          });
        } catch (error) {
          const classified = classifyError(error);
          // Only failures that say the target is unwell count against the breaker: a refused
          // payload (permanent) or a throttle proves it is up.
          const unwell = classified.retry === 'transient';
          if (unwell || probe || failures > 0) {
            if (view) {
              // The calls made without a grant belong in the ratio this failure is judged by.
              view.forget(name);
              if (unwell) await view.flush();
            }
            await recordTargetOutcome(db, name, {
              success: !unwell,
              probe,
              threshold: policy.breaker.failureThreshold,
              ratio: policy.breaker.failureRatio,
              minCalls: policy.breaker.minCalls,
              cooldownMs: policy.breaker.cooldownMs,
              failure: unwell ? { code: classified.code, message: classified.message, at: new Date().toISOString() } : null,
            });
          }
          throw error;
        } finally {
          // Should recording the finish fail, the call keeps its provisional reach (grant plus
          // timeout): the limit then errs on the side of the target.
          if (reach) await finishTargetCall(db, name, reach).catch(() => {});
        }
        if (probe || failures > 0) {
          await recordTargetOutcome(db, name, {
            success: true,
            probe,
            threshold: policy.breaker.failureThreshold,
            ratio: policy.breaker.failureRatio,
            minCalls: policy.breaker.minCalls,
            cooldownMs: policy.breaker.cooldownMs,
            failure: null,
          });
        }
        return value;
      } finally {
        if (held !== undefined) await releaseSlot(db, name, held, holder).catch(() => {});
      }
    },
  };
}

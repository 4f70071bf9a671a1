/** The protection a target gets. Every field has a default; an empty policy still has a breaker. */
export interface TargetPolicy {
  /** Calls allowed in any one-second window, counted across every worker process (default: 0, unlimited). */
  ratePerSecond?: number;
  /**
   * Calls allowed back to back: at most `burst` calls in any burst/ratePerSecond seconds, which
   * spreads calls over the second instead of sending them all at its start (default: no smoothing).
   */
  burst?: number;
  /**
   * Added to the one-second window. The limit already holds at the target whatever the delay
   * between a grant and the request's arrival (each call counts until it has returned); a
   * margin is for targets whose own second runs on a clock that drifts (default: 0 ms).
   */
  windowMarginMs?: number;
  /** Calls in flight at once, across every worker process (default: 0, no cap). */
  maxConcurrency?: number;
  /** A call is abandoned as a transient failure after this long (default: 30000 ms). */
  timeoutMs?: number;
  /**
   * How long a call may wait inside the handler for a concurrency slot, or for a rate-limit grant
   * once an earlier call of the same exchange went through; beyond it the job goes back to the
   * queue until then, without counting an attempt. A job's first call does not wait for a grant
   * due later than 100 ms: it yields its worker slot at once and is rescheduled for when the
   * grant is due (default: 2000 ms).
   */
  maxWaitMs?: number;
  breaker?: BreakerPolicy;
}

export interface BreakerPolicy {
  /** Consecutive failures that open the breaker (default: 5). */
  failureThreshold?: number;
  /** Failure ratio over the window that opens it (default: 0.5). */
  failureRatio?: number;
  /** Calls in the window before the ratio counts (default: 20). */
  minCalls?: number;
  /** Length of the ratio window (default: 60000 ms). */
  windowMs?: number;
  /** How long the breaker stays open before one probe call is let through (default: 30000 ms). */
  cooldownMs?: number;
}

export type ResolvedTargetPolicy = Required<Omit<TargetPolicy, 'breaker' | 'burst'>> & { burst: number; breaker: Required<BreakerPolicy> };

export function resolveTargetPolicy(policy: TargetPolicy = {}): ResolvedTargetPolicy {
  const positive = (n: number | undefined, fallback: number) => (n !== undefined && Number.isFinite(n) && n >= 0 ? Math.floor(n) : fallback);
  return {
    ratePerSecond: positive(policy.ratePerSecond, 0),
    burst: positive(policy.burst, 0),
    windowMarginMs: positive(policy.windowMarginMs, 0),
    maxConcurrency: positive(policy.maxConcurrency, 0),
    timeoutMs: positive(policy.timeoutMs, 30_000) || 30_000,
    maxWaitMs: positive(policy.maxWaitMs, 2000),
    breaker: {
      failureThreshold: positive(policy.breaker?.failureThreshold, 5) || 1,
      failureRatio: policy.breaker?.failureRatio ?? 0.5,
      minCalls: positive(policy.breaker?.minCalls, 20),
      windowMs: positive(policy.breaker?.windowMs, 60_000) || 60_000,
      cooldownMs: positive(policy.breaker?.cooldownMs, 30_000),
    },
  };
}

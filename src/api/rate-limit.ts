import type { Logger } from 'pino';
import type { Database } from '../store/database.ts';
import { deleteWindowCountsBefore, syncWindowCounts } from '../store/clients/rate-counts.ts';

/**
 * Request counting shared by every API process of a deployment, without a database round
 * trip per request (docs/adr/0008-shared-rate-limits-and-token-governance.md).
 *
 * Glossary:
 * - bucket: what is counted, e.g. `client:<id>` or `auth-fail:ip:<address>`.
 * - window: a fixed span of `windowSeconds` aligned to the epoch; counts start at 0 in each.
 * - global: the deployment-wide count of a window as of this process's last sync.
 * - pending: requests this process counted since; in flight: sent by the running sync.
 *
 * Each process decides locally with global + pending + in flight, and every `syncMs` adds its
 * pending counts to PostgreSQL and reads back the totals (one statement for all buckets).
 * Overshoot bound: another process's requests reach this one's view within one sync interval
 * plus the statement's time, so a window admits at most the limit plus what the other
 * processes admit in that time (and never more than processes × limit).
 */
interface Entry {
  bucket: string;
  windowStart: number;
  windowSeconds: number;
  global: number;
  pending: number;
  inFlight: number;
}

// Rows of windows older than the longest window allowed (an hour) are deleted now and then.
const CLEANUP_EVERY_MS = 60_000;
const LONGEST_WINDOW_SECONDS = 3600;

export class SharedWindowCounter {
  readonly #db: Database;
  readonly #logger: Logger;
  readonly #syncMs: number;
  readonly #entries = new Map<string, Entry>();
  #timer: NodeJS.Timeout | undefined;
  #syncing: Promise<void> | undefined;
  #lastCleanup = 0;

  /** syncMs: how often counts are shared (SYNCLINE_RATE_LIMIT_SYNC_MS, default: 200). */
  constructor(db: Database, logger: Logger, options: { syncMs: number }) {
    this.#db = db;
    this.#logger = logger;
    this.#syncMs = options.syncMs;
  }

  get syncMs(): number {
    return this.#syncMs;
  }

  #entry(bucket: string, windowSeconds: number, now: number): Entry {
    const windowStart = Math.floor(now / 1000 / windowSeconds) * windowSeconds;
    const key = `${bucket}\u0000${windowStart}`;
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = { bucket, windowStart, windowSeconds, global: 0, pending: 0, inFlight: 0 };
      this.#entries.set(key, entry);
    }
    return entry;
  }

  /** The deployment-wide count of the current window as this process knows it, and when the window ends (epoch ms). */
  current(bucket: string, windowSeconds: number, now = Date.now()): { count: number; resetAt: number } {
    const entry = this.#entry(bucket, windowSeconds, now);
    return { count: entry.global + entry.pending + entry.inFlight, resetAt: (entry.windowStart + windowSeconds) * 1000 };
  }

  /** Counts one (or n) requests in the current window. */
  add(bucket: string, windowSeconds: number, n = 1, now = Date.now()): void {
    this.#entry(bucket, windowSeconds, now).pending += n;
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.sync(), this.#syncMs);
    this.#timer.unref();
  }

  /** Stops syncing after a last sync of what is pending. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#syncing;
    await this.sync();
  }

  /** Shares pending counts and reads back the totals of the windows this process counts in. */
  sync(): Promise<void> {
    this.#syncing ??= this.#sync().finally(() => (this.#syncing = undefined));
    return this.#syncing;
  }

  async #sync(): Promise<void> {
    const now = Date.now();
    const added: Entry[] = [];
    const watched: Entry[] = [];
    for (const [key, entry] of this.#entries) {
      // A window's count is still read while it is the previous window (the sliding estimate weighs it).
      const forgotten = (entry.windowStart + 2 * entry.windowSeconds) * 1000 <= now;
      if (entry.pending > 0) {
        entry.inFlight = entry.pending;
        entry.pending = 0;
        added.push(entry);
      } else if (!forgotten) watched.push(entry);
      else this.#entries.delete(key);
    }
    if (added.length === 0 && watched.length === 0) return;
    try {
      const totals = await syncWindowCounts(
        this.#db,
        added.map((e) => ({ bucket: e.bucket, windowStart: e.windowStart, count: e.inFlight })),
        watched.map((e) => ({ bucket: e.bucket, windowStart: e.windowStart })),
      );
      const byKey = new Map(totals.map((t) => [`${t.bucket}\u0000${t.windowStart}`, t.count]));
      for (const entry of [...added, ...watched]) {
        const total = byKey.get(`${entry.bucket}\u0000${entry.windowStart}`);
        // The total includes what this sync added; never let a stale read lower the count.
        entry.global = Math.max(total ?? 0, entry.global + entry.inFlight);
        entry.inFlight = 0;
      }
      if (now - this.#lastCleanup > CLEANUP_EVERY_MS) {
        this.#lastCleanup = now;
        await deleteWindowCountsBefore(this.#db, Math.floor(now / 1000) - 2 * LONGEST_WINDOW_SECONDS);
      }
    } catch (error) {
      // The database is unreachable: keep deciding locally and send these counts next time.
      for (const entry of added) {
        entry.pending += entry.inFlight;
        entry.inFlight = 0;
      }
      this.#logger.warn({ err: error }, 'rate counts could not be shared; deciding locally until the database answers');
    }
  }
}

/** The outcome of counting one request against a limit. */
export interface RateDecision {
  allowed: boolean;
  /** Policy name in the RateLimit headers. */
  policy: string;
  limit: number;
  windowSeconds: number;
  remaining: number;
  /** Seconds until the window resets (at least 1). */
  resetSeconds: number;
}

/**
 * Decides whether a request fits its bucket's limit; an admitted request is counted.
 *
 * The limit holds over any span of one window, not only within the epoch-aligned windows: the
 * count used is the sliding-window estimate, the current window's count plus the previous
 * window's weighted by the share of it that the sliding span still covers. With fixed windows
 * alone, a client could send its whole limit at the end of one window and again at the start
 * of the next: twice the limit within a second.
 */
export function takeFromWindow(counter: SharedWindowCounter, bucket: string, policy: { name: string; limit: number; windowSeconds: number }, now = Date.now()): RateDecision {
  const windowMs = policy.windowSeconds * 1000;
  const { count, resetAt } = counter.current(bucket, policy.windowSeconds, now);
  const previous = counter.current(bucket, policy.windowSeconds, now - windowMs).count;
  const leftMs = resetAt - now;
  const used = count + (previous * leftMs) / windowMs;
  const allowed = used + 1 <= policy.limit;
  if (allowed) counter.add(bucket, policy.windowSeconds, 1, now);
  return {
    allowed,
    policy: policy.name,
    limit: policy.limit,
    windowSeconds: policy.windowSeconds,
    remaining: Math.max(0, Math.floor(policy.limit - used - (allowed ? 1 : 0))),
    resetSeconds: Math.max(1, Math.ceil((allowed ? leftMs : untilOneFitsMs(policy.limit, count, previous, leftMs, windowMs)) / 1000)),
  };
}

/** How long until one more request fits, if nothing else is admitted meanwhile. */
function untilOneFitsMs(limit: number, count: number, previous: number, leftMs: number, windowMs: number): number {
  // Still in this window: the previous window's weight must fall to what the limit leaves.
  if (count + 1 <= limit) return previous === 0 ? 0 : Math.max(0, leftMs - (windowMs * (limit - count - 1)) / previous);
  // In the next window, this window's count is the previous one and fades the same way.
  return leftMs + Math.max(0, windowMs * (1 - (limit - 1) / count));
}

/** RateLimit-Policy and RateLimit header fields (draft-ietf-httpapi-ratelimit-headers). */
export function rateLimitHeaders(decision: RateDecision): Record<string, string> {
  return {
    'RateLimit-Policy': `"${decision.policy}";q=${decision.limit};w=${decision.windowSeconds}`,
    RateLimit: `"${decision.policy}";r=${decision.remaining};t=${decision.resetSeconds}`,
  };
}

/** Per-client request limits: the client's own limit, or the deployment default. */
export class ClientRateLimiter {
  readonly #counter: SharedWindowCounter;
  readonly #defaultLimit: number;
  readonly #windowSeconds: number;
  readonly #limitOf: (clientId: string) => number | null;

  constructor(counter: SharedWindowCounter, options: { defaultLimit: number; windowSeconds: number; limitOf: (clientId: string) => number | null }) {
    this.#counter = counter;
    this.#defaultLimit = options.defaultLimit;
    this.#windowSeconds = options.windowSeconds;
    this.#limitOf = options.limitOf;
  }

  admit(clientId: string): RateDecision {
    const own = this.#limitOf(clientId);
    return takeFromWindow(this.#counter, `client:${clientId}`, {
      name: own === null ? 'default' : 'client',
      limit: own ?? this.#defaultLimit,
      windowSeconds: this.#windowSeconds,
    });
  }
}

import type { Database } from '../store/database.ts';
import { queueStats } from '../store/runtime/queue-stats.ts';
import { listTargetStatus } from '../store/runtime/target-queries.ts';
import { relayBacklogs } from '../store/runtime/relay-cursor.ts';
import { laneName } from './runtime.ts';

export interface QueueGroup {
  key: string;
  waiting: number;
  running: number;
  due: number;
  /** Seconds the oldest due job has waited (0 when none is due). */
  oldestAgeSeconds: number;
}

/** A runtime target as operators see it: breaker, rate-limit use, concurrency and jobs. */
export interface TargetView {
  name: string;
  breaker: {
    state: string;
    blockedUntil: string | null;
    openedAt: string | null;
    consecutiveFailures: number;
    windowCalls: number;
    windowFailures: number;
    lastFailure: { code: string; message: string; at: string } | null;
  };
  rateLimit: { perSecond: number | null; callsLastSecond: number; usage: number | null };
  concurrency: { cap: number | null; inFlight: number };
  jobs: { running: number; waiting: number };
  policy: Record<string, unknown>;
}

/** Read models for operators: queue depth and age, and the state of every target. */
export class OpsService {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async queues(): Promise<{ lanes: QueueGroup[]; types: QueueGroup[]; targets: QueueGroup[] }> {
    const rows = await queueStats(this.#db);
    const now = Date.now();
    const group = (dimension: string, key: (k: string) => string) =>
      rows
        .filter((r) => r.dimension === dimension)
        .map((r) => ({
          key: key(r.key),
          waiting: r.waiting,
          running: r.running,
          due: r.due,
          oldestAgeSeconds: r.oldest_due_at ? Math.max(0, Math.round((now - new Date(r.oldest_due_at).getTime()) / 100) / 10) : 0,
        }));
    const lanes = group('lane', (k) => laneName(Number(k)));
    // Every lane is listed, empty ones too, so dashboards see a zero instead of a gap.
    for (const lane of ['critical', 'normal', 'bulk']) {
      if (!lanes.some((l) => l.key === lane)) lanes.push({ key: lane, waiting: 0, running: 0, due: 0, oldestAgeSeconds: 0 });
    }
    const order = ['critical', 'normal', 'bulk'];
    lanes.sort((a, b) => order.indexOf(a.key) - order.indexOf(b.key));
    return { lanes, types: group('type', (k) => k), targets: group('target', (k) => k) };
  }

  /** Each outbox relay (subscriptions: `default`; NATS: `nats:<stream>`), when its cursor last moved and how many events wait. */
  async relays(): Promise<{ name: string; updatedAt: string; behind: number }[]> {
    return (await relayBacklogs(this.#db)).map((r) => ({ name: r.name, updatedAt: new Date(r.updated_at).toISOString(), behind: Number(r.behind) }));
  }

  async targets(): Promise<TargetView[]> {
    const rows = await listTargetStatus(this.#db);
    return rows.map((t): TargetView => {
      const limit = Number(t.policy.ratePerSecond ?? 0);
      return {
        name: t.name,
        breaker: {
          state: t.breaker_state,
          blockedUntil: t.blocked_until ? new Date(t.blocked_until).toISOString() : null,
          openedAt: t.opened_at ? new Date(t.opened_at).toISOString() : null,
          consecutiveFailures: t.consecutive_failures,
          windowCalls: t.window_calls,
          windowFailures: t.window_failures,
          lastFailure: (t.last_failure ?? null) as TargetView['breaker']['lastFailure'],
        },
        rateLimit: { perSecond: limit || null, callsLastSecond: t.calls_last_second, usage: limit > 0 ? Math.round((t.calls_last_second / limit) * 100) / 100 : null },
        concurrency: { cap: t.slots || null, inFlight: t.slots_held },
        jobs: { running: t.jobs_running, waiting: t.jobs_waiting },
        policy: t.policy,
      };
    });
  }

  /**
   * Rate-limit use of the given targets (an ERP connection's, for the console): calls granted in
   * the current one-second window against the target's quota (policy ratePerSecond). A target
   * not called yet has no row: 0 used, quota unknown until its first call registers its policy.
   */
  async quotaUse(targets: readonly { name: string; target: string }[]): Promise<QuotaUse[]> {
    const rows = new Map((await listTargetStatus(this.#db)).map((t) => [t.name, t]));
    return targets.map(({ name, target }) => {
      const row = rows.get(target);
      const quota = Number(row?.policy.ratePerSecond ?? 0) || null;
      const used = row?.calls_last_second ?? 0;
      return { name, target, windowSeconds: 1, used, quota, usage: quota ? Math.round((used / quota) * 100) / 100 : null, called: row !== undefined };
    });
  }
}

export interface QuotaUse {
  /** What the target serves (an ERP connection id). */
  name: string;
  target: string;
  windowSeconds: number;
  /** Calls granted in the current window. */
  used: number;
  /** Calls allowed per window; null when unlimited or not known yet. */
  quota: number | null;
  /** used / quota, null without a quota. */
  usage: number | null;
  /** False until the target's first call. */
  called: boolean;
}

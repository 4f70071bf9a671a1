import type { Database } from '../../store/database.ts';
import { countTargetCalls, TARGET_CHANNEL } from '../../store/runtime/target-queries.ts';

/**
 * A worker's view of its targets' breakers (docs/adr/0034). A call to a target with no rate
 * limit and no concurrency cap takes a grant from PostgreSQL only to learn that its breaker is
 * closed; the view answers that from what PostgreSQL last said, so such calls cost no statement:
 *
 * - a target is *healthy* when PostgreSQL said, less than STALE_MS ago, that its breaker is
 *   closed with no failure since its last success (a grant, or a count below);
 * - any failure recorded against a target, by any process, is announced at its commit
 *   (`syncline_target`): the target stops being healthy here until PostgreSQL says otherwise,
 *   so its next calls go through the full grant (breaker, probe, failure counts);
 * - the calls made without a grant are added to the target's failure-ratio window every
 *   FLUSH_MS, in one statement for all targets, which also says again whether each is healthy.
 *
 * A target this process never asked about, or a view whose notifications stopped, is simply
 * not healthy: the calls take grants as they always did.
 */
const STALE_MS = 1000;
const FLUSH_MS = 250;

interface Pending {
  calls: number;
  ratioWindowMs: number;
}

export class BreakerView {
  readonly #db: Database;
  // When PostgreSQL last said the target was healthy (performance.now()).
  readonly #healthySince = new Map<string, number>();
  readonly #pending = new Map<string, Pending>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #unlisten: (() => Promise<void>) | undefined;
  #listening = false;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Listens for failures; until it does, no target is healthy. */
  async start(): Promise<void> {
    this.#unlisten = await this.#db.listen(TARGET_CHANNEL, (name) => this.forget(name));
    this.#listening = true;
  }

  async stop(): Promise<void> {
    this.#listening = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
    await this.#unlisten?.().catch(() => {});
  }

  /** True when a call to the target may go without a grant. */
  healthy(name: string): boolean {
    const since = this.#healthySince.get(name);
    return this.#listening && since !== undefined && performance.now() - since < STALE_MS;
  }

  /** What PostgreSQL just said of the target. */
  note(name: string, healthy: boolean): void {
    if (healthy) this.#healthySince.set(name, performance.now());
    else this.#healthySince.delete(name);
  }

  /** The target failed somewhere: ask PostgreSQL again before its next call. */
  forget(name: string): void {
    this.#healthySince.delete(name);
  }

  /** Counts a call made without a grant; it reaches the failure-ratio window at the next flush. */
  count(name: string, ratioWindowMs: number): void {
    const pending = this.#pending.get(name);
    if (pending) pending.calls += 1;
    else this.#pending.set(name, { calls: 1, ratioWindowMs });
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, FLUSH_MS);
    this.#timer.unref();
  }

  /** Writes the counted calls now (before a failure is recorded, so that its ratio sees them). */
  flush(): Promise<void> {
    const run = this.#flushing.then(async () => {
      if (this.#pending.size === 0) return;
      const batch = [...this.#pending.entries()];
      this.#pending.clear();
      try {
        const states = await countTargetCalls(this.#db, batch.map(([name, p]) => ({ name, calls: p.calls, ratioWindowMs: p.ratioWindowMs })));
        for (const s of states) this.note(s.name, s.healthy);
      } catch {
        // Not counted this time: ask PostgreSQL for grants until a count goes through again.
        for (const [name, p] of batch) {
          this.forget(name);
          const pending = this.#pending.get(name);
          if (pending) pending.calls += p.calls;
          else this.#pending.set(name, p);
        }
      }
    });
    this.#flushing = run;
    return run;
  }
}

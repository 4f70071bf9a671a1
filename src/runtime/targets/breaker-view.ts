import type { Database } from '../../store/database.ts';
import { countTargetCalls, TARGET_CHANNEL } from '../../store/runtime/target-queries.ts';

/**
 * A worker's view of its targets' breakers (docs/adr/0034, 0043). A call to a target with no rate
 * limit and no concurrency cap takes a grant from PostgreSQL only to learn that its breaker is
 * closed; the view answers that from what PostgreSQL last said, so such calls cost no statement:
 *
 * - a target is *healthy* when PostgreSQL said its breaker is closed with no failure since its
 *   last success (a grant, or a count below), and nothing has been heard against it since;
 * - any failure recorded against a target, by any process, is announced at its commit
 *   (`syncline_target`): the target stops being healthy here until PostgreSQL says otherwise,
 *   so its next calls go through the full grant (breaker, probe, failure counts). Every way a
 *   breaker leaves "closed and clean" goes through such a failure; an answer that was on its way
 *   when the announcement came is not believed (a generation per target);
 * - the calls made without a grant are added to the target's failure-ratio window every
 *   FLUSH_MS, in one statement for all targets, which also says again whether each is healthy.
 *
 * What PostgreSQL said is believed until an announcement, not for a fixed time: with several
 * processes each calls a target less often, and a one-second limit (ADR 34) sent most of their
 * calls back through the grant. Only a lost listening connection can hide an announcement: then
 * nothing is healthy until the view listens again. STALE_MS stays as a backstop.
 * A target this process never asked about is not healthy: its first call takes a grant.
 */
const STALE_MS = 30_000;
const FLUSH_MS = 1000;
// After a lost listening connection, how long before listening again.
const RELISTEN_MS = 1000;

interface Pending {
  calls: number;
  ratioWindowMs: number;
}

export class BreakerView {
  readonly #db: Database;
  // When PostgreSQL last said the target was healthy (performance.now()).
  readonly #healthySince = new Map<string, number>();
  // Bumped whenever the target is forgotten: an answer asked for before that is out of date.
  readonly #generation = new Map<string, number>();
  // Bumped when the listening connection is lost: every answer asked for before is out of date.
  #epoch = 0;
  readonly #pending = new Map<string, Pending>();
  #timer: NodeJS.Timeout | undefined;
  #relisten: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #unlisten: (() => Promise<void>) | undefined;
  #listening = false;
  #stopped = false;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Listens for failures; until it does, no target is healthy. */
  async start(): Promise<void> {
    this.#stopped = false;
    this.#unlisten = await this.#db.listen(TARGET_CHANNEL, (name) => this.forget(name), () => this.#lost());
    this.#listening = true;
  }

  /** The listening connection is gone: announcements may have been missed, so nothing is healthy until it listens again. */
  #lost(): void {
    this.#listening = false;
    this.#unlisten = undefined;
    this.#epoch += 1;
    this.#healthySince.clear();
    if (this.#stopped) return;
    this.#relisten = setTimeout(() => {
      this.#relisten = undefined;
      if (!this.#stopped) this.start().catch(() => this.#lost());
    }, RELISTEN_MS);
    this.#relisten.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#listening = false;
    clearTimeout(this.#timer);
    clearTimeout(this.#relisten);
    this.#timer = undefined;
    await this.flush();
    await this.#unlisten?.().catch(() => {});
  }

  /** True when a call to the target may go without a grant. */
  healthy(name: string): boolean {
    const since = this.#healthySince.get(name);
    return this.#listening && since !== undefined && performance.now() - since < STALE_MS;
  }

  /** Marks the moment a question about the target is sent; give it back to `note` with the answer. */
  asked(name: string): number {
    return this.#epoch * 1_000_000 + (this.#generation.get(name) ?? 0);
  }

  /** What PostgreSQL said of the target, in answer to a question sent at `asked`. */
  note(name: string, healthy: boolean, asked: number): void {
    if (!healthy) this.#healthySince.delete(name);
    // An announcement (or a lost connection) came after the question: the answer may predate it.
    else if (asked === this.asked(name)) this.#healthySince.set(name, performance.now());
  }

  /** The target failed somewhere: ask PostgreSQL again before its next call. */
  forget(name: string): void {
    this.#healthySince.delete(name);
    this.#generation.set(name, (this.#generation.get(name) ?? 0) + 1);
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
      // In name order: every process locks the targets' rows in the same order, so two flushes never deadlock.
      const batch = [...this.#pending.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      this.#pending.clear();
      const asked = new Map(batch.map(([name]) => [name, this.asked(name)]));
      try {
        const states = await countTargetCalls(this.#db, batch.map(([name, p]) => ({ name, calls: p.calls, ratioWindowMs: p.ratioWindowMs })));
        for (const s of states) this.note(s.name, s.healthy, asked.get(s.name)!);
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

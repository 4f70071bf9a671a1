import type { Database } from '../store/database.ts';
import { completeJobs } from '../store/runtime/finish-jobs.ts';

// A DELETE that failed (a dropped connection, a deadlock with a lease renewal) is tried again
// this many times in all before its jobs are left to run again when their leases expire.
const ATTEMPTS = 3;
const RETRY_DELAY_MS = 100;

interface Pending {
  id: string;
  /** The owner wants to hear when this one has committed (the next job of its ordering key became claimable). */
  notify: boolean;
  failures: number;
}

export interface CompletionOutcomes {
  /** A DELETE committed; `notify`: one of its completions was added with `notify`. */
  committed(notify: boolean): void;
  /** These completions were given up after the last attempt failed: the jobs run again after their leases. */
  failed(ids: readonly string[], error: unknown): void;
}

/**
 * Group-commits job completions. Completions are gathered until the current turn of the event
 * loop ends (jobs started together mostly finish together), then deleted with one statement;
 * while `maxInFlight` statements are running, more completions wait and join the next one.
 * A completion counts as done once its DELETE has committed (asynchronously, see ASYNC_COMMIT),
 * which the owner hears per statement, not per job; a failed DELETE is tried again after a short
 * pause, so one dropped connection does not send a whole batch of finished jobs back to the queue.
 */
export class CompletionBatcher {
  readonly #db: Database;
  readonly #outcomes: CompletionOutcomes;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  #pending: Pending[] = [];
  // Batches sent and not settled yet (their jobs are still leased: see ids()).
  readonly #sent = new Set<Pending[]>();
  #inFlight = 0;
  #scheduled = false;
  #idle: (() => void)[] = [];

  /** maxBatch: most ids in one DELETE (default: 1000); maxInFlight: DELETEs running at once (default: 2). */
  constructor(db: Database, outcomes: CompletionOutcomes, options: { maxBatch?: number; maxInFlight?: number } = {}) {
    this.#db = db;
    this.#outcomes = outcomes;
    this.#maxBatch = options.maxBatch ?? 1000;
    // PGlite runs one statement at a time anyway.
    this.#maxInFlight = db.kind === 'pglite' ? 1 : (options.maxInFlight ?? 2);
  }

  /** Deletes the job's row with the next batch. */
  complete(id: string, notify = false): void {
    this.#pending.push({ id, notify, failures: 0 });
    this.#schedule();
  }

  /** The jobs whose completion has not committed yet (their leases must be kept). */
  ids(): string[] {
    const ids = this.#pending.map((p) => p.id);
    for (const batch of this.#sent) for (const p of batch) ids.push(p.id);
    return ids;
  }

  /** Resolves once every completion added so far has committed or been given up. */
  idle(): Promise<void> {
    if (this.#pending.length === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#maxInFlight || this.#pending.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    while (this.#inFlight < this.#maxInFlight && this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#maxBatch);
      this.#inFlight += 1;
      this.#sent.add(batch);
      completeJobs(
        this.#db,
        batch.map((p) => p.id),
      )
        .then(
          () => {
            this.#sent.delete(batch);
            this.#outcomes.committed(batch.some((p) => p.notify));
          },
          (error: unknown) => {
            this.#sent.delete(batch);
            const again: Pending[] = [];
            const given: string[] = [];
            for (const p of batch) {
              p.failures += 1;
              if (p.failures < ATTEMPTS) again.push(p);
              else given.push(p.id);
            }
            if (given.length > 0) this.#outcomes.failed(given, error);
            if (again.length === 0) return;
            this.#pending.unshift(...again);
            return new Promise<void>((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
          },
        )
        .finally(() => {
          this.#inFlight -= 1;
          this.#schedule();
          if (this.#inFlight === 0 && this.#pending.length === 0) for (const resolve of this.#idle.splice(0)) resolve();
        });
    }
  }
}

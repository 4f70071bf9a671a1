import type { Database } from '../store/database.ts';
import { completeJobs } from '../store/runtime/finish-jobs.ts';

// A DELETE that failed (a dropped connection, a deadlock with a lease renewal) is tried again
// this many times in all before its jobs are left to run again when their leases expire.
const ATTEMPTS = 3;
const RETRY_DELAY_MS = 100;

interface Pending {
  id: string;
  failures: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group-commits job completions. Completions are gathered until the current turn of the event
 * loop ends (jobs started together mostly finish together), then deleted with one statement;
 * while `maxInFlight` statements are running, more completions wait and join the next one.
 * A completion resolves once its DELETE has committed (asynchronously, see ASYNC_COMMIT); a
 * failed DELETE is tried again after a short pause, so one dropped connection does not send a
 * whole batch of finished jobs back to the queue.
 */
export class CompletionBatcher {
  readonly #db: Database;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  #pending: Pending[] = [];
  #inFlight = 0;
  #scheduled = false;

  /** maxBatch: most ids in one DELETE (default: 1000); maxInFlight: DELETEs running at once (default: 2). */
  constructor(db: Database, options: { maxBatch?: number; maxInFlight?: number } = {}) {
    this.#db = db;
    this.#maxBatch = options.maxBatch ?? 1000;
    // PGlite runs one statement at a time anyway.
    this.#maxInFlight = db.kind === 'pglite' ? 1 : (options.maxInFlight ?? 2);
  }

  /** Resolves once the job's row is deleted. */
  complete(id: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ id, failures: 0, resolve, reject });
      this.#schedule();
    });
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
      completeJobs(
        this.#db,
        batch.map((p) => p.id),
      )
        .then(
          () => {
            for (const p of batch) p.resolve();
          },
          (error: unknown) => {
            const again = batch.filter((p) => {
              p.failures += 1;
              if (p.failures < ATTEMPTS) return true;
              p.reject(error);
              return false;
            });
            if (again.length === 0) return;
            this.#pending.unshift(...again);
            return new Promise<void>((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
          },
        )
        .finally(() => {
          this.#inFlight -= 1;
          this.#schedule();
        });
    }
  }
}

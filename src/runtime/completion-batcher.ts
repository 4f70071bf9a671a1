import type { Database } from '../store/database.ts';
import { completeJobs } from '../store/runtime/finish-jobs.ts';

interface Pending {
  id: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group-commits job completions. Completions are gathered until the current turn of the event
 * loop ends (jobs started together mostly finish together), then deleted with one statement;
 * while `maxInFlight` statements are running, more completions wait and join the next one.
 * A completion resolves once its DELETE has committed (asynchronously, see ASYNC_COMMIT).
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
      this.#pending.push({ id, resolve, reject });
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
            for (const p of batch) p.reject(error);
          },
        )
        .finally(() => {
          this.#inFlight -= 1;
          this.#schedule();
        });
    }
  }
}

import type { Database, Queryable } from '../../store/database.ts';

/**
 * Group commit that knows which rows an item will lock. The generic
 * CommitBatcher (src/store/commit-batcher.ts) lets several transactions run at
 * once over whatever items are queued; on a hot SKU those transactions only
 * queue behind each other on the SKU's balance row, and each carries a slice of
 * the waiting requests. This batcher never has two transactions of one process
 * in flight on the same key: requests for a key that is busy wait, and all of
 * them go into the next transaction for that key, which decides them under one
 * row lock. Items on other keys proceed in parallel transactions.
 *
 * A batch is formed one event-loop turn after a slot frees up, so that callers
 * answered by the previous batch have had the chance to submit again.
 * If a batch fails as a whole, each of its items is retried in a transaction of
 * its own, so one bad item cannot fail the others.
 */
export interface KeyedBatcherOptions {
  /** Most items in one transaction (default: 256). */
  maxBatchSize?: number;
  /** Transactions in flight at once, on disjoint keys (default: 4). */
  maxConcurrentBatches?: number;
}

interface Pending<I, O> {
  item: I;
  keys: readonly string[];
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

export class KeyedBatcher<I, O> {
  readonly #db: Database;
  readonly #write: (tx: Queryable, items: I[]) => Promise<O[]>;
  readonly #keysOf: (item: I) => readonly string[];
  readonly #maxBatchSize: number;
  readonly #maxConcurrent: number;
  #queue: Pending<I, O>[] = [];
  readonly #busy = new Map<string, number>();
  #inFlight = 0;
  #scheduled = false;

  constructor(db: Database, write: (tx: Queryable, items: I[]) => Promise<O[]>, keysOf: (item: I) => readonly string[], options: KeyedBatcherOptions = {}) {
    this.#db = db;
    this.#write = write;
    this.#keysOf = keysOf;
    this.#maxBatchSize = options.maxBatchSize ?? 256;
    // PGlite runs one transaction at a time anyway; more would only queue.
    this.#maxConcurrent = db.kind === 'pglite' ? 1 : (options.maxConcurrentBatches ?? 4);
  }

  /** Resolves with the item's outcome once the transaction that decided it has committed. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, keys: [...new Set(this.#keysOf(item))], resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#maxConcurrent) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#inFlight < this.#maxConcurrent && this.#queue.length > 0) {
      const batch: Pending<I, O>[] = [];
      const claimed = new Set<string>();
      const waiting: Pending<I, O>[] = [];
      for (const pending of this.#queue) {
        const free = batch.length < this.#maxBatchSize && pending.keys.every((k) => !this.#busy.has(k));
        if (free) {
          batch.push(pending);
          for (const k of pending.keys) claimed.add(k);
        } else waiting.push(pending);
      }
      if (batch.length === 0) return;
      this.#queue = waiting;
      for (const k of claimed) this.#busy.set(k, (this.#busy.get(k) ?? 0) + 1);
      this.#inFlight += 1;
      void this.#flush(batch).finally(() => {
        for (const k of claimed) this.#busy.delete(k);
        this.#inFlight -= 1;
        this.#schedule();
      });
    }
  }

  async #flush(batch: Pending<I, O>[]): Promise<void> {
    try {
      const outcomes = await this.#db.transaction((tx) => this.#write(tx, batch.map((p) => p.item)));
      batch.forEach((pending, i) => pending.resolve(outcomes[i] as O));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      for (const pending of batch) {
        try {
          const [outcome] = await this.#db.transaction((tx) => this.#write(tx, [pending.item]));
          pending.resolve(outcome as O);
        } catch (singleError) {
          pending.reject(singleError);
        }
      }
    }
  }
}

import type { Database, Queryable } from './database.ts';

/**
 * Group commit: callers hand in items one at a time, and the batcher writes
 * whatever has accumulated in one transaction, while the previous transaction
 * is still committing. A caller's promise settles only after its transaction
 * committed, so nothing is acknowledged before it is durable.
 *
 * If a whole batch fails, each of its items is retried in a transaction of its
 * own, so one bad item cannot fail the others.
 */
export type BatchWriter<I, O> = (tx: Queryable, items: I[]) => Promise<O[]>;

export interface CommitBatcherOptions {
  /** Most items in one transaction (default: 64). */
  maxBatchSize?: number;
  /** Transactions in flight at once (default: 4). */
  maxConcurrentBatches?: number;
  /**
   * Wrap each batch in BEGIN/COMMIT (default: true). A writer that does all its
   * work in one statement can turn this off: the statement is its own transaction,
   * and two round trips per batch are saved.
   */
  transactional?: boolean;
}

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

export class CommitBatcher<I, O> {
  readonly #db: Database;
  readonly #write: BatchWriter<I, O>;
  readonly #maxBatchSize: number;
  readonly #maxConcurrent: number;
  readonly #transactional: boolean;
  #queue: Pending<I, O>[] = [];
  #inFlight = 0;

  constructor(db: Database, write: BatchWriter<I, O>, options: CommitBatcherOptions = {}) {
    this.#db = db;
    this.#write = write;
    this.#maxBatchSize = options.maxBatchSize ?? 64;
    // PGlite runs one transaction at a time anyway; more would only queue.
    this.#maxConcurrent = db.kind === 'pglite' ? 1 : (options.maxConcurrentBatches ?? 4);
    this.#transactional = options.transactional ?? true;
  }

  #run(items: I[]): Promise<O[]> {
    return this.#transactional ? this.#db.transaction((tx) => this.#write(tx, items)) : this.#write(this.#db, items);
  }

  /** Resolves with the item's outcome once the transaction that wrote it has committed. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#inFlight < this.#maxConcurrent && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatchSize);
      this.#inFlight += 1;
      void this.#flush(batch).finally(() => {
        this.#inFlight -= 1;
        this.#pump();
      });
    }
  }

  async #flush(batch: Pending<I, O>[]): Promise<void> {
    try {
      const outcomes = await this.#run(batch.map((p) => p.item));
      batch.forEach((pending, i) => pending.resolve(outcomes[i] as O));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      await Promise.all(
        batch.map(async (pending) => {
          try {
            const [outcome] = await this.#run([pending.item]);
            pending.resolve(outcome as O);
          } catch (singleError) {
            pending.reject(singleError);
          }
        }),
      );
    }
  }
}

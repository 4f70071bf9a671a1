import type { Database } from '../../store/database.ts';
import { claimExpired, nextExpiry } from '../../store/inventory/reservation-queries.ts';
import { newId } from '../../model/ids.ts';
import { releaseHolds } from './holds.ts';

/**
 * Ends holds whose expiry has passed, without a request to trigger it: the
 * background task calls `expireDue` every tick. Reservations are claimed with
 * SKIP LOCKED, so several processes share the work and an explicit release
 * racing with expiry simply wins or loses the row lock.
 */
export class HoldExpiry {
  readonly #db: Database;
  readonly #batchSize: number;

  constructor(db: Database, options: { batchSize?: number } = {}) {
    this.#db = db;
    this.#batchSize = options.batchSize ?? 200;
  }

  /** Expires due holds in rounds of batchSize; returns how many were expired. */
  async expireDue(maxRounds = 10): Promise<number> {
    let expired = 0;
    for (let round = 0; round < maxRounds; round += 1) {
      const n = await this.#db.transaction(async (tx) => {
        const ids = await claimExpired(tx, this.#batchSize);
        if (ids.length === 0) return 0;
        const results = await releaseHolds(tx, ids, 'expired', { correlationId: `expiry-${newId('event')}` });
        return [...results.values()].filter((r) => r.kind === 'released').length;
      });
      expired += n;
      if (n < this.#batchSize) break;
    }
    return expired;
  }

  /** Expires what is due, then returns the ms until the next hold expires (undefined: none pending). */
  async tick(): Promise<number | undefined> {
    await this.expireDue();
    const next = await nextExpiry(this.#db);
    // A few ms late rather than early, so the hold is due when the tick runs.
    return next === undefined ? undefined : Math.max(0, next.getTime() - Date.now()) + 5;
  }
}

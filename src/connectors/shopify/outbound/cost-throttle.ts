import { setTimeout as sleep } from 'node:timers/promises';
import type { ThrottleStatus } from '../shopify-wire.ts';

/**
 * Shopify's cost-based throttling, seen from the client. Each shop (per app) has a leaky
 * bucket of points: `maximumAvailable`, refilled at `restoreRate` per second; a query takes its
 * requested cost up front. Every answer reports the bucket (`extensions.cost.throttleStatus`);
 * between answers the client projects it forward at the restore rate and takes the cost it
 * expects a query to need before sending it, so concurrent calls in one process share one view.
 * A query that would not fit waits until the restore rate has refilled enough, instead of being
 * sent to get THROTTLED.
 */
export class CostBucket {
  #maximum: number;
  #available: number;
  #restoreRate: number;
  #at: number;
  readonly #now: () => number;

  constructor(initial: ThrottleStatus = { maximumAvailable: 1000, currentlyAvailable: 1000, restoreRate: 50 }, now: () => number = Date.now) {
    this.#now = now;
    this.#maximum = initial.maximumAvailable;
    this.#available = initial.currentlyAvailable;
    this.#restoreRate = initial.restoreRate;
    this.#at = now();
  }

  /** Points available now, as projected from the last answer. */
  available(): number {
    const now = this.#now();
    this.#available = Math.min(this.#maximum, this.#available + ((now - this.#at) / 1000) * this.#restoreRate);
    this.#at = now;
    return this.#available;
  }

  /** Milliseconds until `cost` points are available (0: now). */
  waitFor(cost: number): number {
    const missing = Math.min(cost, this.#maximum) - this.available();
    return missing <= 0 ? 0 : Math.ceil((missing / this.#restoreRate) * 1000);
  }

  /** Takes `cost` points, waiting for the restore rate first when they are not there; gives up beyond maxWaitMs. */
  async take(cost: number, maxWaitMs: number, signal?: AbortSignal): Promise<{ waitedMs: number } | { tooLongMs: number }> {
    let waitedMs = 0;
    for (;;) {
      const wait = this.waitFor(cost);
      if (wait === 0) {
        this.#available -= Math.min(cost, this.#maximum);
        return { waitedMs };
      }
      if (waitedMs + wait > maxWaitMs) return { tooLongMs: wait };
      await sleep(wait, undefined, signal ? { signal } : undefined);
      waitedMs += wait;
    }
  }

  /** Adopts the bucket as an answer reported it (the shop's own count wins over the projection). */
  observe(status: ThrottleStatus): void {
    this.#maximum = status.maximumAvailable;
    this.#restoreRate = status.restoreRate > 0 ? status.restoreRate : this.#restoreRate;
    this.#available = status.currentlyAvailable;
    this.#at = this.#now();
  }

  get restoreRate(): number {
    return this.#restoreRate;
  }
}

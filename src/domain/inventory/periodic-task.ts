import type { Logger } from 'pino';

/**
 * A small background loop: runs `tick` every `intervalMs` (measured from the end
 * of the previous tick, so ticks never overlap in one process), sooner when the
 * tick returns a shorter delay until it is next needed, or when `wake()` is
 * called. `stop()` waits for a running tick to finish.
 * Safety across processes is the tick's business (SKIP LOCKED, advisory locks).
 */
export class PeriodicTask {
  readonly #name: string;
  readonly #intervalMs: number;
  readonly #tick: () => Promise<number | void>;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = true;

  constructor(name: string, intervalMs: number, tick: () => Promise<number | void>, logger: Logger) {
    this.#name = name;
    this.#intervalMs = intervalMs;
    this.#tick = tick;
    this.#logger = logger;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(this.#intervalMs);
  }

  /** Runs the next tick as soon as the current one (if any) is done. */
  wake(): void {
    if (this.#stopped || this.#running) return;
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #schedule(delayMs: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#run(), delayMs);
    // Background work must not keep a process alive on its own.
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    this.#timer = undefined;
    if (this.#stopped) return;
    let next: number | void = undefined;
    this.#running = this.#tick().then(
      (delay) => {
        next = delay;
      },
      (error: unknown) => {
        // A failed tick (database restarting, deadlock victim) is retried on the next one.
        this.#logger.warn({ err: error, task: this.#name }, 'background task failed; retrying on the next tick');
      },
    );
    await this.#running;
    this.#running = undefined;
    const delay = typeof next === 'number' ? Math.max(0, Math.min(next, this.#intervalMs)) : this.#intervalMs;
    if (!this.#stopped) this.#schedule(delay);
  }
}

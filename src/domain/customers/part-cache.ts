/**
 * The account view's part cache (ADR 0040): each part read from a system is kept with the time
 * it was read. A part read within `ttlMs` is served again without asking the system; a read
 * that does not finish within the view's budget (or fails) serves the last copy not older than
 * `maxAgeMs`, else the part is unavailable. Concurrent views of one part share one read, and a
 * read the budget gave up on goes on in the background (bounded by `backgroundMs`) so the next
 * view finds it.
 */

export interface PartCacheOptions {
  /** A part read this recently is served without asking its system (default: 30000 ms). */
  ttlMs?: number;
  /** The oldest copy served when the system is slow or down (default: 900000 ms). */
  maxAgeMs?: number;
  /** A read abandoned by a view may go on this long to fill the cache (default: 10000 ms). */
  backgroundMs?: number;
  /** Parts kept; the least recently read go first (default: 10000). */
  maxEntries?: number;
  /** The clock (tests move it instead of sleeping). */
  now?: () => number;
}

export type PartRead<T> =
  | { status: 'ok'; value: T; at: number }
  | { status: 'cached'; value: T; at: number; error?: string }
  | { status: 'unavailable'; error: string };

const TIMED_OUT = Symbol('timed out');

/** The stable code of why a read failed, for the part's `error`. */
function reason(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.name : 'error';
}

export class PartCache {
  readonly #entries = new Map<string, { value: unknown; at: number }>();
  readonly #inflight = new Map<string, Promise<unknown>>();
  readonly #ttlMs: number;
  readonly #maxAgeMs: number;
  readonly #backgroundMs: number;
  readonly #maxEntries: number;
  readonly now: () => number;

  constructor(options: PartCacheOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 30_000;
    this.#maxAgeMs = options.maxAgeMs ?? 900_000;
    this.#backgroundMs = options.backgroundMs ?? 10_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Reads a part: from the cache within the TTL, else from `fetch` if it answers within `waitMs`, else the last copy, else unavailable. */
  async read<T>(key: string, fetch: (signal: AbortSignal) => Promise<T>, waitMs: number): Promise<PartRead<T>> {
    const kept = this.#entries.get(key) as { value: T; at: number } | undefined;
    if (kept && this.now() - kept.at <= this.#ttlMs) return { status: 'cached', value: kept.value, at: kept.at };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, waitMs));
    });
    let failure: string;
    try {
      const value = await Promise.race([this.#start(key, fetch), timeout]);
      if (value !== TIMED_OUT) return { status: 'ok', value: value as T, at: this.#entries.get(key)?.at ?? this.now() };
      failure = 'timeout';
    } catch (error) {
      failure = reason(error);
    } finally {
      clearTimeout(timer);
    }
    if (kept && this.now() - kept.at <= this.#maxAgeMs) return { status: 'cached', value: kept.value, at: kept.at, error: failure };
    return { status: 'unavailable', error: failure };
  }

  /** The read in flight for the key, or a new one; its result is kept when it succeeds. */
  #start<T>(key: string, fetch: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const running = this.#inflight.get(key) as Promise<T> | undefined;
    if (running) return running;
    const read = fetch(AbortSignal.timeout(this.#backgroundMs))
      .then((value) => {
        this.#entries.delete(key);
        this.#entries.set(key, { value, at: this.now() });
        if (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
        return value;
      })
      .finally(() => this.#inflight.delete(key));
    // A view that stopped waiting does not see the outcome; nothing else may report it as unhandled.
    read.catch(() => {});
    this.#inflight.set(key, read);
    return read;
  }
}

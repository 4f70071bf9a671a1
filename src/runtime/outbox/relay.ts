import type { Logger } from 'pino';
import type { Database } from '../../store/database.ts';
import { readRelayCursor, tryLeadRelay, writeRelayCursor } from '../../store/runtime/relay-cursor.ts';
import { enqueue } from '../queue.ts';
import { matchesType, type RuntimeRegistry } from '../registry.ts';
import type { JobSpec } from '../runtime.ts';
import { decodeCursor, readFeed } from './outbox.ts';

export interface RelayOptions {
  /** Cursor name; one relay per name runs at a time across all processes (default: 'default'). */
  name?: string;
  /** Pause between polls when the outbox has nothing new (default: 200 ms). */
  pollMs?: number;
  /**
   * Pause between polls while events keep coming (default: 20 ms): from a poll that found events
   * until a whole idle pause has passed without any. During a store flush (hundreds of events a
   * second, arriving in bursts) an order's `order.created` waits this long for the relay's next
   * look, not an idle pause; one empty look between two bursts does not end it.
   */
  busyPollMs?: number;
  /**
   * Pause between polls while another process is relaying: the cursor moved since this one's
   * last look, and not by this one (default: 5 x pollMs). Only one process relays at a time;
   * the others look now and then, so that one of them takes over when it stops.
   */
  standbyPollMs?: number;
  /** Events read per transaction (default: 500). */
  batchSize?: number;
}

/**
 * Carries committed outbox events to their subscribers as jobs. Reading the events,
 * enqueuing the jobs and moving the cursor happen in one transaction, so a crash
 * repeats nothing and loses nothing; each subscriber's jobs for one subject share an
 * ordering key, so they run in commit order.
 */
export class OutboxRelay {
  readonly #db: Database;
  readonly #registry: RuntimeRegistry;
  readonly #logger: Logger;
  readonly #name: string;
  readonly #pollMs: number;
  readonly #busyPollMs: number;
  readonly #batchSize: number;
  readonly #standbyPollMs: number;
  // The cursor as this process last saw or wrote it; another value means another process relays.
  #lastCursor: string | undefined;
  #othersRelay = false;
  // When a poll last found events (performance.now()).
  #lastFoundAt = -Infinity;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;

  constructor(db: Database, registry: RuntimeRegistry, logger: Logger, options: RelayOptions = {}) {
    this.#db = db;
    this.#registry = registry;
    this.#logger = logger;
    this.#name = options.name ?? 'default';
    this.#pollMs = options.pollMs ?? 200;
    this.#busyPollMs = Math.min(options.busyPollMs ?? 20, this.#pollMs);
    this.#batchSize = options.batchSize ?? 500;
    this.#standbyPollMs = options.standbyPollMs ?? this.#pollMs * 5;
  }

  start(): void {
    if (this.#registry.subscriptions.length === 0 && this.#registry.routers.length === 0) return;
    this.#loop = this.#run();
  }

  /** Relays one batch; returns how many events were read (0 when idle or another process leads). */
  async relayOnce(): Promise<number> {
    const subscriptions = this.#registry.subscriptions;
    return this.#db.transaction(async (tx) => {
      if (!(await tryLeadRelay(tx, this.#name))) return 0;
      const cursor = await readRelayCursor(tx, this.#name);
      const seen = cursor ? `${cursor.txId}:${cursor.position}` : undefined;
      this.#othersRelay = this.#lastCursor !== undefined && seen !== this.#lastCursor;
      this.#lastCursor = seen;
      const page = await readFeed(tx, cursor, this.#batchSize);
      if (page.events.length === 0) return 0;
      const jobs: JobSpec[] = [];
      for (const event of page.events) {
        for (const s of subscriptions) {
          if (!matchesType(s.types, event.type) || (s.accepts && !s.accepts(event))) continue;
          jobs.push({
            type: `event:${s.name}`,
            payload: event,
            lane: s.lane ?? 'normal',
            orderingKey: `${s.name}:${event.subject}`,
            target: s.target,
            jobKey: `${s.name}:${event.id}`,
            correlationId: event.correlationid,
            trace: { traceparent: event.traceparent, tracestate: event.tracestate },
          });
        }
      }
      for (const route of this.#registry.routers) jobs.push(...(await route(tx, page.events)));
      await enqueue(tx, jobs);
      const next = decodeCursor(page.nextCursor!)!;
      await writeRelayCursor(tx, this.#name, next);
      this.#lastCursor = `${next.txId}:${next.position}`;
      this.#othersRelay = false;
      return page.events.length;
    });
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let read = 0;
      try {
        read = await this.relayOnce();
      } catch (error) {
        this.#logger.error({ err: error }, 'outbox relay failed; retrying');
      }
      const now = performance.now();
      if (read > 0) this.#lastFoundAt = now;
      if (read < this.#batchSize && !this.#stopped) {
        const streaming = now - this.#lastFoundAt < this.#pollMs;
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          // Another process moved the cursor since this one's last look: it relays, this one stands by.
          this.#timer = setTimeout(resolve, streaming ? this.#busyPollMs : this.#othersRelay ? this.#standbyPollMs : this.#pollMs);
        });
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#wake?.();
    await this.#loop;
  }
}

import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { NatsSettings } from '../../config/config.ts';
import type { Database } from '../../store/database.ts';
import { readRelayCursor, tryLeadRelay, writeRelayCursor } from '../../store/runtime/relay-cursor.ts';
import type { CloudEvent } from '../../model/cloud-event.ts';
import { decodeCursor, readFeed } from './outbox.ts';
import { connectNats, ensureStream } from './nats-stream.ts';

/**
 * Glossary: the *NATS relay* publishes outbox events to a JetStream stream; its *cursor*
 * (runtime_relay_cursor, name `nats:<stream>`) is the last event JetStream acknowledged.
 * It is independent of the cursor that feeds Syncline's own subscribers (relay.ts).
 */

export interface NatsRelayOptions {
  /** Pause between polls when the outbox has nothing new (default: 200 ms). */
  pollMs?: number;
  /** Events read and published per transaction (default: 200). */
  batchSize?: number;
  /** How long to wait for one PubAck before the batch counts as failed (default: 5000 ms). */
  ackTimeoutMs?: number;
  /** First retry delay after a failure; doubles up to maxBackoffMs, with jitter (default: 250 ms). */
  minBackoffMs?: number;
  /** (default: 30000 ms) */
  maxBackoffMs?: number;
}

/** What the relay is doing, for logs, tests and a status view. */
export interface NatsRelayStatus {
  state: 'starting' | 'publishing' | 'failing' | 'stopped';
  /** Failed rounds in a row (0 once a round succeeds). */
  consecutiveFailures: number;
  lastError: string | undefined;
  /** Events acknowledged since this process started, and how many of them JetStream had already (duplicates it dropped). */
  published: number;
  duplicates: number;
}

/** The structured-mode CloudEvents media type (the body is the whole event as JSON). */
export const CLOUDEVENTS_JSON = 'application/cloudevents+json; charset=utf-8';

/** The NATS subject of an event: `<prefix>.<event type>`, for example `syncline.order.created`. */
export function natsSubject(prefix: string, type: string): string {
  return `${prefix}.${type}`;
}

/**
 * Publishes every committed outbox event to JetStream, in feed order, one at a time: the
 * next is sent only once the previous one's PubAck arrived, so the stream holds them in
 * commit order even across failures. The events' publication and the cursor's move share a
 * transaction that commits only after the last PubAck; a crash in between publishes the
 * batch again, and JetStream drops the repeats by Nats-Msg-Id (the event id) within its
 * duplicate window. One process leads at a time (a transaction-scoped advisory lock).
 */
export class NatsRelay {
  readonly #db: Database;
  readonly #settings: NatsSettings;
  readonly #logger: Logger;
  readonly #cursorName: string;
  readonly #pollMs: number;
  readonly #batchSize: number;
  readonly #ackTimeoutMs: number;
  readonly #minBackoffMs: number;
  readonly #maxBackoffMs: number;
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  #streamReady = false;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  readonly #status: NatsRelayStatus = { state: 'starting', consecutiveFailures: 0, lastError: undefined, published: 0, duplicates: 0 };

  constructor(db: Database, settings: NatsSettings, logger: Logger, options: NatsRelayOptions = {}) {
    this.#db = db;
    this.#settings = settings;
    this.#logger = logger.child({ component: 'nats-relay', stream: settings.stream });
    this.#cursorName = `nats:${settings.stream}`;
    this.#pollMs = options.pollMs ?? 200;
    this.#batchSize = options.batchSize ?? 200;
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    this.#minBackoffMs = options.minBackoffMs ?? 250;
    this.#maxBackoffMs = options.maxBackoffMs ?? 30_000;
  }

  /** The name of this relay's row in runtime_relay_cursor. */
  get cursorName(): string {
    return this.#cursorName;
  }

  status(): Readonly<NatsRelayStatus> {
    return { ...this.#status };
  }

  /** Starts the loop; it connects (and reconnects) by itself, so a NATS that is down delays events, never the start. */
  start(): void {
    this.#loop = this.#run();
  }

  /**
   * Publishes one batch and moves the cursor past it; returns how many events were
   * published (0 when idle or another process leads). Throws, leaving the cursor where it
   * was, when NATS is unreachable or any PubAck does not come.
   */
  async relayOnce(): Promise<number> {
    try {
      return await this.#publishBatch(await this.#client());
    } catch (error) {
      // The stream may have been deleted or the connection replaced: check both next time.
      this.#streamReady = false;
      throw error;
    }
  }

  async #publishBatch(js: JetStreamClient): Promise<number> {
    return this.#db.transaction(async (tx) => {
      if (!(await tryLeadRelay(tx, this.#cursorName))) return 0;
      const page = await readFeed(tx, await readRelayCursor(tx, this.#cursorName), this.#batchSize);
      if (page.events.length === 0) return 0;
      let duplicates = 0;
      for (const event of page.events) {
        const ack = await js.publish(natsSubject(this.#settings.subjectPrefix, event.type), encode(event), {
          msgID: event.id,
          headers: messageHeaders(),
          timeout: this.#ackTimeoutMs,
        });
        if (ack.stream !== this.#settings.stream) {
          throw new Error(`the subject of ${event.type} belongs to stream ${ack.stream}, not ${this.#settings.stream}`);
        }
        if (ack.duplicate) duplicates++;
      }
      await writeRelayCursor(tx, this.#cursorName, decodeCursor(page.nextCursor!)!);
      this.#status.published += page.events.length;
      this.#status.duplicates += duplicates;
      // Duplicates show that a batch was published before and its cursor move was lost (a crash).
      if (duplicates > 0) this.#logger.info({ events: page.events.length, duplicates }, 'NATS relay: events already in the stream were dropped as duplicates');
      return page.events.length;
    });
  }

  async #client(): Promise<JetStreamClient> {
    if (!this.#nc || this.#nc.isClosed()) {
      this.#nc = await connectNats(this.#settings, 'syncline-relay');
      this.#js = jetstream(this.#nc, { timeout: this.#ackTimeoutMs });
      this.#streamReady = false;
    }
    if (!this.#streamReady) {
      await ensureStream(this.#nc, this.#settings, this.#logger);
      this.#streamReady = true;
    }
    return this.#js!;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let read = 0;
      let delay = this.#pollMs;
      try {
        read = await this.relayOnce();
        if (this.#status.consecutiveFailures > 0) this.#logger.info({ after: this.#status.consecutiveFailures }, 'NATS relay publishing again');
        Object.assign(this.#status, { state: 'publishing', consecutiveFailures: 0, lastError: undefined });
      } catch (error) {
        if (this.#stopped) break;
        const failures = ++this.#status.consecutiveFailures;
        Object.assign(this.#status, { state: 'failing', lastError: (error as Error).message });
        const cap = Math.min(this.#maxBackoffMs, this.#minBackoffMs * 2 ** Math.min(failures - 1, 20));
        delay = cap / 2 + Math.random() * (cap / 2);
        // Every failure while few, then one in ten: a long outage must not flood the log.
        if (failures <= 5 || failures % 10 === 0) {
          this.#logger.warn({ err: error, failures, retryInMs: Math.round(delay) }, 'NATS relay could not publish; the cursor waits and the batch is retried');
        }
      }
      if (read < this.#batchSize && !this.#stopped) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          this.#timer = setTimeout(resolve, delay);
        });
      }
    }
  }

  /** Stops the loop after the current batch and closes the connection. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#wake?.();
    await this.#loop;
    this.#status.state = 'stopped';
    await this.#nc?.close();
  }
}

function encode(event: CloudEvent): Uint8Array {
  return Buffer.from(JSON.stringify(event));
}

// Structured content mode (CloudEvents NATS binding, 3.2): the attributes travel in the body
// only. No ce-* headers: those mark binary mode, and a consumer would take the body for data.
function messageHeaders() {
  const h = headers();
  h.set('Content-Type', CLOUDEVENTS_JSON);
  return h;
}

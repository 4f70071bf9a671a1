import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsSettings } from '../../src/config/config.ts';
import type { CloudEvent } from '../../src/model/cloud-event.ts';
import { connectNats } from '../../src/runtime/outbox/nats-stream.ts';

/** The machine's NATS server (JetStream on); .ci/run starts it when it is not running. */
export const NATS_URL = 'nats://127.0.0.1:4222';

/**
 * A stream and subject prefix of the test's own, so test files running in parallel never
 * share a stream (two streams may not take the same subjects). Delete it when done.
 */
export function testNatsSettings(url = NATS_URL): NatsSettings {
  const tag = randomBytes(5).toString('hex');
  return { servers: [url], stream: `SYNCLINE_TEST_${tag}`, subjectPrefix: `synclinetest${tag}`, auth: undefined };
}

/** The environment variables that point a `syncline` process at these settings. */
export function natsEnvironment(settings: NatsSettings): Record<string, string> {
  return { SYNCLINE_NATS_URL: settings.servers.join(','), SYNCLINE_NATS_STREAM: settings.stream, SYNCLINE_NATS_SUBJECT_PREFIX: settings.subjectPrefix };
}

export interface StoredEvent {
  seq: number;
  subject: string;
  msgId: string | undefined;
  contentType: string | undefined;
  headerNames: string[];
  event: CloudEvent;
}

/** A direct connection to the real server for checking what the stream holds. */
export class NatsProbe {
  readonly #nc: NatsConnection;

  private constructor(nc: NatsConnection) {
    this.#nc = nc;
  }

  static async open(url = NATS_URL): Promise<NatsProbe> {
    return new NatsProbe(await connectNats({ servers: [url], stream: '', subjectPrefix: '', auth: undefined }, 'syncline-test-probe'));
  }

  /** How many messages the stream holds (0 when it does not exist yet). */
  async count(stream: string): Promise<number> {
    const jsm = await jetstreamManager(this.#nc);
    try {
      return (await jsm.streams.info(stream)).state.messages;
    } catch {
      return 0;
    }
  }

  /** Every message of the stream, in stream order. */
  async messages(stream: string): Promise<StoredEvent[]> {
    const jsm = await jetstreamManager(this.#nc);
    const { first_seq, last_seq } = (await jsm.streams.info(stream)).state;
    const stored: StoredEvent[] = [];
    for (let seq = first_seq; seq <= last_seq && last_seq > 0; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq });
      if (!m) continue;
      stored.push({
        seq: m.seq,
        subject: m.subject,
        msgId: m.header.get('Nats-Msg-Id') || undefined,
        contentType: m.header.get('Content-Type') || undefined,
        headerNames: [...m.header.keys()],
        event: m.json<CloudEvent>(),
      });
    }
    return stored;
  }

  /** The stream's configuration, or undefined when it does not exist. */
  async config(stream: string) {
    const jsm = await jetstreamManager(this.#nc);
    return jsm.streams.info(stream).then((info) => info.config, () => undefined);
  }

  async createStream(stream: string, subjects: string[], extra: Record<string, unknown> = {}): Promise<void> {
    const jsm = await jetstreamManager(this.#nc);
    await jsm.streams.add({ name: stream, subjects, ...extra });
  }

  /** Deletes the stream if it exists. */
  async deleteStream(stream: string): Promise<void> {
    const jsm = await jetstreamManager(this.#nc);
    await jsm.streams.delete(stream).catch(() => false);
  }

  async close(): Promise<void> {
    await this.#nc.close();
  }
}

/**
 * A TCP relay in front of the real NATS server that the test can take down and bring back:
 * while down, it cuts every open connection and refuses new ones, as a dead server would.
 */
export class NatsOutage {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #down = false;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(target = { host: '127.0.0.1', port: 4222 }): Promise<NatsOutage> {
    const server = createServer();
    const outage = new NatsOutage(server);
    server.on('connection', (client) => {
      if (outage.#down) return client.destroy();
      const upstream = createConnection(target);
      for (const socket of [client, upstream]) {
        outage.#sockets.add(socket);
        socket.on('close', () => outage.#sockets.delete(socket));
        socket.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return outage;
  }

  get url(): string {
    const address = this.#server.address();
    if (!address || typeof address === 'string') throw new Error('the relay does not listen');
    return `nats://127.0.0.1:${address.port}`;
  }

  down(): void {
    this.#down = true;
    for (const socket of this.#sockets) socket.destroy();
  }

  up(): void {
    this.#down = false;
  }

  async close(): Promise<void> {
    this.down();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { z, ZodError } from 'zod';
import { createLogger } from '../../observability/logger.ts';
import { FaultControl, installFaults, type FaultRenderer, type FaultSettings, type FaultSettingsInput, type FaultStats } from './faults.ts';

/** A sandbox listening on a port. */
export interface RunningSandbox {
  system: string;
  url: string;
  app: FastifyInstance;
  faults: FaultControl;
  close(): Promise<void>;
}

export interface SandboxListenOptions {
  /** (default: 127.0.0.1) */
  host?: string;
  /** Log every request as JSON lines on stdout, for operators rehearsing (default: false). */
  log?: boolean;
  /** 0 picks a free port (default: 0). */
  port?: number;
}

/**
 * A Fastify instance for one sandbox with its fault controls installed. Admin
 * bodies that fail validation answer 400 with the zod issues.
 */
export function createSandboxApp(system: string, options: { render?: FaultRenderer; bodyLimit?: number; log?: boolean | undefined } = {}): {
  app: FastifyInstance;
  faults: FaultControl;
} {
  const app: FastifyInstance = Fastify({
    bodyLimit: options.bodyLimit ?? 5 * 1024 * 1024,
    forceCloseConnections: true,
    // Not logging: no logger at all. A silent one still builds a child logger (with its redaction) for every request.
    ...(options.log ? { loggerInstance: createLogger('info').child({ sandbox: system }) as FastifyBaseLogger } : { logger: false }),
  });
  const faults = new FaultControl(system);
  installFaults(app, faults, options.render);
  // Readiness for scripts and orchestrators; never subject to faults.
  app.get('/_sandbox/health', async () => ({ system, status: 'ok' }));
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof ZodError) {
      return reply.code(400).send({ error: { type: 'invalid_request', message: 'invalid sandbox request', issues: error.issues } });
    }
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    return reply.code(status).send({ error: { type: status >= 500 ? 'internal_error' : 'invalid_request', message: error instanceof Error ? error.message : String(error) } });
  });
  return { app, faults };
}

let idBytes = Buffer.alloc(0);
let idOffset = 0;

/**
 * Random bytes for the ids a sandbox hands out (payment intents, fulfilment orders, request ids),
 * cut from a 4 KiB block of crypto.randomBytes: one call per block rather than one per id, which
 * costs tens of microseconds on a busy host.
 */
export function randomIdBytes(size: number): Buffer {
  if (idOffset + size > idBytes.length) {
    idBytes = randomBytes(Math.max(4096, size));
    idOffset = 0;
  }
  idOffset += size;
  return idBytes.subarray(idOffset - size, idOffset);
}

/** Longest answer delay a sandbox accepts: 2 minutes. */
const MAX_ANSWER_DELAY_MS = 120_000;

/**
 * Answer delays by key (a route such as "POST /v1/payment_intents", or an RPC method): like a
 * busy server, the call takes effect and the answer comes late, so a client that gives up first
 * does not know what its call did.
 */
export class AnswerDelays {
  #delays = new Map<string, number>();

  /** Replaces every delay; a key set to 0 has none. Returns what is set. */
  set(delays: Record<string, number>): Record<string, number> {
    this.#delays = new Map(Object.entries(delays).filter(([, ms]) => ms > 0));
    return Object.fromEntries(this.#delays);
  }

  /** Waits the delay set for key, if any. */
  async wait(key: string): Promise<void> {
    const ms = this.#delays.get(key);
    if (ms) await sleep(ms);
  }
}

/**
 * Installs `PUT /_sandbox/delays` (a body `{ "<key>": <ms> }` replaces every delay; keys must
 * match keyPattern). With byRoute, every answer of a route is delayed by the key
 * "<METHOD> <route url>"; otherwise the sandbox waits itself where the key applies.
 */
export function installAnswerDelays(app: FastifyInstance, keyPattern: RegExp, options: { byRoute?: boolean } = {}): AnswerDelays {
  const delays = new AnswerDelays();
  const Delays = z.record(z.string().regex(keyPattern), z.number().int().min(0).max(MAX_ANSWER_DELAY_MS));
  app.put('/_sandbox/delays', async (request) => delays.set(Delays.parse(request.body ?? {})));
  if (options.byRoute) app.addHook('onSend', async (request) => delays.wait(`${request.method} ${request.routeOptions.url ?? ''}`));
  return delays;
}

/** Starts listening and returns the sandbox's base URL and a close(). */
export async function listenSandbox(
  system: string,
  app: FastifyInstance,
  faults: FaultControl,
  options: SandboxListenOptions = {},
): Promise<RunningSandbox> {
  const host = options.host ?? '127.0.0.1';
  await app.listen({ host, port: options.port ?? 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error(`${system} sandbox did not bind a TCP port`);
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { system, url: `http://${shownHost}:${address.port}`, app, faults, close: () => app.close() };
}

/** Drives a sandbox's fault controls over its admin API (what tests and operators do). */
export function sandboxAdmin(baseUrl: string) {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${baseUrl.replace(/\/+$/, '')}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  };
  return {
    faults: () => call<FaultSettings>('GET', '/_sandbox/faults'),
    /** Replaces all fault settings; unset ones return to their defaults. */
    setFaults: (settings: FaultSettingsInput) => call<FaultSettings>('PUT', '/_sandbox/faults', settings),
    clearFaults: () => call<FaultSettings>('DELETE', '/_sandbox/faults'),
    stats: () => call<FaultStats>('GET', '/_sandbox/stats'),
    resetStats: () => call<void>('DELETE', '/_sandbox/stats'),
    call,
  };
}

import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';

/**
 * Fault controls shared by every sandbox. A sandbox applies them to its own API
 * (everything outside /_sandbox/), in this order:
 *
 *   1. latencyMs (+ up to jitterMs)  delay before anything else, faults included
 *   2. down                          "unavailable": 503 + Connection: close; "reset": the TCP connection is
 *                                    destroyed without a response (the client sees a network error).
 *                                    A sandbox cannot refuse connections on its own port and still serve its
 *                                    admin API, so "connection refused" is had by stopping the sandbox.
 *   3. throttle                      every request (or the next `remaining`) gets 429 with Retry-After
 *   4. quotaPerSecond                at most N requests are served per wall-clock second; the rest get
 *                                    429 with Retry-After: 1
 *   5. errorRate                     that fraction of requests fail with errorStatus; deterministic, not
 *                                    random: 0.25 fails exactly every 4th request, so tests need no luck
 *
 * Requests rejected by a fault never reach the sandbox's handlers, so they change no state
 * and are not recorded by idempotency layers (as with a real gateway in front of a system).
 */

export const FaultSettings = z
  .strictObject({
    latencyMs: z.number().int().min(0).max(120_000).default(0),
    jitterMs: z.number().int().min(0).max(60_000).default(0),
    down: z.boolean().default(false),
    downMode: z.enum(['unavailable', 'reset']).default('unavailable'),
    throttle: z
      .strictObject({
        retryAfterSeconds: z.number().int().min(0).max(86_400).default(1),
        /** "seconds" sends delay-seconds; "http-date" sends an IMF-fixdate (both are RFC 9110). */
        format: z.enum(['seconds', 'http-date']).default('seconds'),
        /** Throttle only this many more requests, then stop (default: all until cleared). */
        remaining: z.number().int().min(1).optional(),
      })
      .nullable()
      .default(null),
    quotaPerSecond: z.number().int().min(1).nullable().default(null),
    errorRate: z.number().min(0).max(1).default(0),
    errorStatus: z.number().int().min(500).max(599).default(503),
  })
  .meta({ id: 'SandboxFaultSettings', description: 'Faults a sandbox injects into its own API.' });
export type FaultSettings = z.infer<typeof FaultSettings>;
/** Fault settings as written to PUT /_sandbox/faults (defaults may be left out). */
export type FaultSettingsInput = z.input<typeof FaultSettings>;

export type FaultKind = 'unavailable' | 'throttled' | 'quota' | 'error';

/** Renders the body of an injected fault in the sandbox's own wire format. */
export type FaultRenderer = (kind: FaultKind, status: number, message: string) => { contentType: string; body: string };

const defaultRenderer: FaultRenderer = (kind, _status, message) => ({
  contentType: 'application/json',
  body: JSON.stringify({ error: { type: `sandbox_${kind}`, message } }),
});

interface SecondCounts {
  accepted: number;
  throttled: number;
  failed: number;
}

const STATS_WINDOW_SECONDS = 600;

export interface FaultStats {
  system: string;
  totals: SecondCounts & { unavailable: number };
  /** Highest number of requests served (reached a handler) in any one second. */
  maxAcceptedPerSecond: number;
  /** One entry per wall-clock second that saw requests (last 10 minutes), oldest first. */
  perSecond: ({ second: string } & SecondCounts)[];
}

/** The faults of one sandbox, as set through its admin API. */
export class FaultControl {
  readonly system: string;
  #settings: FaultSettings = FaultSettings.parse({});
  #errorBudget = 0;
  #seconds = new Map<number, SecondCounts>();
  #totals = { accepted: 0, throttled: 0, failed: 0, unavailable: 0 };

  constructor(system: string) {
    this.system = system;
  }

  get settings(): FaultSettings {
    return structuredClone(this.#settings);
  }

  /** Replaces every setting (unset ones return to their defaults). */
  replace(input: unknown): FaultSettings {
    this.#settings = FaultSettings.parse(input ?? {});
    this.#errorBudget = 0;
    return this.settings;
  }

  /** Changes the given settings and keeps the others. */
  update(input: unknown): FaultSettings {
    const partial = FaultSettings.partial().parse(input ?? {});
    return this.replace({ ...this.#settings, ...partial });
  }

  resetStats(): void {
    this.#seconds.clear();
    this.#totals = { accepted: 0, throttled: 0, failed: 0, unavailable: 0 };
  }

  stats(): FaultStats {
    const perSecond = [...this.#seconds.entries()]
      .sort(([a], [b]) => a - b)
      .map(([second, counts]) => ({ second: new Date(second * 1000).toISOString(), ...counts }));
    return {
      system: this.system,
      totals: { ...this.#totals },
      maxAcceptedPerSecond: perSecond.reduce((max, s) => Math.max(max, s.accepted), 0),
      perSecond,
    };
  }

  #count(field: keyof SecondCounts): SecondCounts {
    const second = Math.floor(Date.now() / 1000);
    let counts = this.#seconds.get(second);
    if (!counts) {
      counts = { accepted: 0, throttled: 0, failed: 0 };
      this.#seconds.set(second, counts);
      for (const old of this.#seconds.keys()) {
        if (old <= second - STATS_WINDOW_SECONDS) this.#seconds.delete(old);
      }
    }
    counts[field] += 1;
    this.#totals[field] += 1;
    return counts;
  }

  #acceptedThisSecond(): number {
    return this.#seconds.get(Math.floor(Date.now() / 1000))?.accepted ?? 0;
  }

  /**
   * Applies the faults to one request. Returns the fault to answer with, or
   * undefined when the request may proceed (it is then counted as accepted).
   */
  async apply(): Promise<{ kind: FaultKind | 'reset'; status: number; retryAfter?: string; message: string } | undefined> {
    const s = this.#settings;
    const delay = s.latencyMs + (s.jitterMs > 0 ? Math.floor(Math.random() * (s.jitterMs + 1)) : 0);
    if (delay > 0) await sleep(delay);
    if (s.down) {
      this.#totals.unavailable += 1;
      return s.downMode === 'reset'
        ? { kind: 'reset', status: 0, message: 'connection reset' }
        : { kind: 'unavailable', status: 503, message: `${this.system} sandbox is down` };
    }
    if (s.throttle) {
      if (s.throttle.remaining !== undefined) {
        s.throttle.remaining -= 1;
        if (s.throttle.remaining <= 0) this.#settings.throttle = null;
      }
      this.#count('throttled');
      const retryAfter =
        s.throttle.format === 'http-date'
          ? new Date(Date.now() + s.throttle.retryAfterSeconds * 1000).toUTCString()
          : String(s.throttle.retryAfterSeconds);
      return { kind: 'throttled', status: 429, retryAfter, message: 'Too many requests (forced by the sandbox fault controls)' };
    }
    if (s.quotaPerSecond !== null && this.#acceptedThisSecond() >= s.quotaPerSecond) {
      this.#count('throttled');
      return { kind: 'quota', status: 429, retryAfter: '1', message: `Request quota of ${s.quotaPerSecond} per second exceeded` };
    }
    if (s.errorRate > 0) {
      this.#errorBudget += s.errorRate;
      if (this.#errorBudget >= 1 - 1e-9) {
        this.#errorBudget -= 1;
        this.#count('failed');
        return { kind: 'error', status: s.errorStatus, message: `Injected failure (error rate ${s.errorRate})` };
      }
    }
    this.#count('accepted');
    return undefined;
  }
}

const ADMIN_PREFIX = '/_sandbox/';

/**
 * Installs the fault controls on a sandbox: the hook that applies them and the admin
 * routes GET/PUT/PATCH/DELETE /_sandbox/faults and GET/DELETE /_sandbox/stats.
 */
export function installFaults(app: FastifyInstance, control: FaultControl, render: FaultRenderer = defaultRenderer): void {
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.url.startsWith(ADMIN_PREFIX)) return;
    const fault = await control.apply();
    if (!fault) return;
    if (fault.kind === 'reset') {
      reply.hijack();
      request.raw.socket.destroy();
      return;
    }
    const { contentType, body } = render(fault.kind, fault.status, fault.message);
    reply.code(fault.status).header('content-type', contentType);
    if (fault.retryAfter !== undefined) reply.header('retry-after', fault.retryAfter);
    if (fault.kind === 'unavailable') reply.header('connection', 'close');
    return reply.send(body);
  });

  app.get('/_sandbox/faults', async () => control.settings);
  app.put('/_sandbox/faults', async (request) => control.replace(request.body));
  app.patch('/_sandbox/faults', async (request) => control.update(request.body));
  app.delete('/_sandbox/faults', async () => control.replace({}));
  app.get('/_sandbox/stats', async () => control.stats());
  app.delete('/_sandbox/stats', async (_request, reply) => {
    control.resetStats();
    return reply.code(204).send();
  });
}

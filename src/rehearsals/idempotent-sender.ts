import type { Api } from './rehearsal-harness.ts';

/**
 * How a point of sale or a returns desk sends to Syncline in the rehearsals: one request under one
 * Idempotency-Key, sent again with the same key after a timeout, a refusal to wait (409: the same
 * key still in flight, 429) or a server fault, until it is answered — as a real client would. Every
 * attempt is recorded with its latency, so the report can show the latency of what was sent and
 * how many answers were replays of an earlier one.
 */

/** One HTTP attempt: when it started (seconds since the load started), how long it took, its status (0: no answer). */
export interface Attempt {
  at: number;
  ms: number;
  status: number;
  replayed: boolean;
}

/** What became of one send: the final answer (status 0 when every attempt failed), and each attempt. */
export interface SendOutcome {
  status: number;
  body: any;
  replayed: boolean;
  attempts: Attempt[];
}

export interface SendOptions {
  /** Statuses that end the send as answered (default: 200, 201, 202). */
  done?: readonly number[];
  /** Attempts before giving up (default: 20). */
  maxAttempts?: number;
  /** Seconds since the load started, for the attempts' times. */
  now: () => number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends one request under its key until it is answered: a 4xx other than 409 and 429 also ends it (a refusal is an answer). */
export async function sendIdempotent(api: Api, method: string, path: string, body: unknown, key: string, options: SendOptions): Promise<SendOutcome> {
  const done = options.done ?? [200, 201, 202];
  const attempts: Attempt[] = [];
  const maxAttempts = options.maxAttempts ?? 20;
  for (let n = 1; ; n += 1) {
    const at = options.now();
    const started = performance.now();
    let answer: Awaited<ReturnType<Api>> | undefined;
    try {
      answer = await api(method, path, body, { 'idempotency-key': key });
    } catch {
      answer = undefined;
    }
    attempts.push({ at, ms: Math.round(performance.now() - started), status: answer?.status ?? 0, replayed: answer?.replayed ?? false });
    const final = answer !== undefined && (done.includes(answer.status) || (answer.status >= 400 && answer.status < 500 && answer.status !== 409 && answer.status !== 429));
    if (final || n >= maxAttempts) return { status: answer?.status ?? 0, body: answer?.body, replayed: answer?.replayed ?? false, attempts };
    // Back off as a client would: a little longer each time, at most two seconds.
    await sleep(Math.min(2000, 100 * n));
  }
}

import { createHash } from 'node:crypto';
import stringify from 'safe-stable-stringify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IdempotencyClaim, IdempotentOutcome } from '../store/idempotency/idempotency-records.ts';
import { ProblemError } from './problem.ts';

/**
 * Idempotency-Key handling for API writes, in one place. A route turns the
 * header into a claim (scoped to the calling client, fingerprinted by method,
 * route and body), hands it to the service, which claims it in the transaction
 * that does the work and stores the result there, and then settles the outcome
 * here: a replay is answered from the stored result with `Idempotent-Replayed`,
 * a key still in flight is a 409, a key reused for another request a 422.
 */

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * The claim for this request. required: POSTs must carry a key (creating twice
 * is the harm it prevents); PUT and DELETE are idempotent by nature, so a key is optional.
 */
export function idempotencyClaim(request: FastifyRequest, options: { required: boolean }): IdempotencyClaim | undefined {
  const key = request.headers['idempotency-key'];
  if (key === undefined) {
    if (!options.required) return undefined;
    throw new ProblemError(
      'idempotency-key-missing',
      `Send a unique Idempotency-Key header with every ${request.method} ${request.routeOptions.url ?? request.url}; reuse it only to retry the same request.`,
    );
  }
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    throw new ProblemError('idempotency-key-invalid', 'Idempotency-Key must be 1-255 printable ASCII characters without spaces.');
  }
  const what = `${request.method} ${request.url.split('?')[0]}\n${stringify(request.body ?? null) ?? ''}`;
  return { scope: request.principal!.clientId, key, fingerprint: createHash('sha256').update(what).digest('base64url') };
}

/** Unwraps an idempotent outcome: marks replays on the reply, turns misuse into problems. */
export function settle<R>(reply: FastifyReply, outcome: IdempotentOutcome<R>): R {
  switch (outcome.kind) {
    case 'done':
      if (outcome.replayed) reply.header('Idempotent-Replayed', 'true');
      return outcome.result;
    case 'key-reused':
      throw new ProblemError('idempotency-key-reused', 'This Idempotency-Key was used for a different request; use a new key for a new request.');
    case 'key-in-flight':
      throw new ProblemError(
        'idempotency-key-in-flight',
        'The first request with this Idempotency-Key has not finished; retry shortly to get its response.',
        {},
        { 'Retry-After': '1' },
      );
  }
}

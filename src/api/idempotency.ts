import { createHash, hash } from 'node:crypto';
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
 * The Idempotency-Key header of this request, checked. required: POSTs must carry a key
 * (creating twice is the harm it prevents); PUT and DELETE are idempotent by nature, so a key
 * is optional and undefined is returned without one.
 */
export function idempotencyKeyOf(request: FastifyRequest, options: { required: boolean }): string | undefined {
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
  return key;
}

/** The claim for this request, fingerprinted by method, path and the body as received (keys sorted). */
export function idempotencyClaim(request: FastifyRequest, options: { required: boolean }): IdempotencyClaim | undefined {
  const key = idempotencyKeyOf(request, options);
  if (key === undefined) return undefined;
  return { scope: request.principal!.clientId, key, fingerprint: rawBodyFingerprint(request) };
}

/** Method, path and the body as received, its keys sorted. */
function rawBodyFingerprint(request: FastifyRequest): string {
  const what = `${request.method} ${request.url.split('?')[0]}\n${stringify(request.body ?? null) ?? ''}`;
  return createHash('sha256').update(what).digest('base64url');
}

/**
 * The claim for a request whose body was parsed by a strict schema without transforms of key
 * order: the parsed value lists its keys in the schema's order, so plain JSON.stringify is
 * canonical and no sorting serialiser is needed (as order intake fingerprints its submission).
 * Two bodies that differ only in key order or whitespace still match.
 */
export function parsedBodyClaim(request: FastifyRequest, key: string, parsed: unknown): IdempotencyClaim {
  const what = `${request.method} ${request.url.split('?')[0]}\n${JSON.stringify(parsed)}`;
  // Stored before ADR 44 for the same request: the raw-body fingerprint.
  return { scope: request.principal!.clientId, key, fingerprint: hash('sha256', what, 'base64url'), earlier: () => rawBodyFingerprint(request) };
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

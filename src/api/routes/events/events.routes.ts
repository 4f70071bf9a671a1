import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { decodeCursor, readFeed } from '../../../runtime/outbox/outbox.ts';
import type { ApiContext } from '../../api-context.ts';
import { authorize } from '../../auth/authorize.ts';
import { ProblemError } from '../../problem.ts';
import { parseQuery } from '../../validation.ts';

const FeedQuery = z.strictObject({
  after: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** The event feed: every committed outbox event, in transaction order, with a resumable cursor. */
export async function eventsRoutes(app: FastifyInstance, { db, tokens }: ApiContext): Promise<void> {
  app.get('/v1/events', { preHandler: authorize(tokens, 'ops:read') }, async (request) => {
    const query = parseQuery(FeedQuery, request.query);
    const after = query.after === undefined ? undefined : decodeCursor(query.after);
    if (query.after !== undefined && !after) {
      throw new ProblemError('invalid-query', 'after is not a cursor returned by this feed.');
    }
    return readFeed(db, after, query.limit);
  });
}

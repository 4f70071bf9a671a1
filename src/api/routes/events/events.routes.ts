import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { decodeCursor, readFeed } from '../../../runtime/outbox/outbox.ts';
import type { ApiContext } from '../../api-context.ts';
import { ProblemError } from '../../problem.ts';
import { parseQuery } from '../../validation.ts';
import { operation } from '../../route-kit.ts';
import { CloudEvent } from '../../../model/cloud-event.ts';
import { eventExample } from '../examples.ts';

const FeedQuery = z.strictObject({
  after: z.string().min(1).optional().meta({ description: 'nextCursor of the previous page; absent: from the start.' }),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const EventPage = z.object({ events: z.array(CloudEvent), nextCursor: z.string().nullable() }).meta({ id: 'EventPage' });

/** The event feed: every committed outbox event, in transaction order, with a resumable cursor. */
export async function eventsRoutes(app: FastifyInstance, { db }: ApiContext): Promise<void> {
  const readEvents = operation({
    operationId: 'readEvents',
    tags: ['Events'],
    summary: 'Follow the event feed',
    description: 'Events in commit order. Pass nextCursor as `after` to continue; an empty page returns the same cursor. Needs the consumer scope events:read (ops:read no longer grants it).',
    auth: 'events:read',
    query: FeedQuery,
    responses: { 200: { description: 'A page of CloudEvents.', schema: EventPage, example: { events: [eventExample], nextCursor: 'MTIzNDU2OjA' } } },
  });
  app.get('/v1/events', { schema: readEvents }, async (request) => {
    const query = parseQuery(FeedQuery, request.query);
    const after = query.after === undefined ? undefined : decodeCursor(query.after);
    if (query.after !== undefined && !after) {
      throw new ProblemError('invalid-query', 'after is not a cursor returned by this feed.');
    }
    return readFeed(db, after, query.limit);
  });
}

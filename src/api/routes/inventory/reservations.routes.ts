import type { FastifyInstance } from 'fastify';
import { ConsumeRequest, ReservationRequest } from '../../../model/inventory.ts';
import type { ApiContext } from '../../api-context.ts';
import { authorize } from '../../auth/authorize.ts';
import { readTraceparent } from '../../correlation.ts';
import { idempotencyClaim, settle } from '../../idempotency.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody } from '../../validation.ts';
import { known } from './unknown-locations.ts';

/** Reservations: hold, look up, release, and consume on shipment. */
export async function reservationsRoutes(app: FastifyInstance, { tokens, inventory }: ApiContext): Promise<void> {
  const canWrite = authorize(tokens, 'inventory:write');
  const canRead = authorize(tokens, 'inventory:read');

  app.post('/v1/inventory/reservations', { preHandler: canWrite }, async (request, reply) => {
    const claim = idempotencyClaim(request, { required: true });
    const body = parseBody(ReservationRequest, request.body);
    const result = settle(reply, known(await inventory.reserve(body, { correlationId: request.id, traceparent: readTraceparent(request.headers), idempotency: claim })));
    if (result.kind === 'insufficient-stock') {
      const short = result.lines.filter((l) => l.short);
      throw new ProblemError(
        'insufficient-stock',
        `Nothing was reserved: ${short.map((l) => `line ${l.lineNumber} (${l.sku}) asks for ${l.requested}, ${l.available} available`).join('; ')}.`,
        { lines: result.lines },
      );
    }
    return reply.code(201).header('Location', `/v1/inventory/reservations/${result.reservation.id}`).send(result.reservation);
  });

  app.get('/v1/inventory/reservations/:id', { preHandler: canRead }, async (request) => {
    const { id } = request.params as { id: string };
    const reservation = await inventory.getReservation(id);
    if (!reservation) throw new ProblemError('not-found', `No reservation with id ${id}.`);
    return reservation;
  });

  app.get('/v1/inventory/reservations', { preHandler: canRead }, async (request) => {
    const { reference } = request.query as { reference?: string };
    if (typeof reference !== 'string' || reference.length === 0) throw new ProblemError('invalid-query', 'reference is required (an order or cart id).');
    return { data: await inventory.findReservations(reference) };
  });

  // Releasing is idempotent by nature: a released hold stays released, and the answer says so.
  app.delete('/v1/inventory/reservations/:id', { preHandler: canWrite }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const claim = idempotencyClaim(request, { required: false });
    const result = settle(reply, await inventory.release(id, { correlationId: request.id, traceparent: readTraceparent(request.headers), idempotency: claim }));
    if (result.kind === 'not-found') throw new ProblemError('not-found', `No reservation with id ${id}.`);
    return result.reservation;
  });

  app.post('/v1/inventory/reservations/:id/consume', { preHandler: canWrite }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const claim = idempotencyClaim(request, { required: true });
    const body = parseBody(ConsumeRequest, request.body ?? {});
    const result = settle(
      reply,
      known(await inventory.consume(id, body, { correlationId: request.id, traceparent: readTraceparent(request.headers), idempotency: claim })),
    );
    switch (result.kind) {
      case 'consumed':
        return { reservation: result.reservation, entries: result.entries };
      case 'not-found':
        throw new ProblemError('not-found', `No reservation with id ${id}.`);
      case 'not-active':
        throw new ProblemError('reservation-not-active', `Reservation ${id} is ${result.reservation.status}; nothing was consumed.`, { reservationStatus: result.reservation.status });
      case 'not-held':
        throw new ProblemError('not-held', `Reservation ${id} does not hold what was to be consumed; nothing was consumed.`, { lines: result.lines });
    }
  });
}

import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { ConsumeRequest, LedgerEntry, Reservation, ReservationRequest } from '../../../model/inventory.ts';
import type { ApiContext } from '../../api-context.ts';
import { currentTraceContext } from '../../../observability/tracing.ts';
import { idempotencyClaim, idempotencyKeyOf, parsedBodyClaim, settle } from '../../idempotency.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody } from '../../validation.ts';
import { known } from './unknown-locations.ts';
import { operation } from '../../route-kit.ts';
import { consumeReceiptExample, reservationExample, reservationRequestExample } from '../examples.ts';

const ReservationList = z.object({ data: z.array(Reservation) }).meta({ id: 'ReservationList' });
const ConsumeReceipt = z.object({ reservation: Reservation, entries: z.array(LedgerEntry) }).meta({ id: 'ConsumeReceipt' });
// Documents the query the route reads itself.
const FindQuery = z.strictObject({ reference: z.string().min(1).meta({ description: 'Order id or cart id.' }) });

const reservationId = { id: 'Reservation id (res_…).' };

const reserve = operation({
  operationId: 'reserve',
  tags: ['Inventory'],
  summary: 'Reserve every line or none',
  auth: 'inventory:write',
  idempotencyKey: 'required',
  body: { schema: ReservationRequest, example: reservationRequestExample },
  responses: {
    201: {
      description: 'Reserved; each line names the location(s) holding it.',
      schema: Reservation,
      example: reservationExample,
      headers: { Location: { description: 'The reservation: /v1/inventory/reservations/{id}.' } },
    },
  },
  problems: {
    'validation-failed': 'errors names each failing field, including unknown locations.',
    'insufficient-stock': 'Nothing was reserved; lines lists each line with lineNumber, sku, requested, available, location and short.',
  },
});

const getReservation = operation({
  operationId: 'getReservation',
  tags: ['Inventory'],
  summary: 'Get a reservation',
  auth: 'inventory:read',
  params: reservationId,
  responses: { 200: { description: 'The reservation.', schema: Reservation, example: reservationExample } },
  problems: { 'not-found': 'No such reservation.' },
});

const findReservations = operation({
  operationId: 'findReservations',
  tags: ['Inventory'],
  summary: 'Reservations of an order or cart',
  auth: 'inventory:read',
  query: FindQuery,
  responses: { 200: { description: 'Its reservations.', schema: ReservationList, example: { data: [reservationExample] } } },
});

const releaseReservation = operation({
  operationId: 'releaseReservation',
  tags: ['Inventory'],
  summary: 'Release a hold; releasing a closed hold changes nothing and returns it',
  auth: 'inventory:write',
  idempotencyKey: 'optional',
  params: reservationId,
  responses: {
    200: {
      description: 'The reservation, now released (or as it was when already closed).',
      schema: Reservation,
      example: { ...reservationExample, status: 'released', closedAt: '2026-11-22T10:20:00.000Z' },
    },
  },
  problems: { 'not-found': 'No such reservation.' },
});

const consumeReservation = operation({
  operationId: 'consumeReservation',
  tags: ['Inventory'],
  summary: 'Record shipped units of a hold as sales',
  auth: 'inventory:write',
  idempotencyKey: 'required',
  params: reservationId,
  body: { schema: ConsumeRequest, example: { lines: [{ sku: 'TEE-M-BLK', quantity: 2 }], reference: 'SHP-88' }, required: false },
  responses: { 200: { description: 'The sale ledger entries and the reservation after them.', schema: ConsumeReceipt, example: consumeReceiptExample } },
  problems: {
    'not-found': 'No such reservation.',
    'reservation-not-active': 'The reservation is released, expired or consumed; reservationStatus says which.',
    'not-held': 'The reservation does not hold what was to be consumed; lines says what it holds.',
  },
});

/** Reservations: hold, look up, release, and consume on shipment. */
export async function reservationsRoutes(app: FastifyInstance, { inventory }: ApiContext): Promise<void> {

  app.post('/v1/inventory/reservations', { schema: reserve }, async (request, reply) => {
    const key = idempotencyKeyOf(request, { required: true })!;
    const body = parseBody(ReservationRequest, request.body);
    const claim = parsedBodyClaim(request, key, body);
    const result = settle(reply, known(await inventory.reserve(body, { correlationId: request.id, ...currentTraceContext(), idempotency: claim })));
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

  app.get('/v1/inventory/reservations/:id', { schema: getReservation }, async (request) => {
    const { id } = request.params as { id: string };
    const reservation = await inventory.getReservation(id);
    if (!reservation) throw new ProblemError('not-found', `No reservation with id ${id}.`);
    return reservation;
  });

  app.get('/v1/inventory/reservations', { schema: findReservations }, async (request) => {
    const { reference } = request.query as { reference?: string };
    if (typeof reference !== 'string' || reference.length === 0) throw new ProblemError('invalid-query', 'reference is required (an order or cart id).');
    return { data: await inventory.findReservations(reference) };
  });

  // Releasing is idempotent by nature: a released hold stays released, and the answer says so.
  app.delete('/v1/inventory/reservations/:id', { schema: releaseReservation }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const claim = idempotencyClaim(request, { required: false });
    const result = settle(reply, await inventory.release(id, { correlationId: request.id, ...currentTraceContext(), idempotency: claim }));
    if (result.kind === 'not-found') throw new ProblemError('not-found', `No reservation with id ${id}.`);
    return result.reservation;
  });

  app.post('/v1/inventory/reservations/:id/consume', { schema: consumeReservation }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const claim = idempotencyClaim(request, { required: true });
    const body = parseBody(ConsumeRequest, request.body ?? {});
    const result = settle(
      reply,
      known(await inventory.consume(id, body, { correlationId: request.id, ...currentTraceContext(), idempotency: claim })),
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

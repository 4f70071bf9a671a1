import { z } from 'zod';
import { CloudEvent } from '../model/cloud-event.ts';
import { Order, OrderSubmission, TimelineEntry } from '../model/order.ts';
import { Customer } from '../model/customer.ts';
import * as inventoryModel from '../model/inventory.ts';
import * as orderActions from '../model/order-actions.ts';
import { SCOPES } from '../domain/clients/scopes.ts';
import { PROBLEMS } from './problem.ts';

/**
 * The OpenAPI 3.1 document, generated from the zod schemas of src/model so that
 * validation, types and documentation cannot drift apart.
 */

const ProblemSchema = z
  .object({
    type: z.string().meta({ example: '/problems/validation-failed' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    correlationId: z.string().optional(),
    errors: z.array(z.object({ pointer: z.string().meta({ example: '/lines/0/quantity' }), detail: z.string() })).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details.' });

const OrderList = z.object({ data: z.array(Order), nextBefore: z.string().nullable() }).meta({ id: 'OrderList' });
const Timeline = z.object({ orderId: z.string(), entries: z.array(TimelineEntry) }).meta({ id: 'Timeline' });
const EventPage = z.object({ events: z.array(CloudEvent), nextCursor: z.string().nullable() }).meta({ id: 'EventPage' });

// Importing them registers them: every schema with a meta id becomes a component.
void [OrderSubmission, Order, OrderList, Timeline, EventPage, CloudEvent, ProblemSchema, Customer];

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: string) => ({ 'application/json': { schema: ref(name) } });
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });
const secured = (scope: string) => [{ oauth2: [scope] }];
const standardErrors = { '401': problem('Missing or invalid access token.'), '403': problem('The token lacks the required scope.') };
const correlationHeader = { name: 'X-Correlation-Id', in: 'header', required: false, schema: { type: 'string' }, description: 'Echoed on the response; generated when absent.' };

// ---------------------------------------------------------------------------
// Inventory (locations, movements, availability, reservations, policies, reconciliation)
// ---------------------------------------------------------------------------

const LocationList = z.object({ data: z.array(inventoryModel.Location) }).meta({ id: 'LocationList' });
const LedgerPage = z.object({ data: z.array(inventoryModel.LedgerEntry), nextAfter: z.string().nullable() }).meta({ id: 'LedgerPage' });
const ReservationList = z.object({ data: z.array(inventoryModel.Reservation) }).meta({ id: 'ReservationList' });
const ConsumeReceipt = z
  .object({ reservation: inventoryModel.Reservation, entries: z.array(inventoryModel.LedgerEntry) })
  .meta({ id: 'ConsumeReceipt' });
const DriftReportList = z.object({ data: z.array(inventoryModel.DriftReport), nextBefore: z.string().nullable() }).meta({ id: 'DriftReportList' });
void [inventoryModel.LocationInput, inventoryModel.MovementRequest, inventoryModel.MovementReceipt, inventoryModel.Availability];
void [inventoryModel.ReservationRequest, inventoryModel.ConsumeRequest, inventoryModel.ShortLine, inventoryModel.SafetyStockInput];
void [inventoryModel.ChannelPolicyInput, inventoryModel.ChannelSkuAllocationInput, inventoryModel.PolicySet, inventoryModel.SnapshotRequest];
void [LocationList, LedgerPage, ReservationList, ConsumeReceipt, DriftReportList];

function inventoryPaths(): Record<string, unknown> {
  const key = (required: boolean) => ({
    name: 'Idempotency-Key',
    in: 'header',
    required,
    schema: { type: 'string', maxLength: 255 },
    description: required ? 'Unique per request; resend the same key to retry safely.' : 'Optional: PUT and DELETE are idempotent by nature.',
  });
  const path = (name: string, description: string) => ({ name, in: 'path', required: true, schema: { type: 'string' }, description });
  const query = (name: string, required: boolean, description: string) => ({ name, in: 'query', required, schema: { type: 'string' }, description });
  const writeErrors = { '400': problem('Missing Idempotency-Key or malformed JSON.'), ...standardErrors, '422': problem('validation-failed (errors name each field, including unknown locations) or idempotency-key-reused.') };
  const write = (operationId: string, summary: string, scope: string, body: string | undefined, ok: Record<string, unknown>, extra: Record<string, unknown> = {}, keyRequired = true, params: unknown[] = []) => ({
    operationId,
    summary,
    security: secured(scope),
    parameters: [...params, key(keyRequired), correlationHeader],
    ...(body ? { requestBody: { required: true, content: json(body) } } : {}),
    responses: { ...ok, ...writeErrors, '409': problem('idempotency-key-in-flight, or the conflict named below.'), ...extra },
  });
  const read = (operationId: string, summary: string, params: unknown[], schema: string, extra: Record<string, unknown> = {}) => ({
    operationId,
    summary,
    security: secured('inventory:read'),
    parameters: params,
    responses: { '200': { description: 'OK.', content: json(schema) }, ...standardErrors, ...extra },
  });
  return {
    '/v1/locations': {
      post: write('createLocation', 'Create a stock location (warehouse, store or 3PL)', 'inventory:write', 'LocationInput', { '201': { description: 'Created.', content: json('Location') } }, { '409': problem('location-code-taken (with existingLocationId) or idempotency-key-in-flight.') }),
      get: read('listLocations', 'List locations by code', [], 'LocationList'),
    },
    '/v1/locations/{ref}': {
      get: read('getLocation', 'Get a location by id or code', [path('ref', 'Location id (loc_…) or code.')], 'Location', { '404': problem('No such location.') }),
    },
    '/v1/inventory/movements': {
      post: write(
        'recordMovements',
        'Record stock movements that commit together (receipt, adjustment, transfer, count, return)',
        'inventory:write',
        'MovementRequest',
        { '201': { description: 'Recorded: the ledger entries and the balances after them.', content: json('MovementReceipt') } },
        { '409': problem('movement-rejected: a decrease would take on hand below zero or below what is reserved; errors point at each movement.') },
      ),
      get: read(
        'readLedger',
        'Read the movement ledger of a SKU, oldest first',
        [query('sku', true, 'The SKU.'), query('location', false, 'Location id or code.'), query('after', false, 'Entry id from nextAfter.'), { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } }],
        'LedgerPage',
      ),
    },
    '/v1/inventory/availability': {
      get: read(
        'getAvailability',
        'What a channel may sell now, per location, with the derivation',
        [query('sku', true, 'The SKU.'), query('channel', false, 'Channel slug; absent: the shared pool over every location.'), query('location', false, 'Narrow to one location (id or code).')],
        'Availability',
        { '400': problem('invalid-query (including an unknown location).') },
      ),
    },
    '/v1/inventory/reservations': {
      post: write(
        'reserve',
        'Reserve every line or none',
        'inventory:write',
        'ReservationRequest',
        { '201': { description: 'Reserved; each line names the location(s) holding it.', headers: { Location: { schema: { type: 'string' } } }, content: json('Reservation') } },
        { '409': problem('insufficient-stock: nothing was reserved; lines lists each line with requested and available (ShortLine).') },
      ),
      get: read('findReservations', 'Reservations of an order or cart', [query('reference', true, 'Order id or cart id.')], 'ReservationList'),
    },
    '/v1/inventory/reservations/{id}': {
      get: read('getReservation', 'Get a reservation', [path('id', 'Reservation id (res_…).')], 'Reservation', { '404': problem('No such reservation.') }),
      delete: {
        ...write('releaseReservation', 'Release a hold; releasing a closed hold changes nothing and returns it', 'inventory:write', undefined, { '200': { description: 'The reservation, now released (or as it was when already closed).', content: json('Reservation') } }, { '404': problem('No such reservation.') }, false, [path('id', 'Reservation id.')]),
      },
    },
    '/v1/inventory/reservations/{id}/consume': {
      post: write(
        'consumeReservation',
        'Record shipped units of a hold as sales',
        'inventory:write',
        'ConsumeRequest',
        { '200': { description: 'The sale ledger entries and the reservation after them.', content: json('ConsumeReceipt') } },
        { '404': problem('No such reservation.'), '409': problem('reservation-not-active or not-held.') },
        true,
        [path('id', 'Reservation id.')],
      ),
    },
    '/v1/inventory/policies': {
      get: read('getPolicies', 'Every safety stock and channel policy', [], 'PolicySet'),
    },
    '/v1/inventory/policies/safety-stock': {
      put: write('setSafetyStock', 'Set safety stock for a SKU, or a SKU at a location', 'inventory:write', 'SafetyStockInput', { '200': { description: 'Saved.', content: json('SafetyStockInput') } }, {}, false),
    },
    '/v1/inventory/policies/channels/{channel}': {
      put: write('setChannelPolicy', "Set a channel's allocation and excluded locations", 'inventory:write', 'ChannelPolicyInput', { '200': { description: 'Saved.' } }, {}, false, [path('channel', 'Channel slug.')]),
    },
    '/v1/inventory/policies/channels/{channel}/skus/{sku}': {
      put: write('setChannelSkuAllocation', "Override a channel's allocation for one SKU", 'inventory:write', 'ChannelSkuAllocationInput', { '200': { description: 'Saved.' } }, {}, false, [path('channel', 'Channel slug.'), path('sku', 'SKU.')]),
    },
    '/v1/inventory/snapshots': {
      post: write(
        'reconcileSnapshot',
        "Compare a system of record's stock snapshot with ours (and apply it as counts when asked)",
        'inventory:write',
        'SnapshotRequest',
        { '201': { description: 'The drift report (lines that differ).', content: json('DriftReport') } },
      ),
      get: read('listSnapshots', 'Drift reports, newest first', [query('before', false, 'Report id from nextBefore.'), { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } }], 'DriftReportList'),
    },
    '/v1/inventory/snapshots/{id}': {
      get: read('getSnapshot', 'A drift report with its drifting lines', [path('id', 'Snapshot id (snp_…).')], 'DriftReport', { '404': problem('No such snapshot.') }),
    },
    '/v1/inventory/snapshots/{id}/apply': {
      post: write('applySnapshot', "Write count movements that set our stock to the snapshot's figures", 'inventory:write', undefined, { '200': { description: 'Applied.', content: json('DriftReport') } }, { '404': problem('No such snapshot.'), '409': problem('snapshot-already-applied or movement-rejected.') }, true, [path('id', 'Snapshot id.')]),
    },
  };
}

function componentSchemas(): Record<string, unknown> {
  const generated = z.toJSONSchema(z.globalRegistry, { io: 'input', unrepresentable: 'any', uri: (id) => `#/components/schemas/${id}` });
  return Object.fromEntries(
    Object.entries(generated.schemas).map(([id, { $id: _id, $schema: _schema, ...schema }]) => [id, schema]),
  );
}

// ---- Order lifecycle: cancel, hold release, lifecycle view, returns, WMS webhook (src/flows) ----

const LifecycleView = z
  .object({
    orderId: z.string(),
    status: z.string(),
    hold: z.record(z.string(), z.unknown()).nullable().meta({ description: 'Why the order is on hold or waiting for stock: kind validation, fraud or backorder.' }),
    paymentId: z.string().nullable(),
    erpSale: z.record(z.string(), z.unknown()).nullable(),
    invoices: z.array(z.record(z.string(), z.unknown())),
    lines: z.array(z.object({ lineNumber: z.number().int(), sku: z.string(), quantity: z.number().int(), unitPrice: z.string(), shipped: z.number().int(), cancelled: z.number().int(), returned: z.number().int() })),
    fulfilments: z.array(z.record(z.string(), z.unknown())),
    shipments: z.array(z.object({ id: z.string(), sourceKey: z.string(), locationCode: z.string(), carrier: z.string().nullable(), trackingNumbers: z.array(z.string()), lines: z.array(z.record(z.string(), z.unknown())), shippedAt: z.string() })),
  })
  .meta({ id: 'OrderLifecycle', description: 'Where an order is: holds, fulfilments per location, shipments with tracking, invoices.' });
const CustomerTimeline = z
  .object({ email: z.string(), entries: z.array(z.object({ at: z.string(), action: z.string(), orderId: z.string().nullable(), detail: z.record(z.string(), z.unknown()).nullable() })) })
  .meta({ id: 'CustomerTimeline' });
void [orderActions.CancelRequest, orderActions.Cancellation, orderActions.HoldReleaseRequest, orderActions.ReturnRequest, orderActions.OrderReturn, LifecycleView, CustomerTimeline];

function orderLifecyclePaths(): Record<string, unknown> {
  const id = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  const key = (required: boolean) => ({ name: 'Idempotency-Key', in: 'header', required, schema: { type: 'string', maxLength: 255 } });
  return {
    '/v1/orders/{id}/cancel': {
      post: {
        operationId: 'cancelOrder',
        summary: 'Cancel an order, as far as it can still be stopped',
        description:
          'Before release to a warehouse or store, the order-placed flow is undone in reverse (reservations released, ERP order cancelled, payment refunded or voided). ' +
          'After release, each open fulfilment is cancelled at the WMS; the cancellation report lists what could not be stopped. After shipment: 409 order-shipped, create a return. ' +
          'Carried out asynchronously: follow the Location.',
        security: secured('orders:write'),
        parameters: [id, key(false), correlationHeader],
        requestBody: { required: false, content: json('CancelRequest') },
        responses: {
          '202': { description: 'Accepted (or the cancellation already open).', headers: { Location: { schema: { type: 'string' } } }, content: json('Cancellation') },
          ...standardErrors,
          '404': problem('No such order.'),
          '409': problem('order-shipped (create a return instead) or order-not-cancellable.'),
        },
      },
    },
    '/v1/orders/{id}/cancellations/{cancellationId}': {
      get: {
        operationId: 'getCancellation',
        summary: 'A cancellation and its report',
        security: secured('orders:read'),
        parameters: [id, { name: 'cancellationId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'The cancellation.', content: json('Cancellation') }, ...standardErrors, '404': problem('No such cancellation.') },
      },
    },
    '/v1/orders/{id}/hold/release': {
      post: {
        operationId: 'releaseHold',
        summary: 'Release an order on hold (operator)',
        description: 'An operator reviewed a fraud or validation hold; the order goes back to validated and its flow resumes without applying the hold again. Needs ops:write.',
        security: secured('ops:write'),
        parameters: [id, correlationHeader],
        requestBody: { required: false, content: json('HoldReleaseRequest') },
        responses: { '202': { description: 'Released; the flow resumed.' }, ...standardErrors, '404': problem('No such order.'), '409': problem('order-not-on-hold.') },
      },
    },
    '/v1/orders/{id}/lifecycle': {
      get: {
        operationId: 'getOrderLifecycle',
        summary: 'Holds, fulfilments, shipments with tracking numbers and invoices of an order',
        security: secured('orders:read'),
        parameters: [id],
        responses: { '200': { description: 'The lifecycle view.', content: json('OrderLifecycle') }, ...standardErrors, '404': problem('No such order.') },
      },
    },
    '/v1/returns': {
      post: {
        operationId: 'createReturn',
        summary: 'Return shipped goods (in a store, or to a warehouse)',
        description: 'Checked at once against shipped quantities (less earlier returns) and the return window; the refund, ERP credit note and restock of resellable units at the receiving location follow.',
        security: secured('orders:write'),
        parameters: [key(true), correlationHeader],
        requestBody: { required: true, content: json('ReturnRequest') },
        responses: {
          '202': { description: 'Accepted.', headers: { Location: { schema: { type: 'string' } } }, content: json('OrderReturn') },
          '400': problem('Missing Idempotency-Key or malformed JSON.'),
          ...standardErrors,
          '409': problem('idempotency-key-in-flight.'),
          '422': problem('validation-failed, idempotency-key-reused, or return-not-eligible (errors point at each line).'),
        },
      },
    },
    '/v1/returns/{id}': {
      get: {
        operationId: 'getReturn',
        summary: 'A return: refund, credit note, status',
        security: secured('orders:read'),
        parameters: [id],
        responses: { '200': { description: 'The return.', content: json('OrderReturn') }, ...standardErrors, '404': problem('No such return.') },
      },
    },
    '/v1/customers/{email}/timeline': {
      get: {
        operationId: 'getCustomerTimeline',
        summary: "What happened to a customer's orders after sale (returns, refunds)",
        security: secured('orders:read'),
        parameters: [{ name: 'email', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'Entries, oldest first.', content: json('CustomerTimeline') }, ...standardErrors },
      },
    },
    '/webhooks/wms/{connection}': {
      post: {
        operationId: 'wmsWebhook',
        summary: 'Shipment notices from the WMS (signed)',
        description:
          'Authenticated by `Wms-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` over the raw bytes, not by a token. ' +
          'A shipment.created delivery is queued for the shipment flow (idempotent by the WMS shipment id); other topics are acknowledged and ignored. connection: `default`.',
        parameters: [{ name: 'connection', in: 'path', required: true, schema: { type: 'string', example: 'default' } }],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
        responses: { '202': { description: 'Accepted (or ignored).' }, '400': problem('Malformed payload.'), '401': problem('webhook-rejected: missing, malformed, invalid or stale signature.'), '404': problem('Unknown connection.') },
      },
    },
  };
}
// ---- end of order lifecycle ----

let cached: object | undefined;

export function openApiDocument(): object {
  cached ??= {
    openapi: '3.1.0',
    info: {
      title: 'Syncline experience API',
      version: '1.0.0',
      description:
        'Governed APIs through which sales channels submit orders to Syncline. Errors are RFC 9457 problem details; ' +
        `their types are ${Object.keys(PROBLEMS).map((t) => '`' + t + '`').join(', ')}.`,
    },
    servers: [{ url: '/' }],
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        oauth2: {
          type: 'oauth2',
          flows: { clientCredentials: { tokenUrl: '/oauth/token', scopes: Object.fromEntries(SCOPES.map((s) => [s, s === 'admin' ? 'every scope' : s])) } },
        },
      },
    },
    paths: {
      '/v1/orders': {
        post: {
          operationId: 'submitOrder',
          summary: 'Submit an order from a sales channel',
          security: secured('orders:write'),
          parameters: [
            { name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', maxLength: 255 }, description: 'Unique per request; resend the same key to retry safely.' },
            correlationHeader,
          ],
          requestBody: { required: true, content: json('OrderSubmission') },
          responses: {
            '201': { description: 'Order accepted.', headers: { Location: { schema: { type: 'string' } } }, content: json('Order') },
            '400': problem('Missing Idempotency-Key or malformed JSON.'),
            ...standardErrors,
            '409': problem('duplicate-order (with existingOrderId) or idempotency-key-in-flight.'),
            '413': problem('Body too large.'),
            '415': problem('Body is not application/json.'),
            '422': problem('validation-failed (errors lists each field) or idempotency-key-reused.'),
          },
        },
        get: {
          operationId: 'listOrders',
          summary: 'Find orders, newest first',
          security: secured('orders:read'),
          parameters: [
            { name: 'channel', in: 'query', schema: { type: 'string' } },
            { name: 'channelOrderId', in: 'query', schema: { type: 'string' } },
            { name: 'before', in: 'query', schema: { type: 'string' }, description: 'Order id from nextBefore of the previous page.' },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          ],
          responses: { '200': { description: 'Matching orders.', content: json('OrderList') }, ...standardErrors },
        },
      },
      '/v1/orders/{id}': {
        get: {
          operationId: 'getOrder',
          summary: 'Get an order',
          security: secured('orders:read'),
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'The order.', content: json('Order') }, ...standardErrors, '404': problem('No such order.') },
        },
      },
      '/v1/orders/{id}/timeline': {
        get: {
          operationId: 'getOrderTimeline',
          summary: 'What happened to an order, oldest first',
          security: secured('orders:read'),
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'Timeline.', content: json('Timeline') }, ...standardErrors, '404': problem('No such order.') },
        },
      },
      '/v1/events': {
        get: {
          operationId: 'readEvents',
          summary: 'Follow the event feed',
          description: 'Events in commit order. Pass nextCursor as `after` to continue; an empty page returns the same cursor.',
          security: secured('ops:read'),
          parameters: [
            { name: 'after', in: 'query', schema: { type: 'string' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          ],
          responses: { '200': { description: 'A page of CloudEvents.', content: json('EventPage') }, '400': problem('Bad cursor.'), ...standardErrors },
        },
      },
      '/oauth/token': {
        post: {
          operationId: 'issueToken',
          summary: 'OAuth 2.0 client credentials grant',
          requestBody: {
            required: true,
            content: {
              'application/x-www-form-urlencoded': {
                schema: {
                  type: 'object',
                  required: ['grant_type'],
                  properties: {
                    grant_type: { const: 'client_credentials' },
                    scope: { type: 'string', description: 'Space-separated subset of the client scopes.' },
                    client_id: { type: 'string' },
                    client_secret: { type: 'string' },
                  },
                },
              },
            },
          },
          responses: { '200': { description: 'Access token.' }, '400': { description: 'invalid_request, invalid_scope or unsupported_grant_type.' }, '401': { description: 'invalid_client.' } },
        },
      },
      ...inventoryPaths(),
      ...orderLifecyclePaths(),
      '/healthz': { get: { operationId: 'health', summary: 'Process is alive', responses: { '200': { description: 'Alive.' } } } },
      '/readyz': { get: { operationId: 'ready', summary: 'Database reachable and migrated', responses: { '200': { description: 'Ready.' }, '503': problem('Not ready.') } } },
    },
  };
  return cached;
}

import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { mapWmsDelivery, verifyWmsWebhook } from '../../../connectors/wms/inbound/wms.inbound.ts';
import { enqueue } from '../../../runtime/queue.ts';
import { shipmentJob } from '../../../flows/shipment/shipment.flow.ts';
import type { ApiContext } from '../../api-context.ts';
import { ProblemError, webhookProblem } from '../../problem.ts';
import { operation } from '../../route-kit.ts';

// The WMS's own delivery format (src/connectors/wms/README.md); the route verifies and maps the raw bytes itself.
const WmsDelivery = z
  .object({
    id: z.string().meta({ description: 'Delivery id; deliveries are idempotent by the shipment id.' }),
    topic: z.string().meta({ description: 'shipment.created is handled; other topics are acknowledged and ignored.' }),
    createdAt: z.string(),
    data: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'WmsDelivery', description: 'A webhook delivery from the WMS.' });
const WebhookAck = z
  .object({
    accepted: z.boolean(),
    reason: z.string().optional(),
    orderId: z.string().optional(),
    shipment: z.string().optional(),
  })
  .meta({ id: 'WebhookAck' });

const wmsWebhook = operation({
  operationId: 'wmsWebhook',
  tags: ['Webhooks'],
  summary: 'Shipment notices from the WMS (signed)',
  description:
    'Authenticated by the Wms-Signature header over the raw bytes, not by a token. ' +
    'A shipment.created delivery is queued for the shipment flow (idempotent by the WMS shipment id); other topics are acknowledged and ignored.',
  auth: 'wms-signature',
  params: { connection: 'The WMS connection: `default`.' },
  body: {
    schema: WmsDelivery,
    raw: true,
    example: {
      id: 'whd_5521',
      topic: 'shipment.created',
      createdAt: '2026-11-23T09:00:00Z',
      data: { shipment: { id: 'SHP-88', orderId: 'ord_01jd5q8x7m2v3k4n5p6r7s8t9w', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784'] }, fulfillmentOrder: { id: 'FO-12' } },
    },
  },
  responses: {
    202: {
      description: 'Accepted, or acknowledged and ignored (accepted: false with the reason).',
      schema: WebhookAck,
      example: { accepted: true, orderId: 'ord_01jd5q8x7m2v3k4n5p6r7s8t9w', shipment: 'SHP-88' },
    },
  },
  problems: {
    'webhook-rejected': 'Missing, malformed, invalid or stale signature.',
    'bad-request': 'The verified payload is not a delivery the WMS sends.',
    'not-found': 'No WMS connection by that name.',
  },
});

/**
 * Inbound WMS webhooks: `POST /webhooks/wms/{connection}` (the only connection today is
 * `default`). The signature is checked on the raw bytes before anything is parsed; a
 * verified shipment is queued for the shipment flow (idempotent by the WMS shipment id)
 * and answered 202 at once; unknown topics are acknowledged and ignored.
 *
 * The secret is the configured SYNCLINE_WMS_WEBHOOK_SECRET, or the one the WMS sandbox of
 * `syncline start` drew at random; with neither, every delivery is refused (the sandbox's
 * published default secret proves nothing).
 */
export async function wmsWebhookRoutes(app: FastifyInstance, { db, config }: ApiContext): Promise<void> {
  const secret = config.systems.wms?.webhookSecret;
  // Raw bytes for this scope only: the signature covers them exactly as sent.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.post('/webhooks/wms/:connection', { schema: wmsWebhook }, async (request, reply) => {
    const { connection } = request.params as { connection: string };
    if (connection !== 'default') throw new ProblemError('not-found', `No WMS connection named ${connection}.`);
    if (secret === undefined) {
      throw new ProblemError('webhook-rejected', 'No WMS is configured here (SYNCLINE_WMS_URL and SYNCLINE_WMS_WEBHOOK_SECRET) and no WMS sandbox runs in this process; deliveries are refused.', {
        code: 'webhook.not_configured',
      });
    }
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    let event;
    try {
      event = mapWmsDelivery(verifyWmsWebhook(raw, request.headers, { secret }));
    } catch (error) {
      throw webhookProblem(error);
    }
    if (event.kind === 'unsupported') return reply.code(202).send({ accepted: false, reason: `topic ${event.topic} is not supported; ignored` });
    await enqueue(db, shipmentJob(event.confirmation, request.id));
    return reply.code(202).send({ accepted: true, orderId: event.confirmation.orderId, shipment: event.confirmation.source.shipmentId });
  });
}

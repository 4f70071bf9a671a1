import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { channelConnections, recordDeliveries, type DeliveryToRecord } from '../../../flows/channel/channel.flow.ts';
import { CommitBatcher } from '../../../store/commit-batcher.ts';
import type { ApiContext } from '../../api-context.ts';
import { ProblemError, webhookProblem } from '../../problem.ts';
import { operation } from '../../route-kit.ts';

const ChannelDeliveryBody = z
  .record(z.string(), z.unknown())
  .meta({ id: 'ChannelDelivery', description: "A channel's webhook in its own format (a Shopify order, a WooCommerce order, …), read as raw bytes and verified before it is parsed." });
const ChannelAck = z
  .object({
    accepted: z.boolean().meta({ description: 'true: stored (or stored before: duplicate); false: a ping, answered without effect.' }),
    duplicate: z.boolean().optional().meta({ description: 'The same delivery id was received before; nothing new was stored.' }),
    deliveryId: z.string().optional(),
  })
  .meta({ id: 'ChannelAck' });

const channelWebhook = operation({
  operationId: 'channelWebhook',
  tags: ['Webhooks'],
  summary: 'Webhooks of a channel connection (Shopify, WooCommerce; signed)',
  description:
    "Authenticated by the connector's signature over the raw bytes with the connection's webhookSecret, not by a token. " +
    'A verified delivery is stored once (idempotent by the connection and the delivery id) with its intake job, in one transaction, ' +
    'and answered 200 at once; the job maps and applies it. A ping (the unsigned one WooCommerce sends when a webhook is created) is answered 200 without effect. ' +
    'Unknown topics are stored and recorded as not supported.',
  auth: 'channel-signature',
  params: { connector: 'The connector: `shopify`, `woocommerce`.', connection: 'The connection id from syncline.yaml, e.g. `acme-us`.' },
  body: {
    schema: ChannelDeliveryBody,
    raw: true,
    example: { id: 820982911946154500, name: '#9999', line_items: [{ id: 866550311766439000, sku: 'TEE-M', quantity: 1, price: '19.00' }] },
  },
  responses: {
    200: { description: 'Stored (or stored before), or a ping acknowledged.', schema: ChannelAck, example: { accepted: true, duplicate: false, deliveryId: 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043' } },
  },
  problems: {
    'webhook-rejected': 'Missing, invalid or stale signature; nothing was stored.',
    'bad-request': 'The verified delivery is malformed (no delivery id or topic, a body that is not JSON).',
    'not-found': 'No connection by that id for that connector.',
  },
});

/**
 * Inbound channel webhooks: `POST /webhooks/{connector}/{connection}` (docs/adr/0015). The
 * answer comes right after one durable write (the delivery and its job), never after the
 * work, so the channel's deadline (Shopify: 5 s) holds whatever the intake is doing.
 */
export async function channelWebhookRoutes(app: FastifyInstance, { db, config }: ApiContext): Promise<void> {
  const connections = channelConnections(config);
  // Deliveries arriving together share one transaction and one commit (as order intake does);
  // none is answered before the commit that stored it.
  const deliveries = new CommitBatcher<DeliveryToRecord, boolean>(db, recordDeliveries);
  // Raw bytes of any media type (WooCommerce's ping is a form): the signature covers them exactly as sent.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.post('/webhooks/:connector/:connection', { schema: channelWebhook }, async (request, reply) => {
    const params = request.params as { connector: string; connection: string };
    const connection = connections.get(params.connection);
    if (!connection || connection.connector !== params.connector) {
      throw new ProblemError('not-found', `No ${params.connector} connection named ${params.connection}.`);
    }
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    let verified;
    try {
      verified = connection.channel!.inbound.verify(raw, request.headers, connection.options, Date.now(), connection.webhookMaxAgeSeconds);
    } catch (error) {
      throw webhookProblem(error);
    }
    if (verified.kind === 'ping') return reply.code(200).send({ accepted: false });
    const { delivery } = verified;
    const inserted = await deliveries.submit({
      connection,
      delivery: { deliveryId: delivery.deliveryId, topic: delivery.topic, triggeredAt: delivery.triggeredAt, source: 'webhook', payload: delivery.payload },
      correlationId: request.id,
    });
    return reply.code(200).send({ accepted: true, duplicate: !inserted, deliveryId: delivery.deliveryId });
  });
}

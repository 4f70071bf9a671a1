import type { FastifyInstance } from 'fastify';
import { SynclineError } from '../../../domain/errors.ts';
import { mapWmsDelivery, verifyWmsWebhook } from '../../../connectors/wms/inbound/wms.inbound.ts';
import { enqueue } from '../../../runtime/queue.ts';
import { shipmentJob } from '../../../flows/shipment/shipment.flow.ts';
import type { ApiContext } from '../../api-context.ts';
import { ProblemError } from '../../problem.ts';

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

  app.post('/webhooks/wms/:connection', async (request, reply) => {
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
      if (error instanceof SynclineError && error.code.startsWith('webhook.')) {
        const status = error.code === 'webhook.payload_invalid' || error.code === 'webhook.body_invalid' ? 'bad-request' : 'webhook-rejected';
        throw new ProblemError(status, error.message, { code: error.code });
      }
      throw error;
    }
    if (event.kind === 'unsupported') return reply.code(202).send({ accepted: false, reason: `topic ${event.topic} is not supported; ignored` });
    await enqueue(db, shipmentJob(event.confirmation, request.id));
    return reply.code(202).send({ accepted: true, orderId: event.confirmation.orderId, shipment: event.confirmation.source.shipmentId });
  });
}

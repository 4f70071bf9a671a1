import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../../api-context.ts';
import { operation } from '../../route-kit.ts';
import { NoQuery, parseQuery } from '../../validation.ts';
import { metrics } from '../../../observability/metrics.ts';

const PrometheusText = z.string().meta({ id: 'PrometheusText', description: 'Prometheus text exposition format 0.0.4 (docs/metrics.md lists every metric).' });

/** GET /metrics: Prometheus scrape of this process, with the shared queue and business figures. */
export async function metricsRoutes(app: FastifyInstance, { db, access, config }: ApiContext): Promise<void> {
  metrics.attach(db, (clientId) => access.rateLimitOf(clientId) ?? config.clientRateLimit);
  const spec = operation({
    operationId: 'getMetrics',
    tags: ['Operations'],
    summary: 'Technical and business metrics in Prometheus text format',
    description:
      'HTTP, queue, retry, dead-letter, breaker and rate-limit metrics and the business KPIs (docs/metrics.md). ' +
      'Scope ops:read, or no token when SYNCLINE_METRICS_PUBLIC=true.',
    auth: config.metricsPublic ? 'none' : 'ops:read',
    query: NoQuery,
    responses: {
      200: {
        description: 'The scrape.',
        schema: PrometheusText,
        mediaType: 'text/plain; version=0.0.4; charset=utf-8',
        example: '# HELP syncline_orders Orders by status.\n# TYPE syncline_orders gauge\nsyncline_orders{status="released"} 12\n',
      },
    },
  });
  app.get('/metrics', { schema: spec }, async (request, reply) => {
    parseQuery(NoQuery, request.query);
    const scrape = await metrics.render();
    return reply.type(scrape.contentType).send(scrape.body);
  });
}

import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { SynclineError } from '../domain/errors.ts';
import type { ApiContext } from './api-context.ts';
import { correlationIdOf } from './correlation.ts';
import { registerOpenApi } from './openapi.ts';
import { authorizeDeclaredScopes } from './auth/authorize.ts';
import { ProblemError, sendProblem } from './problem.ts';
import { answerClientError, answerFrameworkError, answerNoRoute, registerRequestGuards } from './request-guards.ts';
import { eventsRoutes } from './routes/events/events.routes.ts';
import { healthRoutes } from './routes/health.routes.ts';
import { tokenRoutes } from './routes/oauth/token.routes.ts';
import { ordersRoutes } from './routes/orders/orders.routes.ts';
import { opsRoutes } from './routes/ops/ops.routes.ts';
import { productsRoutes } from './routes/products/products.routes.ts';
import { customersRoutes } from './routes/customers/customers.routes.ts';
import { customerPrivacyRoutes } from './routes/customers/customer-privacy.routes.ts';
import { customerPropagationsRoutes } from './routes/customers/customer-propagations.routes.ts';
import { erpShadowRoutes } from './routes/ops/erp-shadow.routes.ts';
import { locationsRoutes } from './routes/locations/locations.routes.ts';
import { inventoryRoutes } from './routes/inventory/inventory.routes.ts';
import { reservationsRoutes } from './routes/inventory/reservations.routes.ts';
import { policiesRoutes } from './routes/inventory/policies.routes.ts';
import { snapshotsRoutes } from './routes/inventory/snapshots.routes.ts';
import { orderActionsRoutes } from './routes/orders/order-actions.routes.ts';
import { orderAmendmentsRoutes } from './routes/orders/order-amendments.routes.ts';
import { returnsRoutes } from './routes/returns/returns.routes.ts';
import { wmsWebhookRoutes } from './routes/webhooks/wms-webhook.routes.ts';
import { channelWebhookRoutes } from './routes/webhooks/channel-webhook.routes.ts';
import { connectionsRoutes } from './routes/connections/connections.routes.ts';
import { adminClientsRoutes } from './routes/admin/clients.routes.ts';
import { adminKeysAuditRoutes } from './routes/admin/keys-audit.routes.ts';
import { subscriptionsRoutes } from './routes/subscriptions/subscriptions.routes.ts';
import { metricsRoutes } from './routes/ops/metrics.routes.ts';
import { consoleRoutes } from './routes/console/console.routes.ts';
import { registerRequestTelemetry } from '../observability/request-telemetry.ts';
import { requestLoggerFactory } from '../observability/request-logger.ts';

/** Believes X-Forwarded-For for the nearest `hops` proxies. */
const trustHops = (hops: number) => (_address: string, hop: number) => hop < hops;

/** Builds the HTTP application: correlation, error mapping and every route module. */
export async function buildServer(context: ApiContext): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: context.logger as FastifyBaseLogger,
    bodyLimit: context.config.maxBodyBytes,
    genReqId: (request) => correlationIdOf(request.headers),
    logController: new LogController({ requestIdLogLabel: 'correlationId' }),
    // request.log becomes a pino child only when the request writes a line (request-logger.ts).
    childLoggerFactory: requestLoggerFactory,
    // Replaced by the onRequest hook below, which answers problem+json with Retry-After.
    return503OnClosing: false,
    // Behind a proxy, its X-Forwarded-For gives the client address the token endpoint throttles by.
    trustProxy: typeof context.config.trustProxy === 'number' ? trustHops(context.config.trustProxy) : context.config.trustProxy,
    // maxParamLength: an e-mail address (254 characters) percent-encoded still fits in one path segment.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 512 },
    // Slow clients are cut off (README, Errors and limits): headers, whole request, idle sockets.
    requestTimeout: context.config.requestTimeoutMs,
    keepAliveTimeout: context.config.keepAliveTimeoutMs,
    connectionTimeout: context.config.idleTimeoutMs,
    // Node checks the header and request deadlines on this interval (its default of 30 s would let a slow client linger).
    http: { headersTimeout: context.config.headersTimeoutMs, connectionsCheckingInterval: Math.min(1000, context.config.headersTimeoutMs) },
    clientErrorHandler: (error, socket) => answerClientError(error, socket, context.config.maxUrlBytes),
    frameworkErrors: (error, request, reply) => answerFrameworkError(error, request, reply),
  });

  // Only JSON bodies (and the token endpoint's form bodies) are accepted; anything else is a 415.
  app.removeContentTypeParser('text/plain');

  // Hooks that every request runs are callback-style where they never wait: an async hook costs
  // a promise and a microtask turn per request. One that answers does not call done().
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('X-Correlation-Id', request.id);
    done();
  });
  registerRequestGuards(app, { maxUrlBytes: context.config.maxUrlBytes });
  // A span per request (continuing an incoming traceparent) and the HTTP metrics (docs/metrics.md).
  registerRequestTelemetry(app);

  // While close() drains the requests in flight, one that still arrives on an open connection is
  // turned away (fastify adds Connection: close), so that the client retries on another instance.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', (_request, reply, done) => {
    if (closing) sendProblem(reply, 'service-unavailable', 'The server is shutting down; retry after Retry-After, on another instance if there is one.');
    else done();
  });

  app.setNotFoundHandler((request, reply) => answerNoRoute(app, request, reply));

  // The one place where errors become HTTP responses.
  app.setErrorHandler((error: FastifyError | ProblemError | SynclineError, request, reply) => {
    if (error instanceof ProblemError) {
      reply.headers(error.headers);
      return sendProblem(reply, error.problemType, error.message, error.extensions);
    }
    if (error instanceof SynclineError) {
      request.log.error({ err: error, code: error.code }, 'request failed');
      return error.retry === 'permanent'
        ? sendProblem(reply, 'internal', 'The request could not be completed.', { code: error.code })
        : sendProblem(reply, 'service-unavailable', 'A dependency is unavailable; retry later.', { code: error.code });
    }
    switch (error.code) {
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return sendProblem(reply, 'malformed-json', 'The body could not be parsed as JSON.');
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return sendProblem(reply, 'malformed-json', 'The body is empty; send a JSON document.');
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendProblem(reply, 'payload-too-large', `The body exceeds ${context.config.maxBodyBytes} bytes.`);
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return sendProblem(reply, 'unsupported-media-type', 'Send the body as application/json.');
    }
    if (error instanceof SyntaxError) return sendProblem(reply, 'malformed-json', 'The body could not be parsed as JSON.');
    // PostgreSQL data exceptions (SQLSTATE class 22: out of range, bad encoding) come from values
    // validation should have refused; answer as the client's fault, and log it so the gap gets closed.
    if (/^22[0-9A-Z]{3}$/.test(String((error as { code?: unknown }).code)) && 'severity' in error) {
      request.log.warn({ err: error }, 'a value reached the database that validation let through');
      return sendProblem(reply, 'bad-request', 'A value in the request cannot be stored.');
    }
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      return sendProblem(reply, 'bad-request', error.message);
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(reply, 'internal', 'Something went wrong on our side; the correlation id identifies this failure in the logs.');
  });

  // Before any route: the document is generated from the routes registered after it, and each
  // route is served behind the scope its operation declares.
  await registerOpenApi(app);
  app.addHook('onRoute', authorizeDeclaredScopes(context.tokens));
  await app.register(async (scope) => healthRoutes(scope, context));
  await app.register(async (scope) => tokenRoutes(scope, context));
  await app.register(async (scope) => ordersRoutes(scope, context));
  await app.register(async (scope) => eventsRoutes(scope, context));
  await app.register(async (scope) => opsRoutes(scope, context));
  await app.register(async (scope) => erpShadowRoutes(scope, context));
  await app.register(async (scope) => orderActionsRoutes(scope, context));
  await app.register(async (scope) => orderAmendmentsRoutes(scope, context));
  await app.register(async (scope) => returnsRoutes(scope, context));
  await app.register(async (scope) => wmsWebhookRoutes(scope, context));
  await app.register(async (scope) => channelWebhookRoutes(scope, context));
  await app.register(async (scope) => connectionsRoutes(scope, context));
  await app.register(async (scope) => adminClientsRoutes(scope, context));
  await app.register(async (scope) => adminKeysAuditRoutes(scope, context));
  await app.register(async (scope) => subscriptionsRoutes(scope, context));
  await app.register(async (scope) => metricsRoutes(scope, context));
  await app.register(async (scope) => consoleRoutes(scope, context));
  for (const routes of [productsRoutes, customersRoutes, customerPrivacyRoutes, customerPropagationsRoutes, locationsRoutes, inventoryRoutes, reservationsRoutes, policiesRoutes, snapshotsRoutes]) {
    await app.register(async (scope) => routes(scope, context));
  }
  return app;
}

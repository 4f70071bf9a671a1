import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { isMigrated } from '../../store/migrate.ts';
import { asyncApiDocument } from '../asyncapi.ts';
import type { ApiContext } from '../api-context.ts';
import { isProblemType, PROBLEMS, PROBLEM_BASE, sendProblem } from '../problem.ts';
import { operation } from '../route-kit.ts';

const swaggerUiDir = join(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'), '..');
const SWAGGER_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
};

const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Syncline API reference</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="api"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#api' });</script>
</body></html>`;

const Health = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });
const Readiness = z.object({ status: z.literal('ready'), database: z.enum(['postgres', 'pglite']) }).meta({ id: 'Readiness' });
const ProblemTypeInfo = z
  .object({ type: z.string(), status: z.number().int(), title: z.string() })
  .meta({ id: 'ProblemType', description: 'What a problem type means: its HTTP status and title.' });

// The reference itself is not an operation of the API.
const hidden = { schema: { hide: true } };

const health = operation({
  operationId: 'health',
  tags: ['Health'],
  summary: 'The process is alive',
  auth: 'none',
  responses: { 200: { description: 'Alive.', schema: Health, example: { status: 'ok' } } },
});

const ready = operation({
  operationId: 'ready',
  tags: ['Health'],
  summary: 'The database is reachable and migrated',
  description: 'Answers 503 service-unavailable while the database is unreachable or not migrated.',
  auth: 'none',
  responses: { 200: { description: 'Ready to serve.', schema: Readiness, example: { status: 'ready', database: 'postgres' } } },
});

const getProblemType = operation({
  operationId: 'getProblemType',
  tags: ['Health'],
  summary: 'What a problem type means',
  auth: 'none',
  params: { type: "A problem type: the last segment of a problem's type URI." },
  responses: {
    200: {
      description: 'The type, its status and title.',
      schema: ProblemTypeInfo,
      example: { type: '/problems/duplicate-order', ...PROBLEMS['duplicate-order'] },
    },
  },
  problems: { 'not-found': 'No such problem type.' },
});

/** Liveness, readiness, the OpenAPI and AsyncAPI documents, the browsable reference and problem type descriptions. */
export async function healthRoutes(app: FastifyInstance, { db }: ApiContext): Promise<void> {
  app.get('/healthz', { schema: health }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: ready }, async (_request, reply) => {
    try {
      if (!(await isMigrated(db))) return sendProblem(reply, 'service-unavailable', 'Database migrations are not applied yet.');
      return { status: 'ready', database: db.kind };
    } catch {
      return sendProblem(reply, 'service-unavailable', 'The database is not reachable.');
    }
  });

  app.get('/openapi.json', hidden, async () => app.swagger());
  app.get('/asyncapi.json', hidden, async () => asyncApiDocument());
  app.get('/docs', hidden, async (_request, reply) => reply.type('text/html; charset=utf-8').send(DOCS_PAGE));
  app.get('/docs/assets/:file', hidden, async (request, reply) => {
    const { file } = request.params as { file: string };
    const type = SWAGGER_ASSETS[file];
    if (!type) return sendProblem(reply, 'not-found', `No asset ${file}.`);
    return reply.type(type).header('Cache-Control', 'public, max-age=86400').send(readFileSync(join(swaggerUiDir, file)));
  });

  app.get(`${PROBLEM_BASE}:type`, { schema: getProblemType }, async (request, reply) => {
    const { type } = request.params as { type: string };
    if (!isProblemType(type)) return sendProblem(reply, 'not-found', `No problem type ${type}.`);
    return { type: PROBLEM_BASE + type, ...PROBLEMS[type] };
  });
}

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { isMigrated } from '../../store/migrate.ts';
import type { ApiContext } from '../api-context.ts';
import { openApiDocument } from '../openapi.ts';
import { isProblemType, PROBLEMS, PROBLEM_BASE, sendProblem } from '../problem.ts';

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

/** Liveness, readiness, the OpenAPI document, the browsable reference and problem type descriptions. */
export async function healthRoutes(app: FastifyInstance, { db }: ApiContext): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    try {
      if (!(await isMigrated(db))) return sendProblem(reply, 'service-unavailable', 'Database migrations are not applied yet.');
      return { status: 'ready', database: db.kind };
    } catch {
      return sendProblem(reply, 'service-unavailable', 'The database is not reachable.');
    }
  });

  app.get('/openapi.json', async () => openApiDocument());
  app.get('/docs', async (_request, reply) => reply.type('text/html; charset=utf-8').send(DOCS_PAGE));
  app.get('/docs/assets/:file', async (request, reply) => {
    const { file } = request.params as { file: string };
    const type = SWAGGER_ASSETS[file];
    if (!type) return sendProblem(reply, 'not-found', `No asset ${file}.`);
    return reply.type(type).header('Cache-Control', 'public, max-age=86400').send(readFileSync(join(swaggerUiDir, file)));
  });

  app.get(`${PROBLEM_BASE}:type`, async (request, reply) => {
    const { type } = request.params as { type: string };
    if (!isProblemType(type)) return sendProblem(reply, 'not-found', `No problem type ${type}.`);
    return { type: PROBLEM_BASE + type, ...PROBLEMS[type] };
  });
}

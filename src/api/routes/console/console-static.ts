import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { ProblemError } from '../../problem.ts';

/**
 * Serves the built console (src/console, built by Vite into dist/console by the root `prepare`
 * script, which `npm ci` runs). The app navigates with the URL fragment, so only /console/ and
 * its hashed assets are files: no fallback routing, and nothing outside the folder can be named.
 */
export const CONSOLE_DIST = fileURLToPath(new URL('../../../../dist/console/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};
// Vite names assets by content hash: letters, digits, dash, underscore, one dot and the extension.
const ASSET = /^[A-Za-z0-9_-]{1,100}\.(js|css|svg|png|ico)$/;

async function builtFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch {
    throw new ProblemError('not-found', 'The console is not built here: run `npm ci` (or `npm run build:console`) in the Syncline folder.');
  }
}

/** GET /console/ (the page; /console too, as the router ignores a trailing slash) and /console/assets/:file. */
export function serveConsoleApp(app: FastifyInstance): void {
  const hidden = { schema: { hide: true } };
  app.get('/console/', hidden, async (_request, reply) => {
    const html = await builtFile(join(CONSOLE_DIST, 'index.html'));
    return reply.type(TYPES['.html']!).send(html);
  });
  app.get('/console/assets/:file', hidden, async (request, reply) => {
    const { file } = request.params as { file: string };
    if (!ASSET.test(file)) throw new ProblemError('not-found', `No console asset ${file}.`);
    const body = await builtFile(join(CONSOLE_DIST, 'assets', file));
    return reply
      .type(TYPES[extname(file)] ?? 'application/octet-stream')
      .header('Cache-Control', 'public, max-age=31536000, immutable')
      .send(body);
  });
}

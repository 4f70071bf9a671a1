import type { FastifySchema } from 'fastify';

/** What a route says about itself for the OpenAPI document; bodies are validated with zod in the handler. */
export interface RouteDoc {
  operationId: string;
  tags: string[];
  summary: string;
  security: Record<string, string[]>[];
}

/** A fastify `schema` option carrying only the route's OpenAPI facts (no JSON Schemas, so fastify validates nothing itself). */
export function routeDoc(doc: RouteDoc): { schema: FastifySchema } {
  // FastifySchema has no OpenAPI fields; fastify keeps the object as given on the route.
  return { schema: doc as FastifySchema };
}

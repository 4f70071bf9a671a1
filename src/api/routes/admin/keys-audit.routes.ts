import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { rotateSigningKey } from '../../../domain/clients/signing-keys.ts';
import { listAudit } from '../../../domain/audit/audit.ts';
import { isId } from '../../../model/ids.ts';
import type { ApiContext } from '../../api-context.ts';
import { authorize } from '../../auth/authorize.ts';
import { parseBody, parseQuery } from '../../validation.ts';
import { requestAuditContext } from './clients.routes.ts';
import { routeDoc } from './route-doc.ts';

const timestamp = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with a time zone' });
const Text = z.string().min(1).max(200);

const AuditQuery = z.strictObject({
  actor: Text.optional(),
  action: Text.optional(),
  targetType: Text.optional(),
  targetId: Text.optional(),
  from: timestamp.optional(),
  to: timestamp.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().refine((v) => isId('auditEvent', v), 'must be the next cursor of a previous page').optional(),
});

const doc = (operationId: string, summary: string) => routeDoc({ operationId, tags: ['admin'], summary, security: [{ oauth2: ['admin'] }] });

/** Signing key rotation and the audit trail, for administrators. */
export async function adminKeysAuditRoutes(app: FastifyInstance, { db, tokens, access }: ApiContext): Promise<void> {
  const isAdmin = authorize(tokens, 'admin');

  app.post('/v1/admin/keys/rotate', { preHandler: isAdmin, ...doc('rotateSigningKey', 'Rotate the token signing key; older keys verify until their tokens expire') }, async (request, reply) => {
    parseBody(z.strictObject({}).optional(), request.body ?? undefined);
    const key = await rotateSigningKey(db, requestAuditContext(request));
    await access.refresh();
    return reply.code(201).send(key);
  });

  app.get('/v1/admin/audit', { preHandler: isAdmin, ...doc('listAuditEvents', 'Audit trail of administrative and operational actions, newest first') }, async (request) => {
    const { limit, cursor, ...filter } = parseQuery(AuditQuery, request.query);
    return listAudit(db, filter, { limit, cursor });
  });
}

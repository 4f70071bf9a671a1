import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { rotateSigningKey } from '../../../domain/clients/signing-keys.ts';
import { AUDIT_ACTIONS, listAudit } from '../../../domain/audit/audit.ts';
import { isId } from '../../../model/ids.ts';
import type { ApiContext } from '../../api-context.ts';
import { operation } from '../../route-kit.ts';
import { EmptyBody, parseBody, parseQuery, Timestamp } from '../../validation.ts';
import { requestAuditContext } from './clients.routes.ts';

const Text = z.string().min(1).max(200);

export const AuditQuery = z.strictObject({
  actor: Text.optional().meta({ description: 'client:<client id> or cli:<OS user>.' }),
  action: Text.optional().meta({ description: `One action, e.g. client.disabled; the actions: ${AUDIT_ACTIONS.join(', ')}.` }),
  targetType: Text.optional().meta({ description: 'client, signing_key, dead_letter or order.' }),
  targetId: Text.optional(),
  from: Timestamp.optional().meta({ description: 'Events at or after this time.' }),
  to: Timestamp.optional().meta({ description: 'Events before this time.' }),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z
    .string()
    .refine((v) => isId('auditEvent', v), 'must be the next cursor of a previous page')
    .optional()
    .meta({ description: 'The next of the previous page.' }),
});

const SigningKey = z
  .object({ kid: z.string().meta({ description: 'Key id, in the header of every token it signs.' }), createdAt: z.string() })
  .meta({ id: 'SigningKey', description: 'A signing key (never its secret).' });
const AuditEvent = z
  .object({
    id: z.string(),
    occurredAt: z.string(),
    actor: z.string().meta({ description: 'client:<client id> or cli:<OS user>.' }),
    action: z.string().meta({ description: `One of ${AUDIT_ACTIONS.join(', ')}.` }),
    targetType: z.string(),
    targetId: z.string(),
    details: z.record(z.string(), z.unknown()).meta({ description: 'Ids, scopes, limits and counts; never secrets or personal data.' }),
    correlationId: z.string().nullable(),
  })
  .meta({ id: 'AuditEvent', description: 'Who did what to which target, when, under which correlation id.' });

const rotateKey = operation({
  operationId: 'rotateSigningKey',
  tags: ['Admin'],
  summary: 'Rotate the token signing key; older keys verify until their tokens expire',
  description: 'The new key signs every token from now on, in every API process once notified. Audited as signing_key.rotated.',
  auth: 'admin',
  body: { schema: EmptyBody, example: {}, required: false },
  responses: { 201: { description: 'The new signing key.', schema: SigningKey, example: { kid: 'k-20261122-q8x7m2v3', createdAt: '2026-11-22T12:00:00.000Z' } } },
});

const listAuditEvents = operation({
  operationId: 'listAuditEvents',
  tags: ['Admin'],
  summary: 'Audit trail of administrative and operational actions, newest first',
  description: 'Filters combine; pass next as cursor to read the following page.',
  auth: 'admin',
  query: AuditQuery,
  responses: {
    200: {
      description: 'A page of audit events; next is null on the last page.',
      schema: z.object({ items: z.array(AuditEvent), next: z.string().nullable() }).meta({ id: 'AuditPage' }),
      example: {
        items: [
          {
            id: 'aud_01jd5q8x7m2v3k4n5p6r7s8t9w',
            occurredAt: '2026-11-22T12:00:00.000Z',
            actor: 'client:cli_01jd5q8x7m2v3k4n5p6r7s8ta1',
            action: 'client.disabled',
            targetType: 'client',
            targetId: 'cli_01jd5q8x7m2v3k4n5p6r7s8t9w',
            details: {},
            correlationId: '01JD5Q8X7M2V3K4N5P6R7S8T9W',
          },
        ],
        next: null,
      },
    },
  },
});

/** Signing key rotation and the audit trail, for administrators. */
export async function adminKeysAuditRoutes(app: FastifyInstance, { db, tokens, access }: ApiContext): Promise<void> {

  app.post('/v1/admin/keys/rotate', { schema: rotateKey }, async (request, reply) => {
    parseBody(EmptyBody, request.body ?? undefined);
    const key = await rotateSigningKey(db, requestAuditContext(request));
    await access.refresh();
    return reply.code(201).send(key);
  });

  app.get('/v1/admin/audit', { schema: listAuditEvents }, async (request) => {
    const { limit, cursor, ...filter } = parseQuery(AuditQuery, request.query);
    return listAudit(db, filter, { limit, cursor });
  });
}

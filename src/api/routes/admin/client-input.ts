import { z } from 'zod';
import { DEFAULT_SECRET_GRACE_MS, MAX_SECRET_GRACE_MS, parseDuration } from '../../../domain/clients/client.service.ts';
import { isScope, SCOPES, type Scope } from '../../../domain/clients/scopes.ts';

/**
 * What an administrator sends to create, change or rotate an API client, shared by
 * /v1/admin/clients and the console's /console/api/admin/clients so that both accept exactly
 * what the CLI accepts (scopes from the catalogue, a rate limit from 1, a grace up to 30 days).
 */

const ScopeList = z
  .array(z.string().refine(isScope, `must be one of ${SCOPES.join(', ')}`).meta({ description: `One of ${SCOPES.join(', ')}.` }))
  .min(1)
  .max(SCOPES.length)
  .transform((scopes) => [...new Set(scopes)] as Scope[]);
const Name = z.string().trim().min(1).max(200);

const RateLimit = z
  .number()
  .int()
  .min(1)
  .max(100_000_000)
  .nullable()
  .meta({ description: 'Requests per rate window (SYNCLINE_CLIENT_RATE_WINDOW_SECONDS); null: the deployment default (SYNCLINE_CLIENT_RATE_LIMIT).' });

export const CreateBody = z
  .strictObject({ name: Name, scopes: ScopeList, rateLimit: RateLimit.optional() })
  .meta({ id: 'ClientCreateRequest', description: 'A new API client: a name for people, its scopes and optionally its own rate limit.' });
export const UpdateBody = z
  .strictObject({ name: Name.optional(), scopes: ScopeList.optional(), rateLimit: RateLimit.optional() })
  .refine((b) => b.name !== undefined || b.scopes !== undefined || b.rateLimit !== undefined, { message: 'name at least one of name, scopes, rateLimit' })
  .meta({ id: 'ClientUpdateRequest', description: 'What to change; at least one field. Scopes replace the current ones.' });
export const RotateBody = z
  .strictObject({
    grace: z
      .string()
      .refine((v) => parseDuration(v) !== undefined, 'must be a duration such as 30s, 15m, 24h or 7d')
      .refine((v) => (parseDuration(v) ?? 0) <= MAX_SECRET_GRACE_MS, 'must be at most 30d')
      .optional()
      .meta({ description: 'How long the old secret keeps working, e.g. 30s, 15m, 24h or 7d (default: 24h, at most 30d).' }),
  })
  .optional()
  .meta({ id: 'ClientSecretRotationRequest' });

/** The grace of a rotation request in milliseconds (default: 24 hours). */
export function graceOf(body: z.output<typeof RotateBody>): number {
  return body?.grace ? parseDuration(body.grace)! : DEFAULT_SECRET_GRACE_MS;
}

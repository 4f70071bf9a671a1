import { createHash, randomBytes } from 'node:crypto';
import type { Database } from '../../store/database.ts';
import { hasActiveSigningKey, insertSigningKey, loadSigningKeys, notifyAccessChange } from '../../store/clients/access-queries.ts';
import { recordAudit, type AuditContext } from '../audit/audit.ts';

/**
 * Access-token signing keys. Each has a `kid` carried in the token header; the newest key
 * that is not retired signs, retired keys verify until their tokens have expired.
 * A key given in SYNCLINE_JWT_SECRET is listed by its kid only (its secret stays in the
 * configuration): it signs from the first start that sees it until the next rotation.
 */
const SIGNING_KEY_LOCK = 7_305_311_003;

/** The kid of a configured secret: a digest, so the secret itself is never stored or shown. */
export function configuredKeyId(secret: string): string {
  return `cfg-${createHash('sha256').update(secret, 'utf8').digest('base64url').slice(0, 16)}`;
}

function newKeyId(): string {
  return `k-${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(6).toString('base64url')}`;
}

/** Makes sure a key can sign: registers the configured one, or creates the first key. */
export async function ensureSigningKey(db: Database, configuredSecret: string | undefined): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [SIGNING_KEY_LOCK]);
    if (configuredSecret) {
      if (await insertSigningKey(tx, { kid: configuredKeyId(configuredSecret), secret: null, configured: true }, true)) await notifyAccessChange(tx, 'keys');
      return;
    }
    if (!(await hasActiveSigningKey(tx))) await insertSigningKey(tx, { kid: newKeyId(), secret: randomBytes(48).toString('base64url'), configured: false });
  });
}

/** Creates a new signing key that signs from now on; the previous keys keep verifying. Audited. */
export async function rotateSigningKey(db: Database, who: AuditContext): Promise<{ kid: string; createdAt: string }> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [SIGNING_KEY_LOCK]);
    const kid = newKeyId();
    await insertSigningKey(tx, { kid, secret: randomBytes(48).toString('base64url'), configured: false });
    await recordAudit(tx, who, { action: 'signing_key.rotated', targetType: 'signing_key', targetId: kid });
    await notifyAccessChange(tx, 'keys');
    return { kid, createdAt: new Date().toISOString() };
  });
}

/** The keys that still sign or verify (retired within `verifyForMs`), newest first: ids and ages, never a secret. */
export async function listSigningKeys(db: Database, verifyForMs: number): Promise<{ kid: string; configured: boolean; createdAt: string; retiredAt: string | null }[]> {
  return (await loadSigningKeys(db, verifyForMs)).map((k) => ({ kid: k.kid, configured: k.configured, createdAt: k.createdAt.toISOString(), retiredAt: k.retiredAt ? k.retiredAt.toISOString() : null }));
}

import type { Database } from '../../store/database.ts';
import { insertRevocation, notifyAccessChange } from '../../store/clients/access-queries.ts';
import { recordAudit, type AuditContext } from '../audit/audit.ts';

/** The notification that tells every API process of a revocation without a reload. */
export function revocationNotice(jti: string, expiresAt: Date): string {
  return `revoke ${jti} ${expiresAt.getTime()}`;
}

/** Parses a revocation notice; undefined for any other notice. */
export function parseRevocationNotice(payload: string): { jti: string; expiresAt: number } | undefined {
  const match = /^revoke (\S+) (\d+)$/.exec(payload);
  return match ? { jti: match[1]!, expiresAt: Number(match[2]) } : undefined;
}

/** Revokes an access token (RFC 7009) until it expires, audited; every API process is told at commit. */
export async function revokeToken(db: Database, token: { jti: string; clientId: string; expiresAt: Date }, who: AuditContext): Promise<void> {
  await db.transaction(async (tx) => {
    await insertRevocation(tx, token);
    await recordAudit(tx, who, { action: 'token.revoked', targetType: 'client', targetId: token.clientId, details: { jti: token.jti } });
    await notifyAccessChange(tx, revocationNotice(token.jti, token.expiresAt));
  });
}

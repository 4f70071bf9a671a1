import type { Queryable } from '../database.ts';

/**
 * What every API process keeps in memory to accept or refuse a token without a query per
 * request: client states, revoked token ids and signing keys. A change is announced on
 * ACCESS_CHANNEL in the writing transaction, so listeners hear of it once it commits.
 */
export const ACCESS_CHANNEL = 'syncline_access';

export interface ClientState {
  id: string;
  disabled: boolean;
  rateLimit: number | null;
}

export interface SigningKeyRow {
  kid: string;
  /** Null for a key from SYNCLINE_JWT_SECRET: its secret is in the configuration. */
  secret: string | null;
  configured: boolean;
  createdAt: Date;
  retiredAt: Date | null;
}

export async function loadClientStates(db: Queryable): Promise<ClientState[]> {
  const result = await db.query<{ id: string; disabled: boolean; rate_limit: number | null }>(
    'SELECT id, disabled_at IS NOT NULL AS disabled, rate_limit FROM api_client',
  );
  return result.rows.map((row) => ({ id: row.id, disabled: row.disabled, rateLimit: row.rate_limit }));
}

/** Revoked token ids that have not expired yet, with their expiry. */
export async function loadRevocations(db: Queryable): Promise<{ jti: string; expiresAt: Date }[]> {
  const result = await db.query<{ jti: string; expires_at: Date }>('SELECT jti, expires_at FROM api_token_revocation WHERE expires_at > now()');
  return result.rows.map((row) => ({ jti: row.jti, expiresAt: new Date(row.expires_at) }));
}

/** Records a revocation (idempotent) and drops revocations of tokens that expired since. */
export async function insertRevocation(db: Queryable, revocation: { jti: string; clientId: string; expiresAt: Date }): Promise<void> {
  await db.query('INSERT INTO api_token_revocation (jti, client_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING', [
    revocation.jti,
    revocation.clientId,
    revocation.expiresAt,
  ]);
  await db.query("DELETE FROM api_token_revocation WHERE expires_at < now() - interval '1 hour'");
}

/** Keys still usable: not retired, or retired less than verifyForMs ago. Newest first. */
export async function loadSigningKeys(db: Queryable, verifyForMs: number): Promise<SigningKeyRow[]> {
  const result = await db.query<{ kid: string; secret: string | null; configured: boolean; created_at: Date; retired_at: Date | null }>(
    `SELECT kid, secret, configured, created_at, retired_at FROM api_signing_key
      WHERE retired_at IS NULL OR retired_at > now() - $1 * interval '1 millisecond'
      ORDER BY created_at DESC, kid DESC`,
    [verifyForMs],
  );
  return result.rows.map((row) => ({
    kid: row.kid,
    secret: row.secret,
    configured: row.configured,
    createdAt: new Date(row.created_at),
    retiredAt: row.retired_at && new Date(row.retired_at),
  }));
}

/**
 * Adds a signing key that signs from now on and retires the keys before it. With
 * onlyIfMissing, nothing happens when a key with that kid exists (a configured key).
 */
export async function insertSigningKey(db: Queryable, key: { kid: string; secret: string | null; configured: boolean }, onlyIfMissing = false): Promise<boolean> {
  const inserted = await db.query(
    'INSERT INTO api_signing_key (kid, secret, configured) VALUES ($1, $2, $3) ON CONFLICT (kid) DO NOTHING',
    [key.kid, key.secret, key.configured],
  );
  if (inserted.rowCount === 0) {
    if (onlyIfMissing) return false;
    throw new Error(`signing key ${key.kid} exists already`);
  }
  await db.query('UPDATE api_signing_key SET retired_at = clock_timestamp() WHERE kid <> $1 AND retired_at IS NULL', [key.kid]);
  // Keys retired longer ago than any token lives (the longest TTL is a day) verify nothing more.
  await db.query("DELETE FROM api_signing_key WHERE retired_at < now() - interval '2 days'");
  return true;
}

/** True when at least one key can sign. */
export async function hasActiveSigningKey(db: Queryable): Promise<boolean> {
  const result = await db.query('SELECT 1 FROM api_signing_key WHERE retired_at IS NULL LIMIT 1');
  return result.rowCount > 0;
}

/** Tells every API process (once the transaction commits) that access data changed. */
export async function notifyAccessChange(db: Queryable, payload: string): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [ACCESS_CHANNEL, payload]);
}

import type { Queryable } from '../database.ts';

export interface ClientRecord {
  id: string;
  name: string;
  secretHash: string;
  scopes: string[];
  disabled: boolean;
  /** Requests per rate window; null means the deployment default. */
  rateLimit: number | null;
  /** The secret before the last rotation, accepted until previousSecretExpiresAt. */
  previousSecretHash: string | null;
  previousSecretExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

interface ClientRow {
  id: string;
  name: string;
  secret_hash: string;
  scopes: string[];
  disabled_at: Date | null;
  rate_limit: number | null;
  previous_secret_hash: string | null;
  previous_secret_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, name, secret_hash, scopes, disabled_at, rate_limit, previous_secret_hash, previous_secret_expires_at, created_at, updated_at';

function toRecord(row: ClientRow): ClientRecord {
  return {
    id: row.id,
    name: row.name,
    secretHash: row.secret_hash,
    scopes: row.scopes,
    disabled: row.disabled_at !== null,
    rateLimit: row.rate_limit,
    previousSecretHash: row.previous_secret_hash,
    previousSecretExpiresAt: row.previous_secret_expires_at && new Date(row.previous_secret_expires_at),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export async function findClient(db: Queryable, id: string): Promise<ClientRecord | undefined> {
  const result = await db.query<ClientRow>(`SELECT ${COLUMNS} FROM api_client WHERE id = $1`, [id]);
  return result.rows[0] && toRecord(result.rows[0]);
}

/** Every client, oldest first (a deployment has tens of clients, not thousands). */
export async function listClients(db: Queryable): Promise<ClientRecord[]> {
  const result = await db.query<ClientRow>(`SELECT ${COLUMNS} FROM api_client ORDER BY created_at, id`);
  return result.rows.map(toRecord);
}

/** Inserts a client, or replaces secret and scopes of the client with that id (and enables it). */
export async function upsertClient(db: Queryable, client: { id: string; name: string; secretHash: string; scopes: string[]; rateLimit?: number | null }): Promise<void> {
  await db.query(
    `INSERT INTO api_client (id, name, secret_hash, scopes, rate_limit) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (id) DO UPDATE SET name = excluded.name, secret_hash = excluded.secret_hash,
                                    scopes = excluded.scopes, disabled_at = NULL, updated_at = now()`,
    [client.id, client.name, client.secretHash, client.scopes, client.rateLimit ?? null],
  );
}

/** Changes name, scopes and/or rate limit (null: back to the default); undefined leaves a field. */
export async function updateClient(
  db: Queryable,
  id: string,
  change: { name?: string; scopes?: string[]; rateLimit?: number | null },
): Promise<ClientRecord | undefined> {
  const result = await db.query<ClientRow>(
    `UPDATE api_client SET name = coalesce($2, name), scopes = coalesce($3, scopes),
            rate_limit = CASE WHEN $4 THEN $5::integer ELSE rate_limit END, updated_at = now()
      WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, change.name ?? null, change.scopes ?? null, change.rateLimit !== undefined, change.rateLimit ?? null],
  );
  return result.rows[0] && toRecord(result.rows[0]);
}

/** Disables or enables a client; undefined when there is no such client. */
export async function setClientDisabled(db: Queryable, id: string, disabled: boolean): Promise<ClientRecord | undefined> {
  const result = await db.query<ClientRow>(
    `UPDATE api_client SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END, updated_at = now()
      WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, disabled],
  );
  return result.rows[0] && toRecord(result.rows[0]);
}

/** Replaces the secret; the current one becomes the previous secret, accepted for graceMs more. */
export async function rotateClientSecret(db: Queryable, id: string, secretHash: string, graceMs: number): Promise<ClientRecord | undefined> {
  const result = await db.query<ClientRow>(
    `UPDATE api_client SET previous_secret_hash = CASE WHEN $3 > 0 THEN secret_hash END,
            previous_secret_expires_at = CASE WHEN $3 > 0 THEN now() + $3 * interval '1 millisecond' END,
            secret_hash = $2, updated_at = now()
      WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, secretHash, graceMs],
  );
  return result.rows[0] && toRecord(result.rows[0]);
}

export async function countClients(db: Queryable): Promise<number> {
  const result = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM api_client');
  return result.rows[0]?.n ?? 0;
}

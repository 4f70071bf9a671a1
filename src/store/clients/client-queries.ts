import type { Queryable } from '../database.ts';

export interface ClientRecord {
  id: string;
  name: string;
  secretHash: string;
  scopes: string[];
  disabled: boolean;
}

export async function findClient(db: Queryable, id: string): Promise<ClientRecord | undefined> {
  const result = await db.query<{ id: string; name: string; secret_hash: string; scopes: string[]; disabled_at: unknown }>(
    'SELECT id, name, secret_hash, scopes, disabled_at FROM api_client WHERE id = $1',
    [id],
  );
  const row = result.rows[0];
  return row && { id: row.id, name: row.name, secretHash: row.secret_hash, scopes: row.scopes, disabled: row.disabled_at !== null };
}

/** Inserts a client, or replaces secret and scopes of the client with that id. */
export async function upsertClient(db: Queryable, client: Omit<ClientRecord, 'disabled'>): Promise<void> {
  await db.query(
    `INSERT INTO api_client (id, name, secret_hash, scopes) VALUES ($1, $2, $3, $4)
     ON CONFLICT (id) DO UPDATE SET name = excluded.name, secret_hash = excluded.secret_hash,
                                    scopes = excluded.scopes, disabled_at = NULL`,
    [client.id, client.name, client.secretHash, client.scopes],
  );
}

export async function countClients(db: Queryable): Promise<number> {
  const result = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM api_client');
  return result.rows[0]?.n ?? 0;
}

/** Returns the named secret, creating it with `generate()` if this is the first process to ask. */
export async function getOrCreateSecret(db: Queryable, name: string, generate: () => string): Promise<string> {
  await db.query('INSERT INTO system_secret (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, generate()]);
  const result = await db.query<{ value: string }>('SELECT value FROM system_secret WHERE name = $1', [name]);
  return result.rows[0]!.value;
}

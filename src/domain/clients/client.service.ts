import { writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Database, Queryable } from '../../store/database.ts';
import { countClients, findClient, upsertClient, type ClientRecord } from '../../store/clients/client-queries.ts';
import { newId } from '../../model/ids.ts';
import { generateSecret, hashSecret, verifySecret } from './secret-hash.ts';
import type { Scope } from './scopes.ts';

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  name: string;
  scopes: Scope[];
}

/** Creates an API client with a generated secret (returned once, stored only as a hash). */
export async function createClient(
  db: Queryable,
  input: { name: string; scopes: Scope[]; clientId?: string; clientSecret?: string },
): Promise<ClientCredentials> {
  const clientId = input.clientId ?? newId('client');
  const clientSecret = input.clientSecret ?? generateSecret();
  await upsertClient(db, { id: clientId, name: input.name, secretHash: await hashSecret(clientSecret), scopes: input.scopes });
  return { clientId, clientSecret, name: input.name, scopes: input.scopes };
}

/** The client when id and secret match an enabled client; undefined otherwise. */
export async function authenticateClient(db: Queryable, clientId: string, clientSecret: string): Promise<ClientRecord | undefined> {
  const client = await findClient(db, clientId);
  if (!client || client.disabled) {
    // Spend the same time as a real check so that response time does not reveal which client ids exist.
    await verifySecret(clientSecret, 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    return undefined;
  }
  return (await verifySecret(clientSecret, client.secretHash)) ? client : undefined;
}

const BOOTSTRAP_LOCK_KEY = 7_305_311_002;
export const BOOTSTRAP_FILE = 'bootstrap-client.json';

/**
 * The credentials file of a database: `bootstrap-client.json` for the embedded one,
 * `bootstrap-client.<host>-<port>-<database>.json` for a PostgreSQL server, so that starting
 * on another database from the same folder never overwrites the first one's credentials.
 */
export function bootstrapFileName(databaseUrl: string | undefined): string {
  if (!databaseUrl) return BOOTSTRAP_FILE;
  const url = new URL(databaseUrl);
  const safe = (text: string) => text.replace(/[^A-Za-z0-9._-]+/g, '_');
  // libpq's defaults: port 5432, database named after the user.
  const host = url.hostname.replace(/^\[|\]$/g, '') || 'localhost';
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || decodeURIComponent(url.username) || 'postgres';
  return `bootstrap-client.${safe(host)}-${url.port || '5432'}-${safe(database)}.json`;
}

export type BootstrapOutcome =
  | { kind: 'configured'; clientId: string }
  | { kind: 'created'; clientId: string; file: string }
  | { kind: 'existing' };

/**
 * Makes sure an admin client exists. With configured credentials, that client is
 * (re)written; otherwise the first start creates one and writes its credentials to
 * <dataDir>/<bootstrapFileName(databaseUrl)> (mode 0600) before the creation commits, so
 * they cannot be lost.
 */
export async function ensureBootstrapClient(
  db: Database,
  options: { dataDir: string; databaseUrl: string | undefined; configured: { id: string; secret: string } | undefined },
): Promise<BootstrapOutcome> {
  if (options.configured) {
    await createClient(db, { name: 'bootstrap admin', scopes: ['admin'], clientId: options.configured.id, clientSecret: options.configured.secret });
    return { kind: 'configured', clientId: options.configured.id };
  }
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK_KEY]);
    if ((await countClients(tx)) > 0) return { kind: 'existing' } as const;
    const credentials = await createClient(tx, { name: 'bootstrap admin', scopes: ['admin'] });
    mkdirSync(options.dataDir, { recursive: true });
    const file = join(options.dataDir, bootstrapFileName(options.databaseUrl));
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify({ ...credentials, tokenUrl: '/oauth/token' }, null, 2) + '\n', { mode: 0o600 });
    renameSync(temporary, file);
    return { kind: 'created', clientId: credentials.clientId, file } as const;
  });
}

import { writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Database, Queryable } from '../../store/database.ts';
import {
  countClients,
  findClient,
  listClients,
  rotateClientSecret as storeRotatedSecret,
  setClientDisabled,
  updateClient,
  upsertClient,
  type ClientRecord,
} from '../../store/clients/client-queries.ts';
import { notifyAccessChange } from '../../store/clients/access-queries.ts';
import { newId } from '../../model/ids.ts';
import { recordAudit, type AuditContext } from '../audit/audit.ts';
import { generateSecret, hashSecret, verifySecret } from './secret-hash.ts';
import type { Scope } from './scopes.ts';

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  name: string;
  scopes: Scope[];
}

/** What may be shown of a client: never its secret or the secret's hash. */
export interface ClientView {
  clientId: string;
  name: string;
  scopes: string[];
  status: 'enabled' | 'disabled';
  /** Requests per rate window; null: the deployment default. */
  rateLimit: number | null;
  /** Until when the secret before the last rotation is still accepted (null: it is not). */
  previousSecretValidUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The client with that id does not exist. */
export type ClientNotFound = { kind: 'not-found' };

/** Default grace of the old secret after a rotation: 24 hours. */
export const DEFAULT_SECRET_GRACE_MS = 24 * 60 * 60 * 1000;
/** Longest grace accepted: 30 days. */
export const MAX_SECRET_GRACE_MS = 30 * 24 * 60 * 60 * 1000;

/** Parses a duration such as `90s`, `15m`, `24h`, `7d` or `500ms` into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,9})(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

function view(client: ClientRecord, now = Date.now()): ClientView {
  const graceEnds = client.previousSecretHash && client.previousSecretExpiresAt && client.previousSecretExpiresAt.getTime() > now ? client.previousSecretExpiresAt : null;
  return {
    clientId: client.id,
    name: client.name,
    scopes: client.scopes,
    status: client.disabled ? 'disabled' : 'enabled',
    rateLimit: client.rateLimit,
    previousSecretValidUntil: graceEnds ? graceEnds.toISOString() : null,
    createdAt: client.createdAt.toISOString(),
    updatedAt: client.updatedAt.toISOString(),
  };
}

/** Creates an API client with a generated secret (returned once, stored only as a hash). */
export async function createClient(
  db: Queryable,
  input: { name: string; scopes: Scope[]; clientId?: string; clientSecret?: string; rateLimit?: number | null },
): Promise<ClientCredentials> {
  const clientId = input.clientId ?? newId('client');
  const clientSecret = input.clientSecret ?? generateSecret();
  await upsertClient(db, { id: clientId, name: input.name, secretHash: await hashSecret(clientSecret), scopes: input.scopes, rateLimit: input.rateLimit });
  return { clientId, clientSecret, name: input.name, scopes: input.scopes };
}

/** The client when id and secret (or the previous secret, within its grace) match an enabled client; undefined otherwise. */
export async function authenticateClient(db: Queryable, clientId: string, clientSecret: string): Promise<ClientRecord | undefined> {
  const client = await findClient(db, clientId);
  // An unknown or disabled client is refused without hashing: the answer is the same as for a
  // wrong secret, and guessing ids costs the attacker a throttled request, not us a hash.
  if (!client || client.disabled) return undefined;
  if (await verifySecret(clientSecret, client.secretHash)) return client;
  const inGrace = client.previousSecretHash && client.previousSecretExpiresAt && client.previousSecretExpiresAt.getTime() > Date.now();
  return inGrace && (await verifySecret(clientSecret, client.previousSecretHash!)) ? client : undefined;
}

/** Every client, oldest first, without secrets. */
export async function listClientViews(db: Queryable): Promise<ClientView[]> {
  return (await listClients(db)).map((client) => view(client));
}

/** One client without its secret, or undefined. */
export async function showClient(db: Queryable, clientId: string): Promise<ClientView | undefined> {
  const client = await findClient(db, clientId);
  return client && view(client);
}

/** Creates a client, audited; the secret is in the result and nowhere else. */
export async function registerClient(
  db: Database,
  input: { name: string; scopes: Scope[]; rateLimit?: number | null },
  who: AuditContext,
): Promise<{ credentials: ClientCredentials; client: ClientView }> {
  const secret = generateSecret();
  const secretHash = await hashSecret(secret);
  return db.transaction(async (tx) => {
    const clientId = newId('client');
    await upsertClient(tx, { id: clientId, name: input.name, secretHash, scopes: input.scopes, rateLimit: input.rateLimit ?? null });
    await recordAudit(tx, who, { action: 'client.created', targetType: 'client', targetId: clientId, details: { scopes: input.scopes, rateLimit: input.rateLimit ?? null } });
    await notifyAccessChange(tx, `client ${clientId}`);
    const client = view((await findClient(tx, clientId))!);
    return { credentials: { clientId, clientSecret: secret, name: input.name, scopes: input.scopes }, client };
  });
}

/** Changes a client's name, scopes or rate limit (null: the default), audited. */
export async function changeClient(
  db: Database,
  clientId: string,
  change: { name?: string; scopes?: Scope[]; rateLimit?: number | null },
  who: AuditContext,
): Promise<ClientView | ClientNotFound> {
  return db.transaction(async (tx) => {
    const updated = await updateClient(tx, clientId, change);
    if (!updated) return { kind: 'not-found' } as const;
    // The name is free text chosen by an operator: recorded only as "changed".
    const details = { ...(change.scopes ? { scopes: change.scopes } : {}), ...(change.rateLimit !== undefined ? { rateLimit: change.rateLimit } : {}), ...(change.name ? { nameChanged: true } : {}) };
    await recordAudit(tx, who, { action: 'client.updated', targetType: 'client', targetId: clientId, details });
    await notifyAccessChange(tx, `client ${clientId}`);
    return view(updated);
  });
}

/** Disables or enables a client, audited; every API process refuses a disabled client's tokens once notified. */
export async function setClientEnabled(db: Database, clientId: string, enabled: boolean, who: AuditContext): Promise<ClientView | ClientNotFound> {
  return db.transaction(async (tx) => {
    const updated = await setClientDisabled(tx, clientId, !enabled);
    if (!updated) return { kind: 'not-found' } as const;
    await recordAudit(tx, who, { action: enabled ? 'client.enabled' : 'client.disabled', targetType: 'client', targetId: clientId });
    await notifyAccessChange(tx, `client ${clientId}`);
    return view(updated);
  });
}

/** Gives a client a new secret (returned once); the old one keeps working for graceMs. Audited. */
export async function rotateClientSecret(
  db: Database,
  clientId: string,
  graceMs: number,
  who: AuditContext,
): Promise<{ clientId: string; clientSecret: string; client: ClientView } | ClientNotFound> {
  const secret = generateSecret();
  const secretHash = await hashSecret(secret);
  return db.transaction(async (tx) => {
    const updated = await storeRotatedSecret(tx, clientId, secretHash, graceMs);
    if (!updated) return { kind: 'not-found' } as const;
    await recordAudit(tx, who, { action: 'client.secret_rotated', targetType: 'client', targetId: clientId, details: { graceSeconds: Math.round(graceMs / 1000) } });
    return { clientId, clientSecret: secret, client: view(updated) };
  });
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

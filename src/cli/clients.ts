import { parseArgs } from 'node:util';
import type { Config } from '../config/config.ts';
import { createLogger } from '../observability/logger.ts';
import { openDatabase } from '../syncline.ts';
import type { Database } from '../store/database.ts';
import {
  changeClient,
  DEFAULT_SECRET_GRACE_MS,
  listClientViews,
  MAX_SECRET_GRACE_MS,
  parseDuration,
  registerClient,
  rotateClientSecret,
  setClientEnabled,
  showClient,
  type ClientView,
} from '../domain/clients/client.service.ts';
import { parseScopes, SCOPES, type Scope } from '../domain/clients/scopes.ts';
import { cliActor, type AuditContext } from '../domain/audit/audit.ts';
import { rotateSigningKey } from '../domain/clients/signing-keys.ts';

export const CLIENTS_USAGE = `  clients list [--json]          API clients: id, name, status, scopes, rate limit (never secrets)
  clients show <id>              one client as JSON
  clients create --scopes <list> [--name <name>] [--rate-limit <n>]
                                 create an API client; prints its id and secret once
  clients update <id> [--scopes <list>] [--rate-limit <n>|default] [--name <name>]
                                 change scopes, rate limit (requests per window) or name
  clients disable <id>           refuse the client's tokens at once, in every API process
  clients enable <id>            accept the client again
  clients rotate-secret <id> [--grace <duration>]
                                 new secret, printed once; the old one works for the grace (default 24h)
  keys rotate                    new token signing key; older keys verify until their tokens expire
  (every change is audited as cli:<user>)`;

/** A wrong use of a clients, keys or console-users command; printed as one line, exit code 2. */
export class ClientsUsageError extends Error {}

export async function withDatabase<T>(config: Config, fn: (db: Database, who: AuditContext) => Promise<T>, options: { customerKeys?: boolean } = { customerKeys: false }): Promise<T> {
  const db = await openDatabase(config, createLogger('warn'), options);
  try {
    return await fn(db, { actor: cliActor(), correlationId: null });
  } finally {
    await db.close();
  }
}

function scopesOption(text: string): Scope[] {
  const { scopes, unknown } = parseScopes(text);
  if (unknown.length > 0) throw new ClientsUsageError(`unknown scope(s): ${unknown.join(', ')}; known scopes: ${SCOPES.join(', ')}`);
  if (scopes.length === 0) throw new ClientsUsageError('--scopes must name at least one scope');
  return scopes;
}

function rateLimitOption(text: string): number | null {
  if (text === 'default') return null;
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1) throw new ClientsUsageError(`--rate-limit must be a whole number of requests per window from 1, or "default" (got "${text}")`);
  return Number(text);
}

function oneId(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new ClientsUsageError(`${command} takes one client id, for example: syncline clients ${command} cli_01jd...`);
  return positionals[0]!;
}

function describe(client: ClientView): string {
  return [client.clientId, client.status, client.rateLimit ?? 'default', client.scopes.join(','), client.name].join('  ');
}

/** Runs `syncline clients <sub>`; prints its own errors and returns the exit code. */
export async function runClientsCommand(args: string[], config: Config): Promise<number> {
  return handleUsage('clients', () => clients(args, config));
}

/** Runs `syncline keys <sub>`. */
export async function runKeysCommand(args: string[], config: Config): Promise<number> {
  return handleUsage('keys', async () => {
    const [sub, ...rest] = args;
    if (sub !== 'rotate') throw new ClientsUsageError(`unknown keys command "${sub ?? ''}"; use: syncline keys rotate`);
    parseArgs({ args: rest, options: {}, strict: true });
    const key = await withDatabase(config, (db, who) => rotateSigningKey(db, who));
    console.log(`new signing key ${key.kid}; tokens signed with older keys stay valid until they expire`);
    return 0;
  });
}

export async function handleUsage(command: string, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof ClientsUsageError || (error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`syncline ${command}: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

async function clients(args: string[], config: Config): Promise<number> {
  const [sub, ...rest] = args;
  const notFound = (id: string) => {
    console.error(`syncline clients: no client with id ${id}`);
    return 1;
  };
  switch (sub) {
    case 'list': {
      const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' } }, strict: true });
      const items = await withDatabase(config, (db) => listClientViews(db));
      if (values.json) console.log(JSON.stringify(items, null, 2));
      else for (const client of items) console.log(describe(client));
      return 0;
    }
    case 'show': {
      const { positionals } = parseArgs({ args: rest, options: {}, allowPositionals: true, strict: true });
      const id = oneId(positionals, 'show');
      const client = await withDatabase(config, (db) => showClient(db, id));
      if (!client) return notFound(id);
      console.log(JSON.stringify(client, null, 2));
      return 0;
    }
    case 'create': {
      const { values } = parseArgs({ args: rest, options: { scopes: { type: 'string' }, name: { type: 'string' }, 'rate-limit': { type: 'string' } }, strict: true });
      if (!values.scopes) throw new ClientsUsageError('--scopes is required, for example --scopes orders:read,orders:write');
      const scopes = scopesOption(values.scopes);
      const rateLimit = values['rate-limit'] === undefined ? null : rateLimitOption(values['rate-limit']);
      const { credentials } = await withDatabase(config, (db, who) => registerClient(db, { name: values.name ?? 'api client', scopes, rateLimit }, who));
      console.log(JSON.stringify(credentials, null, 2));
      return 0;
    }
    case 'update': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { scopes: { type: 'string' }, name: { type: 'string' }, 'rate-limit': { type: 'string' } },
        allowPositionals: true,
        strict: true,
      });
      const id = oneId(positionals, 'update');
      const change = {
        ...(values.scopes !== undefined ? { scopes: scopesOption(values.scopes) } : {}),
        ...(values['rate-limit'] !== undefined ? { rateLimit: rateLimitOption(values['rate-limit']) } : {}),
        ...(values.name !== undefined ? { name: values.name } : {}),
      };
      if (Object.keys(change).length === 0) throw new ClientsUsageError('name what to change: --scopes, --rate-limit or --name');
      const result = await withDatabase(config, (db, who) => changeClient(db, id, change, who));
      if ('kind' in result) return notFound(id);
      console.log(describe(result));
      return 0;
    }
    case 'disable':
    case 'enable': {
      const { positionals } = parseArgs({ args: rest, options: {}, allowPositionals: true, strict: true });
      const id = oneId(positionals, sub);
      const result = await withDatabase(config, (db, who) => setClientEnabled(db, id, sub === 'enable', who));
      if ('kind' in result) return notFound(id);
      console.log(`${id} ${result.status}`);
      return 0;
    }
    case 'rotate-secret': {
      const { values, positionals } = parseArgs({ args: rest, options: { grace: { type: 'string' } }, allowPositionals: true, strict: true });
      const id = oneId(positionals, 'rotate-secret');
      const graceMs = values.grace === undefined ? DEFAULT_SECRET_GRACE_MS : parseDuration(values.grace);
      if (graceMs === undefined || graceMs > MAX_SECRET_GRACE_MS) throw new ClientsUsageError(`--grace must be a duration up to 30d such as 30s, 15m, 24h or 7d (got "${values.grace}")`);
      const result = await withDatabase(config, (db, who) => rotateClientSecret(db, id, graceMs, who));
      if ('kind' in result) return notFound(id);
      console.log(JSON.stringify({ clientId: id, clientSecret: result.clientSecret, previousSecretValidUntil: result.client.previousSecretValidUntil }, null, 2));
      return 0;
    }
    default:
      throw new ClientsUsageError(`unknown clients command "${sub ?? ''}"; use list, show, create, update, disable, enable or rotate-secret`);
  }
}

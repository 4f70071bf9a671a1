import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { createSandboxApp, installAnswerDelays, listenSandbox, type RunningSandbox, type SandboxListenOptions } from '../../kit/sandbox-app.ts';
import type { FaultRenderer } from '../../kit/faults.ts';
import { parseTrytonJson, TrytonDate, TrytonDateTime, type JsonRpcError } from '../tryton-wire.ts';
import { TrytonErp } from './tryton-erp.ts';
import { SUPPORTED_MODELS, TrytonForbidden, TrytonUserError, TrytonUserWarning, type ProductSeed, type Rec } from './tryton-data.ts';

/**
 * An emulator of a Tryton 6.0 server's JSON-RPC interface (POST /<database>/ with
 * {"id","method","params"}), for the calls Syncline makes. Wire facts and their
 * sources are in ../SOURCES.md; what is simplified is in ../README.md.
 */

export interface TrytonSandboxOptions extends SandboxListenOptions {
  /** Database name in the URL path (default: "syncline"). */
  database?: string;
  /** Login and password accepted by common.db.login (default: admin / admin). */
  login?: string;
  password?: string;
  /** Session inactivity timeout (default: 3600 s, as `[session] timeout` in the recorded setup). */
  sessionTimeoutSeconds?: number;
  products?: ProductSeed[];
}

export interface RunningTrytonSandbox extends RunningSandbox {
  erp: TrytonErp;
  database: string;
}

const SERVER_VERSION = '6.0.29';

// Faults look like what sits in front of a real trytond: a proxy's plain-text pages.
const renderFault: FaultRenderer = (_kind, status, message) => ({ contentType: 'text/plain; charset=utf-8', body: `${status} ${message}\n` });

type Domain = unknown[];

function compare(op: string, actual: unknown, expected: unknown): boolean {
  // Datetimes (create_date, write_date) compare by time; null is below every time, as in SQL it matches no comparison.
  if (expected instanceof TrytonDateTime && ['<', '<=', '>', '>='].includes(op)) {
    if (!(actual instanceof TrytonDateTime)) return false;
    const [a, b] = [actual.micros, expected.micros];
    return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
  }
  const text = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' && 'decimal' in (v as object) ? (v as { decimal: string }).decimal : String(v));
  const like = (pattern: unknown, insensitive: boolean) => {
    const source = String(pattern).replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%/g, '.*').replace(/_/g, '.');
    return new RegExp(`^${source}$`, insensitive ? 'i' : '').test(text(actual));
  };
  switch (op) {
    case '=':
      return actual === expected || (actual !== null && expected !== null && text(actual) === text(expected) && typeof expected !== 'boolean');
    case '!=':
      return !compare('=', actual, expected);
    case 'in':
      return Array.isArray(expected) && expected.some((e) => compare('=', actual, e));
    case 'not in':
      return !compare('in', actual, expected);
    case 'like':
      return like(expected, false);
    case 'ilike':
      return like(expected, true);
    case 'not like':
      return !like(expected, false);
    case 'not ilike':
      return !like(expected, true);
    case '<':
      return Number(text(actual)) < Number(text(expected));
    case '<=':
      return Number(text(actual)) <= Number(text(expected));
    case '>':
      return Number(text(actual)) > Number(text(expected));
    case '>=':
      return Number(text(actual)) >= Number(text(expected));
    default:
      throw new TrytonUserError(`Invalid domain operator "${op}".`);
  }
}

function matches(erp: TrytonErp, model: string, rec: Rec, domain: Domain, context: Record<string, unknown>): boolean {
  if (!Array.isArray(domain) || domain.length === 0) return true;
  if (typeof domain[0] === 'string' && (domain.length === 3 || domain.length === 4) && !['AND', 'OR'].includes(domain[0])) {
    const [field, op, value] = domain as [string, string, unknown];
    return erp.valuesAt(model, rec, field, context).some((actual) => {
      // A x2many field matches when any of its ids does.
      if (Array.isArray(actual)) return actual.some((a) => compare(op, a, value)) || (op === '=' && value === null && actual.length === 0);
      return compare(op, actual, value);
    });
  }
  const [head, ...rest] = domain;
  if (head === 'OR') return rest.some((clause) => matches(erp, model, rec, clause as Domain, context));
  const clauses = head === 'AND' ? rest : domain;
  return clauses.every((clause) => matches(erp, model, rec, clause as Domain, context));
}

/**
 * The records a domain can match: with a clause `[field, "=", text or number]` at its top level
 * (the domain's AND) on a field the ERP indexes, those the index gives; otherwise every record.
 */
function candidates(erp: TrytonErp, model: string, domain: Domain): Iterable<Rec> {
  if (Array.isArray(domain) && domain[0] !== 'OR' && !(typeof domain[0] === 'string' && domain[0] !== 'AND')) {
    for (const clause of domain[0] === 'AND' ? domain.slice(1) : domain) {
      if (!Array.isArray(clause) || (clause.length !== 3 && clause.length !== 4) || clause[1] !== '=') continue;
      const [field, , value] = clause as [unknown, string, unknown];
      if (typeof field !== 'string' || (typeof value !== 'string' && typeof value !== 'number')) continue;
      const found = erp.candidates(model, field, value);
      if (found) return found;
    }
  }
  return erp.table(model).values();
}

function search(erp: TrytonErp, model: string, domain: Domain, offset: number, limit: number | null, order: unknown, context: Record<string, unknown>): Rec[] {
  // Like Tryton, records with an `active` field are searched among the active ones unless the context says active_test: false.
  const activeOnly = context.active_test !== false;
  let records = [...candidates(erp, model, domain)].filter((rec) => !(activeOnly && 'active' in rec && !rec.active) && matches(erp, model, rec, domain, context));
  const orders: [string, string][] = Array.isArray(order) && order.length ? (order as [string, string][]) : [['id', 'ASC']];
  records = records.sort((a, b) => {
    for (const [field, direction] of orders) {
      // Dates order as dates (their ISO strings order alike); an empty value orders before any other.
      const key = (v: unknown) => (v instanceof TrytonDate ? v.toIsoDate() : v === null || v === undefined ? '' : v) as string | number;
      const av = key(erp.field(model, a, field, context));
      const bv = key(erp.field(model, b, field, context));
      if (av === bv) continue;
      const cmp = av < bv ? -1 : 1;
      return String(direction).toUpperCase().startsWith('DESC') ? -cmp : cmp;
    }
    return 0;
  });
  return records.slice(offset ?? 0, limit === null || limit === undefined ? undefined : (offset ?? 0) + limit);
}

function readFields(erp: TrytonErp, model: string, records: Rec[], fields: unknown, context: Record<string, unknown>): Record<string, unknown>[] {
  return records.map((rec) => {
    const view = erp.view(model, rec, context);
    if (!Array.isArray(fields) || fields.length === 0) {
      const { sale_origin: _internal, create_date: _created, ...all } = view;
      return all;
    }
    const out: Record<string, unknown> = { id: rec.id };
    for (const field of fields as string[]) {
      if (!(field in view)) throw new TrytonUserError(`Invalid field "${field}" on "${model}".`);
      out[field] = view[field] ?? null;
    }
    return out;
  });
}

const BUTTONS: Record<string, Record<string, (erp: TrytonErp, ids: number[], warnings: (name: string) => boolean) => unknown>> = {
  'sale.sale': {
    quote: (erp, ids, ack) => void erp.quote(ids, ack),
    confirm: (erp, ids, ack) => void erp.confirm(ids, ack),
    process: (erp, ids) => void erp.process(ids),
    cancel: (erp, ids) => void erp.cancel(ids),
  },
  'stock.shipment.out': {
    assign_try: (erp, ids) => erp.assignTry(ids),
    pick: (erp, ids) => void erp.pick(ids),
    pack: (erp, ids) => void erp.pack(ids),
    done: (erp, ids) => void erp.done(ids),
    cancel: (erp, ids) => void erp.cancelShipment(ids),
  },
  'stock.shipment.out.return': {
    receive: (erp, ids) => void erp.receiveReturn(ids),
    done: (erp, ids) => void erp.doneReturn(ids),
  },
  'account.invoice': {
    post: (erp, ids) => void erp.postInvoices(ids),
    cancel: (erp, ids) => void erp.cancelInvoices(ids),
  },
};

const UNAUTHORIZED_PAGE =
  '<!doctype html>\n<html lang=en>\n<title>401 Unauthorized</title>\n<h1>Unauthorized</h1>\n<p>The server could not verify that you are authorized to access the URL requested. You either supplied the wrong credentials (e.g. a bad password), or your browser doesn&#39;t understand how to supply the credentials required.</p>\n';

const GENERIC_METHODS = ['search', 'search_read', 'search_count', 'read', 'create', 'write'];

const RpcBody = z.object({ id: z.unknown(), method: z.string(), params: z.array(z.unknown()) });

/** Starts the Tryton sandbox. */
export async function startTrytonSandbox(options: TrytonSandboxOptions = {}): Promise<RunningTrytonSandbox> {
  const database = options.database ?? 'syncline';
  const login = options.login ?? 'admin';
  const password = options.password ?? 'admin';
  const timeoutMs = (options.sessionTimeoutSeconds ?? 3600) * 1000;
  const erp = new TrytonErp();
  if (options.products) erp.seedProducts(options.products);
  const sessions = new Map<string, { userId: number; login: string; lastUsed: number }>();
  const { app, faults } = createSandboxApp('tryton', { render: renderFault, log: options.log });
  // Per-method answer delays set through the admin API (PUT /_sandbox/delays).
  const methodDelays = installAnswerDelays(app, /^model\.[a-z_.]+$/);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, body === '' ? undefined : parseTrytonJson(String(body)));
    } catch {
      const error = new Error('Unable to read JSON request') as Error & { statusCode: number };
      error.statusCode = 400;
      done(error, undefined);
    }
  });

  /** The user id of a valid `Authorization: Session base64(login:uid:session)`, else undefined. */
  const authenticate = (request: FastifyRequest): number | undefined => {
    const header = request.headers.authorization;
    if (!header?.startsWith('Session ')) return undefined;
    const [user, uid, token] = Buffer.from(header.slice(8), 'base64').toString('utf8').split(':');
    const session = token ? sessions.get(token) : undefined;
    if (!session || session.login !== user || String(session.userId) !== uid) return undefined;
    if (Date.now() - session.lastUsed > timeoutMs) {
      sessions.delete(token!);
      return undefined;
    }
    session.lastUsed = Date.now();
    return session.userId;
  };

  const forbidden = (reply: FastifyReply) =>
    reply
      .code(403)
      .type('text/html; charset=utf-8')
      .send('<!doctype html>\n<html lang=en>\n<title>403 Forbidden</title>\n<h1>Forbidden</h1>\n<p>You don&#39;t have the permission to access the requested resource. It is either read-protected or not readable by the server.</p>\n');

  const dispatch = (method: string, params: unknown[], userId: number): unknown => {
    const context = (params.at(-1) && typeof params.at(-1) === 'object' && !Array.isArray(params.at(-1)) ? params.at(-1) : {}) as Record<string, unknown>;
    if (method === 'common.db.logout') return null;
    if (method === 'model.res.user.get_preferences') {
      return { id: userId, login, name: 'Administrator', company: 1, companies: [1], employee: 1, language: 'en', language_direction: 'ltr', groups: [1], locale: { date: '%m/%d/%Y', decimal_point: '.', thousands_sep: ',', grouping: [3, 3, 0] } };
    }
    if (method === 'model.sale.line.on_change') return [erp.saleLineOnChange((params[0] ?? {}) as Record<string, unknown>)];
    if (method === 'system.listMethods') {
      return [
        ...SUPPORTED_MODELS.flatMap((model) => GENERIC_METHODS.map((m) => `model.${model}.${m}`)),
        'model.party.party.delete',
        'model.party.contact_mechanism.delete',
        ...Object.entries(BUTTONS).flatMap(([model, buttons]) => Object.keys(buttons).map((b) => `model.${model}.${b}`)),
      ];
    }
    const parts = method.split('.');
    if (parts[0] !== 'model' || parts.length < 3) throw new TrytonForbidden(method);
    const model = parts.slice(1, -1).join('.');
    const name = parts.at(-1)!;
    if (!(SUPPORTED_MODELS as readonly string[]).includes(model)) throw new TrytonForbidden(method);
    const ids = (value: unknown) => {
      if (!Array.isArray(value) || !value.every((v) => Number.isInteger(v))) throw new TrytonUserError('Invalid ids.');
      return value as number[];
    };
    switch (name) {
      case 'search':
        return search(erp, model, params[0] as Domain, Number(params[1] ?? 0), (params[2] as number | null) ?? null, params[3], context).map((r) => r.id);
      case 'search_count':
        return search(erp, model, params[0] as Domain, 0, null, null, context).length;
      case 'search_read':
        return readFields(erp, model, search(erp, model, params[0] as Domain, Number(params[1] ?? 0), (params[2] as number | null) ?? null, params[3], context), params[4], context);
      case 'read':
        return readFields(erp, model, ids(params[0]).map((id) => erp.get(model, id)), params[1], context);
      case 'create':
        if (!Array.isArray(params[0])) throw new TrytonUserError('Invalid values.');
        return erp.create(model, params[0] as Record<string, unknown>[]);
      case 'write':
        erp.write(model, ids(params[0]), (params[1] ?? {}) as Record<string, unknown>);
        return null;
      case 'delete':
        // Parties (a posting removes the duplicate party it created in a race) and contact mechanisms (an erasure).
        if (model === 'party.contact_mechanism') {
          erp.deleteContactMechanisms(ids(params[0]));
          return null;
        }
        if (model !== 'party.party') throw new TrytonForbidden(method);
        erp.deleteParties(ids(params[0]));
        return null;
      default: {
        const button = BUTTONS[model]?.[name];
        if (!button) throw new TrytonForbidden(method);
        const acknowledged = (warning: string) => {
          const found = [...erp.table('res.user.warning').values()].find((w) => w.name === warning && w.user === userId);
          if (!found) return false;
          // A one-shot acknowledgement (always = false) is consumed by the call it lets through.
          if (!found.always) erp.table('res.user.warning').delete(found.id);
          return true;
        };
        return button(erp, ids(params[0]), acknowledged) ?? null;
      }
    }
  };

  const respond = (reply: FastifyReply, id: unknown, run: () => unknown) => {
    try {
      return reply.type('application/json').send(JSON.stringify({ id, result: run() }));
    } catch (error) {
      if (error instanceof TrytonForbidden) return forbidden(reply);
      let payload: JsonRpcError;
      if (error instanceof TrytonUserWarning) payload = ['UserWarning', [error.warningName, error.message, error.description]];
      else if (error instanceof TrytonUserError) payload = ['UserError', [error.message, error.description, null]];
      else payload = [error instanceof Error ? error.message : String(error), `Traceback (most recent call last):\n  (sandbox) ${error instanceof Error ? error.stack : ''}`];
      return reply.type('application/json').send(JSON.stringify({ id, error: payload }));
    }
  };

  const rpcBody = (body: unknown) => {
    const parsed = RpcBody.safeParse(body);
    return parsed.success ? parsed.data : undefined;
  };

  app.post('/', async (request, reply) => {
    const body = rpcBody(request.body);
    if (!body) return reply.code(400).type('text/html; charset=utf-8').send('<title>400 Bad Request</title>\n');
    if (body.method === 'common.server.version') return respond(reply, body.id, () => SERVER_VERSION);
    if (body.method === 'common.db.list') return respond(reply, body.id, () => [database]);
    return forbidden(reply);
  });

  const handleDatabase = async (request: FastifyRequest<{ Params: { db: string } }>, reply: FastifyReply) => {
    const body = rpcBody(request.body);
    if (!body) return reply.code(400).type('text/html; charset=utf-8').send('<title>400 Bad Request</title>\n');
    // Recorded: an unknown database is HTTP 200 with the backend's message as the error (SQLite here).
    if (request.params.db !== database) {
      return reply.send({ id: body.id, error: [`Database '/var/lib/trytond/db/${request.params.db}.sqlite' doesn't exist!`, ''] });
    }
    if (body.method === 'common.db.login') {
      const [user, parameters] = body.params as [unknown, { password?: unknown } | undefined];
      // Recorded: a failed login is werkzeug's 401 page (a bad session, below, has an empty body).
      if (user !== login || parameters?.password !== password) return reply.code(401).type('text/html; charset=utf-8').send(UNAUTHORIZED_PAGE);
      const token = randomBytes(20).toString('hex');
      sessions.set(token, { userId: 1, login, lastUsed: Date.now() });
      return respond(reply, body.id, () => [1, token]);
    }
    const userId = authenticate(request);
    // A missing, bad or expired session is HTTP 401 with an empty body (recorded).
    if (userId === undefined) return reply.code(401).send('');
    // A slow method answers late, like a busy server: a client that gives up first does not
    // learn what the call did (the call still takes effect, after the delay).
    await methodDelays.wait(body.method);
    return respond(reply, body.id, () => dispatch(body.method, body.params, userId));
  };
  app.post('/:db/', handleDatabase);
  app.post('/:db', handleDatabase);

  // ---- admin API (the operator's back door; not part of Tryton) ----
  app.put('/_sandbox/products', async (request) => {
    const seeds = z
      .array(
        z.strictObject({
          code: z.string().min(1),
          name: z.string().optional(),
          listPrice: z.string().regex(/^\d+(\.\d+)?$/).optional(),
          quantity: z.number().int().min(0).optional(),
          type: z.enum(['goods', 'service']).optional(),
        }),
      )
      .parse(request.body);
    return erp.seedProducts(seeds).map((p) => ({ id: p.id, code: p.code, quantity: p.on_hand }));
  });
  app.post('/_sandbox/sessions/expire', async (_request, reply) => {
    sessions.clear();
    return reply.code(204).send();
  });
  app.get('/_sandbox/state', async () => {
    const ctx = { locations: [5] };
    const all = (model: string) => [...erp.table(model).values()].map((r) => erp.view(model, r, ctx));
    return {
      products: all('product.product').map((p) => ({ id: p.id, code: p.code, type: p.type, quantity: p.quantity, forecastQuantity: p.forecast_quantity })),
      sales: all('sale.sale').map((s) => ({
        id: s.id,
        number: s.number,
        reference: s.reference,
        party: s.party,
        state: s.state,
        shipmentState: s.shipment_state,
        invoiceState: s.invoice_state,
        totalAmount: (s.total_amount as { decimal: string }).decimal,
        shipments: s.shipments,
        shipmentReturns: s.shipment_returns,
        invoices: s.invoices,
      })),
      shipments: all('stock.shipment.out').map((s) => ({ id: s.id, number: s.number, state: s.state, reference: s.reference })),
      returnShipments: all('stock.shipment.out.return').map((s) => ({ id: s.id, number: s.number, state: s.state })),
      invoices: all('account.invoice').map((i) => ({ id: i.id, number: i.number, party: i.party, state: i.state, totalAmount: (i.total_amount as { decimal: string }).decimal })),
      parties: all('party.party').map((p) => ({ id: p.id, name: p.name })),
    };
  });

  const running = await listenSandbox('tryton', app, faults, options);
  return { ...running, erp, database };
}

import { SynclineError } from '../../../domain/errors.ts';
import { createHttpClient, type CallContext, type HttpClient } from '../../kit/http-client.ts';
import { parseTrytonJson, sessionAuthorization, type JsonRpcResponse } from '../tryton-wire.ts';

/**
 * A Tryton JSON-RPC session: logs in once (login costs ~0.65 s on a real server),
 * sends `Authorization: Session …`, logs in again once when the session has expired
 * (HTTP 401), appends the user's context to model calls, and turns Tryton's error
 * member into SynclineErrors:
 *
 *   UserError, UserWarning        erp.user_error / erp.user_warning      permanent (details: message, description, warningName)
 *   ConcurrencyException          erp.concurrency                        transient
 *   LoginException                connector.unauthorized                 permanent
 *   [message, traceback]          erp.server_error                       transient (an unexpected server exception)
 *   HTTP 403 (method not exposed) connector.unauthorized                 permanent
 *   unknown database (HTTP 404,   erp.database_unknown                   permanent (a configuration error: retrying cannot help)
 *     or the backend's error)
 */

export interface TrytonRpcOptions {
  url: string;
  database: string;
  login: string;
  password: string;
  /** Per-call timeout (default: 15000 ms; confirm and invoice posting take ~0.3 s on a real server). */
  timeoutMs?: number;
}

export class TrytonRpc {
  readonly http: HttpClient;
  readonly #options: TrytonRpcOptions;
  #session: Promise<{ userId: number; authorization: string; context: Record<string, unknown> }> | undefined;
  #nextId = 1;

  constructor(options: TrytonRpcOptions) {
    this.#options = options;
    this.http = createHttpClient({ system: 'tryton', baseUrl: options.url, timeoutMs: options.timeoutMs ?? 15_000, parseJson: parseTrytonJson });
  }

  get path(): string {
    return `/${encodeURIComponent(this.#options.database)}/`;
  }

  async #send(method: string, params: unknown[], authorization: string | undefined, context: CallContext): Promise<{ status: number; body: unknown }> {
    const id = this.#nextId++;
    const response = await this.http.request<unknown>(
      { method: 'POST', path: this.path, body: { id, method, params }, headers: authorization ? { authorization } : {}, accept: [401, 404] },
      context,
    );
    return { status: response.status, body: response.body };
  }

  #login(context: CallContext) {
    const { login, password } = this.#options;
    this.#session ??= (async () => {
      const answer = await this.#send('common.db.login', [login, { password }, 'en'], undefined, context);
      this.#databaseKnown(answer.status, 'common.db.login');
      if (answer.status === 401) {
        throw new SynclineError('connector.unauthorized', 'tryton refused the login (401): check the login and password', {
          retry: 'permanent',
          details: { system: 'tryton', method: 'common.db.login' },
        });
      }
      const [userId, session] = this.#result('common.db.login', answer.body) as [number, string];
      const authorization = sessionAuthorization(login, userId, session);
      const preferences = await this.#send('model.res.user.get_preferences', [true, {}], authorization, context);
      const prefs = this.#result('model.res.user.get_preferences', preferences.body) as Record<string, unknown>;
      return { userId, authorization, context: prefs };
    })();
    // A failed login is not cached: the next call tries again.
    this.#session.catch(() => (this.#session = undefined));
    return this.#session;
  }

  /** The logged-in session: the user's id and context (company, language …). */
  async session(context: CallContext = {}): Promise<{ userId: number; context: Record<string, unknown> }> {
    return this.#login(context);
  }

  /** The logged-in user's id (for res.user.warning). */
  async userId(context: CallContext = {}): Promise<number> {
    return (await this.#login(context)).userId;
  }

  /**
   * Calls a model method; the user's context (with `extraContext`) is appended as the
   * last parameter, as Tryton's own clients do.
   */
  async call<T = unknown>(method: string, params: unknown[], context: CallContext = {}, extraContext: Record<string, unknown> = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const session = await this.#login(context);
      const answer = await this.#send(method, [...params, { ...session.context, ...extraContext }], session.authorization, context);
      this.#databaseKnown(answer.status, method);
      if (answer.status === 401) {
        // Expired or revoked session: log in again once; a second 401 is not an expiry.
        this.#session = undefined;
        if (attempt === 1) continue;
        throw new SynclineError('connector.unauthorized', `tryton refused a fresh session for ${method} (401)`, {
          retry: 'permanent',
          details: { system: 'tryton', method },
        });
      }
      return this.#result(method, answer.body) as T;
    }
  }

  /** trytond answers 404 for a database it does not serve (dispatcher.py). */
  #databaseKnown(status: number, method: string): void {
    if (status === 404) this.#unknownDatabase(method);
  }

  #unknownDatabase(method: string): never {
    throw new SynclineError('erp.database_unknown', `tryton has no database ${this.#options.database}: check the ERP database setting`, {
      retry: 'permanent',
      details: { system: 'tryton', method, database: this.#options.database },
    });
  }

  #result(method: string, body: unknown): unknown {
    if (!body || typeof body !== 'object') {
      throw new SynclineError('erp.bad_response', `tryton answered ${method} with a body that is not JSON-RPC`, {
        retry: 'transient',
        details: { system: 'tryton', method, body: typeof body === 'string' ? body.slice(0, 300) : body },
      });
    }
    const response = body as JsonRpcResponse;
    if (!('error' in response)) return response.result;
    const [name, args] = response.error;
    const details: Record<string, unknown> = { system: 'tryton', method };
    if (name === 'UserError' && Array.isArray(args)) {
      const [message, description] = args as [string, string];
      details.description = description;
      return this.#throw('erp.user_error', `tryton: ${message}`, 'permanent', details);
    }
    if (name === 'UserWarning' && Array.isArray(args)) {
      const [warningName, message, description] = args as [string, string, string];
      Object.assign(details, { warningName, description });
      return this.#throw('erp.user_warning', `tryton warning: ${message}`, 'permanent', details);
    }
    if (name === 'ConcurrencyException') return this.#throw('erp.concurrency', `tryton: ${String(args)}`, 'transient', details);
    // The backend's own words for a missing database, as trytond passes them on (recorded with SQLite:
    // "Database '<path>/<name>.sqlite' doesn't exist!"; PostgreSQL: 'database "<name>" does not exist').
    if (/^Database '.*' doesn't exist!?$|database ".*" does not exist/.test(name)) this.#unknownDatabase(method);
    if (name === 'LoginException') return this.#throw('connector.unauthorized', `tryton asks for login parameter ${JSON.stringify(args)}`, 'permanent', details);
    details.traceback = typeof args === 'string' ? args.slice(-500) : undefined;
    return this.#throw('erp.server_error', `tryton failed ${method}: ${name}`, 'transient', details);
  }

  #throw(code: string, message: string, retry: 'transient' | 'permanent', details: Record<string, unknown>): never {
    throw new SynclineError(code, message, { retry, details });
  }
}

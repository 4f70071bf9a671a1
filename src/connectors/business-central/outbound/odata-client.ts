import { SynclineError } from '../../../domain/errors.ts';
import { TargetError } from '../../../runtime/targets/target-errors.ts';
import { loggableUrl } from '../../../observability/logger.ts';
import { createHttpClient, type CallContext, type HttpClient, type HttpResponse } from '../../kit/http-client.ts';
import { BC_SCOPE, type BcEntity, type BcErrorBody, type BcPage, type BcTokenResponse } from '../business-central-wire.ts';

/**
 * The OData v4 layer of the Business Central client, written by hand (docs/adr/0027): a bearer
 * token from the Microsoft identity platform (client credentials), cached until shortly before it
 * expires; every request through the kit's HTTP client, so each one passes the runtime's rate
 * limit, concurrency cap and breaker; `@odata.nextLink` paging; If-Match writes that re-read and
 * retry once on 412; BC's `{"error":{"code","message"}}` bodies carried into Syncline's errors.
 */

export interface BcODataOptions {
  /** Microsoft Entra tenant id (a GUID or a verified domain). */
  tenantId: string;
  /** Business Central environment name, e.g. "production" or "sandbox". */
  environment: string;
  /** The company's id (GUID): every resource is under companies({companyId}). */
  companyId: string;
  clientId: string;
  clientSecret: string;
  /** API host (default: https://api.businesscentral.dynamics.com); the sandbox's URL in tests. */
  baseUrl?: string;
  /** Token endpoint (default: https://login.microsoftonline.com/{tenantId}/oauth2/v2.0/token). */
  tokenUrl?: string;
  /** Per-request timeout (default: 30000 ms). */
  timeoutMs?: number;
}

/** A token is renewed this long before the identity platform says it expires. */
const TOKEN_MARGIN_MS = 60_000;
const SYSTEM = 'business-central';

/** The BC error code and message of an error body, if it has BC's shape. */
export function odataErrorOf(body: unknown): { code: string; message: string } | undefined {
  const error = (body as Partial<BcErrorBody> | undefined)?.error;
  return error && typeof error.code === 'string' && typeof error.message === 'string' ? error : undefined;
}

/**
 * Syncline's error for a failed BC request: the kit's classification by status (transient,
 * throttled with Retry-After, permanent), with BC's error code and message in its details and
 * message. A few BC codes have codes of their own in Syncline's catalogue.
 */
export function mapODataError(error: TargetError): TargetError {
  const bc = odataErrorOf(error.details?.body);
  if (!bc) return error;
  const status = Number(error.details?.status);
  const code = status === 404 ? 'erp.not_found' : status === 412 ? 'erp.conflict' : error.code;
  return new TargetError(code, `${error.message}: ${bc.code}: ${bc.message}`, {
    retry: status === 412 ? 'transient' : error.retry,
    target: error.target,
    retryAt: error.retryAt,
    excerpt: error.excerpt,
    remediation: error.remediation,
    details: { ...error.details, odataCode: bc.code, odataMessage: bc.message },
    cause: error,
  });
}

/**
 * The error without the query's values: a `$filter` names customers by e-mail and orders by id,
 * and errors end up in logs, dead letters and the console.
 */
function withoutQueryValues(error: TargetError, path: string): TargetError {
  if (!path.includes('?')) return error;
  const shown = loggableUrl(path);
  return new TargetError(error.code, error.message.replaceAll(path, shown), {
    retry: error.retry,
    target: error.target,
    retryAt: error.retryAt,
    excerpt: error.excerpt?.request ? { ...error.excerpt, request: { ...error.excerpt.request, url: shown } } : error.excerpt,
    remediation: error.remediation,
    details: { ...error.details, path: shown },
    cause: error.cause,
  });
}

export interface ODataRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Below the company: `salesOrders`, `items?$filter=...`; or an absolute nextLink. */
  path: string;
  body?: unknown;
  ifMatch?: string;
  /** Statuses handled by the caller instead of thrown (404 for a lookup). */
  accept?: number[];
}

export class BcODataClient {
  readonly companyPath: string;
  readonly #api: HttpClient;
  readonly #login: HttpClient;
  readonly #options: BcODataOptions;
  #token: { value: string; expiresAt: number } | undefined;
  #pendingToken: Promise<string> | undefined;
  readonly #tokenPath: string;
  /** Tokens fetched so far (the contract tests count them). */
  tokensFetched = 0;

  constructor(options: BcODataOptions) {
    this.#options = options;
    const base = (options.baseUrl ?? 'https://api.businesscentral.dynamics.com').replace(/\/+$/, '');
    const env = encodeURIComponent(options.environment);
    this.#api = createHttpClient({ system: SYSTEM, baseUrl: `${base}/v2.0/${encodeURIComponent(options.tenantId)}/${env}/api/v2.0`, timeoutMs: options.timeoutMs ?? 30_000 });
    this.companyPath = `/companies(${options.companyId})`;
    const tokenUrl = new URL(options.tokenUrl ?? `https://login.microsoftonline.com/${encodeURIComponent(options.tenantId)}/oauth2/v2.0/token`);
    this.#login = createHttpClient({ system: SYSTEM, baseUrl: tokenUrl.origin, timeoutMs: options.timeoutMs ?? 30_000 });
    this.#tokenPath = `${tokenUrl.pathname}${tokenUrl.search}`;
  }

  /** The API root this client calls, without a trailing slash. */
  get apiUrl(): string {
    return this.#api.baseUrl;
  }

  /** A bearer token: the cached one until a minute before it expires, else a new one (one fetch at a time). */
  async token(context: CallContext = {}): Promise<string> {
    if (this.#token && Date.now() < this.#token.expiresAt - TOKEN_MARGIN_MS) return this.#token.value;
    this.#pendingToken ??= this.#fetchToken(context).finally(() => {
      this.#pendingToken = undefined;
    });
    return this.#pendingToken;
  }

  async #fetchToken(context: CallContext): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: this.#options.clientId, client_secret: this.#options.clientSecret, scope: BC_SCOPE });
    let response: HttpResponse<BcTokenResponse | { error?: string; error_description?: string }>;
    try {
      response = await this.#login.request({ method: 'POST', path: this.#tokenPath, body: form }, context);
    } catch (error) {
      // The identity platform answers a wrong secret or client with 400/401 invalid_client: no retry helps.
      if (error instanceof TargetError && error.retry === 'permanent') {
        const body = error.details?.body as { error?: string } | undefined;
        throw new TargetError('connector.unauthorized', `business-central token request refused${body?.error ? `: ${body.error}` : ''}`, {
          retry: 'permanent',
          target: SYSTEM,
          details: { system: SYSTEM, status: error.details?.status, oauthError: body?.error },
          remediation: 'Check the connection\'s tenantId, clientId and clientSecret, and that the app registration is granted access in Business Central.',
        });
      }
      throw error;
    }
    const body = response.body as BcTokenResponse;
    if (typeof body?.access_token !== 'string' || typeof body.expires_in !== 'number') {
      throw new SynclineError('connector.bad_response', 'business-central token response has no access_token/expires_in', { retry: 'transient', details: { system: SYSTEM } });
    }
    this.tokensFetched += 1;
    this.#token = { value: body.access_token, expiresAt: Date.now() + body.expires_in * 1000 };
    return body.access_token;
  }

  /** Forgets the cached token (after a 401: revoked or expired early). */
  dropToken(): void {
    this.#token = undefined;
  }

  #relative(path: string): string {
    if (/^https?:\/\//.test(path)) {
      // A nextLink is absolute; follow it only to the API it came from (never send the token elsewhere).
      if (!path.startsWith(`${this.#api.baseUrl}/`)) {
        throw new SynclineError('connector.bad_response', 'business-central nextLink points outside the API', { retry: 'permanent', details: { system: SYSTEM, nextLink: path.slice(0, 200) } });
      }
      return path.slice(this.#api.baseUrl.length);
    }
    return path ? `${this.companyPath}/${path.replace(/^\/+/, '')}` : this.companyPath;
  }

  /** One request with a bearer token; a 401 gets one new token and one retry. BC errors are mapped. */
  async request<T>(request: ODataRequest, context: CallContext = {}): Promise<HttpResponse<T>> {
    const path = this.#relative(request.path);
    for (let attempt = 1; ; attempt++) {
      const token = await this.token(context);
      const headers: Record<string, string> = { authorization: `Bearer ${token}` };
      if (request.ifMatch) headers['if-match'] = request.ifMatch;
      try {
        return await this.#api.request<T>({ method: request.method, path, body: request.body, headers, accept: request.accept ?? [] }, context);
      } catch (error) {
        if (!(error instanceof TargetError)) throw error;
        if (error.details?.status === 401 && attempt === 1) {
          this.dropToken();
          continue;
        }
        throw withoutQueryValues(mapODataError(error), path);
      }
    }
  }

  /** Every entity of a collection query, following `@odata.nextLink` to the last page. */
  async list<T extends BcEntity>(path: string, context: CallContext = {}): Promise<T[]> {
    const all: T[] = [];
    let next: string | undefined = path;
    while (next) {
      const page: BcPage<T> = (await this.request<BcPage<T>>({ method: 'GET', path: next }, context)).body;
      if (!Array.isArray(page?.value)) throw new SynclineError('connector.bad_response', 'business-central collection without value', { retry: 'transient', details: { system: SYSTEM, path } });
      all.push(...page.value);
      next = page['@odata.nextLink'];
    }
    return all;
  }

  /** One entity, or undefined when BC answers 404. */
  async get<T extends BcEntity>(path: string, context: CallContext = {}): Promise<T | undefined> {
    const response = await this.request<T | BcErrorBody>({ method: 'GET', path, accept: [404] }, context);
    return response.status === 404 ? undefined : (response.body as T);
  }

  async create<T extends BcEntity>(path: string, body: unknown, context: CallContext = {}): Promise<T> {
    return (await this.request<T>({ method: 'POST', path, body }, context)).body;
  }

  /** Calls a bound action (`salesOrders({id})/Microsoft.NAV.shipAndInvoice`); BC answers 204. */
  async action(path: string, context: CallContext = {}): Promise<void> {
    await this.request({ method: 'POST', path }, context);
  }

  /**
   * A conditional write: PATCH or DELETE with the entity's ETag as If-Match. When BC answers 412
   * (another user changed it since it was read), the entity is read again and `decide` says, on
   * the fresh copy, whether and what to write; the write is retried once. A second 412 is thrown
   * as the transient erp.conflict. `readPath` re-reads with what `decide` needs (`$expand`).
   */
  async write<T extends BcEntity>(
    method: 'PATCH' | 'DELETE',
    path: string,
    current: T,
    decide: (fresh: T) => unknown | undefined,
    context: CallContext = {},
    readPath = path,
  ): Promise<{ entity: T | undefined; retried: boolean }> {
    let entity = current;
    for (let attempt = 1; ; attempt++) {
      const body = decide(entity);
      if (body === undefined) return { entity, retried: attempt > 1 };
      const etag = entity['@odata.etag'];
      if (!etag) throw new SynclineError('connector.bad_response', `business-central returned ${path} without @odata.etag`, { retry: 'permanent', details: { system: SYSTEM, path } });
      try {
        const response = await this.request<T>({ method, path, body: method === 'PATCH' ? body : undefined, ifMatch: etag }, context);
        return { entity: method === 'DELETE' ? undefined : response.body, retried: attempt > 1 };
      } catch (error) {
        if (!(error instanceof SynclineError) || error.code !== 'erp.conflict' || attempt > 1) throw error;
        const fresh = await this.get<T>(readPath, context);
        if (!fresh) throw new SynclineError('erp.not_found', `business-central ${path} was deleted by someone else`, { retry: 'permanent', details: { system: SYSTEM, path } });
        entity = fresh;
      }
    }
  }
}

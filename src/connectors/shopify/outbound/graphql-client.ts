import { setTimeout as sleep } from 'node:timers/promises';
import { SynclineError } from '../../../domain/errors.ts';
import { TargetError } from '../../../runtime/targets/target-errors.ts';
import { createHttpClient, errorForStatus, type CallContext } from '../../kit/http-client.ts';
import { ACCESS_TOKEN_HEADER, graphqlPath, type GraphqlResponse, type QueryCost } from '../shopify-wire.ts';
import { CostBucket } from './cost-throttle.ts';

/**
 * The GraphQL Admin API transport of one shop: POST /admin/api/{version}/graphql.json with
 * the access token, through the kit's HTTP client (so CallContext.target gates every request),
 * paced by the shop's cost bucket (cost-throttle.ts). A THROTTLED answer is waited out with
 * the restore-rate arithmetic it reports, not retried in a loop; errors become SynclineErrors
 * with a retry class.
 */

export interface ShopifyGraphqlOptions {
  shopDomain: string;
  accessToken: string;
  apiVersion: string;
  /** Base URL of the Admin API (default: https://{shopDomain}); the sandbox's URL in tests. */
  adminUrl?: string | undefined;
  /** Longest wait for the cost bucket inside a call; beyond it the call fails as throttled with its retry time (default: 10000 ms). */
  maxThrottleWaitMs?: number;
  /** Per-request timeout (default: 15000 ms). */
  timeoutMs?: number;
}

export interface ShopifyGraphql {
  readonly bucket: CostBucket;
  /** Runs one operation; resolves with `data`, throws a classified SynclineError otherwise. */
  request<T>(operation: string, query: string, variables: Record<string, unknown>, call: CallContext): Promise<T>;
}

/** A first guess of an operation's cost before Shopify has priced it once (then its requested cost is remembered). */
const FIRST_ESTIMATE = 10;
/** Throttled answers waited out per call before giving the job back to the queue. */
const MAX_THROTTLED_ANSWERS = 3;

/** Buckets are per shop (Shopify's limit is per app and store), shared by every client of the shop in this process. */
const buckets = new Map<string, CostBucket>();
/** Last requested cost per (shop, operation). */
const estimates = new Map<string, number>();

const throttledError = (shopDomain: string, waitMs: number, cost: QueryCost | undefined) =>
  new TargetError('connector.throttled', `Shopify ${shopDomain} needs ${Math.ceil(waitMs / 1000)} s to restore the query cost`, {
    retry: 'throttled',
    target: 'shopify',
    retryAt: new Date(Date.now() + waitMs),
    details: { system: 'shopify', shopDomain, retryAfterMs: waitMs, ...(cost ? { cost } : {}) },
  });

/** A GraphQL client for one shop. */
export function createShopifyGraphql(options: ShopifyGraphqlOptions): ShopifyGraphql {
  const baseUrl = options.adminUrl ?? `https://${options.shopDomain}`;
  const http = createHttpClient({
    system: 'shopify',
    baseUrl,
    timeoutMs: options.timeoutMs ?? 15_000,
    headers: { [ACCESS_TOKEN_HEADER]: options.accessToken, 'user-agent': 'syncline-shopify/1' },
  });
  const key = `${baseUrl}|${options.shopDomain}`;
  let bucket = buckets.get(key);
  if (!bucket) {
    bucket = new CostBucket();
    buckets.set(key, bucket);
  }
  const shopBucket = bucket;
  const maxWait = options.maxThrottleWaitMs ?? 10_000;
  const path = graphqlPath(options.apiVersion);

  return {
    bucket: shopBucket,
    async request<T>(operation: string, query: string, variables: Record<string, unknown>, call: CallContext): Promise<T> {
      const estimateKey = `${key}|${operation}`;
      for (let answer = 1; ; answer++) {
        const estimate = estimates.get(estimateKey) ?? FIRST_ESTIMATE;
        const taken = await shopBucket.take(estimate, maxWait, call.signal);
        if ('tooLongMs' in taken) throw throttledError(options.shopDomain, taken.tooLongMs, undefined);
        // 429 is how Shopify answers some throttles over HTTP: read its body for the cost before deciding.
        const response = await http.request<GraphqlResponse<T> | string>({ method: 'POST', path, body: { query, variables }, accept: [429] }, call);
        const body = typeof response.body === 'object' && response.body !== null && !Array.isArray(response.body) ? response.body : undefined;
        const cost = body?.extensions?.cost;
        if (cost?.throttleStatus) shopBucket.observe(cost.throttleStatus);
        if (cost && Number.isFinite(cost.requestedQueryCost)) estimates.set(estimateKey, cost.requestedQueryCost);
        const errors = Array.isArray(body?.errors) ? body.errors : [];
        const throttled = errors.some((e) => e.extensions?.code === 'THROTTLED');
        if (response.status === 429 && !throttled) {
          throw errorForStatus('shopify', 429, { method: 'POST', path, body: response.body, retryAfter: response.headers.get('retry-after') });
        }
        if (throttled) {
          // The bucket now holds what Shopify reported: wait exactly until the query fits, once or twice, never in a tight loop.
          const wait = shopBucket.waitFor(cost?.requestedQueryCost ?? estimate);
          if (answer >= MAX_THROTTLED_ANSWERS || wait > maxWait) throw throttledError(options.shopDomain, Math.max(wait, 1000), cost);
          await sleep(wait, undefined, call.signal ? { signal: call.signal } : undefined);
          continue;
        }
        if (!body) throw new SynclineError('shopify.response_invalid', `Shopify answered ${operation} with a body that is not JSON`, { retry: 'transient', details: { system: 'shopify' } });
        if (errors.length > 0 || (body.errors !== undefined && !Array.isArray(body.errors))) {
          const codes = errors.map((e) => e.extensions?.code ?? 'GRAPHQL');
          const transient = codes.some((c) => c === 'INTERNAL_SERVER_ERROR' || c === 'SERVICE_UNAVAILABLE');
          throw new SynclineError(transient ? 'connector.unavailable' : 'shopify.graphql_error', `Shopify refused ${operation}: ${errors[0]?.message ?? JSON.stringify(body.errors)}`, {
            retry: transient ? 'transient' : 'permanent',
            details: { system: 'shopify', operation, codes, messages: errors.slice(0, 5).map((e) => e.message) },
          });
        }
        if (body.data === undefined || body.data === null) {
          throw new SynclineError('shopify.response_invalid', `Shopify answered ${operation} without data`, { retry: 'transient', details: { system: 'shopify' } });
        }
        return body.data;
      }
    },
  };
}

import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { createSandboxApp, installAnswerDelays, listenSandbox, randomIdBytes, type RunningSandbox, type SandboxListenOptions } from '../../kit/sandbox-app.ts';
import type { FaultRenderer } from '../../kit/faults.ts';

/**
 * A payment gateway emulator modelled on Stripe's PaymentIntents API (see ../README.md
 * for the sources): form-encoded POSTs, amounts in minor units, manual capture,
 * `Idempotency-Key` replays, Stripe-shaped error objects. It keeps its own ledger.
 */

export interface PaymentSandboxOptions extends SandboxListenOptions {
  /** Secret keys start with this prefix (default: "sk_test_"). */
  keyPrefix?: string;
}

interface PaymentIntent {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_capturable: number;
  amount_received: number;
  amount_refunded: number;
  currency: string;
  capture_method: 'manual' | 'automatic';
  status: 'requires_payment_method' | 'requires_capture' | 'succeeded' | 'canceled';
  payment_method: string | null;
  cancellation_reason: string | null;
  last_payment_error: { type: string; code: string; decline_code?: string; message: string } | null;
  metadata: Record<string, string>;
  created: number;
  livemode: false;
}

interface Refund {
  id: string;
  object: 'refund';
  amount: number;
  currency: string;
  payment_intent: string;
  reason: string | null;
  status: 'succeeded';
  metadata: Record<string, string>;
  created: number;
}

export interface PaymentState {
  intents: Map<string, PaymentIntent>;
  refunds: Map<string, Refund>;
  /** Order ids (metadata[order_id]) whose captures fail; "*" fails every capture. */
  failCapturesFor: Set<string>;
}

export interface RunningPaymentSandbox extends RunningSandbox {
  state: PaymentState;
}

/** Payment methods with a fixed outcome, after Stripe's test payment methods. */
const DECLINING_METHODS: Record<string, { code: string; decline_code: string; message: string }> = {
  pm_card_chargeDeclined: { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' },
  pm_card_chargeDeclinedInsufficientFunds: { code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
};

const stripeId = (prefix: string) => `${prefix}_${randomIdBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;

const renderFault: FaultRenderer = (kind, _status, message) => ({
  contentType: 'application/json',
  body: JSON.stringify({ error: { type: kind === 'throttled' || kind === 'quota' ? 'invalid_request_error' : 'api_error', ...(kind === 'throttled' || kind === 'quota' ? { code: 'rate_limit' } : {}), message } }),
});

/** Decodes Stripe-style form parameters: metadata[order_id]=x → { metadata: { order_id: x } }. */
function decodeForm(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const nested = /^([a-z_]+)\[([^\]]+)\]$/.exec(key);
    if (nested) {
      const bag = (out[nested[1]!] ??= {}) as Record<string, string>;
      bag[nested[2]!] = value;
    } else out[key] = value;
  }
  return out;
}

const invalid = (message: string, extra: Record<string, unknown> = {}) => ({ error: { type: 'invalid_request_error', message, ...extra } });

/**
 * The part of Stripe's search query language the sandbox understands: clauses
 * `metadata['key']:'value'` and `status:'value'` joined by AND. Undefined for anything else.
 */
function parseSearch(query: string): ((intent: PaymentIntent) => boolean) | undefined {
  const clause = /^\s*(?:metadata\['([^'\\]+)'\]|(status)):'((?:[^'\\]|\\.)*)'\s*$/;
  const tests: ((intent: PaymentIntent) => boolean)[] = [];
  for (const part of query.split(/\s+AND\s+/)) {
    const m = clause.exec(part);
    if (!m) return undefined;
    const value = m[3]!.replace(/\\(.)/g, '$1');
    tests.push(m[2] ? (i) => i.status === value : (i) => i.metadata[m[1]!] === value);
  }
  return (intent) => tests.every((t) => t(intent));
}
const positiveInt = z.string().regex(/^\d+$/).transform(Number).refine((n) => n > 0 && n <= 99_999_999, 'must be between 1 and 99999999');

/** Starts the payment sandbox. */
export async function startPaymentSandbox(options: PaymentSandboxOptions = {}): Promise<RunningPaymentSandbox> {
  const keyPrefix = options.keyPrefix ?? 'sk_test_';
  const state: PaymentState = { intents: new Map(), refunds: new Map(), failCapturesFor: new Set() };
  const idempotency = new Map<string, { fingerprint: string; status: number; body: string }>();

  const { app, faults } = createSandboxApp('payment', { render: renderFault, log: options.log });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, decodeForm(String(body))));

  app.addHook('onRequest', async (request, reply) => {
    reply.header('request-id', stripeId('req'));
    if (request.url.startsWith('/_sandbox/')) return;
    const auth = request.headers.authorization ?? '';
    const key = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!key.startsWith(keyPrefix)) {
      return reply.code(401).send(invalid(`Invalid API Key provided: ${key ? `${key.slice(0, 8)}…` : '(none)'}`));
    }
  });

  // A busy gateway: the request takes effect (or is replayed) and the answer comes late, so a
  // client that gives up first does not know what its call did (PUT /_sandbox/delays).
  installAnswerDelays(app, /^(GET|POST) \/v1\/[a-z_/:]+$/, { byRoute: true });

  /** Runs a POST handler under Stripe's idempotency rules: same key + same parameters replays the saved response. */
  const idempotent = (handler: (request: FastifyRequest<{ Params: { id: string } }>) => { status: number; body: unknown }) =>
    async (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      const key = request.headers['idempotency-key'];
      const fingerprint = `${request.method} ${request.url} ${JSON.stringify(request.body ?? {})}`;
      if (typeof key === 'string' && key !== '') {
        if (key.length > 255) return reply.code(400).send(invalid('Idempotency keys can be at most 255 characters long.'));
        const saved = idempotency.get(key);
        if (saved) {
          if (saved.fingerprint !== fingerprint) {
            return reply.code(400).send({
              error: { type: 'idempotency_error', message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.` },
            });
          }
          return reply.code(saved.status).header('idempotent-replayed', 'true').type('application/json').send(saved.body);
        }
      }
      const result = handler(request);
      const body = JSON.stringify(result.body);
      if (typeof key === 'string' && key !== '') idempotency.set(key, { fingerprint, status: result.status, body });
      return reply.code(result.status).type('application/json').send(body);
    };

  const missing = (id: string) => ({ status: 404, body: invalid(`No such payment_intent: '${id}'`, { code: 'resource_missing', param: 'intent' }) });
  const unexpectedState = (intent: PaymentIntent, action: string) => ({
    status: 400,
    body: invalid(`This PaymentIntent could not be ${action} because it has a status of ${intent.status}.`, { code: 'payment_intent_unexpected_state', payment_intent: intent }),
  });

  app.post(
    '/v1/payment_intents',
    idempotent((request) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const amount = positiveInt.safeParse(body.amount);
      if (!amount.success) return { status: 400, body: invalid('Invalid positive integer', { code: 'parameter_invalid_integer', param: 'amount' }) };
      if (typeof body.currency !== 'string' || !/^[a-z]{3}$/.test(body.currency)) {
        return { status: 400, body: invalid('Invalid currency', { code: 'parameter_invalid', param: 'currency' }) };
      }
      const paymentMethod = typeof body.payment_method === 'string' ? body.payment_method : 'pm_card_visa';
      const intent: PaymentIntent = {
        id: stripeId('pi'),
        object: 'payment_intent',
        amount: amount.data,
        amount_capturable: 0,
        amount_received: 0,
        amount_refunded: 0,
        currency: body.currency,
        capture_method: body.capture_method === 'automatic' ? 'automatic' : 'manual',
        status: 'requires_payment_method',
        payment_method: paymentMethod,
        cancellation_reason: null,
        last_payment_error: null,
        metadata: (body.metadata as Record<string, string> | undefined) ?? {},
        created: Math.floor(Date.now() / 1000),
        livemode: false,
      };
      state.intents.set(intent.id, intent);
      if (body.confirm !== 'true') return { status: 200, body: intent };
      const decline = DECLINING_METHODS[paymentMethod];
      if (decline) {
        intent.last_payment_error = { type: 'card_error', ...decline };
        return { status: 402, body: { error: { type: 'card_error', ...decline, payment_intent: intent } } };
      }
      if (intent.capture_method === 'manual') {
        intent.status = 'requires_capture';
        intent.amount_capturable = intent.amount;
      } else {
        intent.status = 'succeeded';
        intent.amount_received = intent.amount;
      }
      return { status: 200, body: intent };
    }),
  );

  app.get<{ Querystring: { query?: string; limit?: string } }>('/v1/payment_intents/search', async (request, reply) => {
    const matches = parseSearch(request.query.query ?? '');
    if (!matches) return reply.code(400).send(invalid('Invalid search query: the sandbox understands metadata[\'key\']:\'value\' and status:\'value\' joined by AND.', { code: 'parameter_invalid', param: 'query' }));
    const limit = positiveInt.safeParse(request.query.limit ?? '10');
    if (!limit.success || limit.data > 100) return reply.code(400).send(invalid('Invalid limit: must be between 1 and 100.', { code: 'parameter_invalid_integer', param: 'limit' }));
    // Newest first, as Stripe lists; the sandbox's index has no propagation delay.
    const found = [...state.intents.values()].filter(matches).reverse();
    return { object: 'search_result', url: '/v1/payment_intents/search', has_more: found.length > limit.data, next_page: null, data: found.slice(0, limit.data) };
  });

  app.get<{ Params: { id: string } }>('/v1/payment_intents/:id', async (request, reply) => {
    const intent = state.intents.get(request.params.id);
    if (!intent) {
      const { status, body } = missing(request.params.id);
      return reply.code(status).send(body);
    }
    return intent;
  });

  app.post(
    '/v1/payment_intents/:id/capture',
    idempotent((request) => {
      const intent = state.intents.get(request.params.id);
      if (!intent) return missing(request.params.id);
      if (intent.status !== 'requires_capture') return unexpectedState(intent, 'captured');
      const body = (request.body ?? {}) as Record<string, unknown>;
      const requested = body.amount_to_capture === undefined ? { success: true as const, data: intent.amount_capturable } : positiveInt.safeParse(body.amount_to_capture);
      if (!requested.success || requested.data > intent.amount_capturable) {
        return { status: 400, body: invalid('The amount to capture is greater than the amount capturable.', { code: 'amount_too_large', param: 'amount_to_capture' }) };
      }
      const orderId = intent.metadata.order_id ?? '';
      if (state.failCapturesFor.has('*') || state.failCapturesFor.has(orderId) || state.failCapturesFor.has(intent.id)) {
        // The authorisation is gone: the real-world case is an expired authorisation.
        intent.status = 'canceled';
        intent.cancellation_reason = 'expired';
        intent.amount_capturable = 0;
        intent.last_payment_error = { type: 'invalid_request_error', code: 'charge_expired_for_capture', message: 'The charge cannot be captured as the authorization has expired.' };
        return {
          status: 400,
          body: invalid('The charge cannot be captured as the authorization has expired.', { code: 'charge_expired_for_capture', payment_intent: intent }),
        };
      }
      intent.status = 'succeeded';
      intent.amount_received = requested.data;
      intent.amount_capturable = 0;
      return { status: 200, body: intent };
    }),
  );

  app.post(
    '/v1/payment_intents/:id/cancel',
    idempotent((request) => {
      const intent = state.intents.get(request.params.id);
      if (!intent) return missing(request.params.id);
      if (intent.status === 'canceled') return { status: 200, body: intent };
      if (intent.status === 'succeeded') return unexpectedState(intent, 'canceled');
      const body = (request.body ?? {}) as Record<string, unknown>;
      intent.status = 'canceled';
      intent.amount_capturable = 0;
      intent.cancellation_reason = typeof body.cancellation_reason === 'string' ? body.cancellation_reason : 'requested_by_customer';
      return { status: 200, body: intent };
    }),
  );

  app.post(
    '/v1/refunds',
    idempotent((request) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const intent = typeof body.payment_intent === 'string' ? state.intents.get(body.payment_intent) : undefined;
      if (!intent) return { status: 404, body: invalid(`No such payment_intent: '${String(body.payment_intent ?? '')}'`, { code: 'resource_missing', param: 'payment_intent' }) };
      if (intent.status !== 'succeeded') return { status: 400, body: invalid(`PaymentIntent ${intent.id} does not have a successful charge to refund.`, { code: 'charge_not_refundable' }) };
      const left = intent.amount_received - intent.amount_refunded;
      const amount = body.amount === undefined ? { success: true as const, data: left } : positiveInt.safeParse(body.amount);
      if (!amount.success || amount.data > left) {
        return { status: 400, body: invalid(`Refund amount (${String(body.amount)}) is greater than unrefunded amount on charge (${left}).`, { code: 'amount_too_large', param: 'amount' }) };
      }
      intent.amount_refunded += amount.data;
      const refund: Refund = {
        id: stripeId('re'),
        object: 'refund',
        amount: amount.data,
        currency: intent.currency,
        payment_intent: intent.id,
        reason: typeof body.reason === 'string' ? body.reason : null,
        status: 'succeeded',
        metadata: (body.metadata as Record<string, string> | undefined) ?? {},
        created: Math.floor(Date.now() / 1000),
      };
      state.refunds.set(refund.id, refund);
      return { status: 200, body: refund };
    }),
  );

  // ---- admin API ----
  app.get('/_sandbox/config', async () => ({ failCapturesFor: [...state.failCapturesFor] }));
  app.put('/_sandbox/config', async (request) => {
    const input = z.strictObject({ failCapturesFor: z.array(z.string().min(1)) }).parse(request.body ?? {});
    state.failCapturesFor = new Set(input.failCapturesFor);
    return { failCapturesFor: [...state.failCapturesFor] };
  });
  app.get('/_sandbox/state', async () => ({ paymentIntents: [...state.intents.values()], refunds: [...state.refunds.values()] }));

  const running = await listenSandbox('payment', app, faults, options);
  return { ...running, state };
}

import { SynclineError } from '../../../domain/errors.ts';
import { fromScaled, minorUnits, toScaled } from '../../../model/money.ts';
import type { CallContext, PaymentConnector, PaymentOutcome, PaymentRecord, RefundRecord } from '../../kit/contracts.ts';
import { createHttpClient, errorForStatus, type HttpClient, type HttpResponse } from '../../kit/http-client.ts';

/**
 * The payment connector for a Stripe-style PaymentIntents API. Amounts cross the wire
 * in minor units; every POST carries an Idempotency-Key derived from business identity
 * (authorize:<order id>, capture:<payment id>, void:<payment id>, refund:<refund key>).
 */

export interface PaymentClientOptions {
  url: string;
  /** Secret API key, sent as a Bearer token. */
  apiKey: string;
  /** (default: 15000 ms) */
  timeoutMs?: number;
}

interface WireIntent {
  id: string;
  amount: number;
  amount_received: number;
  amount_refunded?: number;
  currency: string;
  status: string;
  metadata: Record<string, string>;
  last_payment_error: { code: string; message: string } | null;
}

interface WireError {
  error: { type: string; code?: string; decline_code?: string; message: string; payment_intent?: WireIntent };
}

/** Errors that mean the money cannot be taken: a business outcome, not a fault. */
const DECLINE_CODES = new Set(['card_declined', 'charge_expired_for_capture', 'expired_card', 'incorrect_cvc', 'processing_error']);

const toMinor = (amount: string, currency: string): string => String(toScaled(amount, minorUnits(currency)));
const fromMinor = (amount: number, currency: string): string => fromScaled(BigInt(amount), minorUnits(currency));

function toRecord(intent: WireIntent): PaymentRecord {
  const currency = intent.currency.toUpperCase();
  const state: PaymentRecord['state'] =
    intent.status === 'requires_capture'
      ? 'authorized'
      : intent.status === 'succeeded'
        ? 'captured'
        : intent.status === 'canceled' && !intent.last_payment_error
          ? 'voided'
          : 'failed';
  return {
    id: intent.id,
    orderId: intent.metadata.order_id ?? '',
    state,
    amount: fromMinor(intent.amount, currency),
    currency,
    capturedAmount: fromMinor(intent.amount_received, currency),
    refundedAmount: fromMinor(intent.amount_refunded ?? 0, currency),
  };
}

/** The payment connector over a Stripe-style PaymentIntents API. */
export class PaymentClient implements PaymentConnector {
  readonly system = 'payment';
  readonly http: HttpClient;

  constructor(options: PaymentClientOptions) {
    this.http = createHttpClient({ system: 'payment', baseUrl: options.url, timeoutMs: options.timeoutMs ?? 15_000, headers: { authorization: `Bearer ${options.apiKey}` } });
  }

  async #post(path: string, form: Record<string, string>, idempotencyKey: string, context: CallContext): Promise<HttpResponse<WireIntent | WireError>> {
    return this.http.request<WireIntent | WireError>(
      { method: 'POST', path, body: new URLSearchParams(form), headers: { 'idempotency-key': idempotencyKey }, accept: [400, 402] },
      context,
    );
  }

  /** The outcome of a POST that may decline; other 4xx become permanent errors. */
  #outcome(path: string, response: HttpResponse<WireIntent | WireError>): PaymentOutcome {
    if (response.status === 200) return { outcome: 'succeeded', payment: toRecord(response.body as WireIntent) };
    const { error } = response.body as WireError;
    if (error?.type === 'card_error' || DECLINE_CODES.has(error?.code ?? '')) {
      return {
        outcome: 'declined',
        code: error.decline_code ?? error.code ?? 'declined',
        message: error.message,
        payment: error.payment_intent ? toRecord(error.payment_intent) : undefined,
      };
    }
    throw errorForStatus('payment', response.status, { method: 'POST', path, body: response.body });
  }

  async authorize(input: { orderId: string; amount: string; currency: string; paymentMethod?: string }, context: CallContext = {}): Promise<PaymentOutcome> {
    const path = '/v1/payment_intents';
    const response = await this.#post(
      path,
      {
        amount: toMinor(input.amount, input.currency),
        currency: input.currency.toLowerCase(),
        capture_method: 'manual',
        confirm: 'true',
        payment_method: input.paymentMethod ?? 'pm_card_visa',
        'metadata[order_id]': input.orderId,
      },
      `authorize:${input.orderId}`,
      context,
    );
    return this.#outcome(path, response);
  }

  async capture(paymentId: string, input: { amount?: string } = {}, context: CallContext = {}): Promise<PaymentOutcome> {
    const path = `/v1/payment_intents/${encodeURIComponent(paymentId)}/capture`;
    const form: Record<string, string> = {};
    if (input.amount !== undefined) {
      const current = await this.getPayment(paymentId, context);
      if (!current) throw new SynclineError('payment.not_found', `no payment ${paymentId}`, { retry: 'permanent', details: { system: 'payment', paymentId } });
      form.amount_to_capture = toMinor(input.amount, current.currency);
    }
    const response = await this.#post(path, form, `capture:${paymentId}`, context);
    if (response.status === 400 && (response.body as WireError).error?.code === 'payment_intent_unexpected_state') {
      // Captured before under another key (say, after the key expired): that is the outcome wanted.
      const intent = (response.body as WireError).error.payment_intent;
      if (intent?.status === 'succeeded') return { outcome: 'succeeded', payment: toRecord(intent) };
    }
    return this.#outcome(path, response);
  }

  async void(paymentId: string, context: CallContext = {}): Promise<PaymentOutcome> {
    const path = `/v1/payment_intents/${encodeURIComponent(paymentId)}/cancel`;
    const response = await this.#post(path, { cancellation_reason: 'abandoned' }, `void:${paymentId}`, context);
    if (response.status === 400 && (response.body as WireError).error?.code === 'payment_intent_unexpected_state') {
      throw new SynclineError('payment.already_captured', `payment ${paymentId} was captured and cannot be voided; refund it instead`, {
        retry: 'permanent',
        details: { system: 'payment', paymentId },
      });
    }
    return this.#outcome(path, response);
  }

  async refund(paymentId: string, input: { amount: string; refundKey: string; reason?: string }, context: CallContext = {}): Promise<RefundRecord> {
    const current = await this.getPayment(paymentId, context);
    if (!current) throw new SynclineError('payment.not_found', `no payment ${paymentId}`, { retry: 'permanent', details: { system: 'payment', paymentId } });
    const path = '/v1/refunds';
    const response = await this.http.request<{ id: string; amount: number; currency: string; status: string; payment_intent: string }>(
      {
        method: 'POST',
        path,
        body: new URLSearchParams({
          payment_intent: paymentId,
          amount: toMinor(input.amount, current.currency),
          ...(input.reason ? { reason: input.reason } : {}),
          'metadata[refund_key]': input.refundKey,
        }),
        headers: { 'idempotency-key': `refund:${input.refundKey}` },
      },
      context,
    );
    const refund = response.body;
    return { id: refund.id, paymentId: refund.payment_intent, amount: fromMinor(refund.amount, current.currency), currency: current.currency, status: refund.status };
  }

  async getPayment(paymentId: string, context: CallContext = {}): Promise<PaymentRecord | undefined> {
    const response = await this.http.request<WireIntent>({ method: 'GET', path: `/v1/payment_intents/${encodeURIComponent(paymentId)}`, accept: [404] }, context);
    return response.status === 404 ? undefined : toRecord(response.body);
  }

  async findPayments(orderId: string, context: CallContext = {}): Promise<PaymentRecord[]> {
    // Stripe's search query language; a quote inside a value is escaped with a backslash.
    const query = `metadata['order_id']:'${orderId.replace(/['\\]/g, (c) => `\\${c}`)}'`;
    const response = await this.http.request<{ data: WireIntent[] }>(
      { method: 'GET', path: `/v1/payment_intents/search?${new URLSearchParams({ query, limit: '100' })}` },
      context,
    );
    return response.body.data.map(toRecord);
  }
}

/** A payment connector. */
export function createPaymentClient(options: PaymentClientOptions): PaymentClient {
  return new PaymentClient(options);
}

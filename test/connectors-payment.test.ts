import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SynclineError } from '../src/domain/errors.ts';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { startPaymentSandbox, type RunningPaymentSandbox } from '../src/connectors/payment/sandbox/payment.sandbox.ts';
import { createPaymentClient, type PaymentClient } from '../src/connectors/payment/outbound/payment.client.ts';

const KEY = 'sk_test_payment_suite';

describe('payment sandbox and client', () => {
  let gateway: RunningPaymentSandbox;
  let payments: PaymentClient;
  let admin: ReturnType<typeof sandboxAdmin>;

  before(async () => {
    gateway = await startPaymentSandbox();
    payments = createPaymentClient({ url: gateway.url, apiKey: KEY });
    admin = sandboxAdmin(gateway.url);
  });
  after(async () => gateway?.close());

  test('authorize, capture, refund: amounts cross the wire in minor units; repeats are idempotent', async () => {
    const auth = await payments.authorize({ orderId: 'ord_pay_1', amount: '59.99', currency: 'USD' });
    assert.equal(auth.outcome, 'succeeded');
    if (auth.outcome !== 'succeeded') return;
    assert.equal(auth.payment.state, 'authorized');
    assert.equal(auth.payment.amount, '59.99');
    assert.match(auth.payment.id, /^pi_/);
    assert.equal(gateway.state.intents.get(auth.payment.id)?.amount, 5999);

    const repeat = await payments.authorize({ orderId: 'ord_pay_1', amount: '59.99', currency: 'USD' });
    assert.equal(repeat.outcome === 'succeeded' && repeat.payment.id, auth.payment.id, 'same order, same authorisation');
    assert.equal(gateway.state.intents.size, 1);

    const captured = await payments.capture(auth.payment.id);
    assert.equal(captured.outcome === 'succeeded' && captured.payment.state, 'captured');
    const capturedAgain = await payments.capture(auth.payment.id);
    assert.equal(capturedAgain.outcome === 'succeeded' && capturedAgain.payment.capturedAmount, '59.99');

    const refund = await payments.refund(auth.payment.id, { amount: '20.00', refundKey: 'ret_1', reason: 'requested_by_customer' });
    assert.equal(refund.amount, '20.00');
    assert.equal(refund.status, 'succeeded');
    const refundAgain = await payments.refund(auth.payment.id, { amount: '20.00', refundKey: 'ret_1', reason: 'requested_by_customer' });
    assert.equal(refundAgain.id, refund.id, 'the same refund key refunds once');
    assert.equal((await payments.getPayment(auth.payment.id))?.refundedAmount, '20.00');
    await assert.rejects(payments.refund(auth.payment.id, { amount: '50.00', refundKey: 'ret_2' }), (error: unknown) => error instanceof SynclineError && error.retry === 'permanent');

    await assert.rejects(payments.void(auth.payment.id), (error: unknown) => error instanceof SynclineError && error.code === 'payment.already_captured');
  });

  test('void releases an authorisation; zero-decimal currencies are whole units', async () => {
    const auth = await payments.authorize({ orderId: 'ord_pay_2', amount: '1200', currency: 'JPY' });
    assert.equal(auth.outcome, 'succeeded');
    if (auth.outcome !== 'succeeded') return;
    assert.equal(gateway.state.intents.get(auth.payment.id)?.amount, 1200);
    const voided = await payments.void(auth.payment.id);
    assert.equal(voided.outcome === 'succeeded' && voided.payment.state, 'voided');
    assert.equal((await payments.void(auth.payment.id)).outcome, 'succeeded', 'voiding twice is fine');
  });

  test('a declined card and a forced capture failure are returned as declined outcomes, not thrown', async () => {
    const declined = await payments.authorize({ orderId: 'ord_pay_3', amount: '10.00', currency: 'USD', paymentMethod: 'pm_card_chargeDeclined' });
    assert.equal(declined.outcome, 'declined');
    assert.equal(declined.outcome === 'declined' && declined.code, 'generic_decline');

    await admin.call('PUT', '/_sandbox/config', { failCapturesFor: ['ord_pay_4'] });
    const auth = await payments.authorize({ orderId: 'ord_pay_4', amount: '10.00', currency: 'USD' });
    assert.equal(auth.outcome, 'succeeded');
    if (auth.outcome !== 'succeeded') return;
    const capture = await payments.capture(auth.payment.id);
    assert.equal(capture.outcome, 'declined');
    assert.equal(capture.outcome === 'declined' && capture.code, 'charge_expired_for_capture');
    assert.equal(capture.outcome === 'declined' && capture.payment?.state, 'failed');
    await admin.call('PUT', '/_sandbox/config', { failCapturesFor: [] });
  });

  test('the gateway enforces Stripe-style idempotency keys and API keys on the wire', async () => {
    const post = (body: string, key: string, auth = `Bearer ${KEY}`) =>
      fetch(`${gateway.url}/v1/payment_intents`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': key },
        body,
      });
    const first = await post('amount=100&currency=usd&confirm=true&metadata[order_id]=ord_raw', 'raw-key');
    assert.equal(first.status, 200);
    const replay = await post('amount=100&currency=usd&confirm=true&metadata[order_id]=ord_raw', 'raw-key');
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal(((await replay.json()) as { id: string }).id, ((await first.json()) as { id: string }).id);
    const misuse = await post('amount=200&currency=usd&confirm=true', 'raw-key');
    assert.equal(misuse.status, 400);
    assert.equal(((await misuse.json()) as { error: { type: string } }).error.type, 'idempotency_error');
    const unauthenticated = await post('amount=100&currency=usd', 'k2', 'Bearer pk_live_nope');
    assert.equal(unauthenticated.status, 401);

    const wrongKey = createPaymentClient({ url: gateway.url, apiKey: 'not-a-key' });
    await assert.rejects(wrongKey.getPayment('pi_x'), (error: unknown) => error instanceof SynclineError && error.code === 'connector.unauthorized' && error.retry === 'permanent');
  });

  test('gateway faults: an injected failure is not recorded under the idempotency key, so the retry succeeds', async () => {
    await admin.setFaults({ errorRate: 1 });
    await assert.rejects(payments.authorize({ orderId: 'ord_pay_5', amount: '5.00', currency: 'USD' }), (error: unknown) => error instanceof SynclineError && error.retry === 'transient');
    await admin.setFaults({ throttle: { retryAfterSeconds: 1 } });
    await assert.rejects(payments.authorize({ orderId: 'ord_pay_5', amount: '5.00', currency: 'USD' }), (error: unknown) => error instanceof SynclineError && error.retry === 'throttled' && error.details?.retryAfterMs === 1000);
    await admin.clearFaults();
    const retried = await payments.authorize({ orderId: 'ord_pay_5', amount: '5.00', currency: 'USD' });
    assert.equal(retried.outcome === 'succeeded' && retried.payment.state, 'authorized');
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SynclineError } from '../src/domain/errors.ts';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { startFraudSandbox, type RunningFraudSandbox } from '../src/connectors/fraud/sandbox/fraud.sandbox.ts';
import { createFraudClient, type FraudClient } from '../src/connectors/fraud/outbound/fraud.client.ts';
import { startLoyaltySandbox, type RunningLoyaltySandbox } from '../src/connectors/loyalty/sandbox/loyalty.sandbox.ts';
import { createLoyaltyClient, type LoyaltyClient } from '../src/connectors/loyalty/outbound/loyalty.client.ts';

const screening = (orderId: string, overrides: Partial<{ email: string; amount: string; shippingCountry: string; billingCountry: string }> = {}) => ({
  orderId,
  email: 'ada@example.com',
  amount: '120.00',
  currency: 'USD',
  shippingCountry: 'US',
  lineCount: 2,
  ...overrides,
});

describe('fraud sandbox and client', () => {
  let fraud: RunningFraudSandbox;
  let client: FraudClient;
  let admin: ReturnType<typeof sandboxAdmin>;
  before(async () => {
    fraud = await startFraudSandbox();
    client = createFraudClient({ url: fraud.url });
    admin = sandboxAdmin(fraud.url);
  });
  after(async () => fraud?.close());

  test('approves by default; holds by the rules set through its admin API, with reasons', async () => {
    assert.equal((await client.screen(screening('ord_f1'))).decision, 'approve');
    await admin.call('PUT', '/_sandbox/rules', { holdAbove: { USD: '1000.00' }, holdEmails: ['mallory@example.com'], holdCountryMismatch: true });

    const big = await client.screen(screening('ord_f2', { amount: '1000.01' }));
    assert.equal(big.decision, 'hold');
    assert.deepEqual(big.reasons.map((r) => r.code), ['amount_above_limit']);
    assert.equal((await client.screen(screening('ord_f3', { amount: '1000.00' }))).decision, 'approve', 'the limit itself passes');
    const watched = await client.screen(screening('ord_f4', { email: 'Mallory@Example.com', billingCountry: 'GB' }));
    assert.deepEqual(watched.reasons.map((r) => r.code), ['email_on_watchlist', 'country_mismatch']);

    await admin.call('PUT', '/_sandbox/rules', {});
    const again = await client.screen(screening('ord_f2', { amount: '1000.01' }));
    assert.equal(again.id, big.id, 'one screening per order: a repeat returns the first decision');
    assert.equal(again.decision, 'hold');
  });

  test('an invalid request is permanent; an outage is transient', async () => {
    await assert.rejects(client.screen({ ...screening('ord_f5'), currency: 'usd' }), (error: unknown) => error instanceof SynclineError && error.retry === 'permanent' && error.details?.status === 422);
    await admin.setFaults({ down: true });
    await assert.rejects(client.screen(screening('ord_f5')), (error: unknown) => error instanceof SynclineError && error.retry === 'transient');
    await admin.clearFaults();
  });
});

describe('loyalty sandbox and client', () => {
  let loyalty: RunningLoyaltySandbox;
  let client: LoyaltyClient;
  let admin: ReturnType<typeof sandboxAdmin>;
  before(async () => {
    loyalty = await startLoyaltySandbox();
    client = createLoyaltyClient({ url: loyalty.url });
    admin = sandboxAdmin(loyalty.url);
  });
  after(async () => loyalty?.close());

  test('awards points once per order and keeps the balance', async () => {
    assert.equal(await client.balance('grace@example.com'), 0);
    const award = await client.awardPoints({ orderId: 'ord_l1', email: 'grace@example.com', amount: '59.99', currency: 'USD' });
    assert.equal(award.created, true);
    assert.equal(award.points, 59);
    const repeat = await client.awardPoints({ orderId: 'ord_l1', email: 'grace@example.com', amount: '59.99', currency: 'USD' });
    assert.equal(repeat.created, false);
    assert.equal(repeat.id, award.id);
    await client.awardPoints({ orderId: 'ord_l2', email: 'GRACE@example.com', amount: '10.00', currency: 'USD' });
    assert.equal(await client.balance('grace@example.com'), 69);
  });

  test('an unreliable loyalty service fails transiently (the flow isolates it); the award lands once on retry', async () => {
    await admin.setFaults({ errorRate: 0.5 });
    const input = { orderId: 'ord_l3', email: 'alan@example.com', amount: '30.00', currency: 'USD' };
    const attempts: string[] = [];
    for (let i = 0; i < 4; i++) {
      try {
        await client.awardPoints(input);
        attempts.push('ok');
      } catch (error) {
        assert.ok(error instanceof SynclineError && error.retry === 'transient');
        attempts.push('failed');
      }
    }
    await admin.clearFaults();
    // A rate of 0.5 fails every second request, deterministically.
    assert.deepEqual(attempts, ['ok', 'failed', 'ok', 'failed']);
    assert.equal(await client.balance('alan@example.com'), 30, 'two successful awards for one order count once');
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startLoyaltySandbox, type RunningLoyaltySandbox } from '../src/connectors/loyalty/sandbox/loyalty.sandbox.ts';
import { createLoyaltyClient } from '../src/connectors/loyalty/outbound/loyalty.client.ts';

/** The loyalty sandbox's member calls customer propagation uses (src/connectors/loyalty/README.md), and the client's. */
describe('loyalty members: merge, unmerge, consent, erasure', () => {
  let loyalty: RunningLoyaltySandbox;
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${loyalty.url}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };
  };
  before(async () => {
    loyalty = await startLoyaltySandbox();
  });
  after(async () => loyalty?.close());

  test('status codes: merge 201 then 200, elsewhere 409, into itself 422, unknown 404; unmerge gives back what it brought', async () => {
    const client = createLoyaltyClient({ url: loyalty.url });
    await client.awardPoints({ orderId: 'o-1', email: 'ann@example.com', amount: '30.00', currency: 'EUR' });
    await client.awardPoints({ orderId: 'o-2', email: 'ann.b@example.com', amount: '12.00', currency: 'EUR' });
    assert.equal((await call('POST', '/v1/members/ann.b@example.com/merge', { into: 'ann@example.com' })).status, 201);
    assert.equal(loyalty.balances.get('ann@example.com'), 42);
    assert.equal((await call('POST', '/v1/members/ann.b@example.com/merge', { into: 'ann@example.com' })).status, 200);
    assert.equal(await client.mergeMember('ann.b@example.com', 'ann@example.com'), 'unchanged');
    assert.equal((await call('POST', '/v1/members/ann.b@example.com/merge', { into: 'other@example.com' })).status, 409);
    assert.equal((await call('POST', '/v1/members/ann@example.com/merge', { into: 'ANN@example.com' })).status, 422);
    assert.equal((await call('POST', '/v1/members/nobody@example.com/merge', { into: 'ann@example.com' })).status, 404);
    assert.equal((await call('POST', '/v1/members/ann.b@example.com/merge', { to: 'x' })).status, 422);
    await client.awardPoints({ orderId: 'o-3', email: 'ann@example.com', amount: '5.00', currency: 'EUR' });
    assert.equal(await client.unmergeMember('ann.b@example.com'), 'unmerged');
    assert.equal(loyalty.balances.get('ann@example.com'), 35, 'points earned since the merge stay');
    assert.equal(loyalty.balances.get('ann.b@example.com'), 12);
    assert.equal(await client.unmergeMember('ann.b@example.com'), 'unchanged');
    assert.equal(await client.unmergeMember('nobody@example.com'), 'not-found');
  });

  test('consent: the most recent statement wins; erasure pseudonymises the ledger', async () => {
    const client = createLoyaltyClient({ url: loyalty.url });
    await client.awardPoints({ orderId: 'o-9', email: 'bo@example.com', amount: '9.00', currency: 'EUR' });
    assert.equal(await client.setMemberConsent('bo@example.com', { purpose: 'sms_marketing', channel: 'sms', status: 'withdrawn', at: '2026-11-20T10:00:00Z' }), 'changed');
    await client.setMemberConsent('bo@example.com', { purpose: 'sms_marketing', channel: 'sms', status: 'granted', at: '2026-11-19T10:00:00Z' });
    assert.equal(loyalty.members.get('bo@example.com')!.consents.sms_marketing!.status, 'withdrawn');
    assert.equal((await call('PUT', '/v1/members/bo@example.com/consents/sms_marketing', { channel: 'sms', status: 'maybe', at: 'x' })).status, 422);
    assert.equal(await client.setMemberConsent('nobody@example.com', { purpose: 'profiling', channel: null, status: 'granted', at: '2026-11-20T10:00:00Z' }), 'not-found');
    assert.equal(await client.eraseMember('bo@example.com'), 'erased');
    assert.equal(await client.eraseMember('bo@example.com'), 'not-found');
    assert.ok(![...loyalty.awards.values()].some((a) => a.email === 'bo@example.com'));
    assert.equal((await call('GET', '/v1/members/bo@example.com')).status, 404);
  });
});

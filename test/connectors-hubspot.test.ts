import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SANDBOX_HUBSPOT_TOKEN, startHubspotSandbox, type RunningHubspotSandbox } from '../src/connectors/hubspot/sandbox/hubspot.sandbox.ts';
import { createHubspotClient } from '../src/connectors/hubspot/outbound/hubspot.client.ts';
import { TargetError } from '../src/runtime/targets/target-errors.ts';

/**
 * The HubSpot CRM sandbox's wire contract (src/connectors/hubspot/README.md): bearer auth, the
 * contact API's status codes and error bodies, the rate limit and its headers; and the
 * connector's calls against it.
 */

describe('HubSpot CRM sandbox and connector', () => {
  let hubspot: RunningHubspotSandbox;
  const call = async (method: string, path: string, body?: unknown, token = SANDBOX_HUBSPOT_TOKEN, url = hubspot.url) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };
  };

  before(async () => {
    hubspot = await startHubspotSandbox();
  });
  after(async () => {
    await hubspot?.close();
  });

  test('contacts: create 201, duplicate e-mail 409, invalid e-mail 400 VALIDATION_ERROR, unknown id 404, update, archive 204', async () => {
    const created = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'grace@example.com', firstname: 'Grace', lastname: 'Hopper' } });
    assert.equal(created.status, 201);
    assert.match(created.body!.id, /^\d+$/);
    assert.equal(created.body!.properties.email, 'grace@example.com');
    assert.equal(created.body!.archived, false);
    const duplicate = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'GRACE@example.com' } });
    assert.equal(duplicate.status, 409);
    assert.equal(duplicate.body!.category, 'CONFLICT');
    assert.equal(duplicate.body!.message, `Contact already exists. Existing ID: ${created.body!.id}`);
    assert.equal(duplicate.body!.status, 'error');
    assert.ok(duplicate.body!.correlationId);
    const invalid = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'not-an-email' } });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body!.category, 'VALIDATION_ERROR');
    assert.equal(invalid.body!.errors[0].code, 'INVALID_EMAIL');
    const malformed = await call('POST', '/crm/v3/objects/contacts', { nope: true });
    assert.equal(malformed.status, 400);
    assert.equal((await call('GET', '/crm/v3/objects/contacts/999999')).status, 404);
    const patched = await call('PATCH', `/crm/v3/objects/contacts/${created.body!.id}`, { properties: { phone: '+12133734253' } });
    assert.equal(patched.status, 200);
    assert.equal(patched.body!.properties.phone, '+12133734253');
    assert.equal((await call('PATCH', '/crm/v3/objects/contacts/999999', { properties: { phone: '1' } })).status, 404);
    const byEmail = await call('GET', '/crm/v3/objects/contacts/grace@example.com?idProperty=email&properties=firstname');
    assert.equal(byEmail.body!.properties.firstname, 'Grace');
    assert.equal((await call('DELETE', `/crm/v3/objects/contacts/${created.body!.id}`)).status, 204);
    assert.equal((await call('GET', `/crm/v3/objects/contacts/${created.body!.id}`)).status, 404);
  });

  test('a missing or wrong token is 401 INVALID_AUTHENTICATION; the admin API needs none', async () => {
    const wrong = await call('GET', '/crm/v3/objects/contacts', undefined, 'pat-na1-wrong');
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body!.category, 'INVALID_AUTHENTICATION');
    assert.equal((await fetch(`${hubspot.url}/_sandbox/health`)).status, 200);
  });

  test('search by property, list paging by after', async () => {
    for (const n of [1, 2, 3]) hubspot.seedContact({ email: `page${n}@example.com`, firstname: `Page${n}`, lastname: 'Turner' });
    const found = await call('POST', '/crm/v3/objects/contacts/search', { filterGroups: [{ filters: [{ propertyName: 'lastname', operator: 'EQ', value: 'turner' }] }], properties: ['email'], limit: 2 });
    assert.equal(found.status, 200);
    assert.equal(found.body!.total, 3);
    assert.equal(found.body!.results.length, 2);
    assert.equal(found.body!.paging.next.after, '2');
    const first = await call('GET', '/crm/v3/objects/contacts?limit=2&properties=email,lastname');
    assert.equal(first.body!.results.length, 2);
    const second = await call('GET', `/crm/v3/objects/contacts?limit=2&after=${first.body!.paging.next.after}`);
    assert.ok(second.body!.results.every((c: { id: string }) => Number(c.id) >= Number(first.body!.paging.next.after)));
    assert.equal((await call('GET', '/crm/v3/objects/contacts?limit=500')).status, 400);
  });

  test('merge: the merged id answers with the primary; merging again is a 400, an unknown id a 404; GDPR delete blocklists the e-mail', async () => {
    const a = hubspot.seedContact({ email: 'ada@example.com', firstname: 'Ada' });
    const b = hubspot.seedContact({ email: 'ada.l@example.com', firstname: 'Ada', phone: '+442071234567' });
    const merged = await call('POST', '/crm/v3/objects/contacts/merge', { primaryObjectId: a.id, objectIdToMerge: b.id });
    assert.equal(merged.status, 200);
    assert.equal(merged.body!.id, a.id);
    assert.equal(merged.body!.properties.hs_merged_object_ids, b.id);
    assert.equal(hubspot.contacts.get(a.id)!.properties.phone, '+442071234567', 'the primary takes values it lacked');
    assert.equal((await call('GET', `/crm/v3/objects/contacts/${b.id}`)).body!.id, a.id);
    assert.equal((await call('POST', '/crm/v3/objects/contacts/merge', { primaryObjectId: a.id, objectIdToMerge: b.id })).status, 400);
    assert.equal((await call('POST', '/crm/v3/objects/contacts/merge', { primaryObjectId: a.id, objectIdToMerge: '424242' })).status, 404);

    assert.equal((await call('POST', '/crm/v3/objects/contacts/gdpr-delete', { objectId: a.id })).status, 204);
    assert.equal(hubspot.contacts.has(a.id), false);
    assert.equal((await call('POST', '/crm/v3/objects/contacts/gdpr-delete', { objectId: a.id })).status, 404);
    const again = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'ada@example.com' } });
    assert.equal(again.status, 400, 'a GDPR-deleted e-mail is blocklisted');
  });

  test('communication preferences: unsubscribe, never re-subscribe through v3, statuses by e-mail', async () => {
    const email = 'lin@example.com';
    const sub = await call('POST', '/communication-preferences/v3/subscribe', { emailAddress: email, subscriptionId: '101', legalBasis: 'CONSENT_WITH_NOTICE', legalBasisExplanation: 'signed up' });
    assert.equal(sub.status, 200);
    assert.equal(sub.body!.status, 'SUBSCRIBED');
    assert.equal((await call('POST', '/communication-preferences/v3/subscribe', { emailAddress: email, subscriptionId: '101' })).status, 400, 'already subscribed');
    const unsub = await call('POST', '/communication-preferences/v3/unsubscribe', { emailAddress: email, subscriptionId: '101' });
    assert.equal(unsub.body!.status, 'NOT_SUBSCRIBED');
    const resub = await call('POST', '/communication-preferences/v3/subscribe', { emailAddress: email, subscriptionId: '101' });
    assert.equal(resub.status, 400);
    assert.match(resub.body!.message, /cannot be resubscribed/);
    assert.equal((await call('POST', '/communication-preferences/v3/unsubscribe', { emailAddress: email, subscriptionId: '999' })).status, 400);
    const statuses = await call('GET', `/communication-preferences/v3/status/email/${email}`);
    assert.equal(statuses.body!.subscriptionStatuses.find((s: { id: string }) => s.id === '101').status, 'NOT_SUBSCRIBED');
    assert.equal((await call('GET', '/communication-preferences/v3/definitions')).body!.subscriptionDefinitions.length, 3);
  });

  test('rate limit: the X-HubSpot-RateLimit headers count down; past the ten-secondly limit a 429 RATE_LIMIT body, which the connector reports as throttled', async () => {
    const limited = await startHubspotSandbox({ tenSecondlyLimit: 3 });
    try {
      const first = await call('GET', '/crm/v3/objects/contacts', undefined, SANDBOX_HUBSPOT_TOKEN, limited.url);
      assert.equal(first.headers.get('x-hubspot-ratelimit-max'), '3');
      assert.equal(first.headers.get('x-hubspot-ratelimit-remaining'), '2');
      assert.equal(first.headers.get('x-hubspot-ratelimit-interval-milliseconds'), '10000');
      assert.ok(Number(first.headers.get('x-hubspot-ratelimit-daily-remaining')) > 0);
      await call('GET', '/crm/v3/objects/contacts', undefined, SANDBOX_HUBSPOT_TOKEN, limited.url);
      await call('GET', '/crm/v3/objects/contacts', undefined, SANDBOX_HUBSPOT_TOKEN, limited.url);
      const over = await call('GET', '/crm/v3/objects/contacts', undefined, SANDBOX_HUBSPOT_TOKEN, limited.url);
      assert.equal(over.status, 429);
      assert.equal(over.body!.errorType, 'RATE_LIMIT');
      assert.equal(over.body!.policyName, 'TEN_SECONDLY_ROLLING');
      assert.equal(over.headers.get('x-hubspot-ratelimit-remaining'), '0');
      const client = createHubspotClient({ url: limited.url, accessToken: SANDBOX_HUBSPOT_TOKEN });
      await assert.rejects(client.listContacts({ limit: 10 }), (error: unknown) => error instanceof TargetError && error.retry === 'throttled');
    } finally {
      await limited.close();
    }
  });

  test('the connector: contacts mapped page by page, merge idempotent, consent per subscription type, erase', async () => {
    const fresh = await startHubspotSandbox();
    try {
      const client = createHubspotClient({ url: fresh.url, accessToken: SANDBOX_HUBSPOT_TOKEN });
      const a = fresh.seedContact({ email: 'mary@example.com', firstname: 'Mary', lastname: 'Jackson', address: '1 Langley Rd', city: 'Hampton', zip: '23666', country: 'US', lifecyclestage: 'customer', erp_account: '42' });
      const b = fresh.seedContact({ email: 'm.jackson@example.com', firstname: 'Mary', lastname: 'Jackson' });
      const page = await client.listContacts({ limit: 1 });
      assert.equal(page.contacts.length, 1);
      assert.equal(page.next, b.id);
      assert.deepEqual(page.contacts[0], {
        id: a.id,
        email: 'mary@example.com',
        givenName: 'Mary',
        familyName: 'Jackson',
        phone: null,
        address: { line1: '1 Langley Rd', city: 'Hampton', postalCode: '23666', country: 'US' },
        erpAccount: '42',
        engagement: { lifecycleStage: 'customer' },
        updatedAt: a.updatedAt,
      });
      assert.equal(await client.mergeContacts(a.id, b.id), 'merged');
      assert.equal(await client.mergeContacts(a.id, b.id), 'unchanged', 'a repeat finds the merge done');
      assert.equal(await client.mergeContacts(a.id, '777777'), 'not-found');

      fresh.subscriptions.set('mary@example.com', new Map([['101', { status: 'SUBSCRIBED', legalBasis: null, legalBasisExplanation: null }]]));
      assert.equal(await client.setConsent(a.id, { purpose: 'email_marketing', channel: 'email', status: 'withdrawn', proof: 'unsubscribe link' }), 'changed');
      assert.equal(fresh.subscriptions.get('mary@example.com')!.get('101')!.status, 'NOT_SUBSCRIBED');
      assert.equal(fresh.subscriptions.get('mary@example.com')!.get('101')!.legalBasisExplanation, 'unsubscribe link');
      assert.equal(await client.setConsent(a.id, { purpose: 'email_marketing', channel: 'email', status: 'withdrawn', proof: null }), 'unchanged');
      assert.equal(await client.setConsent(a.id, { purpose: 'email_marketing', channel: 'email', status: 'granted', proof: null }), 'refused');
      assert.equal(await client.setConsent(a.id, { purpose: 'profiling', channel: null, status: 'granted', proof: null }), 'changed');
      assert.equal(fresh.subscriptions.get('mary@example.com')!.get('103')!.status, 'SUBSCRIBED');
      assert.equal(await client.setConsent(a.id, { purpose: 'profiling', channel: 'sms', status: 'granted', proof: null }), 'not-mapped');

      assert.equal(await client.eraseContact(a.id), 'erased');
      assert.equal(await client.eraseContact(a.id), 'not-found');
      assert.equal(fresh.contacts.size, 0);
    } finally {
      await fresh.close();
    }
  });
});

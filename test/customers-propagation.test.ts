import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CustomerService } from '../src/domain/customers/customer.service.ts';
import type { CustomerRecordInput } from '../src/model/customer.ts';
import { newId } from '../src/model/ids.ts';
import { appendEvents } from '../src/runtime/outbox/outbox.ts';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { listPropagations, type PropagationRow } from '../src/store/customers/propagation.store.ts';
import { startFlowRig, type FlowRig } from './support/flows.ts';
import { call } from './support/orders.ts';
import { waitFor } from './support/runtime.ts';

/**
 * Customer propagation end to end (ADR 0038, docs/customers.md#propagation): Syncline's API and
 * workers on PostgreSQL with the Tryton, HubSpot and loyalty sandboxes. A steward's merge and
 * unmerge, a consent withdrawal and erasures reach each system holding a record, asserted on the
 * sandboxes' own state; each outcome is in customer_propagation; a failing system is retried,
 * then recorded failed, without holding the others up.
 */

const context = { correlationId: 'test-propagation' };
const home = { line1: '12 Main Street', city: 'Springfield', postalCode: '62701', country: 'US' };

describe('customer propagation to the ERP, CRM and loyalty sandboxes', () => {
  let rig: FlowRig;
  let customers: CustomerService;
  const api = (method: string, path: string) => call(rig.baseUrl, method, path, { token: rig.token });
  const party = (id: number) => rig.sandboxes.erp.erp.get('party.party', id);
  const newParty = (name: string, email: string) =>
    rig.sandboxes.erp.erp.create('party.party', [{ name, contact_mechanisms: [['create', [{ type: 'email', value: email }]]], addresses: [['create', [{ street: home.line1, city: home.city, postal_code: home.postalCode }]]] }])[0]!;
  /** Publishes a customer event through the outbox, as its emitter would. */
  const publish = (type: string, subject: string, correlationId: string, data: unknown) =>
    appendEvents(rig.database.db, [{ id: newId('event'), type, source: '/syncline/customers', subject, time: new Date().toISOString(), correlationId, data }]);
  /** The id of the latest outbox event of a type about a subject. */
  const lastEvent = async (type: string, subject: string) =>
    (await rig.database.db.query<{ id: string }>('SELECT id FROM outbox_event WHERE type = $1 AND subject = $2 ORDER BY tx_id DESC, position DESC LIMIT 1', [type, subject])).rows[0]!.id;
  /** Waits until `count` propagations of the customer's latest event of the type are settled (none pending); returns them by system. */
  const settled = async (customerId: string, eventType: string, count: number, subject = customerId, timeoutMs = 60_000): Promise<Record<string, PropagationRow>> => {
    const eventId = await lastEvent(eventType, subject);
    let rows: PropagationRow[] = [];
    await waitFor(`${count} settled ${eventType} propagations of ${customerId}`, async () => {
      rows = (await listPropagations(rig.database.db, { customerId })).filter((r) => r.eventId === eventId);
      return rows.length >= count && rows.every((r) => r.status !== 'pending');
    }, timeoutMs, 100);
    return Object.fromEntries(rows.map((r) => [r.system, r]));
  };
  const people = (prefix: string, loyaltyId: string, partyId: number, contactId: string, email: string): CustomerRecordInput[] => {
    const base = { givenName: 'Ada', familyName: 'Lovelace', emails: [{ address: email, verified: false }], addresses: [home], observedAt: '2026-11-01T10:00:00Z' };
    return [
      { ...base, system: 'loyalty', connection: 'loyalty', externalId: loyaltyId },
      { ...base, system: 'erp', connection: 'erp', externalId: String(partyId), references: { loyaltyId } },
      { ...base, system: 'crm', connection: 'crm', externalId: contactId, references: { loyaltyId }, attributes: { engagement: { lifecycleStage: prefix } } },
    ];
  };

  let ada: { customerId: string; party: number; contact: string; member: string };
  let lovelace: { customerId: string; party: number; contact: string; member: string };

  before(async () => {
    rig = await startFlowRig({ env: { SYNCLINE_CRM_PULL_SECONDS: '0', SYNCLINE_TARGET_POLICIES: JSON.stringify({ loyalty: { breaker: { failureThreshold: 100 } } }) } });
    customers = new CustomerService(rig.database.db);
    const setUp = async (email: string, points: number) => {
      const partyId = newParty('Ada Lovelace', email);
      const contact = rig.sandboxes.crm.seedContact({ email, firstname: 'Ada', lastname: 'Lovelace' });
      rig.sandboxes.loyalty.balances.set(email, points);
      let customerId = '';
      for (const r of people('customer', email, partyId, contact.id, email)) customerId = (await customers.ingest(r, context)).customerId;
      return { customerId, party: partyId, contact: contact.id, member: email };
    };
    ada = await setUp('ada@example.com', 100);
    lovelace = await setUp('ada.lovelace@work.example', 40);
    assert.notEqual(ada.customerId, lovelace.customerId, 'different e-mails, same name and address: a steward decides');
  });
  after(async () => {
    await rig?.close();
  });

  test('a steward merge and its unmerge reach the ERP (party deactivated, then active), the CRM (contacts merged, which HubSpot cannot undo) and loyalty (points combined, then split)', async () => {
    const pending = (await customers.pending(undefined, 50)).find((p) => p.customerIds.includes(ada.customerId) && p.customerIds.includes(lovelace.customerId));
    assert.ok(pending, 'the two are a stewardship pair');
    const merged = await api('POST', `/v1/customers/stewardship/${pending.id}/merge`);
    assert.equal(merged.status, 200, JSON.stringify(merged.body));
    assert.equal(merged.body.survivorId, ada.customerId);

    const merge = await settled(ada.customerId, 'customer.merged', 3);
    assert.deepEqual(Object.keys(merge).sort(), ['crm', 'erp', 'loyalty']);
    for (const system of ['erp', 'crm', 'loyalty']) assert.equal(merge[system]!.status, 'done', `${system}: ${JSON.stringify(merge[system])}`);
    assert.equal(party(lovelace.party).active, false, 'the merged party is deactivated in Tryton');
    assert.equal(party(ada.party).active, true);
    assert.equal(rig.sandboxes.crm.mergedInto.get(lovelace.contact), ada.contact, 'HubSpot merged the contact into the survivor');
    assert.equal(rig.sandboxes.crm.contacts.has(lovelace.contact), false);
    assert.equal(rig.sandboxes.loyalty.balances.get(ada.member), 140, 'loyalty combined the points');
    assert.equal(rig.sandboxes.loyalty.members.get(lovelace.member)!.mergedInto, ada.member);

    const listed = await api('GET', `/v1/customers/${ada.customerId}/propagations`);
    assert.equal(listed.status, 200);
    assert.ok(listed.body.data.some((p: { eventType: string; system: string; status: string; detail: unknown[] }) => p.eventType === 'customer.merged' && p.system === 'loyalty' && p.status === 'done' && JSON.stringify(p.detail).includes('"merged"')));
    assert.equal((await api('GET', '/v1/customers/cus_01jd5q8x7m2v3k4n5p6r7s8t00/propagations')).status, 404);
    assert.equal((await api('GET', '/v1/customers/nope/propagations')).status, 404);

    const undone = await api('POST', `/v1/customers/stewardship/merges/${merged.body.mergeId}/unmerge`);
    assert.equal(undone.status, 200, JSON.stringify(undone.body));
    const unmerge = await settled(lovelace.customerId, 'customer.unmerged', 3, ada.customerId);
    assert.equal(unmerge.erp!.status, 'done');
    assert.equal(party(lovelace.party).active, true, 'the party is active again');
    assert.equal(unmerge.loyalty!.status, 'done');
    assert.equal(rig.sandboxes.loyalty.balances.get(ada.member), 100, 'the points it brought went back');
    assert.equal(rig.sandboxes.loyalty.balances.get(lovelace.member), 40);
    assert.equal(unmerge.crm!.status, 'not_applicable');
    assert.match(JSON.stringify(unmerge.crm!.detail), /cannot undo a merge/);
    assert.equal(rig.sandboxes.crm.mergedInto.get(lovelace.contact), ada.contact, 'the CRM keeps its merge');
  });

  test('a consent withdrawal reaches the CRM (unsubscribed) and loyalty, not the ERP', async () => {
    rig.sandboxes.crm.subscriptions.set(ada.member, new Map([['101', { status: 'SUBSCRIBED', legalBasis: 'CONSENT_WITH_NOTICE', legalBasisExplanation: 'signed up' }]]));
    await publish('customer.consent_changed', ada.customerId, 'test-consent', { consentId: 'cns_test1', customerId: ada.customerId, purpose: 'email_marketing', channel: 'email', status: 'withdrawn', source: { system: 'channel', connection: 'shopify-us' }, at: '2026-11-20T09:00:00Z', proof: 'unsubscribe link' });
    const consent = await settled(ada.customerId, 'customer.consent_changed', 3);
    assert.equal(consent.crm!.status, 'done', JSON.stringify(consent.crm));
    assert.equal(rig.sandboxes.crm.subscriptions.get(ada.member)!.get('101')!.status, 'NOT_SUBSCRIBED');
    assert.equal(consent.loyalty!.status, 'done');
    assert.deepEqual(rig.sandboxes.loyalty.members.get(ada.member)!.consents.email_marketing, { channel: 'email', status: 'withdrawn', at: '2026-11-20T09:00:00Z' });
    assert.equal(consent.erp!.status, 'not_applicable');
  });

  test('an erasure reaches every system holding a record, each outcome tracked by request', async () => {
    const email = 'grace@example.com';
    const partyId = newParty('Grace Hopper', email);
    const contact = rig.sandboxes.crm.seedContact({ email, firstname: 'Grace', lastname: 'Hopper' });
    rig.sandboxes.loyalty.balances.set(email, 10);
    const customerId = (await customers.ingest({ system: 'crm', connection: 'crm', externalId: contact.id, givenName: 'Grace', familyName: 'Hopper', emails: [{ address: email, verified: true }], observedAt: '2026-11-01T10:00:00Z' }, context)).customerId;
    const requestId = 'dsr_test_grace';
    await publish('customer.erasure_requested', customerId, 'test-erasure', {
          requestId,
          customerId,
          records: [
            { recordId: 'csr_a', system: 'erp', connection: 'erp', sourceId: String(partyId) },
            { recordId: 'csr_b', system: 'crm', connection: 'crm', sourceId: contact.id },
            { recordId: 'csr_c', system: 'loyalty', connection: 'loyalty', sourceId: email },
            { recordId: 'csr_d', system: 'channel', connection: 'shopify-us', sourceId: '7741' },
          ],
        });
    let rows: PropagationRow[] = [];
    await waitFor('the erasure settled everywhere', async () => (rows = await listPropagations(rig.database.db, { requestId })).length === 4 && rows.every((r) => r.status !== 'pending'), 60_000, 100);
    const by = Object.fromEntries(rows.map((r) => [r.system, r]));
    assert.equal(by.erp!.status, 'done');
    assert.equal(by.crm!.status, 'done');
    assert.equal(by.loyalty!.status, 'done');
    assert.equal(by.channel!.status, 'not_applicable');
    assert.ok(rows.every((r) => r.requestId === requestId && r.customerId === customerId));
    const erased = party(partyId);
    assert.match(String(erased.name), /^Erased /);
    assert.equal(erased.active, false);
    assert.deepEqual(erased.contact_mechanisms, [], 'the e-mail is gone from Tryton');
    assert.equal(rig.sandboxes.crm.contacts.has(contact.id), false);
    assert.ok(rig.sandboxes.crm.gdprDeleted.has(email));
    assert.equal(rig.sandboxes.loyalty.balances.has(email), false);
    assert.ok(![...rig.sandboxes.loyalty.awards.values()].some((a) => a.email === email));
  });

  test('through the API: a consent withdrawal recorded reaches the CRM and loyalty; an erase request shows each system erased', async () => {
    const email = 'katherine@example.com';
    const partyId = newParty('Katherine Johnson', email);
    const contact = rig.sandboxes.crm.seedContact({ email, firstname: 'Katherine', lastname: 'Johnson' });
    rig.sandboxes.loyalty.balances.set(email, 25);
    const base = { givenName: 'Katherine', familyName: 'Johnson', emails: [{ address: email, verified: true }], addresses: [home], observedAt: '2026-11-01T10:00:00Z' };
    let customerId = '';
    const records: CustomerRecordInput[] = [
      { ...base, system: 'loyalty', connection: 'loyalty', externalId: email },
      { ...base, system: 'erp', connection: 'erp', externalId: String(partyId), references: { loyaltyId: email } },
      { ...base, system: 'crm', connection: 'crm', externalId: contact.id, references: { loyaltyId: email } },
    ];
    for (const r of records) customerId = (await customers.ingest(r, context)).customerId;
    rig.sandboxes.crm.subscriptions.set(email, new Map([['101', { status: 'SUBSCRIBED', legalBasis: 'CONSENT_WITH_NOTICE', legalBasisExplanation: 'signed up' }]]));

    const recorded = await call(rig.baseUrl, 'POST', `/v1/customers/${customerId}/consents`, {
      token: rig.token,
      body: { purpose: 'email_marketing', channel: null, status: 'withdrawn', source: { system: 'channel', connection: 'shopify-us' }, at: '2026-11-21T08:00:00Z', proof: 'unsubscribe link' },
    });
    assert.equal(recorded.status, 201, JSON.stringify(recorded.body));
    const consent = await settled(customerId, 'customer.consent_changed', 3);
    assert.equal(consent.crm!.status, 'done', JSON.stringify(consent.crm));
    assert.equal(rig.sandboxes.crm.subscriptions.get(email)!.get('101')!.status, 'NOT_SUBSCRIBED');
    assert.equal(consent.loyalty!.status, 'done');
    assert.equal(rig.sandboxes.loyalty.members.get(email)!.consents.email_marketing!.status, 'withdrawn');

    const erase = await call(rig.baseUrl, 'POST', `/v1/customers/${customerId}/data-requests`, { token: rig.token, body: { type: 'erase' } });
    assert.equal(erase.status, 201, JSON.stringify(erase.body));
    assert.deepEqual(erase.body.systems.map((s: { system: string; sourceId: string }) => [s.system, s.sourceId]).sort(), [['crm', contact.id], ['erp', String(partyId)], ['loyalty', email]]);
    let request: { systems: { system: string; status: string; attempts: number }[] } = erase.body;
    await waitFor('each system to answer the erasure', async () => {
      request = (await call(rig.baseUrl, 'GET', `/v1/customer-data-requests/${erase.body.id}`, { token: rig.token })).body;
      return request.systems.every((s) => s.status === 'done');
    }, 60_000, 100);
    assert.ok(request.systems.every((s) => s.attempts >= 1));
    assert.equal(party(partyId).active, false);
    assert.deepEqual(party(partyId).contact_mechanisms, [], 'the e-mail is gone from Tryton');
    assert.equal(rig.sandboxes.crm.contacts.has(contact.id), false);
    assert.equal(rig.sandboxes.loyalty.balances.has(email), false);
  });

  test('a failing system is retried, then recorded failed, while the others complete', async () => {
    const loyalty = sandboxAdmin(rig.sandboxes.urls.loyalty);
    await loyalty.setFaults({ errorRate: 1, errorStatus: 503 });
    try {
      const requestId = 'dsr_test_ada';
      await publish('customer.erasure_requested', ada.customerId, 'test-erasure-failing', {
            requestId,
            customerId: ada.customerId,
            records: [
              { recordId: 'csr_e', system: 'erp', connection: 'erp', sourceId: String(ada.party) },
              { recordId: 'csr_f', system: 'crm', connection: 'crm', sourceId: ada.contact },
              { recordId: 'csr_g', system: 'loyalty', connection: 'loyalty', sourceId: ada.member },
            ],
          });
      let rows: PropagationRow[] = [];
      await waitFor('the ERP and the CRM done while loyalty fails', async () => {
        rows = await listPropagations(rig.database.db, { requestId });
        const by = Object.fromEntries(rows.map((r) => [r.system, r]));
        return by.erp?.status === 'done' && by.crm?.status === 'done' && by.loyalty?.status === 'pending' && by.loyalty.attempts >= 1;
      }, 60_000, 50);
      await waitFor('loyalty recorded failed', async () => (rows = await listPropagations(rig.database.db, { requestId })).find((r) => r.system === 'loyalty')!.status === 'failed', 120_000, 200);
      const failed = rows.find((r) => r.system === 'loyalty')!;
      assert.equal(failed.attempts, 6, 'every attempt of the job counted');
      assert.equal(failed.lastError!.code, 'connector.unavailable');
      assert.equal(rig.sandboxes.loyalty.balances.get(ada.member), 100, 'nothing erased at the failing system');
      assert.match(String(party(ada.party).name), /^Erased /);
    } finally {
      await loyalty.clearFaults();
    }
  });
});

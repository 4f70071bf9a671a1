import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CustomerService } from '../src/domain/customers/customer.service.ts';
import { EVENT_PAYLOADS } from '../src/model/events.ts';
import type { CustomerRecordInput } from '../src/model/customer.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { call, sampleOrder, submitOrder } from './support/orders.ts';

/**
 * Consent, data subject requests (export) and masking on PostgreSQL through the API
 * (docs/customers.md, ADR 0039). The erase is proven end to end in customers-erasure-e2e.test.ts.
 */

const context = { correlationId: 'test-privacy' };
const home = { line1: '7 Orchard Road', city: 'Springfield', postalCode: '62704', country: 'US' };
let serial = 0;
const record = (overrides: Partial<CustomerRecordInput> = {}): CustomerRecordInput => ({
  system: 'channel',
  connection: 'shopify-us',
  externalId: `web-${++serial}`,
  givenName: 'Hedy',
  familyName: 'Lamarr',
  observedAt: '2026-11-01T10:00:00Z',
  ...overrides,
});
const statement = (overrides: Record<string, unknown> = {}) => ({ purpose: 'email_marketing', status: 'granted', source: { system: 'crm', connection: 'crm' }, at: '2026-11-01T10:00:00Z', ...overrides });

describe('customer consent, export and masking', () => {
  let database: TestDatabase;
  let server: TestServer;
  let customers: CustomerService;
  let token: string;
  const api = (method: string, path: string, body?: unknown, as = token) => call(server.baseUrl, method, path, { token: as, ...(body !== undefined ? { body } : {}) });
  const events = async (subject: string, type: string) =>
    (await database.db.query<{ type: string; source: string; data: Record<string, unknown> }>('SELECT type, source, data FROM outbox_event WHERE subject = $1 AND type = $2 ORDER BY position', [subject, type])).rows;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database.url);
    token = await server.token('customers:read customers:write customers:steward customers:privacy customers:pii orders:write orders:read');
    customers = new CustomerService(database.db);
  });
  after(async () => {
    await server?.close();
    await database?.drop();
  });

  test('statements are recorded with their source, time and proof; the current state follows the precedence; each is an event', async () => {
    const { customerId } = await customers.ingest(record({ emails: [{ address: 'hedy@example.com', verified: true }] }), context);
    const granted = await api('POST', `/v1/customers/${customerId}/consents`, statement({ proof: 'form:signup-77' }));
    assert.equal(granted.status, 201, JSON.stringify(granted.body));
    assert.equal(granted.body.consent.proof, 'form:signup-77');
    // A withdrawal on one channel, a later grant on another, then a withdrawal for every channel at the same time as a grant.
    assert.equal((await api('POST', `/v1/customers/${customerId}/consents`, statement({ status: 'withdrawn', channel: 'pos-stores', at: '2026-11-02T10:00:00Z', source: { system: 'channel', connection: 'pos-stores' } }))).status, 201);
    assert.equal((await api('POST', `/v1/customers/${customerId}/consents`, statement({ channel: 'shopify-us', at: '2026-11-03T10:00:00Z' }))).status, 201);
    assert.equal((await api('POST', `/v1/customers/${customerId}/consents`, statement({ purpose: 'sms_marketing', at: '2026-11-04T10:00:00Z' }))).status, 201);
    assert.equal((await api('POST', `/v1/customers/${customerId}/consents`, statement({ purpose: 'sms_marketing', status: 'withdrawn', at: '2026-11-04T10:00:00Z', source: { system: 'loyalty' } }))).status, 201);
    const again = await api('POST', `/v1/customers/${customerId}/consents`, statement({ proof: 'form:signup-77' }));
    assert.equal(again.status, 200, 'the same statement from the same source is recorded once');
    assert.equal(again.body.consent.id, granted.body.consent.id);

    const listed = await api('GET', `/v1/customers/${customerId}/consents`);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.current.map((c: { purpose: string; channel: string | null; status: string }) => `${c.purpose}/${c.channel ?? '*'}=${c.status}`), [
      'email_marketing/*=granted',
      'email_marketing/pos-stores=withdrawn',
      'email_marketing/shopify-us=granted',
      'sms_marketing/*=withdrawn',
    ]);
    assert.equal(listed.body.history.length, 5);
    assert.deepEqual(listed.body.history.map((h: { at: string }) => h.at), [...listed.body.history.map((h: { at: string }) => h.at)].sort());

    const published = await events(customerId, 'customer.consent_changed');
    assert.equal(published.length, 5, 'one event per statement, none for the repeat');
    for (const event of published) {
      assert.equal(event.source, '/syncline/customers');
      EVENT_PAYLOADS['customer.consent_changed'].parse(event.data);
      assert.deepEqual(Object.keys(event.data).sort(), ['at', 'channel', 'consentId', 'customerId', 'proof', 'purpose', 'source', 'status']);
    }
    assert.deepEqual(published[0]!.data, {
      consentId: granted.body.consent.id,
      customerId,
      purpose: 'email_marketing',
      channel: null,
      status: 'granted',
      source: { system: 'crm', connection: 'crm' },
      at: '2026-11-01T10:00:00.000Z',
      proof: 'form:signup-77',
    });
    assert.deepEqual(published[4]!.data.source, { system: 'loyalty', connection: null });
  });

  test("a merged customer's consents follow the survivor; an unmerge keeps each statement with its side", async () => {
    const a = await customers.ingest(record({ givenName: 'Rosalind', familyName: 'Franklin', addresses: [home] }), context);
    const b = await customers.ingest(record({ givenName: 'Rosalind', familyName: 'Franklin', addresses: [home], phones: ['+1 415 555 2699'] }), context);
    assert.notEqual(a.customerId, b.customerId);
    await api('POST', `/v1/customers/${a.customerId}/consents`, statement({ purpose: 'profiling', at: '2026-11-01T09:00:00Z' }));
    await api('POST', `/v1/customers/${b.customerId}/consents`, statement({ purpose: 'profiling', status: 'withdrawn', at: '2026-11-01T11:00:00Z' }));
    const pair = ((await api('GET', '/v1/customers/stewardship?limit=200')).body.data as { id: string; customerIds: string[] }[]).find((p) => p.customerIds.includes(a.customerId) && p.customerIds.includes(b.customerId));
    assert.ok(pair, 'the two wait for a steward');
    const merged = await api('POST', `/v1/customers/stewardship/${pair.id}/merge`);
    assert.equal(merged.status, 200);
    const survivor = merged.body.survivorId as string;
    const other = survivor === a.customerId ? b.customerId : a.customerId;
    const joined = (await api('GET', `/v1/customers/${survivor}/consents`)).body;
    assert.equal(joined.history.length, 2);
    assert.deepEqual(joined.current.map((c: { purpose: string; status: string }) => `${c.purpose}=${c.status}`), ['profiling=withdrawn'], 'the later withdrawal of the merged customer wins');
    assert.deepEqual((await api('GET', `/v1/customers/${other}/consents`)).body.customerId, survivor, 'the merged id answers with its survivor');
    const late = await api('POST', `/v1/customers/${other}/consents`, statement({ purpose: 'email_marketing', at: '2026-11-05T09:00:00Z' }));
    assert.equal(late.body.consent.customerId, survivor, 'a statement for a merged id is recorded for its survivor');

    assert.equal((await api('POST', `/v1/customers/stewardship/merges/${merged.body.mergeId}/unmerge`)).status, 200);
    const [left, right] = [(await api('GET', `/v1/customers/${a.customerId}/consents`)).body, (await api('GET', `/v1/customers/${b.customerId}/consents`)).body];
    assert.deepEqual(left.history.map((h: { status: string; purpose: string }) => `${h.purpose}=${h.status}`), a.customerId === survivor ? ['profiling=granted', 'email_marketing=granted'] : ['profiling=granted']);
    assert.deepEqual(right.history.map((h: { status: string; purpose: string }) => `${h.purpose}=${h.status}`), b.customerId === survivor ? ['profiling=withdrawn', 'email_marketing=granted'] : ['profiling=withdrawn']);
  });

  test('an export holds the golden record, records with history, merges, consents, orders with returns and audit entries', async () => {
    const shopper = { email: 'katherine.j@example.com', name: 'Katherine Johnson', phone: '+1 757 555 0142' };
    const submitted = await submitOrder(server.baseUrl, token, sampleOrder({ customer: shopper, shippingAddress: { name: 'Katherine Johnson', line1: '3 Langley Way', city: 'Hampton', region: 'VA', postalCode: '23665', country: 'US' } }));
    assert.equal(submitted.status, 201);
    const resolved = await customers.resolveOrder(submitted.body, context);
    assert.ok(resolved);
    const loyalty = await customers.ingest(record({ system: 'loyalty', connection: 'loyalty', externalId: 'LM-900', givenName: 'Katherine', familyName: 'Johnson', emails: [{ address: 'katherine.j@example.com', verified: true }], phones: ['+1 757 555 0142'] }), context);
    assert.equal(loyalty.customerId, resolved.customerId, 'the loyalty member joins the web buyer');
    await customers.ingest(record({ system: 'loyalty', connection: 'loyalty', externalId: 'LM-900', givenName: 'Katherine', familyName: 'Johnson', emails: [{ address: 'katherine.j@example.com', verified: true }], phones: ['+1 757 555 0199'], observedAt: '2026-11-03T00:00:00Z' }), context);
    await api('POST', `/v1/customers/${resolved.customerId}/consents`, statement({ status: 'withdrawn' }));

    const created = await api('POST', `/v1/customers/${resolved.customerId}/data-requests`, { type: 'export' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.headers.get('location'), `/v1/customer-data-requests/${created.body.id}`);
    const fetched = await api('GET', `/v1/customer-data-requests/${created.body.id}`);
    assert.equal(fetched.status, 200);
    const doc = fetched.body.document;
    assert.equal(fetched.body.type, 'export');
    assert.equal(doc.customerId, resolved.customerId);
    assert.equal(doc.customer.golden.email.value, 'katherine.j@example.com');
    assert.equal(doc.customer.sourceRecords.length, 2);
    assert.ok(doc.customer.identifiers.some((i: { system: string; id: string }) => i.system === 'loyalty' && i.id === 'LM-900'));
    assert.ok(doc.customer.phones.some((p: { normalized: string }) => p.normalized === '+17575550199'));
    assert.deepEqual(doc.sourceRecordHistory.filter((h: { reason: string }) => h.reason !== 'merged').map((h: { reason: string }) => h.reason).sort(), ['received', 'received', 'updated']);
    assert.ok(doc.sourceRecordHistory.some((h: { data: { phones?: string[] } | null }) => h.data?.phones?.includes('+1 757 555 0142')), 'earlier versions are in the history');
    assert.equal(doc.merges.length, 1);
    assert.equal(doc.consents.current[0].status, 'withdrawn');
    assert.equal(doc.orders.length, 1);
    assert.equal(doc.orders[0].order.id, submitted.body.id);
    assert.equal(doc.orders[0].order.customer.email, shopper.email);
    assert.deepEqual(doc.orders[0].returns, []);
    assert.ok(doc.audit.some((a: { action: string }) => a.action === 'customer.consent_recorded'));
    assert.ok(await database.db.query('SELECT 1 FROM audit_event WHERE action = $1 AND target_id = $2', ['customer.exported', resolved.customerId]).then((r) => r.rowCount === 1));
  });

  test('customers:read alone sees e-mails, phones, addresses and names masked; customers:pii sees them', async () => {
    const { customerId } = await customers.ingest(
      record({ givenName: 'Barbara', familyName: 'Liskov', emails: [{ address: 'barbara.liskov@example.com', verified: true }], phones: ['+1 617 555 0123'], addresses: [{ line1: '32 Vassar Street', city: 'Cambridge', postalCode: '02139', country: 'US' }] }),
      context,
    );
    const reader = await server.token('customers:read');
    const pii = await server.token('customers:read customers:pii');
    const secrets = ['barbara.liskov@example.com', 'Barbara', 'Liskov', '617 555 0123', '+16175550123', '32 Vassar Street'];
    for (const path of [`/v1/customers/${customerId}`, '/v1/customers?email=barbara.liskov%40example.com', `/v1/customers/${customerId}/consents`]) {
      const masked = await api('GET', path, undefined, reader);
      assert.equal(masked.status, 200, path);
      const text = JSON.stringify(masked.body);
      for (const secret of secrets) assert.ok(!text.includes(secret), `${path} shows ${secret} to customers:read: ${text}`);
      const open = await api('GET', path, undefined, pii);
      assert.equal(open.status, 200, path);
      if (!path.endsWith('/consents')) for (const secret of secrets) assert.ok(JSON.stringify(open.body).includes(secret), `${path} hides ${secret} from customers:pii`);
    }
    const masked = (await api('GET', `/v1/customers/${customerId}`, undefined, reader)).body;
    assert.equal(masked.golden.email.value, 'b***@e***.com');
    assert.equal(masked.golden.givenName.value, 'B***');
    assert.equal(masked.addresses[0].value.country, 'US', 'the country stays');
    assert.equal(masked.id, customerId);
    assert.equal(masked.golden.email.recordId, masked.sourceRecords[0].id, 'ids stay');
    // Stewardship evidence says what agreed (kinds and points), not the values compared (docs/customers.md); the pair's records are masked without customers:pii.
    await customers.ingest(record({ givenName: 'Barbara', familyName: 'Liskov', addresses: [{ line1: '32 Vassar Street', city: 'Cambridge', postalCode: '02139', country: 'US' }] }), context);
    const steward = await server.token('customers:steward');
    const queue = JSON.stringify((await api('GET', '/v1/customers/stewardship?limit=200', undefined, steward)).body);
    assert.ok(queue.includes('"kind":"given name"') && !/barbara|liskov|vassar/i.test(queue), queue);
  });

  test("erasing a merged customer erases the survivor's whole identity, and orders placed with its e-mail not resolved yet", async () => {
    const a = await customers.ingest(record({ system: 'loyalty', connection: 'loyalty', externalId: 'LM-501', givenName: 'Ottoline', familyName: 'Vexley', emails: [{ address: 'ottoline.v@example.com', verified: true }], addresses: [home] }), context);
    const b = await customers.ingest(record({ givenName: 'Ottoline', familyName: 'Vexley', addresses: [home], phones: ['+1 415 555 2644'] }), context);
    const pair = ((await api('GET', '/v1/customers/stewardship?limit=200')).body.data as { id: string; customerIds: string[] }[]).find((p) => p.customerIds.includes(a.customerId) && p.customerIds.includes(b.customerId));
    assert.ok(pair);
    const merged = await api('POST', `/v1/customers/stewardship/${pair.id}/merge`);
    const survivor = merged.body.survivorId as string;
    const mergedAway = survivor === a.customerId ? b.customerId : a.customerId;
    // No worker runs in this server: the order stays unresolved.
    const order = await submitOrder(server.baseUrl, token, sampleOrder({ customer: { email: 'Ottoline.V@example.com', name: 'Ottoline Vexley' }, shippingAddress: { name: 'Ottoline Vexley', line1: '7 Orchard Road', city: 'Springfield', region: 'IL', postalCode: '62704', country: 'US' } }));
    assert.equal(order.status, 201);
    // A household member: same family name and street, own e-mail and given name.
    const household = { customer: { email: 'harold.vexley@example.com', name: 'Harold Vexley' }, shippingAddress: { name: 'Harold Vexley', line1: '7 Orchard Road', city: 'Springfield', region: 'IL', postalCode: '62704', country: 'US' } };
    const theirs = await submitOrder(server.baseUrl, token, sampleOrder(household));
    assert.equal(theirs.status, 201);

    const erased = await api('POST', `/v1/customers/${mergedAway}/data-requests`, { type: 'erase' });
    assert.equal(erased.status, 201, JSON.stringify(erased.body));
    assert.equal(erased.body.customerId, survivor, 'the request names the survivor');
    assert.deepEqual(erased.body.systems.map((s: { system: string }) => s.system).sort(), ['channel', 'loyalty'], 'both records, from both customers');
    assert.equal(erased.body.systems.find((s: { system: string }) => s.system === 'loyalty').sourceId, 'LM-501');
    const shown = (await api('GET', `/v1/customers/${survivor}`)).body;
    assert.equal(shown.sourceRecords.length, 2);
    for (const source of shown.sourceRecords) assert.deepEqual([source.data.givenName, source.data.emails, source.data.addresses], [undefined, [], []]);
    const text = JSON.stringify([shown, (await api('GET', `/v1/orders/${order.body.id}`)).body]);
    for (const value of ['Ottoline', 'Vexley', 'ottoline.v@example.com', '7 Orchard Road', '555 2644']) assert.ok(!text.toLowerCase().includes(value.toLowerCase()), `${value} is left: ${text}`);
    const kept = (await api('GET', `/v1/orders/${theirs.body.id}`)).body;
    assert.deepEqual([kept.customer, kept.shippingAddress], [household.customer, household.shippingAddress], "the household member's order keeps the shared street and family name");
    assert.equal((await api('POST', `/v1/customers/${survivor}/data-requests`, { type: 'erase' })).body.id, erased.body.id, 'the survivor is erased already');
    const later = await customers.ingest(record({ givenName: 'Ottoline', familyName: 'Vexley', emails: [{ address: 'ottoline.v@example.com', verified: true }] }), context);
    assert.notEqual(later.customerId, survivor, 'an erased customer is nobody’s candidate');
  });

  test('scopes: customers:write records consent, customers:privacy makes data requests; 403 without', async () => {
    const { customerId } = await customers.ingest(record(), context);
    const reader = await server.token('customers:read');
    assert.equal((await api('POST', `/v1/customers/${customerId}/consents`, statement(), reader)).status, 403);
    assert.equal((await api('POST', `/v1/customers/${customerId}/data-requests`, { type: 'export' }, reader)).status, 403);
    assert.equal((await api('GET', '/v1/customer-data-requests/dsr_01jd5q8x7m2v3k4n5p6r7s8tc1', undefined, reader)).status, 403);
    const writer = await server.token('customers:write');
    assert.equal((await api('POST', `/v1/customers/${customerId}/consents`, statement({ at: '2026-11-09T00:00:00Z' }), writer)).status, 201);
  });

  test('every bad input is a problem', async () => {
    const { customerId } = await customers.ingest(record(), context);
    const unknown = 'cus_01jd5q8x7m2v3k4n5p6r7s8tc1';
    const cases: [string, string, unknown, number][] = [
      ['POST', `/v1/customers/${customerId}/consents`, statement({ purpose: 'telepathy' }), 422],
      ['POST', `/v1/customers/${customerId}/consents`, statement({ status: 'maybe' }), 422],
      ['POST', `/v1/customers/${customerId}/consents`, statement({ at: 'yesterday' }), 422],
      ['POST', `/v1/customers/${customerId}/consents`, statement({ source: { system: 'fax' } }), 422],
      ['POST', `/v1/customers/${customerId}/consents`, statement({ channel: 'Not A Slug!' }), 422],
      ['POST', `/v1/customers/${customerId}/consents`, { ...statement(), extra: 1 }, 422],
      ['POST', `/v1/customers/${customerId}/consents`, undefined, 422],
      ['POST', `/v1/customers/${unknown}/consents`, statement(), 404],
      ['POST', '/v1/customers/nope/consents', statement(), 404],
      ['GET', `/v1/customers/${unknown}/consents`, undefined, 404],
      ['POST', `/v1/customers/${customerId}/data-requests`, { type: 'delete-everything' }, 422],
      ['POST', `/v1/customers/${customerId}/data-requests`, {}, 422],
      ['POST', `/v1/customers/${unknown}/data-requests`, { type: 'erase' }, 404],
      ['POST', `/v1/customers/${unknown}/data-requests`, { type: 'export' }, 404],
      ['GET', '/v1/customer-data-requests/dsr_01jd5q8x7m2v3k4n5p6r7s8tc1', undefined, 404],
      ['GET', '/v1/customer-data-requests/nope', undefined, 404],
    ];
    for (const [method, path, body, status] of cases) {
      const response = await api(method, path, body);
      assert.equal(response.status, status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(response.body)}`);
      assert.match(String(response.headers.get('content-type')), /^application\/problem\+json/, path);
    }
    const problem = (await api('POST', `/v1/customers/${customerId}/consents`, statement({ purpose: 'telepathy' }))).body;
    assert.ok(problem.errors.some((e: { pointer: string }) => e.pointer === '/purpose'), JSON.stringify(problem));
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CustomerService } from '../src/domain/customers/customer.service.ts';
import type { CustomerRecordInput } from '../src/model/customer.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { call } from './support/orders.ts';

/**
 * Customers on PostgreSQL (docs/customers.md): matching through the store, the look-ups and
 * the stewardship queue through the API, the events in the outbox, the scopes.
 */

const context = { correlationId: 'test-customers' };
const home = { line1: '12 Main Street', city: 'Springfield', postalCode: '62701', country: 'US' };
let serial = 0;
const record = (overrides: Partial<CustomerRecordInput> = {}): CustomerRecordInput => ({
  system: 'channel',
  connection: 'shopify-us',
  externalId: `web-${++serial}`,
  givenName: 'Ada',
  familyName: 'Lovelace',
  observedAt: '2026-11-01T10:00:00Z',
  ...overrides,
});

describe('customers on PostgreSQL', () => {
  let database: TestDatabase;
  let server: TestServer;
  let customers: CustomerService;
  let token: string;
  const api = (method: string, path: string, as = token) => call(server.baseUrl, method, path, { token: as });
  const events = async (subject: string) =>
    (await database.db.query<{ type: string; data: Record<string, unknown> }>('SELECT type, data FROM outbox_event WHERE subject = $1 ORDER BY id', [subject])).rows;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database.url);
    token = await server.token('customers:read customers:steward customers:pii');
    customers = new CustomerService(database.db);
  });
  after(async () => {
    await server?.close();
    await database?.drop();
  });

  test('a web guest, a loyalty member and an ERP contact become one customer by the deterministic rules', async () => {
    const loyalty = await customers.ingest(record({ system: 'loyalty', connection: 'loyalty', externalId: 'LM-100', emails: [{ address: 'ada.l@gmail.com', verified: true }], attributes: { loyaltyPoints: 340, loyaltyTier: 'gold' } }), context);
    assert.equal(loyalty.outcome, 'created');
    const guest = await customers.ingest(record({ givenName: 'A', emails: [{ address: 'someone@example.com', verified: false }], phones: ['(213) 373-4253'], addresses: [home], references: { loyaltyId: 'LM-100' } }), context);
    assert.equal(guest.outcome, 'merged');
    assert.equal(guest.customerId, loyalty.customerId);
    const erp = await customers.ingest(
      record({ system: 'erp', connection: 'erp', externalId: 'P-7', givenName: 'Ada', emails: [{ address: 'ADAL+orders@googlemail.com', verified: true }], attributes: { legalAccount: 'LOVELACE-LTD', paymentTerms: 'NET30' } }),
      context,
    );
    assert.equal(erp.customerId, loyalty.customerId, 'same verified e-mail, once normalised');

    const one = await api('GET', `/v1/customers/${loyalty.customerId}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.sourceRecords.length, 3);
    assert.equal(one.body.golden.legalAccount.value, 'LOVELACE-LTD');
    assert.equal(one.body.golden.loyaltyTier.value, 'gold');
    assert.deepEqual(one.body.merges.map((m: { rule: string }) => m.rule).sort(), ['same-loyalty-id', 'same-verified-email']);
    assert.ok(one.body.phones.some((p: { normalized: string }) => p.normalized === '+12133734253'));

    for (const query of ['email=A.D.A.L%2Bx%40gmail.com', 'phone=%2B1%20213%20373%204253', 'phone=2133734253&country=US']) {
      const found = await api('GET', `/v1/customers?${query}`);
      assert.equal(found.status, 200, query);
      assert.deepEqual(found.body.data.map((c: { id: string }) => c.id), [loyalty.customerId], query);
    }
    assert.deepEqual((await api('GET', '/v1/customers?email=nobody%40example.com')).body.data, []);
    const mergedAway = await api('GET', `/v1/customers/${one.body.merges[0].mergedId}`);
    assert.equal(mergedAway.body.status, 'merged');
    assert.equal(mergedAway.body.mergedInto, loyalty.customerId);

    const published = await events(loyalty.customerId);
    assert.deepEqual(published.map((e) => e.type), ['customer.created', 'customer.merged', 'customer.merged']);
    assert.equal(published[1]!.data.decision, 'deterministic');
    assert.ok(Array.isArray(published[1]!.data.evidence));
  });

  test('a pair between the thresholds waits for a steward; kept apart, it never comes back', async () => {
    const first = await customers.ingest(record({ givenName: 'Grace', familyName: 'Hopper', addresses: [home] }), context);
    const second = await customers.ingest(record({ givenName: 'Grace', familyName: 'Hopper', addresses: [{ ...home, line1: '12 MAIN ST' }], emails: [{ address: 'gh2@example.com', verified: false }] }), context);
    assert.equal(second.outcome, 'created');
    assert.equal(second.queued, 1);
    const queue = await api('GET', '/v1/customers/stewardship');
    assert.equal(queue.status, 200);
    const pair = queue.body.data.find((p: { customerIds: string[] }) => p.customerIds.includes(first.customerId));
    assert.ok(pair, JSON.stringify(queue.body));
    assert.ok(pair.score >= 0.5 && pair.score < 0.9, `score ${pair.score}`);
    assert.ok(pair.evidence.some((e: { kind: string; detail: string }) => e.kind === 'address' && e.detail === 'same address'));

    const apart = await api('POST', `/v1/customers/stewardship/${pair.id}/keep-apart`);
    assert.equal(apart.status, 200);
    assert.equal(apart.body.status, 'kept_apart');
    const again = await api('POST', `/v1/customers/stewardship/${pair.id}/merge`);
    assert.equal(again.status, 409);
    assert.match(String(again.headers.get('content-type')), /^application\/problem\+json/);
    assert.equal(again.body.type, '/problems/stewardship-decided');

    // A new record that joins the second customer at once (same e-mail and name) and resembles the first.
    const third = await customers.ingest(record({ givenName: 'Grace', familyName: 'Hopper', addresses: [home], emails: [{ address: 'gh2@example.com', verified: false }] }), context);
    assert.equal(third.customerId, second.customerId);
    const pending = (await api('GET', '/v1/customers/stewardship')).body.data as { customerIds: string[] }[];
    assert.ok(!pending.some((p) => p.customerIds.includes(first.customerId) && p.customerIds.includes(second.customerId)), 'the pair kept apart is not queued again');
    const audit = await database.db.query('SELECT 1 FROM audit_event WHERE action = $1 AND target_id = $2', ['customer.kept_apart', pair.id]);
    assert.equal(audit.rowCount, 1);
  });

  test('a steward merges a pair, then unmerges it: each record comes back with its own history', async () => {
    const a = await customers.ingest(record({ givenName: 'Alan', familyName: 'Turing', addresses: [{ ...home, postalCode: '62702' }] }), context);
    const b = await customers.ingest(record({ givenName: 'Alan', familyName: 'Turing', addresses: [{ ...home, postalCode: '62702' }], phones: ['+1 415 555 2671'] }), context);
    const pair = ((await api('GET', '/v1/customers/stewardship?limit=200')).body.data as { id: string; customerIds: string[] }[]).find((p) => p.customerIds.includes(a.customerId) && p.customerIds.includes(b.customerId));
    assert.ok(pair);
    const merged = await api('POST', `/v1/customers/stewardship/${pair.id}/merge`);
    assert.equal(merged.status, 200, JSON.stringify(merged.body));
    assert.equal(merged.body.survivorId, a.customerId, 'the older customer survives');
    const survivor = (await api('GET', `/v1/customers/${a.customerId}`)).body;
    assert.equal(survivor.sourceRecords.length, 2);
    assert.equal(survivor.golden.phone.value, '+1 415 555 2671');
    const mergedEvent = (await events(a.customerId)).find((e) => e.type === 'customer.merged')!;
    assert.equal(mergedEvent.data.decision, 'steward');

    const undone = await api('POST', `/v1/customers/stewardship/merges/${merged.body.mergeId}/unmerge`);
    assert.equal(undone.status, 200, JSON.stringify(undone.body));
    assert.deepEqual(undone.body.recordIds, [b.recordId]);
    const [left, right] = [(await api('GET', `/v1/customers/${a.customerId}`)).body, (await api('GET', `/v1/customers/${b.customerId}`)).body];
    assert.deepEqual(left.sourceRecords.map((r: { id: string }) => r.id), [a.recordId]);
    assert.equal(right.status, 'active');
    assert.deepEqual(right.sourceRecords.map((r: { id: string }) => r.id), [b.recordId]);
    assert.equal(left.golden.phone, undefined, 'the phone left with its record');
    assert.deepEqual((await customers.history(b.recordId)).map((h) => [h.reason, h.customer_id]), [
      ['received', b.customerId],
      ['merged', a.customerId],
      ['unmerged', b.customerId],
    ]);
    assert.ok((await events(a.customerId)).some((e) => e.type === 'customer.unmerged' && e.data.restoredId === b.customerId));
    assert.equal((await api('POST', `/v1/customers/stewardship/merges/${merged.body.mergeId}/unmerge`)).status, 409);
    // A later record resembling both does not bring the pair back.
    await customers.ingest(record({ givenName: 'Alan', familyName: 'Turing', addresses: [{ ...home, postalCode: '62702' }], phones: ['+1 415 555 2671'] }), context);
    const pending = (await api('GET', '/v1/customers/stewardship?limit=200')).body.data as { customerIds: string[] }[];
    assert.ok(!pending.some((p) => p.customerIds.includes(a.customerId) && p.customerIds.includes(b.customerId)));
  });

  test('a batch is matched in order, each record against those before it', async () => {
    const mail = [{ address: 'kj@example.com', verified: false }];
    const results = await customers.ingestMany([record({ givenName: 'Katherine', familyName: 'Johnson', emails: mail }), record({ givenName: 'Kate', familyName: 'Johnson', emails: mail })], context);
    assert.deepEqual(results.map((r) => r.outcome), ['created', 'merged']);
    assert.equal(results[1]!.customerId, results[0]!.customerId);
  });

  test('scopes: customers:read to look up, customers:steward to decide; 403 without', async () => {
    const orders = await server.token('orders:read');
    const reader = await server.token('customers:read');
    assert.equal((await api('GET', '/v1/customers?email=a%40example.com', orders)).status, 403);
    assert.equal((await api('GET', '/v1/customers/cus_01jd5q8x7m2v3k4n5p6r7s8tc1', orders)).status, 403);
    assert.equal((await api('GET', '/v1/customers?email=a%40example.com', reader)).status, 200);
    assert.equal((await api('GET', '/v1/customers/stewardship', reader)).status, 403);
    assert.equal((await api('POST', '/v1/customers/stewardship/merges/cmg_01jd5q8x7m2v3k4n5p6r7s8tc1/unmerge', reader)).status, 403);
    assert.equal((await call(server.baseUrl, 'GET', '/v1/customers?email=a%40example.com', {})).status, 401);
  });

  test('every bad input is a problem', async () => {
    const cases: [string, string, number][] = [
      ['GET', '/v1/customers', 400],
      ['GET', '/v1/customers?email=a%40example.com&phone=2133734253', 400],
      ['GET', '/v1/customers?email=not-an-email', 400],
      ['GET', '/v1/customers?phone=12', 400],
      ['GET', '/v1/customers?phone=99999999&country=ZZ', 400],
      ['GET', '/v1/customers?color=red', 400],
      ['GET', '/v1/customers/nope', 404],
      ['GET', '/v1/customers/cus_01jd5q8x7m2v3k4n5p6r7s8tc1', 404],
      ['GET', '/v1/customers/stewardship?limit=0', 400],
      ['GET', '/v1/customers/stewardship?after=x', 400],
      ['POST', '/v1/customers/stewardship/stw_01jd5q8x7m2v3k4n5p6r7s8tc1/merge', 404],
      ['POST', '/v1/customers/stewardship/nope/keep-apart', 404],
      ['POST', '/v1/customers/stewardship/merges/nope/unmerge', 404],
    ];
    for (const [method, path, status] of cases) {
      const response = await api(method, path);
      assert.equal(response.status, status, `${method} ${path}: ${JSON.stringify(response.body)}`);
      assert.match(String(response.headers.get('content-type')), /^application\/problem\+json/, path);
    }
  });
});

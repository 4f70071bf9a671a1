import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CustomerRecordInput } from '../src/model/customer.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { call } from './support/orders.ts';

/**
 * Customer records coming in through POST /v1/customers/records (docs/customers.md, ADR 0041):
 * validation, idempotency per record version, the decisions, and re-matching a changed record.
 */

const home = { line1: '12 Main Street', city: 'Springfield', postalCode: '62701', country: 'US' };
let serial = 0;
const record = (overrides: Partial<CustomerRecordInput> = {}): CustomerRecordInput => ({
  system: 'channel',
  connection: 'shopify-us',
  externalId: `web-${++serial}`,
  givenName: 'Grace',
  familyName: `Hopper${serial}`,
  observedAt: '2026-11-01T10:00:00Z',
  ...overrides,
});

interface Result {
  recordId: string;
  customerId: string;
  decision: string;
  rule: string | null;
  stewardshipPairs: number;
  newEvidence: string[];
}

describe('customer records through the API', () => {
  let database: TestDatabase;
  let server: TestServer;
  let writer: string;
  let steward: string;
  const post = async (body: unknown, token = writer) => call(server.baseUrl, 'POST', '/v1/customers/records', { token, body });
  const one = async (input: CustomerRecordInput): Promise<Result> => {
    const response = await post(input);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.results[0] as Result;
  };
  const customer = async (id: string) => (await call(server.baseUrl, 'GET', `/v1/customers/${id}`, { token: steward })).body;
  const pending = async () => (await call(server.baseUrl, 'GET', '/v1/customers/stewardship?limit=200', { token: steward })).body.data as { id: string; customerIds: string[]; recordIds: string[]; reviewsMergeId: string | null }[];

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database.url);
    writer = await server.token('customers:write');
    steward = await server.token('customers:read customers:steward');
  });
  after(async () => {
    await server?.close();
    await database?.drop();
  });

  test('bad input is a problem, the scope is customers:write, and the operation is in the OpenAPI document', async () => {
    const bad = await post({ system: 'pos', connection: 'x', externalId: '', observedAt: 'yesterday', emails: [{ address: 'not-an-email' }] });
    assert.equal(bad.status, 422);
    assert.match(bad.headers.get('content-type') ?? '', /application\/problem\+json/);
    const pointers = (bad.body.errors as { pointer: string }[]).map((e) => e.pointer);
    for (const pointer of ['/system', '/externalId', '/observedAt', '/emails/0/address']) assert.ok(pointers.includes(pointer), `${pointer} in ${pointers}`);
    const tooMany = await post({ records: Array.from({ length: 101 }, () => record()) });
    assert.equal(tooMany.status, 422);
    assert.deepEqual((await post({ records: [] })).status, 422);
    const malformed = await call(server.baseUrl, 'POST', '/v1/customers/records', { token: writer, rawBody: '{"system":', headers: { 'content-type': 'application/json' } });
    assert.equal(malformed.status, 400);
    assert.equal((await post(record(), steward)).status, 403, 'customers:read and steward do not write');
    assert.equal((await call(server.baseUrl, 'POST', '/v1/customers/records', { body: record() })).status, 401);
    const openapi = (await call(server.baseUrl, 'GET', '/openapi.json')).body;
    const operation = openapi.paths['/v1/customers/records'].post;
    assert.equal(operation.operationId, 'postCustomerRecords');
    assert.deepEqual(operation.security, [{ oauth2: ['customers:write'] }]);
  });

  test('a record sent twice makes one version; a batch matches each record against those before it', async () => {
    const loyalty = record({ system: 'loyalty', connection: 'loyalty', externalId: 'M-1', emails: [{ address: 'grace@navy.example', verified: true }], attributes: { loyaltyPoints: 10, loyaltyTier: 'silver' } });
    const first = await one(loyalty);
    assert.equal(first.decision, 'new');
    const again = await one(loyalty);
    assert.deepEqual([again.decision, again.recordId, again.customerId], ['unchanged', first.recordId, first.customerId]);
    const older = await one({ ...loyalty, attributes: { loyaltyPoints: 5 }, observedAt: '2026-10-01T00:00:00Z' });
    assert.equal(older.decision, 'unchanged', 'an older version than the stored one changes nothing');
    const stored = await customer(first.customerId);
    assert.equal(stored.sourceRecords[0].version, 1);
    assert.equal(stored.golden.loyaltyPoints.value, 10);

    const batch = await post({
      records: [
        record({ externalId: 'web-grace', givenName: 'Grace', familyName: loyalty.familyName, emails: [{ address: 'Grace@Navy.example', verified: true }] }),
        record({ system: 'erp', connection: 'erp', externalId: 'P-9', givenName: 'Grace', familyName: loyalty.familyName, references: { loyaltyId: 'M-1' }, attributes: { paymentTerms: 'NET30' } }),
        { ...loyalty, attributes: { loyaltyPoints: 25, loyaltyTier: 'gold' }, observedAt: '2026-11-02T00:00:00Z' },
      ],
    });
    assert.equal(batch.status, 200);
    const [web, erp, update] = batch.body.results as Result[];
    assert.deepEqual([web!.decision, web!.rule, web!.customerId], ['merged-by-rule', 'same-verified-email', first.customerId]);
    assert.deepEqual([erp!.decision, erp!.rule, erp!.customerId], ['merged-by-rule', 'same-loyalty-id', first.customerId]);
    assert.deepEqual([update!.decision, update!.newEvidence], ['updated', []], 'new points are no new evidence');
    const golden = (await customer(first.customerId)).golden;
    assert.equal(golden.loyaltyPoints.value, 25);
    assert.equal(golden.paymentTerms.value, 'NET30');
  });

  test('a changed record bringing a loyalty id joins the customer holding it; kept-apart customers stay apart', async () => {
    const member = await one(record({ system: 'loyalty', connection: 'loyalty', externalId: 'M-2', givenName: 'Alan', familyName: 'Turing', emails: [{ address: 'alan@bletchley.example', verified: false }] }));
    const web = record({ externalId: 'web-alan', givenName: 'Alan', familyName: 'Turing', emails: [{ address: 'a.turing@other.example', verified: false }] });
    const before = await one(web);
    assert.equal(before.decision, 'new', 'names alone are not enough');
    const after = await one({ ...web, references: { loyaltyId: 'M-2' }, observedAt: '2026-11-03T00:00:00Z' });
    assert.deepEqual([after.decision, after.rule, after.newEvidence], ['merged-by-rule', 'same-loyalty-id', ['loyalty id']]);
    assert.equal(after.customerId, member.customerId, 'the older customer survives');
    const merged = await customer(member.customerId);
    assert.equal(merged.sourceRecords.length, 2);
    assert.equal(merged.merges[0].decision, 'deterministic');
    const events = (await database.db.query<{ type: string }>(`SELECT type FROM outbox_event WHERE subject = $1 ORDER BY id`, [member.customerId])).rows.map((r) => r.type);
    assert.deepEqual(events, ['customer.created', 'customer.merged']);

    // A pair a steward kept apart: new evidence does not join them by any rule.
    const a = await one(record({ externalId: 'web-kate', givenName: 'Katherine', familyName: 'Johnson', addresses: [home] }));
    const b = await one(record({ system: 'crm', connection: 'crm', externalId: 'C-kate', givenName: 'Katherine', familyName: 'Johnson', addresses: [home] }));
    assert.equal(b.decision, 'sent-to-stewardship');
    const pair = (await pending()).find((p) => p.customerIds.includes(a.customerId) && p.customerIds.includes(b.customerId))!;
    assert.equal((await call(server.baseUrl, 'POST', `/v1/customers/stewardship/${pair.id}/keep-apart`, { token: steward })).status, 200);
    await one(record({ externalId: 'web-kate', givenName: 'Katherine', familyName: 'Johnson', addresses: [home], emails: [{ address: 'kj@nasa.example', verified: true }], observedAt: '2026-11-04T00:00:00Z' }));
    const again = await one(record({ system: 'crm', connection: 'crm', externalId: 'C-kate', givenName: 'Katherine', familyName: 'Johnson', addresses: [home], emails: [{ address: 'kj@nasa.example', verified: true }], observedAt: '2026-11-04T00:00:00Z' }));
    assert.deepEqual([again.decision, again.customerId, again.newEvidence], ['updated', b.customerId, ['email (verified)']]);
  });

  test('a changed record with a new phone scores into the stewardship band: a pair is queued', async () => {
    const crm = await one(record({ system: 'crm', connection: 'crm', externalId: 'C-ada', givenName: 'Edith', familyName: 'Clarke', phones: ['+12025550143'] }));
    const web = record({ externalId: 'web-edith', givenName: 'Edith', familyName: 'Clarke', emails: [{ address: 'edith@example.org', verified: false }] });
    assert.equal((await one(web)).decision, 'new');
    // Same names (+4) and the same phone (+4): 8 points, 0.95, the first names agree: an automatic merge.
    const changed = await one({ ...web, phones: ['(202) 555-0143'], addresses: [{ ...home, postalCode: '20001' }], observedAt: '2026-11-05T00:00:00Z' });
    assert.deepEqual([changed.decision, changed.customerId], ['merged-by-score', crm.customerId]);
    assert.deepEqual(changed.newEvidence.sort(), ['address', 'phone']);

    const x = await one(record({ system: 'crm', connection: 'crm', externalId: 'C-mary', givenName: 'Mary', familyName: 'Jackson', addresses: [{ ...home, line1: '1 Langley Road' }] }));
    const y = record({ externalId: 'web-mary', givenName: 'Mary', familyName: 'Jackson' });
    assert.equal((await one(y)).decision, 'new');
    // Names (+4) and the address (+3): 7 points, 0.88: a steward decides.
    const moved = await one({ ...y, addresses: [{ ...home, line1: '1 Langley Road' }], observedAt: '2026-11-05T00:00:00Z' });
    assert.deepEqual([moved.decision, moved.stewardshipPairs], ['sent-to-stewardship', 1]);
    assert.ok((await pending()).some((p) => p.customerIds.includes(x.customerId) && p.customerIds.includes(moved.customerId) && p.reviewsMergeId === null));
  });

  test('evidence that no longer supports a past automatic merge sends it to review; keep-apart undoes it, merge keeps it', async () => {
    for (const [name, keep] of [['Hedy', true], ['Radia', false]] as const) {
      const loyalty = await one(record({ system: 'loyalty', connection: 'loyalty', externalId: `M-${name}`, givenName: name, familyName: 'Lamarr', emails: [{ address: `${name}@films.example`, verified: true }] }));
      const web = record({ externalId: `web-${name}`, givenName: name, familyName: 'Lamarr', emails: [{ address: `${name}@films.example`, verified: true }] });
      assert.equal((await one(web)).decision, 'merged-by-rule');
      // The web account's e-mail changes to another: nothing ties the two records any more.
      const changed = await one({ ...web, emails: [{ address: `${name}@elsewhere.example`, verified: true }], observedAt: '2026-11-06T00:00:00Z' });
      assert.deepEqual([changed.decision, changed.customerId, changed.stewardshipPairs], ['sent-to-stewardship', loyalty.customerId, 1]);
      assert.equal((await customer(loyalty.customerId)).sourceRecords.length, 2, 'not split silently');
      const review = (await pending()).find((p) => p.customerIds[0] === loyalty.customerId && p.reviewsMergeId)!;
      assert.ok(review, 'a review of the merge is pending');
      assert.equal(review.reviewsMergeId, (await customer(loyalty.customerId)).merges[0].id);
      assert.ok(review.recordIds.includes(changed.recordId));
      const decided = await call(server.baseUrl, 'POST', `/v1/customers/stewardship/${review.id}/${keep ? 'keep-apart' : 'merge'}`, { token: steward });
      assert.equal(decided.status, 200, JSON.stringify(decided.body));
      const after = await customer(loyalty.customerId);
      assert.equal(after.sourceRecords.length, keep ? 1 : 2);
      assert.equal(after.merges[0].unmergedAt !== null, keep);
      // Decided: the same version again queues nothing more.
      assert.equal((await one({ ...web, emails: [{ address: `${name}@elsewhere.example`, verified: true }], observedAt: '2026-11-06T00:00:00Z' })).decision, 'unchanged');
    }
  });
});

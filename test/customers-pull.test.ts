import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLoyaltyClient } from '../src/connectors/loyalty/outbound/loyalty.client.ts';
import { startLoyaltySandbox, type RunningLoyaltySandbox } from '../src/connectors/loyalty/sandbox/loyalty.sandbox.ts';
import { createTrytonClient, type TrytonClient } from '../src/connectors/tryton/outbound/tryton.client.ts';
import { startTrytonSandbox, type RunningTrytonSandbox } from '../src/connectors/tryton/sandbox/tryton.sandbox.ts';
import { createBusinessCentralClient } from '../src/connectors/business-central/outbound/business-central.client.ts';
import { startBusinessCentralSandbox, type RunningBusinessCentralSandbox } from '../src/connectors/business-central/sandbox/business-central.sandbox.ts';
import { CustomerService } from '../src/domain/customers/customer.service.ts';
import { CustomerRecordSync } from '../src/domain/customers/record-sync.ts';
import { runSyncline } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { startTryton, trytonUnavailable, type RunningTryton } from './support/tryton-server.ts';

/**
 * Customer records pulled from the systems (docs/customers.md, ADR 0041): Tryton parties (the
 * sandbox and a real Tryton 6.0, the same test body) and loyalty members (the loyalty sandbox),
 * in pages, by the system's modification time, a repeat making no new version.
 */

type Row = Record<string, unknown> & { id: number };

function partyPullContract(name: string, target: () => { url: string; database: string; login: string; password: string }) {
  describe(`customer records pulled from ${name}`, () => {
    let database: TestDatabase;
    let erp: TrytonClient;
    let customers: CustomerService;
    let sync: CustomerRecordSync;
    before(async () => {
      database = await createTestDatabase();
      const t = target();
      erp = createTrytonClient({ url: t.url, database: t.database, login: t.login, password: t.password });
      customers = new CustomerService(database.db);
      sync = new CustomerRecordSync(database.db, customers);
    });
    after(async () => database?.drop());

    test('parties come in as ERP records with contact points, address, payment terms; a new phone is matched again', async () => {
      const [term] = await erp.rpc.call<Row[]>('model.account.invoice.payment_term.search_read', [[], 0, 1, [['id', 'ASC']], ['name']]);
      // A server set up without the country list (the real one of the tests) gets the one country it needs.
      let [gb] = await erp.rpc.call<number[]>('model.country.country.search', [[['code', '=', 'GB']], 0, 1, null]);
      gb ??= (await erp.rpc.call<number[]>('model.country.country.create', [[{ name: 'United Kingdom', code: 'GB' }]]))[0];
      const email = `charles.babbage.${Date.now()}@engines.example`;
      const [partyId] = await erp.rpc.call<number[]>('model.party.party.create', [
        [
          {
            name: 'Charles Babbage',
            customer_payment_term: term!.id,
            contact_mechanisms: [['create', [{ type: 'email', value: email }]]],
            addresses: [['create', [{ street: '5 Dorset Street', postal_code: 'W1U 6QJ', city: 'London', country: gb }]]],
          },
        ],
      ]);
      const full = await sync.sync(erp, 'erp', 'erp', {}, { pageSize: 2 });
      assert.equal(full.kind, 'full');
      assert.ok(full.read >= 1);
      assert.ok(full.cursor);
      const [found] = (await customers.findByContact({ email })) as Awaited<ReturnType<CustomerService['get']>>[];
      assert.ok(found, 'the party is a customer');
      const record = found!.sourceRecords.find((r) => r.system === 'erp' && r.externalId === String(partyId))!;
      assert.ok(record);
      assert.equal(found!.golden.givenName?.value, 'Charles');
      assert.equal(found!.golden.familyName?.value, 'Babbage');
      assert.equal(found!.golden.paymentTerms?.value, term!.name);
      assert.deepEqual([found!.golden.address?.value.postalCode, found!.golden.address?.value.country], ['W1U 6QJ', 'GB']);

      // Read again from the cursor: the overlap re-reads the party, unchanged, no new version.
      const quiet = await sync.sync(erp, 'erp', 'erp');
      assert.equal(quiet.kind, 'incremental');
      assert.equal(quiet.outcomes.created + quiet.outcomes.updated + quiet.outcomes.merged, 0);

      // A web customer with the same name and phone exists; the ERP adds that phone to the party.
      const web = await customers.ingest({ system: 'channel', connection: 'shopify-us', externalId: `web-${partyId}`, givenName: 'Charles', familyName: 'Babbage', phones: ['+1 415 555 0199'], observedAt: '2026-11-01T00:00:00Z' }, { correlationId: 'test' });
      assert.notEqual(web.customerId, found!.id);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await erp.rpc.call('model.party.contact_mechanism.create', [[{ party: partyId, type: 'phone', value: '+14155550199' }]]);
      const changed = await sync.sync(erp, 'erp', 'erp');
      assert.equal(changed.outcomes.merged + changed.outcomes.updated, 1);
      const after = (await customers.get(found!.id))!;
      const merged = after.status === 'merged' ? (await customers.get(after.mergedInto!))! : after;
      assert.deepEqual(merged.sourceRecords.map((r) => r.system).sort(), ['channel', 'erp'], 'the new phone matched the party to the web customer');
      assert.equal(merged.sourceRecords.find((r) => r.system === 'erp')!.version, 2);
    });
  });
}

describe('customer records pulled from the Tryton sandbox', () => {
  let sandbox: RunningTrytonSandbox;
  before(async () => {
    sandbox = await startTrytonSandbox({ port: 0 });
  });
  after(async () => sandbox?.close());
  partyPullContract('the Tryton sandbox', () => ({ url: sandbox.url, database: 'syncline', login: 'admin', password: 'admin' }));
});

const unavailable = await trytonUnavailable();
describe('customer records pulled from a real Tryton 6.0 server', { skip: unavailable ?? false }, () => {
  let server: RunningTryton;
  before(async () => {
    server = await startTryton();
  });
  after(async () => server?.stop());
  partyPullContract('a real Tryton 6.0', () => server);
});

describe('customer records pulled from the loyalty sandbox', () => {
  let database: TestDatabase;
  let loyalty: RunningLoyaltySandbox;
  before(async () => {
    database = await createTestDatabase();
    loyalty = await startLoyaltySandbox({ port: 0 });
  });
  after(async () => {
    await loyalty?.close();
    await database?.drop();
  });

  test('members enrolled in store come in with verified e-mails, tier and points; points moving make a new version', async () => {
    const enrol = async (body: Record<string, unknown>) => {
      const response = await fetch(`${loyalty.url}/v1/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    assert.equal((await enrol({ givenName: 'Ada' })).status, 422);
    const ada = await enrol({ givenName: 'Ada', familyName: 'Byron', email: 'Ada@Byron.example', emailVerified: true, tier: 'gold', store: 'STORE-1', erpAccount: '77' });
    assert.equal(ada.status, 201);
    assert.equal((await enrol({ givenName: 'Ada', familyName: 'B', email: 'ada@byron.example' })).status, 409, 'one member per e-mail');
    for (let i = 0; i < 4; i++) assert.equal((await enrol({ givenName: `Member${i}`, familyName: 'Test', email: `m${i}@members.example` })).status, 201);

    const customers = new CustomerService(database.db);
    const sync = new CustomerRecordSync(database.db, customers);
    const client = createLoyaltyClient({ url: loyalty.url });
    const full = await sync.sync(client, 'loyalty', 'loyalty', {}, { pageSize: 2 });
    assert.deepEqual([full.read, full.pages, full.outcomes.created], [5, 3, 5]);
    const [customer] = (await customers.findByContact({ email: 'ada@byron.example' })) as NonNullable<Awaited<ReturnType<CustomerService['get']>>>[];
    assert.equal(customer!.golden.loyaltyTier?.value, 'gold');
    assert.equal(customer!.golden.loyaltyPoints?.value, 0);
    assert.deepEqual(customer!.identifiers.find((i) => i.kind === 'reference'), { system: 'erp', connection: 'loyalty', id: '77', kind: 'reference' });

    const award = await fetch(`${loyalty.url}/v1/awards`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ orderId: 'ord-1', email: 'ada@byron.example', amount: '42.50', currency: 'USD' }) });
    assert.equal(award.status, 201);
    const next = await sync.sync(client, 'loyalty', 'loyalty');
    assert.equal(next.outcomes.updated, 1, 'the member whose points moved');
    assert.equal(next.outcomes.created, 0);
    assert.equal((await customers.get(customer!.id))!.golden.loyaltyPoints?.value, 42);
  });
});

describe('syncline customers sync', () => {
  let database: TestDatabase;
  let loyalty: RunningLoyaltySandbox;
  let tryton: RunningTrytonSandbox;
  before(async () => {
    database = await createTestDatabase();
    loyalty = await startLoyaltySandbox({ port: 0 });
    tryton = await startTrytonSandbox({ port: 0 });
  });
  after(async () => {
    await Promise.all([loyalty?.close(), tryton?.close()]);
    await database?.drop();
  });

  test('pulls every source through its target; --from picks one; an unknown one exits 2', async () => {
    const erp = createTrytonClient({ url: tryton.url, database: 'syncline', login: 'admin', password: 'admin' });
    await erp.rpc.call('model.party.party.create', [[{ name: 'Mary Somerville', contact_mechanisms: [['create', [{ type: 'email', value: 'mary@somerville.example' }]]] }]]);
    const enrolled = await fetch(`${loyalty.url}/v1/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ givenName: 'Mary', familyName: 'Somerville', email: 'mary@somerville.example', emailVerified: true }) });
    assert.equal(enrolled.status, 201);
    const env = {
      DATABASE_URL: database.url,
      SYNCLINE_DATA_DIR: mkdtempSync(join(tmpdir(), 'syncline-customers-cli-')),
      SYNCLINE_ERP_URL: tryton.url,
      SYNCLINE_ERP_DATABASE: 'syncline',
      SYNCLINE_ERP_LOGIN: 'admin',
      SYNCLINE_ERP_PASSWORD: 'admin',
      SYNCLINE_LOYALTY_URL: loyalty.url,
      LOG_LEVEL: 'warn',
    };
    const first = await runSyncline(['customers', 'sync'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /customers sync from erp: full load: 1 read, 1 new, 0 merged/);
    assert.match(first.stdout, /customers sync from loyalty: full load: 1 read, 0 new, 1 merged/, 'the member joins the party: same name and e-mail');
    const again = await runSyncline(['customers', 'sync', '--from', 'loyalty', '--json'], env);
    assert.equal(again.code, 0, again.stderr);
    const reports = JSON.parse(again.stdout) as { connection: string; kind: string; outcomes: { created: number; updated: number; merged: number } }[];
    assert.deepEqual(reports.map((r) => [r.connection, r.kind, r.outcomes.created + r.outcomes.updated + r.outcomes.merged]), [['loyalty', 'incremental', 0]]);
    const targets = (await database.db.query<{ name: string }>(`SELECT name FROM runtime_target WHERE name IN ('erp', 'loyalty') ORDER BY name`)).rows.map((r) => r.name);
    assert.deepEqual(targets, ['erp', 'loyalty']);
    const unknown = await runSyncline(['customers', 'sync', '--from', 'crm'], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no connection "crm" lists its customers/);
  });
});

describe('customer records pulled from the Business Central sandbox', () => {
  let database: TestDatabase;
  let bc: RunningBusinessCentralSandbox;
  before(async () => {
    database = await createTestDatabase();
    bc = await startBusinessCentralSandbox({ port: 0 });
  });
  after(async () => {
    await bc?.close();
    await database?.drop();
  });

  test('customers come in with number, credit limit and address; the next pull reads only what changed since', async () => {
    const client = createBusinessCentralClient({ tenantId: bc.tenantId, environment: bc.environment, companyId: bc.companyId, clientId: bc.clientId, clientSecret: bc.clientSecret, baseUrl: bc.url, tokenUrl: bc.tokenUrl, timeoutMs: 5000 });
    await client.odata.create('customers', { displayName: 'Emmy Noether', email: 'emmy@algebra.example', phoneNumber: '+49 551 390', addressLine1: 'Bunsenstrasse 3', city: 'Goettingen', postalCode: '37073', country: 'DE', creditLimit: 2500 });
    const customers = new CustomerService(database.db);
    const sync = new CustomerRecordSync(database.db, customers);
    const full = await sync.sync(client, 'bc', 'erp');
    assert.deepEqual([full.kind, full.read, full.outcomes.created], ['full', 1, 1]);
    const [emmy] = (await customers.findByContact({ email: 'emmy@algebra.example' })) as NonNullable<Awaited<ReturnType<CustomerService['get']>>>[];
    assert.equal(emmy!.golden.creditLimit?.value, '2500.00');
    assert.match(emmy!.golden.legalAccount!.value, /^C\d+$/);
    assert.equal(emmy!.golden.address?.value.country, 'DE');
    // Past the cursor and its overlap: a customer created later is all the next pull reads.
    await database.db.query(`UPDATE customer_record_sync SET cursor = now() WHERE connection = 'bc'`);
    await client.odata.create('customers', { displayName: 'Sofia Kovalevskaya', email: 'sofia@analysis.example' });
    const next = await sync.sync(client, 'bc', 'erp');
    assert.deepEqual([next.kind, next.read, next.outcomes.created], ['incremental', 1, 1]);
  });
});

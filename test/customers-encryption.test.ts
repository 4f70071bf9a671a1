import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { CustomerService } from '../src/domain/customers/customer.service.ts';
import type { CustomerRecordInput } from '../src/model/customer.ts';
import { openPostgres } from '../src/store/postgres.database.ts';
import { CustomerKeyError, currentKeyring, customerKeyring, useCustomerKeyring, type CustomerKeyring } from '../src/store/customers/customer-crypto.ts';
import { rotateCustomerKeys, verifyCustomerKeys } from '../src/store/customers/customer-keys.ts';
import { selectHistoryWithData, shredCustomerKey } from '../src/store/customers/customer-queries.ts';
import { createTestDatabase, TEST_CUSTOMER_KEYS, type TestDatabase } from './support/postgres.ts';
import { spawnSyncline, testEnvironment } from './support/server.ts';

/**
 * Encryption at rest of customer personal data (docs/customers.md, ADR 0042) on PostgreSQL:
 * nothing personal in the rows, look-ups through blind indexes, rotation of the key-encryption
 * key while data is read, crypto-shredding, start-up refusing wrong keys, and matching under
 * concurrent callers on two pools (two processes' worth of connections).
 */

const context = { correlationId: 'test-customer-encryption' };
const CUSTOMER_TABLES = ['customer', 'customer_source_record', 'customer_source_history', 'customer_match_key', 'customer_merge', 'customer_stewardship', 'customer_keep_apart'];

const person = (n: number, system: CustomerRecordInput['system'], overrides: Partial<CustomerRecordInput> = {}): CustomerRecordInput => ({
  system,
  connection: system === 'channel' ? 'web' : system,
  externalId: `${system}-${n}-${randomBytes(3).toString('hex')}`,
  givenName: `Zephyrine${n}`,
  familyName: `Quillfeather${n}`,
  emails: [{ address: `zephyrine.q${n}@example.org`, verified: true }],
  phones: [`+1 213 555 ${String(1000 + n).slice(-4)}`],
  addresses: [{ line1: `${n} Juniper Lane`, city: 'Springfield', postalCode: '62701', country: 'US' }],
  observedAt: '2026-11-01T10:00:00Z',
  ...overrides,
});

/** Every text of every row of the customer tables, as PostgreSQL returns it. */
async function rawText(database: TestDatabase): Promise<string> {
  const parts: string[] = [];
  for (const table of CUSTOMER_TABLES) {
    const { rows } = await database.db.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM ${table} t`);
    parts.push(...rows.map((r) => r.row));
  }
  return parts.join('\n').toLowerCase();
}

describe('customer personal data encrypted at rest', () => {
  let database: TestDatabase;
  let customers: CustomerService;
  let original: CustomerKeyring;

  before(async () => {
    database = await createTestDatabase();
    original = currentKeyring();
    await verifyCustomerKeys(database.db, original);
    customers = new CustomerService(database.db);
  });
  after(async () => {
    useCustomerKeyring(original);
    await database?.drop();
  });

  test('the rows hold no e-mail, name, phone or street; reads and look-ups still find the customer', async () => {
    const web = await customers.ingest(person(1, 'channel', { emails: [{ address: 'Zephyrine.Q1@example.org', verified: true }] }), context);
    const loyalty = await customers.ingest(person(1, 'loyalty', { givenName: 'Zephyrine1' }), context);
    assert.equal(loyalty.customerId, web.customerId, 'the same verified e-mail still merges, compared by its blind index');
    const guest = await customers.ingest(person(2, 'channel', { externalId: 'guest:zephyrine.q2@example.org' }), context);

    const raw = await rawText(database);
    for (const secret of ['zephyrine', 'quillfeather', 'example.org', '2135551001', '555 1001', 'juniper', 'guest:']) {
      assert.ok(!raw.includes(secret), `"${secret}" is in a customer table in clear`);
    }
    assert.ok(raw.length > 1000, 'the tables were read');

    const one = await customers.get(web.customerId);
    assert.equal(one?.sourceRecords.length, 2);
    assert.ok(one?.emails.some((e) => e.normalized === 'zephyrine.q1@example.org'));
    assert.equal((one?.golden as { familyName?: { value: string } }).familyName?.value, 'Quillfeather1');
    assert.equal((await customers.get(guest.customerId))?.sourceRecords[0]?.externalId, 'guest:zephyrine.q2@example.org');
    const found = await customers.findByContact({ email: 'ZEPHYRINE.Q1@example.org' });
    assert.ok(Array.isArray(found) && found.map((c) => c.id).includes(web.customerId));
    const byPhone = await customers.findByContact({ phone: '(213) 555-1001', country: 'US' });
    assert.ok(Array.isArray(byPhone) && byPhone.map((c) => c.id).includes(web.customerId));
    const history = await selectHistoryWithData(database.db, web.recordId);
    assert.equal((history[0]?.data as { givenName: string }).givenName, 'Zephyrine1');
    // A record sent again is a new version under its own data key; the old version still opens.
    await customers.ingest({ ...person(1, 'channel'), externalId: one!.sourceRecords.find((r) => r.id === web.recordId)!.externalId, givenName: 'Zephy' }, context);
    const versions = await selectHistoryWithData(database.db, web.recordId);
    assert.deepEqual(versions.filter((h) => h.data).map((h) => (h.data as { givenName: string }).givenName), ['Zephyrine1', 'Zephy']);
  });

  test('rotation re-wraps every data key under the new active key while reads go on; the old key can then go', async () => {
    const before = await customers.ingest(person(3, 'erp'), context);
    const oldId = original.activeKekId;
    const next = customerKeyring([...original.keks, ['next', randomBytes(32)]], 'next', original.indexKey);
    await verifyCustomerKeys(database.db, next);
    useCustomerKeyring(next);
    const during = await customers.ingest(person(4, 'crm'), context);
    // Reads during the rotation: each data key opens with whichever key wraps it.
    const reading = (async () => {
      for (let i = 0; i < 20; i++) assert.equal(((await customers.get(before.customerId))?.sourceRecords[0]?.data as { givenName?: string } | undefined)?.givenName, 'Zephyrine3');
    })();
    const rotated = await rotateCustomerKeys(database.db, next, 2);
    await reading;
    assert.equal(rotated.records, 4, 'the four records written under the old key (the one written during the rotation was under the new one already)');
    assert.deepEqual(rotated.retired, [oldId]);
    const { rows } = await database.db.query<{ kek: string; n: number }>(`SELECT split_part(data_key, ':', 1) AS kek, count(*)::int AS n FROM customer_source_record GROUP BY 1`);
    assert.deepEqual(rows.map((r) => r.kek), ['next']);

    const only = customerKeyring([['next', next.keks.get('next')!]], 'next', original.indexKey);
    await verifyCustomerKeys(database.db, only);
    useCustomerKeyring(only);
    assert.equal(((await customers.get(before.customerId))?.sourceRecords[0]?.data as { givenName?: string } | undefined)?.givenName, 'Zephyrine3');
    assert.equal(((await customers.get(during.customerId))?.sourceRecords[0]?.data as { givenName?: string } | undefined)?.givenName, 'Zephyrine4');
    useCustomerKeyring(next);
  });

  test('a wrong or missing key is refused with its reason before anything is read', async () => {
    const active = currentKeyring();
    const wrongMaterial = customerKeyring([[active.activeKekId, randomBytes(32)]], active.activeKekId, active.indexKey);
    await assert.rejects(verifyCustomerKeys(database.db, wrongMaterial), (e: CustomerKeyError) => e.code === 'customer.key_mismatch' && /material differs/.test(e.message));
    const missing = customerKeyring([['other', randomBytes(32)]], 'other', active.indexKey);
    await assert.rejects(verifyCustomerKeys(database.db, missing), (e: CustomerKeyError) => e.code === 'customer.key_missing' && e.message.includes(`"${active.activeKekId}"`));
    const wrongIndex = customerKeyring(active.keks, active.activeKekId, randomBytes(32));
    await assert.rejects(verifyCustomerKeys(database.db, wrongIndex), (e: CustomerKeyError) => e.code === 'customer.key_mismatch' && /INDEX_KEY/.test(e.message));

    // The command line: a start with a key of another material stops with the reason, exit code 2.
    const env = testEnvironment(database.url, { SYNCLINE_CUSTOMER_KEYS: `${active.activeKekId}=${randomBytes(32).toString('base64')}`, SYNCLINE_CUSTOMER_INDEX_KEY: active.indexKey.toString('base64') });
    const child = await spawnSyncline(['migrate'], env).then(
      () => assert.fail('migrate started with a wrong key'),
      (error: Error) => error,
    );
    assert.match(String(child.message), /customer keys: customer key ".+" is not the key that was used under this id/);
  });

  test('syncline customers rotate-key re-wraps under the active key; then the old key can leave the configuration', async () => {
    const fresh = await createTestDatabase();
    const run = (args: string[], env: Record<string, string>) =>
      promisify(execFile)(process.execPath, [fileURLToPath(new URL('../src/cli/main.ts', import.meta.url)), ...args], { env: { ...process.env, ...testEnvironment(fresh.url), ...env } });
    try {
      const keys = currentKeyring();
      useCustomerKeyring(customerKeyring([['test', Buffer.from(TEST_CUSTOMER_KEYS.SYNCLINE_CUSTOMER_KEYS.slice('test='.length), 'base64')]], 'test', Buffer.from(TEST_CUSTOMER_KEYS.SYNCLINE_CUSTOMER_INDEX_KEY, 'base64')));
      await verifyCustomerKeys(fresh.db, currentKeyring());
      const service = new CustomerService(fresh.db);
      const created = await service.ingestMany([person(7, 'channel'), person(8, 'crm')], context);
      useCustomerKeyring(keys);
      const k2 = randomBytes(32).toString('base64');
      const rotated = await run(['customers', 'rotate-key'], { SYNCLINE_CUSTOMER_KEYS: `${TEST_CUSTOMER_KEYS.SYNCLINE_CUSTOMER_KEYS},k2=${k2}`, SYNCLINE_CUSTOMER_ACTIVE_KEY: 'k2' });
      assert.match(rotated.stdout, /re-wrapped under "k2": 2 records, 2 golden records; retired: test/);
      const { rows } = await fresh.db.query<{ kek: string }>(`SELECT DISTINCT split_part(data_key, ':', 1) AS kek FROM customer_source_record`);
      assert.deepEqual(rows, [{ kek: 'k2' }]);
      // The old key gone from the configuration: the start is fine, and the data reads with k2 alone.
      await run(['migrate'], { SYNCLINE_CUSTOMER_KEYS: `k2=${k2}` });
      useCustomerKeyring(customerKeyring([['k2', Buffer.from(k2, 'base64')]], 'k2', Buffer.from(TEST_CUSTOMER_KEYS.SYNCLINE_CUSTOMER_INDEX_KEY, 'base64')));
      assert.equal(((await service.get(created[0]!.customerId))?.sourceRecords[0]?.data as { givenName?: string } | undefined)?.givenName, 'Zephyrine7');
      useCustomerKeyring(keys);
      // Without k2 the start refuses: data keys are wrapped by it.
      await assert.rejects(run(['migrate'], {}), (error: { code: number; stderr: string }) => error.code === 2 && /wrapped by key "k2", not configured/.test(error.stderr));
    } finally {
      useCustomerKeyring(original);
      await fresh.drop();
    }
  });

  test('shredding a customer key leaves its records unreadable and unfindable', async () => {
    const a = await customers.ingest(person(5, 'channel'), context);
    await customers.ingest(person(5, 'loyalty'), context);
    const shredded = await shredCustomerKey(database.db, a.customerId);
    assert.equal(shredded, 2);
    const after = await customers.get(a.customerId);
    assert.deepEqual(after?.sourceRecords.map((r) => r.data), [{ shredded: true }, { shredded: true }]);
    assert.deepEqual(after?.golden, {});
    assert.deepEqual(await customers.findByContact({ email: 'zephyrine.q5@example.org' }), []);
    assert.deepEqual((await selectHistoryWithData(database.db, a.recordId)).map((h) => [h.reason, h.data]), [['received', null]]);
  });

  test('records of one person sent at once by two processes become one customer', async () => {
    const people = Array.from({ length: 10 }, (_, i) => 200 + i);
    // Each process gets two of each person's four records: whichever comes first, the other process's must join it.
    const halves: CustomerRecordInput[][] = [[], []];
    for (const n of people) (['channel', 'loyalty', 'crm', 'erp'] as const).forEach((system, i) => halves[i % 2]!.push(person(n, system)));
    const children = halves.map((records) => {
      const child = spawn(process.execPath, [fileURLToPath(new URL('./support/customer-ingest-child.ts', import.meta.url))], { env: { ...process.env, DATABASE_URL: database.url }, stdio: ['pipe', 'pipe', 'inherit'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const ready = new Promise<void>((resolve, reject) => {
        child.stdout.on('data', () => output.startsWith('ready\n') && resolve());
        child.once('exit', (code) => reject(new Error(`child exited with ${code} before it was ready`)));
      });
      const done = new Promise<unknown[]>((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(output.slice('ready\n'.length)) as unknown[]) : reject(new Error(`child exited with ${code}`)))));
      child.stdin.write(`${JSON.stringify(records)}\n`);
      return { child, ready, done };
    });
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.child.stdin.write('go\n');
    const results = (await Promise.all(children.map((c) => c.done))).flat() as { outcome: string }[];
    assert.equal(results.length, people.length * 4);
    assert.equal(results.filter((r) => r.outcome === 'created').length, people.length, 'one record of each person created its customer; the others joined it');
    for (const n of people) {
      const found = ((await customers.findByContact({ email: `zephyrine.q${n}@example.org` })) as { status: string; sourceRecords: unknown[] }[]).filter((c) => c.status === 'active');
      assert.equal(found.length, 1, `person ${n}`);
      assert.equal(found[0]!.sourceRecords.length, 4);
    }
  });

  test('records of one person sent at once by many callers on two pools become one customer each', async () => {
    const second = openPostgres({ connectionString: database.url, poolSize: 8 });
    try {
      const services = [customers, new CustomerService(second)];
      const people = Array.from({ length: 12 }, (_, i) => 100 + i);
      // Each person: four records from four systems, each pair tied by a deterministic rule
      // (the verified e-mail) and no record with another person's key.
      const records = people.flatMap((n) => (['channel', 'loyalty', 'crm', 'erp'] as const).map((system) => person(n, system)));
      records.sort(() => Math.random() - 0.5);
      const results = await Promise.all(records.map((record, i) => services[i % 2]!.ingest(record, context)));
      assert.equal(results.filter((r) => r.outcome === 'created').length, people.length, 'one record of each person created its customer; the others joined');
      for (const n of people) {
        const found = await customers.findByContact({ email: `zephyrine.q${n}@example.org` });
        assert.ok(Array.isArray(found));
        const active = found.filter((c) => c.status === 'active');
        assert.equal(active.length, 1, `person ${n}: ${active.length} customers`);
        assert.equal(active[0]!.sourceRecords.length, 4);
      }
      // Batches at once as well: the same people again from another connection, in batches across both pools.
      const again = people.flatMap((n) => [person(n, 'channel', { connection: 'pos' }), person(n, 'channel', { connection: 'app' })]);
      const batches = [again.slice(0, 8), again.slice(8, 16), again.slice(16)];
      await Promise.all(batches.map((batch, i) => services[i % 2]!.ingestMany(batch, context)));
      for (const n of people) {
        const active = ((await customers.findByContact({ email: `zephyrine.q${n}@example.org` })) as { status: string; sourceRecords: unknown[] }[]).filter((c) => c.status === 'active');
        assert.equal(active.length, 1);
        assert.equal(active[0]!.sourceRecords.length, 6);
      }
    } finally {
      await second.close();
    }
  });
});

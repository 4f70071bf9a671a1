import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CustomerService } from '../src/domain/customers/customer.service.ts';
import { createHubspotClient } from '../src/connectors/hubspot/outbound/hubspot.client.ts';
import { SANDBOX_HUBSPOT_TOKEN, startHubspotSandbox, type RunningHubspotSandbox } from '../src/connectors/hubspot/sandbox/hubspot.sandbox.ts';
import { CRM_PULL_JOB, pullCrmContacts, registerCrmPull, startCrmPullJobs } from '../src/flows/customers/crm-contacts.flow.ts';
import { createLogger } from '../src/observability/logger.ts';
import { RuntimeRegistry } from '../src/runtime/registry.ts';
import { Worker } from '../src/runtime/worker.ts';
import { waitFor } from './support/runtime.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';

/**
 * CRM contacts coming in (docs/customers.md#crm-contacts): HubSpot contacts, paged through the
 * CRM v3 API, become `crm` source records through the customer ingest path on PostgreSQL.
 */

describe('CRM contacts become customer records', () => {
  let database: TestDatabase;
  let hubspot: RunningHubspotSandbox;
  before(async () => {
    database = await createTestDatabase();
    hubspot = await startHubspotSandbox();
  });
  after(async () => {
    await hubspot?.close();
    await database?.drop();
  });

  test('every page is ingested; a pulled contact again is unchanged; the ERP account and engagement come along; a contact the model refuses is skipped by id', async () => {
    const customers = new CustomerService(database.db);
    const crm = createHubspotClient({ url: hubspot.url, accessToken: SANDBOX_HUBSPOT_TOKEN });
    await customers.ingest({ system: 'erp', connection: 'erp', externalId: 'P-42', givenName: 'Mary', familyName: 'Jackson', emails: [{ address: 'mary@example.com', verified: true }], observedAt: '2026-11-01T10:00:00Z' }, { correlationId: 'test' });
    const mary = hubspot.seedContact({ email: 'mary@example.com', firstname: 'Mary', lastname: 'Jackson', erp_account: 'P-42', lifecyclestage: 'customer', address: '1 Langley Rd', city: 'Hampton', zip: '23666', country: 'US' });
    hubspot.seedContact({ email: 'katherine@example.com', firstname: 'Katherine', lastname: 'Johnson' });
    hubspot.seedContact({ email: 'dorothy@example.com', firstname: 'Dorothy', lastname: 'Vaughan', phone: '+12133734253' });
    const odd = hubspot.seedContact({ firstname: 'x'.repeat(150) });

    const first = await pullCrmContacts({ crm, customers }, { connection: 'crm', pageSize: 2, correlationId: 'test-pull' });
    assert.equal(first.pages, 2);
    assert.equal(first.contacts, 4);
    assert.deepEqual(first.outcomes, { created: 2, merged: 1, updated: 0, unchanged: 0 });
    assert.deepEqual(first.skipped.map((s) => s.contactId), [odd.id]);
    const [found] = (await customers.findByContact({ email: 'mary@example.com' })) as Awaited<ReturnType<CustomerService['get']>>[];
    const record = found!.sourceRecords.find((r) => r.system === 'crm')!;
    assert.equal(record.externalId, mary.id);
    assert.equal(found!.sourceRecords.length, 2, 'the ERP party and the CRM contact are one customer (same ERP account)');
    assert.deepEqual(found!.golden.engagement?.value, { lifecycleStage: 'customer' });

    // The same contacts again: nothing changed, no new version (a repeat is unchanged).
    const again = await pullCrmContacts({ crm, customers }, { connection: 'crm', pageSize: 100, correlationId: 'test-pull-2' });
    assert.deepEqual(again.outcomes, { created: 0, merged: 0, updated: 0, unchanged: 3 });
  });

  test('the scheduled pull runs on the worker at start, on the crm target, and enqueues the next slot', async () => {
    const scheduled = await createTestDatabase();
    const registry = new RuntimeRegistry().defineTarget('crm', { ratePerSecond: 9 });
    const crm = createHubspotClient({ url: hubspot.url, accessToken: SANDBOX_HUBSPOT_TOKEN });
    const customers = new CustomerService(scheduled.db);
    registerCrmPull(registry, { db: scheduled.db, crm, customers, everySeconds: 3600 });
    const worker = new Worker(scheduled.db, registry, createLogger('silent'), { concurrency: 2, pollMs: 50 });
    await worker.start();
    try {
      await startCrmPullJobs(scheduled.db, 'crm', 3600);
      await waitFor('the CRM contacts as records', async () => (await customers.findByContact({ email: 'katherine@example.com' })) !== 'invalid' && ((await customers.findByContact({ email: 'katherine@example.com' })) as unknown[]).length === 1, 30_000, 100);
      const { rows } = await scheduled.db.query<{ run_at: Date; target: string }>('SELECT run_at, target FROM runtime_job WHERE type = $1 AND run_at > now()', [CRM_PULL_JOB]);
      assert.equal(rows.length, 1, 'the next slot is queued');
      assert.equal(rows[0]!.target, 'crm');
    } finally {
      await worker.stop(1000);
      await scheduled.drop();
    }
  });
});

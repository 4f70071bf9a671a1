import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createErpClient } from '../src/connectors/connectors.ts';
import type { TrytonClient } from '../src/connectors/tryton/outbound/tryton.client.ts';
import { CustomerService } from '../src/domain/customers/customer.service.ts';
import { flowApi, startFlowRig, type FlowRig } from './support/flows.ts';
import { waitFor } from './support/runtime.ts';

/**
 * A web guest, a loyalty member in store and an ERP contact become one customer (issue 14, docs/
 * customers.md): the guest's order goes through the real intake API and resolves after
 * acceptance; the member enrols in a store through the loyalty sandbox's API; the contact is a
 * party in the ERP (the Tryton sandbox, over JSON-RPC). The scheduled customers.sync jobs pull
 * the party and the member through the workers and their targets. The golden record takes the
 * payment terms and legal account from the ERP, points and tier from loyalty.
 */
describe('web guest, loyalty member and ERP contact: one customer, end to end', () => {
  let rig: FlowRig;
  let f: ReturnType<typeof flowApi>;
  let customers: CustomerService;
  before(async () => {
    rig = await startFlowRig({ env: { SYNCLINE_CUSTOMER_SYNC_SECONDS: '1' } });
    f = flowApi(rig);
    await f.location('WH-EAST', 'warehouse');
    await f.stock([
      { type: 'receipt', sku: 'TEE-M', location: 'WH-EAST', quantity: 50 },
      { type: 'receipt', sku: 'MUG', location: 'WH-EAST', quantity: 50 },
    ]);
    customers = new CustomerService(rig.database.db);
  });
  after(async () => rig?.close());

  test('the three records land in one customer with the owners’ golden values', async () => {
    const email = 'ada.lovelace@analytical.example';
    const address = { line1: '1 Main St', city: 'Springfield', postalCode: '62701', country: 'US' };

    // The ERP contact: a party the sales team keeps in the ERP, with its payment terms.
    const erp = createErpClient(rig.sandboxes.settings.erp) as TrytonClient;
    const [term] = await erp.rpc.call<{ id: number; name: string }[]>('model.account.invoice.payment_term.search_read', [[], 0, 1, [['id', 'ASC']], ['name']]);
    const [us] = await erp.rpc.call<number[]>('model.country.country.search', [[['code', '=', 'US']], 0, 1, null]);
    const [partyId] = await erp.rpc.call<number[]>('model.party.party.create', [
      [
        {
          name: 'Ada Lovelace',
          customer_payment_term: term!.id,
          contact_mechanisms: [['create', [{ type: 'email', value: email }, { type: 'phone', value: '+1 415 555 0100' }]]],
          addresses: [['create', [{ street: address.line1, postal_code: address.postalCode, city: address.city, country: us }]]],
        },
      ],
    ]);

    // The web guest's order, through the intake API; it resolves to a customer after acceptance.
    const orderId = await f.submit({ channel: 'shopify-us', customer: { email, name: 'Ada Lovelace', phone: '+1 415 555 0100' } });

    // The member enrols in a store: the loyalty programme confirmed the e-mail.
    const enrolled = await fetch(`${rig.sandboxes.urls.loyalty}/v1/members`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ givenName: 'Ada', familyName: 'Lovelace', email, emailVerified: true, phone: '(415) 555-0100', address, tier: 'gold', store: 'STORE-12' }),
    });
    assert.equal(enrolled.status, 201);
    const member = (await enrolled.json()) as { id: string };

    let customerId: string | undefined;
    await waitFor(
      'the order, the party and the member to be one customer',
      async () => {
        // System ids are stored as blind indexes: the records are read through the service.
        const web = await customers.customerOfOrder(orderId);
        if (!web) return false;
        const record = (await customers.get(web.customerId))!;
        customerId = record.id;
        const own = new Set(record.sourceRecords.map((r) => `${r.system}/${r.externalId}`));
        return record.sourceRecords.length === 3 && own.has(`erp/${partyId}`) && own.has(`loyalty/${member.id}`);
      },
      60_000,
      200,
    );
    // The web order earned points (the loyalty step of the order flow): the member changed, and the next pull carries the balance.
    const balance = async () => ((await (await fetch(`${rig.sandboxes.urls.loyalty}/v1/members/${encodeURIComponent(email)}`)).json()) as { balance: number }).balance;
    let seen: unknown;
    await waitFor('the points the order earned to reach the golden record', async () => {
      const golden = (await customers.get(customerId!))!.golden;
      seen = { balance: await balance(), golden: golden.loyaltyPoints, status: await f.status(orderId) };
      return (await balance()) > 0 && golden.loyaltyPoints?.value === (await balance());
    }, 60_000, 200).catch((error: Error) => assert.fail(`${error.message}: ${JSON.stringify(seen)}`));

    const customer = (await f.api('GET', `/v1/customers/${customerId}`)).body;
    assert.equal(customer.status, 'active');
    assert.deepEqual(customer.sourceRecords.map((r: { system: string }) => r.system).sort(), ['channel', 'erp', 'loyalty']);
    assert.deepEqual(
      customer.identifiers.filter((i: { kind: string }) => i.kind === 'own').map((i: { system: string; connection: string; id: string }) => `${i.system}/${i.connection}/${i.id}`).sort(),
      [`channel/shopify-us/guest:${email}`, `erp/erp/${partyId}`, `loyalty/loyalty/${member.id}`],
    );
    const byId = new Map(customer.sourceRecords.map((r: { id: string; system: string }) => [r.id, r.system]));
    const golden = customer.golden;
    assert.equal(golden.paymentTerms.value, term!.name);
    assert.equal(byId.get(golden.paymentTerms.recordId), 'erp', 'the ERP owns payment terms');
    assert.match(golden.legalAccount.value, /\S/);
    assert.equal(byId.get(golden.legalAccount.recordId), 'erp');
    assert.equal(golden.loyaltyTier.value, 'gold');
    assert.equal(byId.get(golden.loyaltyTier.recordId), 'loyalty', 'loyalty owns the tier');
    assert.equal(golden.loyaltyPoints.value, await balance());
    assert.equal(byId.get(golden.loyaltyPoints.recordId), 'loyalty', 'loyalty owns the points');
    assert.equal(golden.email.value.toLowerCase(), email);
    assert.equal(byId.get(golden.email.recordId), 'loyalty', 'the verified e-mail wins');
    assert.ok(customer.merges.every((m: { decision: string }) => m.decision === 'automatic' || m.decision === 'deterministic'));
    assert.equal((await customers.customerOfOrder(orderId))!.customerId, customerId, "the order's customer follows the merges");

    // The pulls ran as jobs on each system's target (its quota and breaker).
    const jobs = (await rig.database.db.query<{ target: string }>(`SELECT DISTINCT target FROM runtime_job WHERE type = 'customers.sync' ORDER BY target`)).rows.map((r) => r.target);
    assert.deepEqual(jobs, ['erp', 'loyalty']);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CustomerService } from '../src/domain/customers/customer.service.ts';
import { flowApi, startFlowRig, type FlowRig } from './support/flows.ts';
import { waitFor } from './support/runtime.ts';

/**
 * Orders resolve to a customer after acceptance (docs/customers.md): the order-created
 * subscriber on the bulk lane, never intake. Two orders of one shopper from two channels,
 * and the loyalty member they are, become one customer; the orders keep their own fields.
 */
describe('order to customer, end to end', () => {
  let rig: FlowRig;
  let f: ReturnType<typeof flowApi>;
  let customers: CustomerService;
  before(async () => {
    rig = await startFlowRig();
    f = flowApi(rig);
    await f.location('WH-EAST', 'warehouse');
    await f.stock([
      { type: 'receipt', sku: 'TEE-M', location: 'WH-EAST', quantity: 50 },
      { type: 'receipt', sku: 'MUG', location: 'WH-EAST', quantity: 50 },
    ]);
    customers = new CustomerService(rig.database.db);
  });
  after(async () => rig?.close());

  const resolved = async (orderId: string) => {
    let found: { customerId: string } | undefined;
    await waitFor(`order ${orderId} to resolve to a customer`, async () => !!(found = await customers.customerOfOrder(orderId)), 30_000, 100);
    return found!.customerId;
  };

  test('a web order and a store order of one shopper resolve to one customer; the loyalty member joins it', async () => {
    const shopper = { email: 'Grace.Hopper@example.com', name: 'Grace Hopper', phone: '+1 415 555 2671', channelCustomerId: '8801' };
    const web = await f.submit({ channel: 'shopify-us', customer: shopper });
    const store = await f.submit({ channel: 'pos-stores', customer: { email: 'grace.hopper@EXAMPLE.com', name: 'Grace Hopper' } });
    const [webCustomer, storeCustomer] = [await resolved(web), await resolved(store)];
    assert.equal(storeCustomer, webCustomer);
    const member = await customers.ingest(
      { system: 'loyalty', connection: 'loyalty', externalId: 'LM-42', givenName: 'Grace', familyName: 'Hopper', emails: [{ address: 'grace.hopper@example.com', verified: true }], phones: ['4155552671'], addresses: [{ line1: '1 Main St', city: 'Springfield', postalCode: '62701', country: 'US' }], observedAt: '2026-11-20T00:00:00Z' },
      { correlationId: 'test' },
    );
    assert.equal(member.customerId, webCustomer, 'the loyalty record matches by e-mail, phone and address');
    const customer = (await f.api('GET', `/v1/customers/${webCustomer}`)).body;
    assert.deepEqual(customer.identifiers.filter((i: { kind: string }) => i.kind === 'own').map((i: { system: string; connection: string; id: string }) => `${i.system}/${i.connection}/${i.id}`).sort(), [
      'channel/pos-stores/guest:grace.hopper@example.com',
      'channel/shopify-us/8801',
      'loyalty/loyalty/LM-42',
    ]);
    const order = (await f.api('GET', `/v1/orders/${web}`)).body;
    assert.deepEqual(order.customer, shopper, "the order's own customer fields stay as the channel sent them");
    await f.waitForStatus(web, 'released');
    // A replayed order.created finds the order resolved: nothing changes.
    const before = await rig.database.db.query('SELECT count(*)::int AS n FROM customer_source_record');
    await customers.resolveOrder((await f.api('GET', `/v1/orders/${web}`)).body, { correlationId: 'replay' });
    assert.deepEqual((await rig.database.db.query('SELECT count(*)::int AS n FROM customer_source_record')).rows, before.rows);
  });
});

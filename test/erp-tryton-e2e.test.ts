import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTrytonClient, type TrytonClient } from '../src/connectors/tryton/outbound/tryton.client.ts';
import { toScaled } from '../src/model/money.ts';
import { flowApi, startFlowRig, type FlowRig } from './support/flows.ts';
import { sampleOrder, submitOrder } from './support/orders.ts';
import { startTryton, trytonErpEnvironment, trytonUnavailable, type RunningTryton } from './support/tryton-server.ts';

// The order flows end to end with the real Tryton 6.0 as the ERP (the other systems are sandboxes).
const unavailable = await trytonUnavailable();

describe('order flows against a real Tryton 6.0', { skip: unavailable ?? false }, () => {
  let server: RunningTryton;
  let rig: FlowRig;
  let f: ReturnType<typeof flowApi>;
  let erp: TrytonClient;
  before(async () => {
    server = await startTryton();
    rig = await startFlowRig({ env: trytonErpEnvironment(server) });
    f = flowApi(rig);
    erp = createTrytonClient({ url: server.url, database: server.database, login: server.login, password: server.password });
    await f.location('WH-EAST', 'warehouse');
    await f.stock([
      { type: 'receipt', sku: 'TEE-M', location: 'WH-EAST', quantity: 20 },
      { type: 'receipt', sku: 'MUG', location: 'WH-EAST', quantity: 20 },
      { type: 'receipt', sku: 'CAP', location: 'WH-EAST', quantity: 5 },
    ]);
  });
  after(async () => {
    await rig?.close();
    await server?.stop();
  });

  test('two lines, shipping, a discount and tax: posted with the ERP amounts equal to the order\'s (within rounding), shipped in Tryton, invoiced, completed', async () => {
    // 2 x 19.99 + 8.50 + 5.00 shipping - 2.00 discount = 51.48, tax included.
    const submitted = await submitOrder(rig.baseUrl, rig.token, sampleOrder({ shippingTotal: '5.00', discountTotal: '2.00', payments: [{ method: 'card', amount: '51.48', status: 'authorized', reference: 'pi_e2e' }] }));
    assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
    const orderId = submitted.body.id as string;
    await f.waitForStatus(orderId, 'released', 120_000);
    const [fulfilment] = await f.fulfilments(orderId);
    await f.ship(fulfilment.id);
    await f.waitForStatus(orderId, 'completed', 120_000);

    const sales = await erp.rpc.call<{ id: number; state: string }[]>('model.sale.sale.search_read', [[['reference', '=', orderId]], 0, null, null, ['state']]);
    assert.equal(sales.length, 1, 'posted once');
    const sale = (await erp.getSale(orderId))!;
    assert.equal(sale.shipmentState, 'sent', 'shipped in Tryton');
    // Tax-included prices brought to 4-decimal unit prices: within a cent per priced line (4 here).
    const difference = toScaled(sale.totalAmount, 2) - toScaled('51.48', 2);
    assert.ok(difference >= -4n && difference <= 4n, `ERP total ${sale.totalAmount}`);
    assert.notEqual(sale.taxAmount, '0.00', 'taxes from the ERP rules');
    const invoices = await erp.postInvoices(orderId);
    assert.equal(invoices[0]!.state, 'posted');
    assert.equal(invoices[0]!.totalAmount, sale.totalAmount);
    const [stock] = await erp.stockLevels(['TEE-M']);
    assert.equal(stock!.quantity, 998, 'the ERP stock went down by the shipped quantity');
  });

  test('an order whose ERP forecast is short posts (default policy: acknowledge, on quote and on confirm)', async () => {
    const submitted = await submitOrder(rig.baseUrl, rig.token, sampleOrder({ lines: [{ sku: 'CAP', quantity: 2, unitPrice: '15.00' }], payments: [{ method: 'card', amount: '30.00', status: 'authorized', reference: 'pi_e2e_cap' }] }));
    assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
    const orderId = submitted.body.id as string;
    await f.waitForStatus(orderId, 'released', 120_000);
    const sale = (await erp.getSale(orderId))!;
    assert.equal(sale.state, 'processing');
    assert.equal(sale.totalAmount, '30.00');
  });
});

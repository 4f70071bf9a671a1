import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalOrder, expectSynclineError } from '../kit/contract-fixtures.ts';
import { odataString, type BcSalesOrder } from './business-central-wire.ts';
import { createBusinessCentralClient, type BusinessCentralClient, type BusinessCentralClientOptions } from './outbound/business-central.client.ts';

/**
 * The Business Central contract: the behaviours Syncline relies on, for any target that speaks
 * API v2.0 — the sandbox (test/connectors-business-central.test.ts) or a real environment
 * (the same file, when BC_CONTRACT_* names one). A test that passes on one and fails on the other
 * is a sandbox bug.
 *
 * The target's company must have the items SKU-RED (unit price 25.00, stock, 10 % tax),
 * SKU-BLUE (12.50, stock, 10 %) and SHIP (a service item for shipping, 10 %), with prices that
 * include tax when the sales order says so.
 */
export interface BusinessCentralContractTarget {
  name: string;
  options: BusinessCentralClientOptions;
}

/** Registers the contract's tests for one target (call inside a describe). */
export function businessCentralContract(target: () => BusinessCentralContractTarget): void {
  const client = (options: Partial<BusinessCentralClientOptions> = {}): BusinessCentralClient => createBusinessCentralClient({ ...target().options, timeoutMs: 15_000, ...options });
  let shared: BusinessCentralClient | undefined;
  const erp = () => (shared ??= client());
  const ordersFor = async (reference: string) => erp().odata.list<BcSalesOrder>(`salesOrders?$filter=${encodeURIComponent(`externalDocumentNumber eq ${odataString(reference)}`)}`);

  test('client credentials: one token serves many calls; a wrong secret is a permanent unauthorized error', async () => {
    const fresh = client();
    await fresh.stockLevels(['SKU-RED']);
    await fresh.stockLevels(['SKU-BLUE']);
    await fresh.checkSetup();
    assert.equal(fresh.odata.tokensFetched, 1, 'the token is cached until it expires');
    const bad = await expectSynclineError(client({ clientSecret: 'not-the-secret' }).stockLevels(['SKU-RED']));
    assert.equal(bad.code, 'connector.unauthorized');
    assert.equal(bad.retry, 'permanent');
  });

  test('an order posted twice is one sales order, found by its externalDocumentNumber, with the amounts BC computed', async () => {
    const order = canonicalOrder({ lines: [{ sku: 'SKU-RED', quantity: 2, unitPrice: '25.00' }], shipping: '5.00', email: `bc-${Date.now()}@example.com` });
    const first = await erp().postOrder(order);
    assert.equal(first.created, true);
    assert.equal(first.sale.reference, order.id);
    // Tax-included prices: 55.00 paid, 10 % of it backed out per line by BC.
    assert.deepEqual([first.sale.untaxedAmount, first.sale.taxAmount, first.sale.totalAmount], ['50.00', '5.00', '55.00']);
    const again = await erp().postOrder(order);
    assert.equal(again.created, false);
    assert.equal(again.sale.erpId, first.sale.erpId);
    assert.equal((await ordersFor(order.id)).length, 1);
    // A second order of the same customer finds the customer by e-mail instead of creating one.
    const second = await erp().postOrder({ ...canonicalOrder({ email: order.customer.email }) });
    const [a] = await ordersFor(order.id);
    const [b] = await ordersFor(second.sale.reference);
    assert.equal(a!.customerId, b!.customerId);
  });

  test('amounts are reconciled at posting: BC\'s total beyond rounding from the order\'s is erp.amount_mismatch, on every attempt', async () => {
    // Prices read as tax-excluded while the order says the customer paid 25.00 in all: BC adds 10 %.
    const wrong = client({ pricesIncludeTax: false });
    const order = canonicalOrder({ lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }] });
    const mismatch = await expectSynclineError(wrong.postOrder(order));
    assert.equal(mismatch.code, 'erp.amount_mismatch');
    assert.equal(mismatch.retry, 'permanent');
    assert.deepEqual([mismatch.details?.erpTotal, mismatch.details?.orderTotal], ['27.50', '25.00']);
    const again = await expectSynclineError(wrong.postOrder(order));
    assert.equal(again.code, 'erp.amount_mismatch');
    assert.equal((await ordersFor(order.id)).length, 1, 'the repeat found the order instead of making a second one');
  });

  test('a shipment posts shipment and invoice through shipAndInvoice; a repeat records nothing; the closed order is still found', async () => {
    const order = canonicalOrder({ lines: [{ sku: 'SKU-RED', quantity: 2, unitPrice: '25.00' }, { sku: 'SKU-BLUE', quantity: 1, unitPrice: '12.50' }] });
    await erp().postOrder(order);
    const [before] = await erp().stockLevels(['SKU-RED']);
    const partial = await erp().recordShipment(order.id, { shipmentKey: 'wms:shp_1', lines: [{ sku: 'SKU-RED', quantity: 2 }] });
    assert.equal(partial.recorded, true);
    assert.equal(partial.sale.shipmentState, 'partially_sent');
    assert.equal(partial.sale.shipmentIds.length, 1);
    const [after] = await erp().stockLevels(['SKU-RED']);
    assert.equal(after!.quantity, before!.quantity - 2);
    const rest = await erp().recordShipment(order.id, { shipmentKey: 'wms:shp_2', lines: [{ sku: 'SKU-BLUE', quantity: 1 }] });
    assert.equal(rest.recorded, true);
    // Fully shipped and invoiced, BC deletes the order; the sale is then read from its posted documents.
    assert.equal((await ordersFor(order.id)).length, 0);
    assert.equal(rest.sale.state, 'done');
    assert.equal(rest.sale.totalAmount, '62.50');
    const repeat = await erp().recordShipment(order.id, { shipmentKey: 'wms:shp_2', lines: [{ sku: 'SKU-BLUE', quantity: 1 }] });
    assert.equal(repeat.recorded, false);
    const invoices = await erp().postInvoices(order.id);
    assert.equal(invoices.length, 2);
    assert.equal(invoices.reduce((sum, i) => sum + Math.round(Number(i.totalAmount) * 100), 0), 6250);
    assert.ok(invoices.every((i) => i.kind === 'invoice' && i.state === 'posted'), 'BC\'s Open is a posted, unpaid invoice');
    const cancel = await erp().cancelOrder(order.id);
    assert.equal(cancel.outcome, 'already_shipped');
    const again = await erp().postOrder(order);
    assert.equal(again.created, false, 'a closed order is not posted again');
  });

  test('cancel deletes an unshipped order with its ETag; a return is a posted credit memo, once', async () => {
    const order = canonicalOrder({ lines: [{ sku: 'SKU-BLUE', quantity: 1, unitPrice: '12.50' }] });
    await erp().postOrder(order);
    const cancelled = await erp().cancelOrder(order.id);
    assert.equal(cancelled.outcome, 'cancelled');
    assert.equal((await ordersFor(order.id)).length, 0);
    assert.deepEqual(await erp().cancelOrder(order.id), { outcome: 'not_found' });

    const sold = canonicalOrder({ lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }] });
    await erp().postOrder(sold);
    await erp().recordShipment(sold.id, { shipmentKey: 'wms:shp_r', lines: [{ sku: 'SKU-RED', quantity: 1 }] });
    const input = { returnId: `ret_${sold.id.slice(4)}`, orderId: sold.id, lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }], restock: true };
    const first = await erp().postReturn(input);
    assert.equal(first.created, true);
    assert.equal(first.creditNotes[0]!.kind, 'credit_note');
    assert.equal(first.creditNotes[0]!.state, 'posted');
    assert.ok(Number(first.creditNotes[0]!.totalAmount) < 0);
    const second = await erp().postReturn(input);
    assert.equal(second.created, false);
    assert.equal(second.creditNotes[0]!.erpId, first.creditNotes[0]!.erpId);
  });

  test('customer account: the customer of a sale, its balanceDue, creditLimit and Open salesInvoices; a posted credit memo lowers the balance', async () => {
    const order = canonicalOrder({ lines: [{ sku: 'SKU-RED', quantity: 2, unitPrice: '25.00' }], shipping: '5.00', email: `bc-account-${Date.now()}@example.com` });
    await erp().postOrder(order);
    const customerId = await erp().saleAccount(order.id);
    assert.match(customerId ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(await erp().saleAccount('ord_unknown'), undefined);
    const before = (await erp().customerAccount(customerId!))!;
    assert.deepEqual(before.openInvoices, [], 'nothing invoiced yet');
    assert.equal(Number(before.balance), 0);
    await erp().recordShipment(order.id, { shipmentKey: 'wms:shp_a', lines: [{ sku: 'SKU-RED', quantity: 2 }] });
    assert.equal(await erp().saleAccount(order.id), customerId, 'found by the invoice once BC closed the order');
    const [invoice] = await erp().postInvoices(order.id);
    const account = (await erp().customerAccount(customerId!))!;
    assert.equal(account.account, customerId);
    assert.equal(account.name, order.customer.name);
    assert.equal(typeof account.creditLimit, 'string');
    assert.deepEqual(account.openInvoices.map((i) => [i.number, i.kind, i.totalAmount, i.remainingAmount]), [[invoice!.number, 'invoice', invoice!.totalAmount, invoice!.totalAmount]]);
    assert.equal(Number(account.balance), Number(invoice!.totalAmount));
    const returned = await erp().postReturn({ returnId: `ret_${order.id.slice(4)}`, orderId: order.id, lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }], restock: false });
    assert.equal(returned.account, customerId, 'the credit memo is the order customer’s');
    const credited = (await erp().customerAccount(customerId!))!;
    assert.equal(Number(credited.balance), Number(invoice!.totalAmount) + Number(returned.creditNotes[0]!.totalAmount));
    assert.equal(await erp().customerAccount('00000000-0000-0000-0000-00000000beef'), undefined, 'an unknown customer');
    assert.equal(await erp().customerAccount('not-a-guid'), undefined);
  });

  test('errors: an unknown item is erp.unknown_product; BC refusals carry its error code; a missing entity is erp.not_found', async () => {
    const unknown = await expectSynclineError(erp().postOrder(canonicalOrder({ lines: [{ sku: 'NO-SUCH-SKU', quantity: 1, unitPrice: '1.00' }] })));
    assert.equal(unknown.code, 'erp.unknown_product');
    assert.equal(unknown.retry, 'permanent');
    assert.deepEqual(unknown.details?.skus, ['NO-SUCH-SKU']);
    const refused = await expectSynclineError(erp().odata.create('salesOrders', { customerNumber: 'NO-SUCH-CUSTOMER' }));
    assert.equal(refused.code, 'connector.rejected');
    assert.equal(refused.retry, 'permanent');
    assert.equal(typeof refused.details?.odataCode, 'string');
    assert.match(refused.message, /400/);
    const missing = await expectSynclineError(erp().odata.action('salesOrders(00000000-0000-0000-0000-000000000001)/Microsoft.NAV.shipAndInvoice'));
    assert.equal(missing.code, 'erp.not_found');
    assert.deepEqual(await erp().checkSetup(), []);
    const noCompany = await client({ companyId: '00000000-0000-0000-0000-0000000000aa' }).checkSetup();
    assert.deepEqual(noCompany.map((p) => p.code), ['erp.company_missing']);
    const noCharge = await client({ chargeItems: { shipping: 'NO-SHIP-ITEM' } }).checkSetup();
    assert.deepEqual(noCharge.map((p) => p.code), ['erp.charge_product_missing']);
  });
}

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Order } from '../../model/order.ts';
import { canonicalOrder, expectSynclineError } from '../kit/contract-fixtures.ts';
import { createTrytonClient, type TrytonClient, type TrytonClientOptions } from './outbound/tryton.client.ts';
import { sessionAuthorization } from './tryton-wire.ts';

/**
 * The Tryton contract: the behaviours Syncline relies on, run against the sandbox and against a
 * real Tryton 6.0 (test/connectors-tryton.test.ts, test/connectors-tryton-real.test.ts). A test
 * that passes on one and fails on the other is a sandbox bug.
 *
 * The target must know the products SKU-RED (25.00, plenty of stock), SKU-GREEN (12.50, no stock),
 * SHIP and DISC (services), all taxed 10 % by the ERP's own rules, and the warehouse 5.
 */
export interface TrytonContractTarget {
  name: string;
  url: string;
  database: string;
  login: string;
  password: string;
}

type Row = Record<string, unknown> & { id: number };

/** Raw JSON-RPC over HTTP, as Tryton's own clients speak it. */
export async function rawRpc(url: string, path: string, method: string, params: unknown[], authorization?: string): Promise<{ status: number; text: string; body: unknown }> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ id: 7, method, params }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, text, body };
}

/** An order of `lines` whose prices include tax (the channel reports no separate tax). */
function order(lines: { sku: string; quantity: number; unitPrice: string }[], extra: { shipping?: string; discount?: string; notes?: string } = {}): Order {
  return canonicalOrder({ lines, ...extra });
}

/** Registers the contract's tests for one target (call inside a describe). */
export function trytonContract(target: () => TrytonContractTarget): void {
  const client = (options: Partial<TrytonClientOptions> = {}): TrytonClient => {
    const t = target();
    return createTrytonClient({ url: t.url, database: t.database, login: t.login, password: t.password, timeoutMs: 15_000, ...options });
  };
  let shared: TrytonClient | undefined;
  const erp = () => (shared ??= client());
  const salesFor = (reference: string) =>
    erp().rpc.call<Row[]>('model.sale.sale.search_read', [[['reference', '=', reference]], 0, null, [['id', 'ASC']], ['state', 'number']]);

  test('wire format: Session login, tagged Decimals, errors as HTTP 200 arrays, 401 and 403 as recorded', async () => {
    const t = target();
    const path = `/${t.database}/`;
    const version = await rawRpc(t.url, '/', 'common.server.version', []);
    assert.deepEqual(version.body, { id: 7, result: '6.0.29' });
    const badLogin = await rawRpc(t.url, path, 'common.db.login', [t.login, { password: 'wrong' }, 'en']);
    assert.equal(badLogin.status, 401);
    assert.match(badLogin.text, /<title>401 Unauthorized<\/title>/);
    const login = await rawRpc(t.url, path, 'common.db.login', [t.login, { password: t.password }, 'en']);
    const [uid, session] = (login.body as { result: [number, string] }).result;
    const auth = sessionAuthorization(t.login, uid, session);
    const ctx = ((await rawRpc(t.url, path, 'model.res.user.get_preferences', [true, {}], auth)).body as { result: Record<string, unknown> }).result;
    assert.equal(typeof ctx.company, 'number');
    const [productId] = ((await rawRpc(t.url, path, 'model.product.product.search', [[['code', '=', 'SKU-RED']], 0, 10, null, ctx], auth)).body as { result: number[] }).result;
    const read = await rawRpc(t.url, path, 'model.product.product.read', [[productId], ['list_price', 'salable', 'type'], { ...ctx, locations: [5] }], auth);
    const [product] = (read.body as { result: Record<string, unknown>[] }).result;
    assert.deepEqual(product!.list_price, { __class__: 'Decimal', decimal: '25.00' });
    assert.equal(product!.salable, 1, 'SQLite booleans come back as 1/0');

    const required = async (line: Record<string, unknown>) => {
      const answer = await rawRpc(t.url, path, 'model.sale.sale.create', [[{ party: 1, lines: [['create', [{ type: 'line', product: productId, quantity: 1, ...line }]]] }], ctx], auth);
      assert.equal(answer.status, 200, 'Tryton errors are HTTP 200 with an error member');
      return (answer.body as { error: unknown }).error;
    };
    // create runs no on_change: the unit is checked first, then the unit price.
    assert.deepEqual(await required({}), ['UserError', ['A value is required for field "Unit" in "Sale Line".', '', null]]);
    assert.deepEqual(await required({ unit: 1 }), ['UserError', ['A value is required for field "Unit Price" in "Sale Line".', '', null]]);

    const onChange = await rawRpc(t.url, path, 'model.sale.line.on_change', [{ id: -1, type: 'line', product: productId, quantity: 3, unit: null, unit_price: null, taxes: [], sale: -1, '_parent_sale.party': 1, '_parent_sale.currency': 1 }, ['product'], ctx], auth);
    const [changes] = (onChange.body as { result: Record<string, unknown>[] }).result;
    assert.deepEqual(changes!.unit_price, { __class__: 'Decimal', decimal: '25.0000' });
    assert.deepEqual(changes!.amount, { __class__: 'Decimal', decimal: '75.00' });
    assert.equal(((changes!.taxes as { add: unknown[] }).add).length, 1);

    const noSession = await rawRpc(t.url, path, 'model.product.product.search', [[], 0, 10, null, {}], sessionAuthorization(t.login, uid, 'nope'));
    assert.equal(noSession.status, 401);
    assert.equal(noSession.text, '');
    const notExposed = await rawRpc(t.url, path, 'model.sale.sale.create_invoice', [[1], ctx], auth);
    assert.equal(notExposed.status, 403);
    assert.match(notExposed.text, /<title>403 Forbidden<\/title>/);
    const unknownDb = await rawRpc(t.url, '/no_such_db/', 'common.db.login', [t.login, { password: t.password }, 'en']);
    assert.equal(unknownDb.status, 200);
    assert.match(String((unknownDb.body as { error: [string] }).error[0]), /^Database '.*no_such_db\.sqlite' doesn't exist!$/);
  });

  test('a wrong password is a permanent unauthorized error; an unknown database is the permanent erp.database_unknown', async () => {
    const bad = await expectSynclineError(client({ password: 'nope' }).stockLevels(['SKU-RED']));
    assert.equal(bad.code, 'connector.unauthorized');
    assert.equal(bad.retry, 'permanent');
    const unknown = await expectSynclineError(client({ database: 'no_such_db' }).stockLevels(['SKU-RED']));
    assert.equal(unknown.code, 'erp.database_unknown');
    assert.equal(unknown.retry, 'permanent');
  });

  test('tax-included prices: an order paid 55.00 (2 x 25.00 + 5.00 shipping) is a sale and an invoice of 55.00, taxes from the ERP', async () => {
    const placed = order([{ sku: 'SKU-RED', quantity: 2, unitPrice: '25.00' }], { shipping: '5.00' });
    const first = await erp().postOrder(placed);
    assert.equal(first.created, true);
    assert.equal(first.sale.state, 'processing');
    assert.equal(first.sale.reference, placed.id);
    assert.deepEqual([first.sale.untaxedAmount, first.sale.taxAmount, first.sale.totalAmount], ['50.00', '5.00', '55.00']);
    const second = await erp().postOrder(placed);
    assert.equal(second.created, false);
    assert.equal(second.sale.erpId, first.sale.erpId);
    assert.equal((await salesFor(placed.id)).length, 1);

    await erp().recordShipment(placed.id, { shipmentKey: `wms:${placed.id}`, lines: [{ sku: 'SKU-RED', quantity: 2 }] });
    const invoices = await erp().postInvoices(placed.id);
    assert.equal(invoices.length, 1);
    assert.equal(invoices[0]!.state, 'posted');
    assert.deepEqual([invoices[0]!.untaxedAmount, invoices[0]!.taxAmount, invoices[0]!.totalAmount], ['50.00', '5.00', '55.00']);
    assert.deepEqual(await erp().postInvoices(placed.id), invoices, 'posting again changes nothing');
  });

  test('a discount posts as the configured discount product; prices that do not divide evenly stay within a cent per line', async () => {
    const placed = order([{ sku: 'SKU-RED', quantity: 3, unitPrice: '19.99' }], { shipping: '4.99', discount: '2.00' });
    const posted = await erp().postOrder(placed);
    // 18.1727 x 3 = 54.52, shipping 4.5364 = 4.54, discount -1.8182 = -1.82; Tryton taxes the positive
    // and the negative bases apart (5.91 and -0.18): 62.97 for an order of 62.96, within rounding.
    assert.deepEqual([posted.sale.untaxedAmount, posted.sale.taxAmount, posted.sale.totalAmount], ['57.24', '5.73', '62.97']);
    assert.equal(placed.totals.grandTotal, '62.96');
  });

  test('tax-excluded prices with the order\'s tax: the ERP\'s total must equal the order\'s', async () => {
    const base = order([{ sku: 'SKU-RED', quantity: 2, unitPrice: '25.00' }]);
    const placed: Order = { ...base, totals: { ...base.totals, tax: '5.00', grandTotal: '55.00', paid: '55.00' } };
    const posted = await erp().postOrder(placed);
    assert.deepEqual([posted.sale.untaxedAmount, posted.sale.taxAmount, posted.sale.totalAmount], ['50.00', '5.00', '55.00']);
  });

  test('a total the ERP computes differently is the permanent erp.amount_mismatch with both amounts, and nothing is confirmed', async () => {
    const placed = order([{ sku: 'SKU-RED', quantity: 2, unitPrice: '25.00' }]);
    const error = await expectSynclineError(client({ pricesIncludeTax: false }).postOrder(placed));
    assert.equal(error.code, 'erp.amount_mismatch');
    assert.equal(error.retry, 'permanent');
    assert.equal(error.details?.erpTotal, '55.00');
    assert.equal(error.details?.orderTotal, '50.00');
    assert.deepEqual((await salesFor(placed.id)).map((s) => s.state), ['draft']);
  });

  test('two concurrent postings of one order leave one live sale', async () => {
    const placed = order([{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }]);
    const [a, b] = await Promise.all([erp().postOrder(placed), erp().postOrder(placed)]);
    assert.equal(a.sale.erpId, b.sale.erpId);
    const live = (await salesFor(placed.id)).filter((s) => s.state !== 'cancelled');
    assert.deepEqual(live.map((s) => s.state), ['processing']);
  });

  test('short ERP stock (warning on quote and again on confirm): acknowledged by default; "hold" is the permanent erp.short_stock; a replay reuses the sale', async () => {
    const placed = order([{ sku: 'SKU-GREEN', quantity: 2, unitPrice: '12.50' }]);
    const held = await expectSynclineError(client({ shortStock: 'hold' }).postOrder(placed));
    assert.equal(held.code, 'erp.short_stock');
    assert.equal(held.retry, 'permanent');
    assert.match(String(held.details?.warningName), /^stock_quantity_warning_\d+$/);
    assert.match(String(held.details?.warning), /The forcast quantity \(0\.0u\) for line "2u \[SKU-GREEN\] Green mug @ \[ord_\w+\]" is lower than its quantity \(2\.0u\)\./);
    const posted = await erp().postOrder(placed);
    assert.equal(posted.created, false, 'the draft from the held attempt is reused');
    assert.equal(posted.sale.state, 'processing');
    const sales = await salesFor(placed.id);
    assert.deepEqual(sales.map((s) => s.state), ['processing'], 'no second quotation');
  });

  test('a held posting stopped at confirm is finished by the replay, not quoted again', async () => {
    const placed = order([{ sku: 'SKU-GREEN', quantity: 1, unitPrice: '12.50' }]);
    // Quote by hand (acknowledging its warning) as a posting cut before confirm would have.
    const first = await expectSynclineError(client({ shortStock: 'hold' }).postOrder(placed));
    const saleId = Number(first.details?.saleId);
    await erp().rpc.call('model.res.user.warning.create', [[{ user: await erp().rpc.userId(), name: String(first.details?.warningName), always: false }]]);
    await erp().rpc.call('model.sale.sale.quote', [[saleId]]);
    const confirmHeld = await expectSynclineError(client({ shortStock: 'hold' }).postOrder(placed));
    assert.equal(confirmHeld.code, 'erp.short_stock');
    assert.equal(confirmHeld.details?.button, 'confirm');
    const posted = await erp().postOrder(placed);
    assert.equal(posted.sale.erpId, saleId);
    assert.equal(posted.sale.state, 'processing');
  });

  test('charge products come from the settings; checkSetup names the ones the ERP lacks', async () => {
    assert.deepEqual(await erp().checkSetup(), []);
    const misconfigured = client({ chargeProducts: { shipping: 'SHIPPING', discount: 'DISC' }, paymentTermId: 999, warehouseId: 3 });
    const problems = await misconfigured.checkSetup();
    assert.deepEqual(problems.map((p) => p.code).sort(), ['erp.charge_product_missing', 'erp.payment_term_missing', 'erp.warehouse_missing']);
    assert.match(problems.find((p) => p.code === 'erp.charge_product_missing')!.message, /SHIPPING.*shipping/);
    const unknownDb = await client({ database: 'no_such_db' }).checkSetup();
    assert.deepEqual(unknownDb.map((p) => p.code), ['erp.database_unknown']);
  });

  test('cancel after an interrupted posting (a draft or a quotation left behind) leaves no live sale', async () => {
    for (const cutAfter of ['create', 'quote'] as const) {
      const placed = order([{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }]);
      // The posting's create (and quote) reached the ERP, its answer did not: the flow only knows the reference.
      const held = await expectSynclineError(client({ pricesIncludeTax: false }).postOrder(placed));
      assert.equal(held.code, 'erp.amount_mismatch');
      const saleId = Number(held.details?.saleId);
      if (cutAfter === 'quote') await erp().rpc.call('model.sale.sale.quote', [[saleId]]);
      const found = await erp().getSale(placed.id);
      assert.equal(found?.erpId, saleId, 'the lookup by reference finds the lost posting');
      const cancelled = await erp().cancelOrder(placed.id);
      assert.equal(cancelled.outcome, 'cancelled');
      assert.deepEqual((await salesFor(placed.id)).map((s) => s.state), ['cancelled'], cutAfter);
      const again = await expectSynclineError(erp().postOrder(placed));
      assert.equal(again.code, 'erp.sale_cancelled');
    }
  });

  test('cancel: a processing sale has its shipment and draft invoice cancelled; a shipped one is refused', async () => {
    const placed = order([{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }]);
    await erp().postOrder(placed);
    const cancelled = await erp().cancelOrder(placed.id);
    assert.equal(cancelled.outcome, 'cancelled_documents');
    if (cancelled.outcome !== 'cancelled_documents') return;
    assert.equal(cancelled.cancelledShipmentIds.length, 1);
    assert.equal(cancelled.cancelledInvoiceIds.length, 1);
    assert.equal(cancelled.sale.shipmentState, 'exception');

    const shipped = order([{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }]);
    await erp().postOrder(shipped);
    await erp().recordShipment(shipped.id, { shipmentKey: `wms:${shipped.id}`, lines: [{ sku: 'SKU-RED', quantity: 1 }] });
    assert.equal((await erp().cancelOrder(shipped.id)).outcome, 'already_shipped');
    assert.equal((await erp().cancelOrder('ord_unknown')).outcome, 'not_found');
  });

  test('shipping lowers the ERP stock; a partial shipment leaves the rest planned; a repeat is recorded once', async () => {
    const placed = order([{ sku: 'SKU-RED', quantity: 4, unitPrice: '25.00' }]);
    await erp().postOrder(placed);
    const [before] = await erp().stockLevels(['SKU-RED']);
    const partial = await erp().recordShipment(placed.id, { shipmentKey: `wms:${placed.id}:1`, lines: [{ sku: 'SKU-RED', quantity: 1 }] });
    assert.equal(partial.recorded, true);
    assert.equal(partial.sale.shipmentState, 'waiting');
    assert.equal(partial.sale.shipmentIds.length, 2, 'Tryton plans a new shipment for the remaining quantity');
    const [afterPartial] = await erp().stockLevels(['SKU-RED']);
    assert.equal(afterPartial!.quantity, before!.quantity - 1);
    const repeat = await erp().recordShipment(placed.id, { shipmentKey: `wms:${placed.id}:1`, lines: [{ sku: 'SKU-RED', quantity: 1 }] });
    assert.equal(repeat.recorded, false);
    const rest = await erp().recordShipment(placed.id, { shipmentKey: `wms:${placed.id}:2`, lines: [{ sku: 'SKU-RED', quantity: 3 }] });
    assert.equal(rest.sale.shipmentState, 'sent');
    assert.equal((await erp().stockLevels(['SKU-RED']))[0]!.quantity, before!.quantity - 4);
  });

  test('a return posts a credit note for the tax-included amount and restocks', async () => {
    const placed = order([{ sku: 'SKU-RED', quantity: 2, unitPrice: '27.50' }]);
    await erp().postOrder(placed);
    await erp().recordShipment(placed.id, { shipmentKey: `wms:${placed.id}`, lines: [{ sku: 'SKU-RED', quantity: 2 }] });
    await erp().postInvoices(placed.id);
    const [stockBefore] = await erp().stockLevels(['SKU-RED']);
    const returnId = `ret_${placed.id.slice(4)}`;
    const returned = await erp().postReturn({ returnId, orderId: placed.id, lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '27.50' }], restock: true });
    assert.equal(returned.created, true);
    assert.equal(returned.creditNotes.length, 1);
    assert.equal(returned.creditNotes[0]!.kind, 'credit_note');
    assert.equal(returned.creditNotes[0]!.totalAmount, '-27.50');
    assert.equal(returned.creditNotes[0]!.state, 'posted');
    assert.equal((await erp().stockLevels(['SKU-RED']))[0]!.quantity, stockBefore!.quantity + 1);
  });

  test('concurrent first orders: one new customer ends with one party; new customers drawing the same party code all post', async () => {
    // Each order from its own client, as separate workers post them; Tryton refuses party codes drawn at the same moment.
    const workers = () => Array.from({ length: 3 }, () => client({ timeoutMs: 60_000 }));
    const email = `first-${Date.now()}@example.com`;
    const same = Array.from({ length: 3 }, () => canonicalOrder({ email, lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }] }));
    const posted = await Promise.all(workers().map((c, i) => c.postOrder(same[i]!)));
    const parties = await erp().rpc.call<Row[]>('model.party.party.search_read', [[['contact_mechanisms.value', '=', email]], 0, null, null, ['code']]);
    assert.equal(parties.length, 1, `one party for the customer (${JSON.stringify(parties)})`);
    for (const [i, placed] of same.entries()) {
      assert.deepEqual((await salesFor(placed.id)).map((s) => s.state), ['processing'], `order ${i} posted once`);
      const [sale] = await erp().rpc.call<Row[]>('model.sale.sale.read', [[posted[i]!.sale.erpId], ['party']]);
      assert.equal(sale!.party, parties[0]!.id, `order ${i} on the customer's party`);
    }
    const others = Array.from({ length: 3 }, (_, i) => canonicalOrder({ email: `other-${i}-${Date.now()}@example.com`, lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }] }));
    await Promise.all(workers().map((c, i) => c.postOrder(others[i]!)));
    for (const placed of others) assert.equal((await salesFor(placed.id)).length, 1);
  });

  test('saleDetail: the priced lines (code, quantity, tax-excluded unit price and amount, tax percentage) and the party', async () => {
    const placed = canonicalOrder({ email: `detail-${Date.now()}@example.com`, lines: [{ sku: 'SKU-RED', quantity: 2, unitPrice: '27.50' }], shipping: '5.50' });
    await erp().postOrder(placed);
    const detail = (await erp().saleDetail(placed.id))!;
    assert.equal(detail.sale.totalAmount, '60.50');
    assert.deepEqual(detail.lines, [
      { sku: 'SKU-RED', quantity: '2', unitPrice: '25.0000', amount: '50.00', taxPercent: '10.00' },
      { sku: 'SHIP', quantity: '1', unitPrice: '5.0000', amount: '5.00', taxPercent: '10.00' },
    ]);
    assert.equal(detail.customer?.email, placed.customer.email);
    assert.equal(detail.customer?.name, placed.customer.name);
    assert.ok(detail.customer?.code, 'the party code');
    assert.equal(await erp().saleDetail('ord_unknown'), undefined);
  });

  test('customer account: the party of a sale, its receivable and its posted (unpaid) invoices; a posted credit note lowers what it owes', async () => {
    const placed = canonicalOrder({ email: `account-${Date.now()}@example.com`, lines: [{ sku: 'SKU-RED', quantity: 2, unitPrice: '27.50' }] });
    const posted = await erp().postOrder(placed);
    const party = await erp().saleAccount(placed.id);
    const [sale] = await erp().rpc.call<Row[]>('model.sale.sale.read', [[posted.sale.erpId], ['party']]);
    assert.equal(party, String(sale!.party));
    assert.equal(await erp().saleAccount('ord_unknown'), undefined);
    const before = (await erp().customerAccount(party!))!;
    assert.deepEqual(before.openInvoices, [], 'nothing invoiced yet');
    assert.equal(Number(before.balance), 0);
    await erp().recordShipment(placed.id, { shipmentKey: `wms:${placed.id}`, lines: [{ sku: 'SKU-RED', quantity: 2 }] });
    const [invoice] = await erp().postInvoices(placed.id);
    const account = (await erp().customerAccount(party!))!;
    assert.equal(account.account, party);
    assert.equal(account.name, placed.customer.name);
    assert.equal(account.creditLimit, null);
    assert.equal(account.currency, 'USD');
    assert.deepEqual(
      account.openInvoices.map((i) => [i.number, i.kind, i.totalAmount, i.remainingAmount, i.currency]),
      [[invoice!.number, 'invoice', '55.00', '55.00', 'USD']],
    );
    assert.equal(account.openInvoices[0]!.invoiceDate, invoice!.invoiceDate);
    assert.equal(Number(account.balance), 55);
    await erp().postReturn({ returnId: `ret_${placed.id.slice(4)}`, orderId: placed.id, lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '27.50' }], restock: false });
    const credited = (await erp().customerAccount(party!))!;
    assert.equal(Number(credited.balance), 27.5, 'the credit note is on the same party');
    assert.deepEqual(credited.openInvoices.map((i) => [i.kind, i.totalAmount]).sort(), [['credit_note', '-27.50'], ['invoice', '55.00']]);
    assert.equal(await erp().customerAccount('999999'), undefined, 'an unknown party');
    assert.equal(await erp().customerAccount('not-a-party'), undefined);
  });

  test('an unknown SKU is a permanent error naming it', async () => {
    const error = await expectSynclineError(erp().postOrder(order([{ sku: 'SKU-NOPE', quantity: 1, unitPrice: '1.00' }])));
    assert.equal(error.code, 'erp.unknown_product');
    assert.deepEqual(error.details?.skus, ['SKU-NOPE']);
  });
}

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { canonicalOrder, expectSynclineError } from '../src/connectors/kit/contract-fixtures.ts';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { startTrytonSandbox, type RunningTrytonSandbox } from '../src/connectors/tryton/sandbox/tryton.sandbox.ts';
import { createTrytonClient, type TrytonClient } from '../src/connectors/tryton/outbound/tryton.client.ts';
import { sessionAuthorization } from '../src/connectors/tryton/tryton-wire.ts';

const DB = 'syncline';


/** Raw JSON-RPC over HTTP, as Tryton's own clients speak it. */
async function rpc(url: string, method: string, params: unknown[], authorization?: string): Promise<{ status: number; text: string; body: unknown }> {
  const response = await fetch(`${url}/${DB}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ id: 7, method, params }),
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

describe('Tryton sandbox and client', () => {
  let sandbox: RunningTrytonSandbox;
  let erp: TrytonClient;
  let admin: ReturnType<typeof sandboxAdmin>;

  before(async () => {
    sandbox = await startTrytonSandbox({
      products: [
        { code: 'SKU-RED', name: 'Red mug', listPrice: '25.00', quantity: 100 },
        { code: 'SKU-BLUE', name: 'Blue mug', listPrice: '10.00', quantity: 5 },
      ],
    });
    erp = createTrytonClient({ url: sandbox.url, database: DB, login: 'admin', password: 'admin', timeoutMs: 3000 });
    admin = sandboxAdmin(sandbox.url);
  });
  after(async () => sandbox?.close());

  test('speaks the recorded JSON-RPC wire format: login, Session header, tagged Decimals, error arrays, 401 and 403', async () => {
    const version = await fetch(`${sandbox.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 1, method: 'common.server.version', params: [] }) });
    assert.deepEqual(await version.json(), { id: 1, result: '6.0.29' });

    const login = await rpc(sandbox.url, 'common.db.login', ['admin', { password: 'admin' }, 'en']);
    const [uid, session] = (login.body as { result: [number, string] }).result;
    assert.equal(uid, 1);
    const auth = sessionAuthorization('admin', uid, session);
    assert.match(auth, /^Session [A-Za-z0-9+/=]+$/);

    const ctx = ((await rpc(sandbox.url, 'model.res.user.get_preferences', [true, {}], auth)).body as { result: Record<string, unknown> }).result;
    assert.equal(ctx.company, 1);
    const [productId] = ((await rpc(sandbox.url, 'model.product.product.search', [[['code', '=', 'SKU-RED']], 0, 10, null, ctx], auth)).body as { result: number[] }).result;
    const read = await rpc(sandbox.url, 'model.product.product.read', [[productId], ['code', 'list_price', 'quantity'], { ...ctx, locations: [5] }], auth);
    const [product] = (read.body as { result: Record<string, unknown>[] }).result;
    assert.deepEqual(product!.list_price, { __class__: 'Decimal', decimal: '25.0000' });
    assert.equal(product!.quantity, 100);

    const unpriced = await rpc(
      sandbox.url,
      'model.sale.sale.create',
      [[{ party: 999, lines: [] }], ctx],
      auth,
    );
    assert.equal(unpriced.status, 200, 'Tryton errors are HTTP 200 with an error member');
    const [name, args] = (unpriced.body as { error: [string, unknown[]] }).error;
    assert.equal(name, 'UserError');
    assert.equal(args.length, 3);

    const noSession = await rpc(sandbox.url, 'model.product.product.search', [[], 0, 10, null, {}]);
    assert.equal(noSession.status, 401);
    assert.equal(noSession.text, '');
    const notExposed = await rpc(sandbox.url, 'model.sale.sale.create_invoice', [[1], ctx], auth);
    assert.equal(notExposed.status, 403);
    assert.match(notExposed.text, /Forbidden/);
  });

  test('a wrong password is a permanent unauthorized error', async () => {
    const bad = createTrytonClient({ url: sandbox.url, database: DB, login: 'admin', password: 'nope' });
    const error = await expectSynclineError(bad.stockLevels(['SKU-RED']));
    assert.equal(error.code, 'connector.unauthorized');
    assert.equal(error.retry, 'permanent');
  });

  test('posting an order twice creates one sale: idempotent by the order id as reference', async () => {
    const order = canonicalOrder({ lines: [{ sku: 'SKU-RED', quantity: 3, unitPrice: '25.00' }], shipping: '4.99', discount: '1.00', notes: 'Gift wrap please' });
    const first = await erp.postOrder(order, { correlationId: order.correlationId });
    assert.equal(first.created, true);
    assert.equal(first.sale.state, 'processing');
    assert.equal(first.sale.reference, order.id);
    assert.equal(first.sale.totalAmount, order.totals.grandTotal);
    assert.equal(first.sale.shipmentIds.length, 1);
    assert.equal(first.sale.invoiceIds.length, 1);

    const second = await erp.postOrder(order);
    assert.equal(second.created, false);
    assert.equal(second.sale.erpId, first.sale.erpId);
    const state = await admin.call<{ sales: { reference: string }[] }>('GET', '/_sandbox/state');
    assert.equal(state.sales.filter((s) => s.reference === order.id).length, 1);
  });

  test('two concurrent postings of one order leave one live sale', async () => {
    const order = canonicalOrder({ lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }] });
    const [a, b] = await Promise.all([erp.postOrder(order), erp.postOrder(order)]);
    assert.equal(a.sale.erpId, b.sale.erpId);
    const state = await admin.call<{ sales: { reference: string; state: string }[] }>('GET', '/_sandbox/state');
    const live = state.sales.filter((s) => s.reference === order.id && s.state !== 'cancelled');
    assert.equal(live.length, 1);
    assert.equal(live[0]!.state, 'processing');
  });

  test('a half-done posting (created, not confirmed) is finished by the repeat', async () => {
    const order = canonicalOrder({ lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }] });
    // Simulate a crash after create: make the sale by hand with the same reference.
    const posted = await erp.postOrder(canonicalOrder({ lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }] }));
    const partyId = (await erp.rpc.call<{ party: number }[]>('model.sale.sale.read', [[posted.sale.erpId], ['party']]))[0]!.party;
    const [productId] = await erp.rpc.call<number[]>('model.product.product.search', [[['code', '=', 'SKU-RED']], 0, 1, null]);
    await erp.rpc.call('model.sale.sale.create', [[{ party: partyId, reference: order.id, lines: [['create', [{ type: 'line', product: productId, quantity: 1, unit: 1, unit_price: { __class__: 'Decimal', decimal: '25.00' } }]]] }]]);
    const result = await erp.postOrder(order);
    assert.equal(result.created, false);
    assert.equal(result.sale.state, 'processing');
  });

  test('shipping in the ERP decrements its stock; partial shipments leave the rest planned; a repeated shipment is recorded once', async () => {
    const order = canonicalOrder({ lines: [{ sku: 'SKU-RED', quantity: 4, unitPrice: '25.00' }] });
    await erp.postOrder(order);
    const [before] = await erp.stockLevels(['SKU-RED']);
    const partial = await erp.recordShipment(order.id, { shipmentKey: 'wms:shp_1', lines: [{ sku: 'SKU-RED', quantity: 1 }] });
    assert.equal(partial.recorded, true);
    assert.equal(partial.sale.shipmentState, 'waiting');
    assert.equal(partial.sale.shipmentIds.length, 2, 'Tryton plans a new shipment for the remaining quantity');
    const [afterPartial] = await erp.stockLevels(['SKU-RED']);
    assert.equal(afterPartial!.quantity, before!.quantity - 1);
    assert.equal(afterPartial!.forecastQuantity, before!.forecastQuantity, 'forecast already counted the shipped goods');

    const repeat = await erp.recordShipment(order.id, { shipmentKey: 'wms:shp_1', lines: [{ sku: 'SKU-RED', quantity: 1 }] });
    assert.equal(repeat.recorded, false);
    const [afterRepeat] = await erp.stockLevels(['SKU-RED']);
    assert.equal(afterRepeat!.quantity, afterPartial!.quantity);

    const rest = await erp.recordShipment(order.id, { shipmentKey: 'wms:shp_2', lines: [{ sku: 'SKU-RED', quantity: 3 }] });
    assert.equal(rest.sale.shipmentState, 'sent');
    const [afterAll] = await erp.stockLevels(['SKU-RED']);
    assert.equal(afterAll!.quantity, before!.quantity - 4);

    const over = await expectSynclineError(erp.recordShipment(order.id, { shipmentKey: 'wms:shp_3', lines: [{ sku: 'SKU-RED', quantity: 1 }] }));
    assert.equal(over.code, 'erp.no_open_shipment');
    assert.equal(over.retry, 'permanent');
  });

  test('invoices are produced and posted; a return posts a credit note and restocks', async () => {
    const order = canonicalOrder({ lines: [{ sku: 'SKU-RED', quantity: 2, unitPrice: '25.00' }], shipping: '5.00' });
    await erp.postOrder(order);
    await erp.recordShipment(order.id, { shipmentKey: `wms:${order.id}`, lines: [{ sku: 'SKU-RED', quantity: 2 }] });
    const invoices = await erp.postInvoices(order.id);
    assert.equal(invoices.length, 1);
    assert.equal(invoices[0]!.state, 'posted');
    assert.match(invoices[0]!.number!, /^INV\/\d+$/);
    assert.equal(invoices[0]!.kind, 'invoice');
    assert.equal(invoices[0]!.totalAmount, '55.00');
    assert.match(invoices[0]!.invoiceDate!, /^\d{4}-\d{2}-\d{2}$/);
    assert.deepEqual(await erp.postInvoices(order.id), invoices, 'posting again changes nothing');

    const [stockBefore] = await erp.stockLevels(['SKU-RED']);
    const returnId = `ret_${order.id.slice(4)}`;
    const returned = await erp.postReturn({ returnId, orderId: order.id, lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }], restock: true });
    assert.equal(returned.created, true);
    assert.equal(returned.creditNotes.length, 1);
    assert.equal(returned.creditNotes[0]!.kind, 'credit_note');
    assert.equal(returned.creditNotes[0]!.totalAmount, '-25.00');
    assert.equal(returned.creditNotes[0]!.state, 'posted');
    const [stockAfter] = await erp.stockLevels(['SKU-RED']);
    assert.equal(stockAfter!.quantity, stockBefore!.quantity + 1);
    const again = await erp.postReturn({ returnId, orderId: order.id, lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }], restock: true });
    assert.equal(again.created, false);
    assert.equal((await erp.stockLevels(['SKU-RED']))[0]!.quantity, stockAfter!.quantity);
  });

  test('cancel: a processing sale has its shipment and draft invoice cancelled; a shipped one is refused', async () => {
    const order = canonicalOrder({ lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }] });
    await erp.postOrder(order);
    const cancelled = await erp.cancelOrder(order.id);
    assert.equal(cancelled.outcome, 'cancelled_documents');
    if (cancelled.outcome !== 'cancelled_documents') return;
    assert.equal(cancelled.cancelledShipmentIds.length, 1);
    assert.equal(cancelled.cancelledInvoiceIds.length, 1);
    assert.equal(cancelled.sale.shipmentState, 'exception');

    const shipped = canonicalOrder({ lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }] });
    await erp.postOrder(shipped);
    await erp.recordShipment(shipped.id, { shipmentKey: `wms:${shipped.id}`, lines: [{ sku: 'SKU-RED', quantity: 1 }] });
    assert.equal((await erp.cancelOrder(shipped.id)).outcome, 'already_shipped');
    assert.equal((await erp.cancelOrder('ord_unknown')).outcome, 'not_found');
  });

  test('more than the ERP stock: the stock warning is acknowledged by default, or surfaces as a permanent user warning', async () => {
    const order = canonicalOrder({ lines: [{ sku: 'SKU-BLUE', quantity: 9, unitPrice: '10.00' }] });
    const strict = createTrytonClient({ url: sandbox.url, database: DB, login: 'admin', password: 'admin', acknowledgeStockWarnings: false });
    const warning = await expectSynclineError(strict.postOrder(order));
    assert.equal(warning.code, 'erp.user_warning');
    assert.equal(warning.retry, 'permanent');
    assert.match(String(warning.details?.warningName), /^stock_quantity_warning_\d+$/);
    const posted = await erp.postOrder(order);
    assert.equal(posted.created, false, 'the draft from the refused attempt is reused');
    assert.equal(posted.sale.state, 'processing');
    const cannot = await expectSynclineError(erp.recordShipment(order.id, { shipmentKey: 'wms:blue', lines: [{ sku: 'SKU-BLUE', quantity: 9 }] }));
    assert.equal(cannot.code, 'erp.stock_unavailable');
  });

  test('an unknown SKU is a permanent error naming it', async () => {
    const error = await expectSynclineError(erp.postOrder(canonicalOrder({ lines: [{ sku: 'SKU-NOPE', quantity: 1, unitPrice: '1.00' }] })));
    assert.equal(error.code, 'erp.unknown_product');
    assert.deepEqual(error.details?.skus, ['SKU-NOPE']);
  });

  test('an expired session is renewed transparently', async () => {
    await erp.stockLevels(['SKU-RED']);
    await admin.call('POST', '/_sandbox/sessions/expire');
    const [level] = await erp.stockLevels(['SKU-RED']);
    assert.ok(level!.quantity > 0);
  });

  test('ERP faults are classified: down is transient, 429 is throttled with its delay', async () => {
    await admin.setFaults({ down: true });
    const down = await expectSynclineError(erp.stockLevels(['SKU-RED']));
    assert.equal(down.retry, 'transient');
    await admin.setFaults({ throttle: { retryAfterSeconds: 2 } });
    const throttled = await expectSynclineError(erp.stockLevels(['SKU-RED']));
    assert.equal(throttled.retry, 'throttled');
    assert.equal(throttled.details?.retryAfterMs, 2000);
    await admin.clearFaults();
    await erp.stockLevels(['SKU-RED']);
  });
});

describe('Tryton sandbox replays the recorded session (fixtures/)', () => {
  const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../src/connectors/tryton/fixtures/${name}`, import.meta.url), 'utf8'));
  let sandbox: RunningTrytonSandbox;
  before(async () => {
    sandbox = await startTrytonSandbox({ products: [{ code: 'RP-WIDGET-001', name: 'Widget', listPrice: '25.00', quantity: 100 }] });
  });
  after(async () => sandbox?.close());

  test('the recorded sale flow gives the recorded results and states', async () => {
    const recorded = fixture('flow.recorded.json');
    const login = await rpc(sandbox.url, 'common.db.login', ['admin', { password: 'admin' }, 'en']);
    const [uid, session] = (login.body as { result: [number, string] }).result;
    const auth = sessionAuthorization('admin', uid, session);
    const call = async (method: string, params: unknown[]) => {
      const answer = await rpc(sandbox.url, method, [...params, {}], auth);
      assert.equal(answer.status, 200, `${method}: ${answer.text}`);
      const body = answer.body as { result?: unknown; error?: unknown };
      assert.equal(body.error, undefined, `${method}: ${answer.text}`);
      return body.result;
    };
    const [productId] = (await call('model.product.product.search', [[['code', '=', 'RP-WIDGET-001']], 0, 10, null])) as number[];
    const [product] = (await rpc(sandbox.url, 'model.product.product.read', [[productId], ['code', 'list_price', 'quantity'], { locations: [5] }], auth).then((a) => (a.body as { result: unknown[] }).result)) as Record<string, unknown>[];
    assert.equal(product!.quantity, recorded.product_read.result.quantity);
    assert.deepEqual(product!.list_price, { __class__: 'Decimal', decimal: '25.0000' }, 'a Decimal, tagged as recorded (scale from the price digits)');
    const [partyId] = (await call('model.party.party.create', [[{ name: 'Acme Retail Customer', addresses: [['create', [{ street: '1 Main St', city: 'Springfield' }]]] }]])) as number[];
    const [party] = (await call('model.party.party.read', [[partyId], ['addresses']])) as { addresses: number[] }[];

    // The recorded create request, with its ids mapped to the sandbox's.
    const request = fixture('sale-create.request.json');
    const values = request.params[0][0];
    Object.assign(values, { party: partyId, invoice_address: party!.addresses[0], shipment_address: party!.addresses[0] });
    values.lines[0][1][0].product = productId;
    const [saleId] = (await call(request.method, request.params.slice(0, 1))) as number[];

    const unpriced = structuredClone(request);
    delete unpriced.params[0][0].lines[0][1][0].unit_price;
    const refused = await rpc(sandbox.url, unpriced.method, unpriced.params, auth);
    assert.deepEqual(refused.body, { ...fixture('sale-create-unit-price-missing.response.json'), id: 7 });

    assert.equal(await call('model.sale.sale.quote', [[saleId]]), recorded.quote.result);
    const [quoted] = (await call('model.sale.sale.read', [[saleId], ['state', 'number']])) as Record<string, unknown>[];
    assert.equal(quoted!.state, recorded.quote.sale_after.state);
    assert.equal(typeof quoted!.number, 'string');
    assert.equal(await call('model.sale.sale.confirm', [[saleId]]), recorded.confirm.result);
    const [confirmed] = (await call('model.sale.sale.read', [[saleId], ['state', 'shipment_state', 'invoice_state', 'shipments', 'invoices']])) as Record<string, unknown>[];
    for (const field of ['state', 'shipment_state', 'invoice_state']) assert.equal(confirmed![field], recorded.confirm.sale_after[field], field);
    assert.equal((confirmed!.shipments as number[]).length, 1);
    assert.equal((confirmed!.invoices as number[]).length, 1);

    const [invoice] = (await call('model.account.invoice.read', [confirmed!.invoices, ['state', 'untaxed_amount', 'tax_amount', 'total_amount']])) as Record<string, { decimal: string }>[];
    assert.equal(invoice!.state as unknown, recorded.invoice_draft.state);
    assert.equal(invoice!.untaxed_amount!.decimal, recorded.invoice_draft.untaxed_amount);
    assert.equal(invoice!.tax_amount!.decimal, recorded.invoice_draft.tax_amount);
    assert.equal(invoice!.total_amount!.decimal, recorded.invoice_draft.total_amount);

    const shipment = (confirmed!.shipments as number[])[0];
    assert.equal(await call('model.stock.shipment.out.assign_try', [[shipment]]), recorded.ship.assign_try);
    assert.equal(await call('model.stock.shipment.out.pick', [[shipment]]), recorded.ship.pick);
    assert.equal(await call('model.stock.shipment.out.pack', [[shipment]]), recorded.ship.pack);
    assert.equal(await call('model.stock.shipment.out.done', [[shipment]]), recorded.ship.done);
    const after = await rpc(sandbox.url, 'model.product.product.read', [[productId], ['quantity'], { locations: [5] }], auth);
    assert.equal(((after.body as { result: { quantity: number }[] }).result)[0]!.quantity, recorded.ship.stock_after);
    const [sent] = (await call('model.sale.sale.read', [[saleId], ['shipment_state']])) as Record<string, unknown>[];
    assert.equal(sent!.shipment_state, recorded.ship.sale_shipment_state);

    assert.equal(await call('model.account.invoice.post', [confirmed!.invoices]), recorded.invoice_post.result);
    const [posted] = (await call('model.account.invoice.read', [confirmed!.invoices, ['state', 'number']])) as Record<string, unknown>[];
    assert.equal(posted!.state, recorded.invoice_post.state);
    assert.equal(posted!.number, recorded.invoice_post.number);
  });
});

describe('Tryton client behind a per-request gate', () => {
  let sandbox: RunningTrytonSandbox;
  before(async () => {
    sandbox = await startTrytonSandbox({ products: [{ code: 'SKU-RED', listPrice: '25.00', quantity: 1000 }] });
  });
  after(async () => sandbox?.close());

  test('a returning customer\'s posting costs at most 7 requests; with a 10-per-second gate the ERP never sees more', async () => {
    const admin = sandboxAdmin(sandbox.url);
    const erp = createTrytonClient({ url: sandbox.url, database: DB, login: 'admin', password: 'admin' });
    await erp.postOrder(canonicalOrder({ email: 'regular@example.com' }));
    await admin.resetStats();
    await erp.postOrder(canonicalOrder({ email: 'regular@example.com' }));
    const one = await admin.stats();
    assert.ok(one.totals.accepted <= 7, `a posting took ${one.totals.accepted} requests`);

    // A gate with the runtime target caller's rule: a call counts against the limit from its
    // grant until one second after it returned, so the ERP never sees more in any second.
    const limit = 10;
    const reaches: number[] = [];
    const target = {
      async call<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
        while (reaches.filter((reach) => reach > Date.now() - 1000).length >= limit) await new Promise((resolve) => setTimeout(resolve, 10));
        const entry = reaches.push(Number.POSITIVE_INFINITY) - 1;
        try {
          return await fn(new AbortController().signal);
        } finally {
          reaches[entry] = Date.now();
        }
      },
    };
    await admin.resetStats();
    const orders = Array.from({ length: 3 }, () => canonicalOrder({ email: 'regular@example.com' }));
    const posted = await Promise.all(orders.map((order) => erp.postOrder(order, { target })));
    assert.ok(posted.every((p) => p.sale.state === 'processing'));
    const stats = await admin.stats();
    assert.ok(stats.totals.accepted > limit, 'the postings needed more than one second of quota');
    assert.ok(stats.maxAcceptedPerSecond <= limit, `the ERP served ${stats.maxAcceptedPerSecond} requests in one second`);
  });
});

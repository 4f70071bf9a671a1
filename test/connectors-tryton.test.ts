import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { canonicalOrder, expectSynclineError } from '../src/connectors/kit/contract-fixtures.ts';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { startTrytonSandbox, type RunningTrytonSandbox } from '../src/connectors/tryton/sandbox/tryton.sandbox.ts';
import { createTrytonClient, type TrytonClient } from '../src/connectors/tryton/outbound/tryton.client.ts';
import { sessionAuthorization } from '../src/connectors/tryton/tryton-wire.ts';
import { rawRpc, trytonContract } from '../src/connectors/tryton/tryton.contract.ts';
import { checkErpSetup, type TrytonErpSettings } from '../src/connectors/connectors.ts';
import { loadConfig } from '../src/config/config.ts';

const DB = 'syncline';
/** The products the contract expects (as test/support/tryton-seed.py seeds the real server). */
const CONTRACT_PRODUCTS = [
  { code: 'SKU-RED', name: 'Red mug', listPrice: '25.00', quantity: 1000 },
  { code: 'SKU-GREEN', name: 'Green mug', listPrice: '12.50', quantity: 0 },
];


/** Raw JSON-RPC over HTTP to the test database. */
const rpc = (url: string, method: string, params: unknown[], authorization?: string) => rawRpc(url, `/${DB}/`, method, params, authorization);

describe('Tryton contract against the sandbox', () => {
  let sandbox: RunningTrytonSandbox;
  before(async () => {
    sandbox = await startTrytonSandbox({ products: CONTRACT_PRODUCTS });
  });
  after(async () => sandbox?.close());
  trytonContract(() => ({ name: 'sandbox', url: sandbox.url, database: DB, login: 'admin', password: 'admin' }));
});

describe('Tryton sandbox only: its admin API and fault controls', () => {
  let sandbox: RunningTrytonSandbox;
  let erp: TrytonClient;
  let admin: ReturnType<typeof sandboxAdmin>;

  before(async () => {
    sandbox = await startTrytonSandbox({ products: CONTRACT_PRODUCTS });
    erp = createTrytonClient({ url: sandbox.url, database: DB, login: 'admin', password: 'admin', timeoutMs: 3000 });
    admin = sandboxAdmin(sandbox.url);
  });
  after(async () => sandbox?.close());

  test('a half-done posting (created, not confirmed) is finished by the repeat', async () => {
    const order = canonicalOrder({ lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '27.50' }] });
    const posted = await erp.postOrder(canonicalOrder({ lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '27.50' }] }));
    const partyId = (await erp.rpc.call<{ party: number }[]>('model.sale.sale.read', [[posted.sale.erpId], ['party']]))[0]!.party;
    const [productId] = await erp.rpc.call<number[]>('model.product.product.search', [[['code', '=', 'SKU-RED']], 0, 1, null]);
    await erp.rpc.call('model.sale.sale.create', [[{ party: partyId, reference: order.id, lines: [['create', [{ type: 'line', product: productId, quantity: 1, unit: 1, unit_price: { __class__: 'Decimal', decimal: '25.00' }, taxes: [['add', [1]]] }]]] }]]);
    const result = await erp.postOrder(order);
    assert.equal(result.created, false);
    assert.equal(result.sale.state, 'processing');
    const state = await admin.call<{ sales: { reference: string }[] }>('GET', '/_sandbox/state');
    assert.equal(state.sales.filter((s) => s.reference === order.id).length, 1);
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
    assert.deepEqual(product!.list_price, recorded.product_read.result.list_price, 'a Decimal, tagged and as stored (recorded)');
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

describe('Tryton sandbox answers like the recorded real server (fixtures/errors-and-warnings.recorded.json)', () => {
  const recorded = JSON.parse(readFileSync(new URL('../src/connectors/tryton/fixtures/errors-and-warnings.recorded.json', import.meta.url), 'utf8')) as Record<string, { status: number; body: string }>;
  const errorOf = (entry: { body: string }) => (JSON.parse(entry.body) as { error: [string, unknown] }).error;
  let sandbox: RunningTrytonSandbox;
  before(async () => {
    sandbox = await startTrytonSandbox({ products: [{ code: 'SKU-BLUE', name: 'Blue mug', listPrice: '10.00', quantity: 5 }] });
  });
  after(async () => sandbox?.close());

  test('bad login, bad session, unknown database and methods not exposed: the recorded statuses and bodies', async () => {
    const badLogin = await rpc(sandbox.url, 'common.db.login', ['admin', { password: 'wrong' }, 'en']);
    assert.deepEqual([badLogin.status, badLogin.text], [recorded.badLogin!.status, recorded.badLogin!.body]);
    const login = await rpc(sandbox.url, 'common.db.login', ['admin', { password: 'admin' }, 'en']);
    const [uid, session] = (login.body as { result: [number, string] }).result;
    const auth = sessionAuthorization('admin', uid, session);
    const badSession = await rpc(sandbox.url, 'model.product.product.search', [[], 0, 1, null, {}], sessionAuthorization('admin', uid, 'nope'));
    assert.deepEqual([badSession.status, badSession.text], [recorded.badSession!.status, recorded.badSession!.body]);
    const notExposed = await rpc(sandbox.url, 'model.sale.sale.create_invoice', [[1], {}], auth);
    assert.deepEqual([notExposed.status, notExposed.text], [recorded.notExposed!.status, recorded.notExposed!.body]);
    const unknown = await fetch(`${sandbox.url}/nodb/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 1, method: 'common.db.login', params: ['admin', { password: 'admin' }, 'en'] }) });
    assert.equal(unknown.status, recorded.unknownDatabase!.status);
    const [message, traceback] = ((await unknown.json()) as { error: [string, string] }).error;
    const [recordedMessage, recordedTraceback] = errorOf(recorded.unknownDatabase!) as [string, string];
    assert.equal(message.replace(/'.*\//, "'"), recordedMessage.replace(/'.*\//, "'"));
    assert.equal(traceback, recordedTraceback);
  });

  test('the short-stock warning on quote and on confirm: recorded names and texts', async () => {
    const login = await rpc(sandbox.url, 'common.db.login', ['admin', { password: 'admin' }, 'en']);
    const [uid, session] = (login.body as { result: [number, string] }).result;
    const auth = sessionAuthorization('admin', uid, session);
    const call = (method: string, params: unknown[]) => rpc(sandbox.url, method, [...params, {}], auth);
    const party = ((await call('model.party.party.create', [[{ name: 'Acme Retail Customer' }]])).body as { result: number[] }).result[0];
    const [product] = ((await call('model.product.product.search', [[['code', '=', 'SKU-BLUE']], 0, 1, null])).body as { result: number[] }).result;
    // The recording's sale was the second of its database: make one before it so that the line ids match.
    await call('model.sale.sale.create', [[{ party, reference: 'probe-1', lines: [['create', [{ type: 'line', product, quantity: 1, unit: 1, unit_price: { __class__: 'Decimal', decimal: '10.0000' } }]]] }]]);
    const saleId = ((await call('model.sale.sale.create', [[{ party, reference: 'probe-2', lines: [['create', [{ type: 'line', product, quantity: 9, unit: 1, unit_price: { __class__: 'Decimal', decimal: '10.0000' } }]]] }]])).body as { result: number[] }).result[0];
    const quote = await call('model.sale.sale.quote', [[saleId]]);
    assert.deepEqual((quote.body as { error: unknown }).error, errorOf(recorded.quoteShort!));
    const [, [name]] = errorOf(recorded.quoteShort!) as [string, [string]];
    await call('model.res.user.warning.create', [[{ user: uid, name, always: false }]]);
    assert.deepEqual((await call('model.sale.sale.quote', [[saleId]])).body, { id: 7, result: JSON.parse(recorded.quoteAfterAck!.body).result });
    const confirm = await call('model.sale.sale.confirm', [[saleId]]);
    assert.deepEqual((confirm.body as { error: unknown }).error, errorOf(recorded.confirmShort!));
    await call('model.res.user.warning.create', [[{ user: uid, name, always: false }]]);
    assert.deepEqual((await call('model.sale.sale.confirm', [[saleId]])).body, { id: 7, result: JSON.parse(recorded.confirmAfterAck!.body).result });
  });
});

describe('ERP options from the configuration, checked against the ERP', () => {
  let sandbox: RunningTrytonSandbox;
  before(async () => {
    sandbox = await startTrytonSandbox();
  });
  after(async () => sandbox?.close());

  test('SYNCLINE_ERP_* options reach the connector; checkErpSetup names a charge product the ERP lacks', async () => {
    const config = loadConfig({
      SYNCLINE_ERP_URL: sandbox.url,
      SYNCLINE_ERP_DATABASE: DB,
      SYNCLINE_ERP_LOGIN: 'admin',
      SYNCLINE_ERP_PASSWORD: 'admin',
      SYNCLINE_ERP_CHARGE_PRODUCTS: 'shipping=FREIGHT,discount=',
      SYNCLINE_ERP_SHORT_STOCK: 'hold',
      SYNCLINE_ERP_PAYMENT_TERM: '1',
      SYNCLINE_ERP_PRICES_INCLUDE_TAX: 'false',
    });
    const erp = config.systems.erp! as TrytonErpSettings;
    assert.deepEqual(erp.chargeProducts, { shipping: 'FREIGHT', discount: null });
    assert.equal(erp.shortStock, 'hold');
    assert.equal(erp.paymentTermId, 1);
    assert.equal(erp.pricesIncludeTax, false);
    const problems = await checkErpSetup(erp);
    assert.deepEqual(problems.map((p) => [p.code, p.details?.productCode]), [['erp.charge_product_missing', 'FREIGHT']]);
    assert.deepEqual(await checkErpSetup({ ...erp, chargeProducts: {} }), []);
    assert.throws(() => loadConfig({ SYNCLINE_ERP_SHORT_STOCK: 'maybe' }), /SYNCLINE_ERP_SHORT_STOCK/);
  });
});

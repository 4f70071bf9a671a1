import { writeFileSync } from 'node:fs';
import { startTryton } from './tryton-server.ts';

/**
 * Records src/connectors/tryton/fixtures/errors-and-warnings.recorded.json from a real Tryton 6.0
 * (the server of the tests): error shapes and statuses, the short-stock warning on quote and on
 * confirm, locations, on_change, a document's taxes. Run: node test/support/tryton-record-fixtures.ts
 * Each entry is the raw HTTP answer (status, content type, body text); the var folder's random
 * name is replaced by XXXXXX.
 */
const s = await startTryton();
const out: Record<string, unknown> = { recorded: new Date().toISOString().slice(0, 10), server: 'tryton-server 6.0.29-2+deb12u4 (Debian bookworm), SQLite backend, test/support/tryton-seed.py' };
try {
  async function raw(path: string, method: string, params: unknown[], auth?: string) {
    const r = await fetch(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) }, body: JSON.stringify({ id: 1, method, params }) });
    return { status: r.status, contentType: r.headers.get('content-type'), body: await r.text() };
  }
  out.unknownDatabase = await raw('/nodb/', 'common.db.login', ['admin', { password: 'admin' }, 'en']);
  out.badLogin = await raw('/syncline/', 'common.db.login', ['admin', { password: 'wrong' }, 'en']);
  const l = JSON.parse((await raw('/syncline/', 'common.db.login', ['admin', { password: 'admin' }, 'en'])).body).result;
  const auth = 'Session ' + Buffer.from(`admin:${l[0]}:${l[1]}`).toString('base64');
  const ctx = JSON.parse((await raw('/syncline/', 'model.res.user.get_preferences', [true, {}], auth)).body).result;
  const call = async (m: string, p: unknown[]) => raw('/syncline/', m, [...p, ctx], auth);
  out.badSession = await raw('/syncline/', 'model.product.product.search', [[], 0, 1, null, {}], 'Session ' + Buffer.from('admin:1:nope').toString('base64'));
  out.notExposed = await call('model.sale.sale.create_invoice', [[1]]);
  out.unknownModel = await call('model.nothing.here.search', [[], 0, 1, null]);
  out.badDomain = await call('model.product.product.search', [[['nofield', '=', 1]], 0, 1, null]);
  out.productRead = await raw('/syncline/', 'model.product.product.read', [[3], ['code', 'list_price', 'quantity', 'forecast_quantity', 'salable', 'type', 'default_uom'], { ...ctx, locations: [s.seed.warehouse] }], auth);
  out.locations = await call('model.stock.location.search_read', [[], 0, null, [['id', 'ASC']], ['name', 'code', 'type', 'parent']]);
  out.taxRead = await call('model.account.tax.read', [[s.seed.tax], ['name', 'type', 'rate']]);
  out.onChange = await call('model.sale.line.on_change', [{ id: -1, type: 'line', product: 3, quantity: 9, unit: null, unit_price: null, taxes: [], sale: -1, '_parent_sale.party': s.seed.customer, '_parent_sale.currency': 1, '_parent_sale.company': 1 }, ['product']]);
  const create = await call('model.sale.sale.create', [[{ party: s.seed.customer, invoice_address: null, payment_term: s.seed.paymentTerms.direct, warehouse: s.seed.warehouse, reference: 'probe-1', lines: [['create', [{ type: 'line', product: 3, quantity: 9, unit: 1, unit_price: { __class__: 'Decimal', decimal: '10.0000' }, taxes: [['add', [s.seed.tax]]] }]]] }]]);
  out.saleCreateNoAddress = create;
  const addr = JSON.parse((await call('model.party.party.read', [[s.seed.customer], ['addresses']])).body).result[0].addresses[0];
  const create2 = await call('model.sale.sale.create', [[{ party: s.seed.customer, invoice_address: addr, shipment_address: addr, payment_term: s.seed.paymentTerms.direct, warehouse: s.seed.warehouse, reference: 'probe-2', lines: [['create', [{ type: 'line', product: 3, quantity: 9, unit: 1, unit_price: { __class__: 'Decimal', decimal: '10.0000' }, taxes: [['add', [s.seed.tax]]] }]]] }]]);
  out.saleCreate = create2;
  const saleId = JSON.parse(create2.body).result[0];
  out.quoteShort = await call('model.sale.sale.quote', [[saleId]]);
  const warn = JSON.parse((out.quoteShort as { body: string }).body).error?.[1]?.[0];
  out.ack1 = await call('model.res.user.warning.create', [[{ user: l[0], name: warn, always: false }]]);
  out.quoteAfterAck = await call('model.sale.sale.quote', [[saleId]]);
  out.confirmShort = await call('model.sale.sale.confirm', [[saleId]]);
  const warn2 = JSON.parse((out.confirmShort as { body: string }).body).error?.[1]?.[0];
  if (warn2) {
    out.ack2 = await call('model.res.user.warning.create', [[{ user: l[0], name: warn2, always: false }]]);
    out.confirmAfterAck = await call('model.sale.sale.confirm', [[saleId]]);
  }
  out.saleAfter = await call('model.sale.sale.read', [[saleId], ['state', 'number', 'untaxed_amount', 'tax_amount', 'total_amount', 'shipments', 'invoices', 'payment_term']]);
  const s3 = await call('model.sale.sale.create', [[{ party: s.seed.customer, invoice_address: addr, shipment_address: addr, warehouse: s.seed.warehouse, reference: 'probe-3', lines: [['create', [{ type: 'line', product: 2, quantity: 1, unit: 1, unit_price: { __class__: 'Decimal', decimal: '10.0000' } }]]] }]]);
  out.quoteNoPaymentTerm = await call('model.sale.sale.quote', [[JSON.parse(s3.body).result[0]]]);
  out.cancelProcessing = await call('model.sale.sale.cancel', [[saleId]]);
  out.saleAfterCancel = await call('model.sale.sale.read', [[saleId], ['state']]);
  out.serverVersion = await raw('/', 'common.server.version', []);
  // Taxes are rounded per document, one group per tax and sign of the base: 3 x 18.1727, 4.5364, -1.8182 at 10 %.
  const rounding = await call('model.sale.sale.create', [[{ party: s.seed.customer, invoice_address: addr, shipment_address: addr, warehouse: s.seed.warehouse, reference: 'probe-4', lines: [['create', [
    { type: 'line', product: s.seed.products['SKU-RED'], quantity: 3, unit: 1, unit_price: { __class__: 'Decimal', decimal: '18.1727' }, taxes: [['add', [s.seed.tax]]] },
    { type: 'line', product: s.seed.products.SHIP, quantity: 1, unit: 1, unit_price: { __class__: 'Decimal', decimal: '4.5364' }, taxes: [['add', [s.seed.tax]]] },
    { type: 'line', product: s.seed.products.DISC, quantity: 1, unit: 1, unit_price: { __class__: 'Decimal', decimal: '-1.8182' }, taxes: [['add', [s.seed.tax]]] },
  ]]] }]]);
  out.taxRoundingSale = await call('model.sale.sale.read', [JSON.parse(rounding.body).result, ['untaxed_amount', 'tax_amount', 'total_amount']]);
} finally {
  await s.stop();
}
const text = JSON.stringify(out, null, 1).replace(/syncline-tryton-run-[A-Za-z0-9]+/g, 'syncline-tryton-run-XXXXXX');
writeFileSync(new URL('../../src/connectors/tryton/fixtures/errors-and-warnings.recorded.json', import.meta.url), `${text}\n`);

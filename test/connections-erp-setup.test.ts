import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config/config.ts';
import { connectorSettingsFromConfig } from '../src/connectors/connector-settings.ts';
import { createConnectors, type TrytonErpSettings } from '../src/connectors/connectors.ts';
import { canonicalOrder } from '../src/connectors/kit/contract-fixtures.ts';
import { runSyncline } from './support/cli.ts';
import { writeConnectionsFile } from './support/connections.ts';
import { testEnvironment } from './support/server.ts';
import { startTryton, trytonUnavailable, type RunningTryton } from './support/tryton-server.ts';

/**
 * The ERP connection's charge products and payment term in syncline.yaml, against a real Tryton
 * 6.0: `config check` names what the ERP lacks by its path in the file, and a valid file's
 * settings are the ones sales are posted with.
 */

type Row = Record<string, unknown> & { id: number };

const unavailable = await trytonUnavailable();

describe('ERP charges and payment term in syncline.yaml, against a real Tryton 6.0', { skip: unavailable ?? false }, () => {
  let server: RunningTryton;
  before(async () => {
    server = await startTryton();
  });
  after(async () => server?.stop());

  const file = (erpOptions: string) =>
    writeConnectionsFile(`
connections:
  - id: acme
    connector: shopify
    options: { shopDomain: acme.myshopify.com, webhookSecret: long-enough-secret }
  - id: erp-main
    connector: tryton
    options: { url: "${server.url}", database: ${server.database}, login: ${server.login}, password: "\${ERP_PASSWORD}", ${erpOptions} }
`);

  test('config check names each charge product and payment term the ERP lacks, by its path', async () => {
    const path = file('charges: { shipping: SHIPPING, discount: DISC }, paymentTerm: 999');
    const checked = await runSyncline(['config', 'check', path], { ERP_PASSWORD: server.password });
    assert.equal(checked.code, 1, checked.stdout);
    assert.equal(
      checked.stderr,
      `${path}: 2 problems\n` + '  connections[1].options.charges.shipping: ERP product "SHIPPING" not found\n' + '  connections[1].options.paymentTerm: ERP payment term 999 not found\n',
    );
    // --offline checks the file alone.
    assert.equal((await runSyncline(['config', 'check', path, '--offline'], { ERP_PASSWORD: server.password })).code, 0);
  });

  test('an ERP that does not answer is a problem of config check, not a pass', async () => {
    const path = writeConnectionsFile('connections:\n  - { id: erp, connector: tryton, options: { url: "http://127.0.0.1:9", database: x, login: a, password: b } }\n');
    const checked = await runSyncline(['config', 'check', path], {});
    assert.equal(checked.code, 1);
    assert.match(checked.stderr, /connections\[0\]: the ERP at http:\/\/127\.0\.0\.1:9 could not be asked about its products, payment term and warehouse/);
  });

  test('a valid file: config check passes, and sales post with its charge product and payment term', async () => {
    const net30 = server.seed.paymentTerms.net30;
    const path = file(`charges: { shipping: FEE, discount: DISC }, paymentTerm: ${net30}`);
    const checked = await runSyncline(['config', 'check', path], { ERP_PASSWORD: server.password });
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(checked.stdout, /erp-main \(tryton\) .*"password":"\*\*\*\*\*\*\*\*".*"chargeProducts":\{"shipping":"FEE","discount":"DISC"\},"paymentTermId":\d+/);

    const config = loadConfig(testEnvironment(undefined, { SYNCLINE_CONFIG: path, ERP_PASSWORD: server.password }));
    assert.deepEqual((config.systems.erp as TrytonErpSettings | undefined)?.chargeProducts, { shipping: 'FEE', discount: 'DISC' });
    const erp = createConnectors(connectorSettingsFromConfig(config)).erp;
    // Tax-included prices that divide evenly by the 10 % tax: 25.00 + 5.00 shipping, plus 3.00 tax.
    const order = canonicalOrder({ lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '27.50' }], shipping: '5.50' });
    const posted = await erp.postOrder(order);
    assert.deepEqual([posted.sale.untaxedAmount, posted.sale.taxAmount, posted.sale.totalAmount], ['30.00', '3.00', '33.00']);
    const rpc = (erp as unknown as { rpc: { call<T>(method: string, params: unknown[]): Promise<T> } }).rpc;
    const [sale] = await rpc.call<Row[]>('model.sale.sale.read', [[posted.sale.erpId], ['payment_term', 'lines']]);
    assert.equal(sale!.payment_term, net30);
    const lines = await rpc.call<Row[]>('model.sale.line.read', [sale!.lines, ['product']]);
    const products = await rpc.call<Row[]>('model.product.product.read', [lines.map((l) => l.product), ['code']]);
    assert.deepEqual(products.map((p) => p.code).sort(), ['FEE', 'SKU-RED']);

    // The SYNCLINE_ERP_* variables stay the shorthand for the same settings.
    const shorthand = loadConfig(
      testEnvironment(undefined, {
        SYNCLINE_ERP_URL: server.url,
        SYNCLINE_ERP_DATABASE: server.database,
        SYNCLINE_ERP_LOGIN: server.login,
        SYNCLINE_ERP_PASSWORD: server.password,
        SYNCLINE_ERP_CHARGE_PRODUCTS: 'shipping=FEE,discount=DISC',
        SYNCLINE_ERP_PAYMENT_TERM: String(net30),
      }),
    );
    assert.deepEqual((shorthand.systems.erp as TrytonErpSettings | undefined)?.chargeProducts, { shipping: 'FEE', discount: 'DISC' });
    assert.equal((shorthand.systems.erp as TrytonErpSettings | undefined)?.paymentTermId, net30);
  });
});

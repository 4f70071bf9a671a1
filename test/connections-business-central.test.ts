import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadConfig } from '../src/config/config.ts';
import { checkConnectionsText } from '../src/config/connections-file.ts';
import { connectorSettingsFromConfig } from '../src/connectors/connector-settings.ts';
import { checkErpSetup, createConnectors } from '../src/connectors/connectors.ts';
import { canonicalOrder } from '../src/connectors/kit/contract-fixtures.ts';
import { connectorRegistry } from '../src/connectors/registry/connector-registry.ts';
import { BusinessCentralClient } from '../src/connectors/business-central/outbound/business-central.client.ts';
import { BC_SANDBOX, startBusinessCentralSandbox, type RunningBusinessCentralSandbox } from '../src/connectors/business-central/sandbox/business-central.sandbox.ts';
import { runSyncline } from './support/cli.ts';
import { writeConnectionsFile } from './support/connections.ts';
import { testEnvironment } from './support/server.ts';

/** A `business-central` connection in syncline.yaml: checked by `config check`, and the ERP the flows call. */

const registry = connectorRegistry();

const yaml = (options: string, limits = '') => `
connections:
  - id: bc-eu
    connector: business-central
    options:
${options}
${limits}`;

const GOOD_OPTIONS = (baseUrl = 'https://api.businesscentral.dynamics.com', tokenUrl?: string) => `      tenantId: ${BC_SANDBOX.tenantId}
      environment: production
      companyId: ${BC_SANDBOX.companyId}
      clientId: ${BC_SANDBOX.clientId}
      clientSecret: "\${BC_SECRET}"
      baseUrl: ${baseUrl}
${tokenUrl ? `      tokenUrl: ${tokenUrl}\n` : ''}      chargeItems: { shipping: SHIP }`;

let sandbox: RunningBusinessCentralSandbox;
before(async () => {
  sandbox = await startBusinessCentralSandbox({ items: [{ number: 'SKU-RED', displayName: 'Red mug', unitPrice: '25.00', inventory: 10 }, { number: 'SHIP', displayName: 'Shipping', unitPrice: '0.00', type: 'Service' }] });
});
after(async () => sandbox?.close());

test('config check names each bad option of a business-central connection', () => {
  const bad = checkConnectionsText(
    yaml(`      tenantId: not a tenant
      environment: production
      companyId: 42
      clientId: ${BC_SANDBOX.clientId}
      clientSecret: short
      baseUrl: not-a-url
      colour: blue`),
    registry,
    {},
  );
  assert.deepEqual(bad.problems, [
    'connections[0].options.tenantId: must be the tenant id (a GUID) or its domain, such as contoso.onmicrosoft.com',
    'connections[0].options.companyId: Invalid input: expected string, received number',
    'connections[0].options.clientSecret: must be the client secret (at least 8 characters)',
    'connections[0].options.baseUrl: Invalid URL',
    'connections[0].options: Unrecognized key: "colour"',
  ]);
  const unset = checkConnectionsText(yaml(GOOD_OPTIONS()), registry, {});
  assert.deepEqual(unset.problems, ['connections[0].options.clientSecret: environment variable BC_SECRET is not set']);
  const twoErps = checkConnectionsText(`${yaml(GOOD_OPTIONS())}  - { id: erp-old, connector: tryton, options: { url: "https://erp.example.com", database: prod, login: admin, password: pw } }\n`, registry, { BC_SECRET: 'a-long-client-secret' });
  assert.deepEqual(twoErps.problems, ['erpRouting: required with several ERP connections (bc-eu, erp-old): say which one takes each order']);
});

test('syncline config check: a valid business-central connection, its secret masked', async () => {
  // config check asks the ERP about its setup: the sandbox answers for Business Central.
  const path = writeConnectionsFile(yaml(GOOD_OPTIONS(sandbox.url, sandbox.tokenUrl)));
  const result = await runSyncline(['config', 'check'], { SYNCLINE_CONFIG: path, BC_SECRET: BC_SANDBOX.clientSecret });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /valid, 1 connection\n {2}bc-eu \(business-central\) \{.*"clientSecret":"\*\*\*\*\*\*\*\*"/);
  assert.doesNotMatch(result.stdout + result.stderr, new RegExp(BC_SANDBOX.clientSecret));
  const failed = await runSyncline(['config', 'check', writeConnectionsFile(yaml('      tenantId: x'))], {});
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /connections\[0\]\.options\.companyId: required/);
});

test('the connection is the ERP: Business Central\'s limits as the erp target\'s policy, and the flows\' ERP client posts to it', async () => {
  const path = writeConnectionsFile(yaml(GOOD_OPTIONS(sandbox.url, sandbox.tokenUrl), '    limits: { maxConcurrency: 3, breaker: { cooldownMs: 5000 } }'));
  const config = loadConfig(testEnvironment(undefined, { SYNCLINE_CONFIG: path, BC_SECRET: BC_SANDBOX.clientSecret }));
  assert.equal((config.systems.erp as { connector?: string }).connector, 'business-central');
  assert.deepEqual(config.connections.systemSources, { erp: 'file' });
  // 6000 requests per 5 minutes is 20 per second; the file's limits win over the connector's.
  assert.deepEqual(config.targetPolicies.erp, { ratePerSecond: 20, maxConcurrency: 3, timeoutMs: 60_000, maxWaitMs: 5000, breaker: { failureThreshold: 5, cooldownMs: 5000 } });

  const connectors = createConnectors(connectorSettingsFromConfig(config));
  assert.ok(connectors.erp instanceof BusinessCentralClient);
  assert.equal(connectors.erp.system, 'business-central');
  const order = canonicalOrder({ lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }], shipping: '4.00' });
  const posted = await connectors.erp.postOrder(order);
  assert.equal(posted.created, true);
  assert.equal(posted.sale.totalAmount, '29.00');
  assert.deepEqual(await checkErpSetup(config.systems.erp!), []);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkConnectionsText } from '../src/config/connections-file.ts';
import { connectorRegistry } from '../src/connectors/registry/connector-registry.ts';
import { BC_SANDBOX } from '../src/connectors/business-central/sandbox/business-central.sandbox.ts';
import { runSyncline } from './support/cli.ts';
import { writeConnectionsFile } from './support/connections.ts';
import { createTestDatabase } from './support/postgres.ts';
import { auditErpRouting } from '../src/domain/orders/erp-routing.ts';
import { listAudit } from '../src/domain/audit/audit.ts';

const registry = connectorRegistry();
const env = { BC_SECRET: 'a-long-client-secret' };

const CONNECTIONS = `connections:
  - { id: legacy, connector: tryton, options: { url: "https://erp.example.com", database: prod, login: admin, password: pw } }
  - id: cloud
    connector: business-central
    options: { tenantId: ${BC_SANDBOX.tenantId}, environment: production, companyId: ${BC_SANDBOX.companyId}, clientId: ${BC_SANDBOX.clientId}, clientSecret: "\${BC_SECRET}" }
  - { id: wh, connector: wms, options: { url: "https://wms.example.com", webhookSecret: "0123456789abcdef0123" } }
`;

test('two ERP connections with erpRouting: the rules and the default are kept', () => {
  const checked = checkConnectionsText(
    `${CONNECTIONS}erpRouting:\n  rules:\n    - { when: { businessUnit: outdoor }, erp: cloud }\n    - { when: { shipToCountry: CA, skuPrefix: TEE }, erp: legacy, shadow: cloud }\n  default: legacy\n`,
    registry,
    env,
  );
  assert.deepEqual(checked.problems, []);
  assert.deepEqual(checked.erpRouting, {
    rules: [
      { when: { businessUnit: 'outdoor' }, erp: 'cloud' },
      { when: { shipToCountry: 'CA', skuPrefix: 'TEE' }, erp: 'legacy', shadow: 'cloud' },
    ],
    default: 'legacy',
  });
});

test('config check names each routing problem by its path', () => {
  const problems = (routing: string) => checkConnectionsText(`${CONNECTIONS}${routing}`, registry, env).problems;
  assert.deepEqual(problems(''), ['erpRouting: required with several ERP connections (legacy, cloud): say which one takes each order']);
  assert.deepEqual(problems('erpRouting:\n  rules: []\n'), ['erpRouting.default: required with several ERP connections (legacy, cloud)']);
  assert.deepEqual(
    problems('erpRouting:\n  rules:\n    - { when: { channel: web }, erp: nowhere }\n    - { when: { channel: pos }, erp: wh }\n    - { when: { channel: b2b }, erp: cloud, shadow: cloud }\n  default: legacy\n'),
    [
      'erpRouting.rules[0].erp: unknown connection "nowhere" (ERP connections: legacy, cloud)',
      'erpRouting.rules[1].erp: connection "wh" is a wms connection, not an ERP',
      'erpRouting.rules[2].shadow: must be another ERP than erp ("cloud")',
    ],
  );
  assert.deepEqual(problems('erpRouting:\n  rules: []\n  default: legacy\n  catalogue: nowhere\n'), ['erpRouting.catalogue: unknown connection "nowhere" (ERP connections: legacy, cloud)']);
  assert.deepEqual(problems('erpRouting:\n  rules: []\n  default: legacy\n  catalogue: wh\n'), ['erpRouting.catalogue: connection "wh" is a wms connection, not an ERP']);
  assert.deepEqual(problems('erpRouting:\n  rules: []\n  default: legacy\n  catalogue: cloud\n'), [
    'erpRouting.catalogue: connection "cloud" is a business-central connection, whose item master Syncline cannot read yet (the catalogue is synced from: tryton)',
  ]);
  assert.equal(checkConnectionsText(`${CONNECTIONS}erpRouting:\n  rules: []\n  default: cloud\n  catalogue: legacy\n`, registry, env).erpRouting?.catalogue, 'legacy');
  assert.deepEqual(problems('erpRouting:\n  rules:\n    - { when: { shipToCountry: Canada, colour: red }, erp: cloud }\n  default: legacy\n'), [
    'erpRouting.rules[0].when.shipToCountry: must be an ISO 3166-1 alpha-2 country code such as DE',
    'erpRouting.rules[0].when: Unrecognized key: "colour"',
  ]);
});

test('syncline config check prints the routing of a valid file, and exits 1 on a bad one', async () => {
  const good = writeConnectionsFile(`${CONNECTIONS}erpRouting:\n  rules:\n    - { when: { channel: pos-eu }, erp: cloud, shadow: legacy }\n  default: legacy\n`);
  // --offline: the file alone (these ERPs do not exist; asking them is config-check's own test).
  const result = await runSyncline(['config', 'check', '--offline'], { SYNCLINE_CONFIG: good, ...env });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /ERP routing: 1 rule, default legacy\n {2}\{"channel":"pos-eu"\} -> cloud \(shadow: legacy\)/);
  const bad = await runSyncline(['config', 'check', writeConnectionsFile(`${CONNECTIONS}erpRouting: { default: gone }\n`)], env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /erpRouting\.default: unknown connection "gone"/);
});

test('the rules in force are audited once per change: an unchanged restart records nothing, removing them records it', async () => {
  const database = await createTestDatabase();
  try {
    const who = { actor: 'system:start', correlationId: null };
    const first = { rules: [{ when: { businessUnit: 'outdoor' }, erp: 'cloud' }], default: 'legacy' };
    assert.equal(await auditErpRouting(database.db, undefined, who), false, 'no routing, nothing before: nothing to record');
    assert.equal(await auditErpRouting(database.db, first, who), true);
    // The same rules, keys in another order: unchanged.
    assert.equal(await auditErpRouting(database.db, { default: 'legacy', rules: [{ erp: 'cloud', when: { businessUnit: 'outdoor' } }] }, who), false);
    assert.equal(await auditErpRouting(database.db, { ...first, default: 'cloud' }, who), true);
    assert.equal(await auditErpRouting(database.db, undefined, who), true, 'routing removed');
    const { items } = await listAudit(database.db, { action: 'erp_routing.changed' }, { limit: 10 });
    assert.deepEqual(
      items.map((e) => [e.details.routing && (e.details.routing as { default: string }).default, e.details.previous && (e.details.previous as { default: string }).default]),
      [
        [null, 'cloud'],
        ['cloud', 'legacy'],
        ['legacy', null],
      ],
    );
  } finally {
    await database.drop();
  }
});

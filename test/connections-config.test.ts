import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/config.ts';
import { checkConnectionsText } from '../src/config/connections-file.ts';
import { connectorRegistry } from '../src/connectors/registry/connector-registry.ts';
import { runSyncline } from './support/cli.ts';
import { writeConnectionsFile } from './support/connections.ts';
import { testEnvironment } from './support/server.ts';

/** syncline.yaml: the check names every problem by its path; start-up refuses a bad file with the same message. */

const registry = connectorRegistry();
const check = (yaml: string, env: Record<string, string> = {}, fromEnvironment: ('erp' | 'wms')[] = []) => checkConnectionsText(yaml, registry, env, fromEnvironment);

const GOOD = `
connections:
  - id: acme-us
    connector: shopify
    options:
      shopDomain: acme-us.myshopify.com
      accessToken: \${ACME_US_TOKEN}
      webhookSecret: \${ACME_US_SECRET}
    limits: { ratePerSecond: 4, maxConcurrency: 2, breaker: { failureThreshold: 3 } }
    reconcile: { everySeconds: 60 }
  - id: woo-eu
    connector: woocommerce
    options:
      siteUrl: https://shop.example.eu
      consumerKey: ck_123
      consumerSecret: { file: SECRET_FILE }
      webhookSecret: woo-webhook-secret
`;

test('a valid file: secrets resolved from the environment and from files, defaults filled in', () => {
  const dir = mkdtempSync(join(tmpdir(), 'syncline-secret-'));
  const secretFile = join(dir, 'consumer-secret');
  writeFileSync(secretFile, 'cs_from_a_file\n');
  const { problems, connections } = check(GOOD.replace('SECRET_FILE', secretFile), { ACME_US_TOKEN: 'shpat_token_1234', ACME_US_SECRET: 'shopify-secret-1' });
  assert.deepEqual(problems, []);
  assert.deepEqual(
    connections.map((c) => [c.id, c.connector, c.kind, c.reconcileEverySeconds, c.webhookMaxAgeSeconds]),
    [
      ['acme-us', 'shopify', 'channel', 60, 86_400],
      ['woo-eu', 'woocommerce', 'channel', 300, 86_400],
    ],
  );
  assert.equal(connections[0]!.options.accessToken, 'shpat_token_1234');
  assert.equal(connections[0]!.options.webhookSecret, 'shopify-secret-1');
  assert.deepEqual(connections[0]!.limits, { ratePerSecond: 4, maxConcurrency: 2, breaker: { failureThreshold: 3 } });
  // One trailing newline of a mounted secret is not part of it.
  assert.equal(connections[1]!.options.consumerSecret, 'cs_from_a_file');
  assert.equal(connections[1]!.limits, undefined);
});

test('every problem is named by its path in the file', () => {
  const { problems } = check(
    `
connections:
  - id: acme-us
    connector: shopify
    options: { webhookSecret: "\${UNSET_SECRET}" }
  - id: acme-us
    connector: shopify
    options: { webhookSecret: long-enough-secret }
  - id: Bad_Id
    connector: shopfy
  - id: ok-woo
    connector: woocommerce
    options: { siteUrl: https://shop.example.com, webhookSecret: long-enough-secret }
    limits: { ratePerSecond: -1 }
    surprise: true
  - id: erp-main
    connector: tryton
    options: { url: https://erp.example.com, database: prod, login: admin, password: "\${ERP_PASSWORD}" }
    reconcile: { everySeconds: 60 }
`,
    { ERP_PASSWORD: 'secret-password' },
    ['erp'],
  );
  assert.deepEqual(problems, [
    'connections[0].options.webhookSecret: environment variable UNSET_SECRET is not set',
    'connections[1].id: "acme-us" is already the id of connections[0]',
    'connections[1].options.shopDomain: required',
    'connections[2].id: must be a lowercase slug such as "shopify-us"',
    'connections[3].limits.ratePerSecond: Too small: expected number to be >=0',
    'connections[3]: Unrecognized key: "surprise"',
    'connections[4].connector: the erp is already set by the SYNCLINE_ERP_* environment variables; use one or the other',
    'connections[4].reconcile: only channel connections take reconcile',
  ]);
  // The unknown connector is reported when the entry is otherwise well formed.
  assert.deepEqual(check('connections:\n  - { id: shop, connector: shopfy }').problems, [
    'connections[0].connector: unknown connector "shopfy" (known: shopify, woocommerce, tryton, wms, payment, fraud, loyalty, hubspot, business-central)',
  ]);
  // The connector's own rules: WooCommerce wants the REST keys with a site URL.
  assert.deepEqual(check('connections:\n  - { id: woo, connector: woocommerce, options: { siteUrl: "https://s.example.com", webhookSecret: long-enough-secret } }').problems, [
    'connections[0].options.consumerKey: required when siteUrl is set',
    'connections[0].options.consumerSecret: required when siteUrl is set',
  ]);
  assert.match(check('connections:\n  - { id: a, connector: shopify, options: { webhookSecret: { file: /nonexistent/secret } } }').problems[0]!, /^connections\[0\]\.options\.webhookSecret: cannot read secret file \/nonexistent\/secret \(ENOENT\)$/);
  assert.match(check('connections: [\n  - oops').problems[0]!, /^line \d+, column \d+: /);
  assert.deepEqual(check('connection: []').problems, ['top level: Unrecognized key: "connection"']);
});

test('a system connection in the file stands for its SYNCLINE_*_URL variables, with its limits', () => {
  const path = writeConnectionsFile(`
connections:
  - id: erp-main
    connector: tryton
    options: { url: "https://erp.example.com", database: prod, login: admin, password: "\${ERP_PASSWORD}" }
    limits: { ratePerSecond: 3 }
`);
  const config = loadConfig(testEnvironment(undefined, { SYNCLINE_CONFIG: path, ERP_PASSWORD: 'erp-secret-password' }));
  assert.deepEqual(config.systems.erp, { url: 'https://erp.example.com', database: 'prod', login: 'admin', password: 'erp-secret-password' });
  assert.deepEqual(config.connections.systemSources, { erp: 'file' });
  assert.deepEqual(config.targetPolicies.erp, { ratePerSecond: 3 });
  // Without a file, the environment variables are the shorthand they always were.
  const plain = loadConfig(testEnvironment(undefined, { SYNCLINE_FRAUD_URL: 'http://127.0.0.1:9' }));
  assert.equal(plain.connections.path, undefined);
  assert.deepEqual(plain.connections.systemSources, { fraud: 'environment' });
});

test('start-up refuses a bad file with the same messages', async () => {
  const path = writeConnectionsFile('connections:\n  - { id: acme, connector: shopify, options: { shopDomain: acme.myshopify.com, webhookSecret: "${NOPE}" } }\n');
  assert.throws(
    () => loadConfig(testEnvironment(undefined, { SYNCLINE_CONFIG: path })),
    (error: unknown) => error instanceof ConfigError && error.message === `Invalid configuration in ${path}:\n  connections[0].options.webhookSecret: environment variable NOPE is not set`,
  );
  const env = testEnvironment(undefined, { SYNCLINE_CONFIG: path });
  const started = await runSyncline(['start'], env);
  assert.equal(started.code, 2, started.stderr);
  assert.match(started.stderr, /connections\[0\]\.options\.webhookSecret: environment variable NOPE is not set/);
  assert.doesNotMatch(started.stdout, /listening/);
  // A file named but missing is an error too, not silently no connections.
  assert.throws(() => loadConfig(testEnvironment(undefined, { SYNCLINE_CONFIG: join(tmpdir(), 'no-such-syncline.yaml') })), /cannot be read \(ENOENT\)/);
});

test('syncline config check: exit 1 with every problem, 0 with the connections and their secrets masked', async () => {
  const bad = writeConnectionsFile('connections:\n  - { id: a, connector: shopify, options: {} }\n  - { id: a, connector: woocommerce, options: { webhookSecret: 12345678 } }\n');
  const failed = await runSyncline(['config', 'check', bad], {});
  assert.equal(failed.code, 1);
  assert.equal(
    failed.stderr,
    `${bad}: 4 problems\n` +
      '  connections[0].options.shopDomain: required\n' +
      '  connections[0].options.webhookSecret: Invalid input\n' +
      '  connections[1].id: "a" is already the id of connections[0]\n' +
      '  connections[1].options.webhookSecret: Invalid input\n',
  );
  const good = writeConnectionsFile('connections:\n  - { id: acme, connector: shopify, options: { shopDomain: acme.myshopify.com, webhookSecret: "${ACME_SECRET}" } }\n');
  const passed = await runSyncline(['config', 'check'], { SYNCLINE_CONFIG: good, ACME_SECRET: 'very-secret-value' });
  assert.equal(passed.code, 0, passed.stderr);
  assert.match(passed.stdout, /valid, 1 connection\n {2}acme \(shopify\) \{"shopDomain":"acme.myshopify.com","webhookSecret":"\*\*\*\*\*\*\*\*","apiVersion":"\d{4}-\d{2}"\}/);
  assert.doesNotMatch(passed.stdout + passed.stderr, /very-secret-value/);
  assert.equal((await runSyncline(['config', 'lint'], {})).code, 2);
});

test('a hubspot connection is the crm: its token is a secret, its subscriptions are checked, its limits default to HubSpot’s', () => {
  const good = check(`
connections:
  - id: crm
    connector: hubspot
    options:
      accessToken: \${HUBSPOT_TOKEN}
      subscriptions: { email_marketing: { email: "3481" } }
`, { HUBSPOT_TOKEN: 'pat-eu1-0123456789' });
  assert.deepEqual(good.problems, []);
  assert.equal(good.connections[0]!.kind, 'crm');
  assert.deepEqual(good.connections[0]!.options, { url: 'https://api.hubapi.com', accessToken: 'pat-eu1-0123456789', subscriptions: { email_marketing: { email: '3481' } } });
  const bad = check(`
connections:
  - id: crm
    connector: hubspot
    options:
      accessToken: short
      subscriptions: { newsletters: { email: "x" } }
`);
  assert.ok(bad.problems.some((p) => p.startsWith('connections[0].options.accessToken')), bad.problems.join('\n'));
  assert.ok(bad.problems.some((p) => p.startsWith('connections[0].options.subscriptions')), bad.problems.join('\n'));
  const env = testEnvironment(undefined, { SYNCLINE_CRM_URL: 'http://127.0.0.1:9' });
  assert.throws(() => loadConfig(env), (error: unknown) => error instanceof ConfigError && /SYNCLINE_CRM_URL, SYNCLINE_CRM_TOKEN must be set together/.test(error.message));
  const config = loadConfig(testEnvironment(undefined, { SYNCLINE_CRM_URL: 'http://127.0.0.1:9', SYNCLINE_CRM_TOKEN: 'pat-na1-secret-token' }));
  assert.deepEqual(config.systems.crm, { url: 'http://127.0.0.1:9', accessToken: 'pat-na1-secret-token' });
});

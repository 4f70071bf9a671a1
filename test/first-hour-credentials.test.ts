import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bootstrapFileName, ensureBootstrapClient } from '../src/domain/clients/client.service.ts';
import { wmsSignatureHeader } from '../src/connectors/wms/wms-wire.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { fetchToken, startTestServer } from './support/server.ts';

describe('bootstrap credentials: one file per database', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => database?.drop());

  test('file names identify their database', () => {
    assert.equal(bootstrapFileName(undefined), 'bootstrap-client.json');
    assert.equal(bootstrapFileName('postgres://postgres@127.0.0.1:5432/syncline'), 'bootstrap-client.127.0.0.1-5432-syncline.json');
    assert.equal(bootstrapFileName('postgresql://u:p@db.example.com/shop'), 'bootstrap-client.db.example.com-5432-shop.json');
    assert.equal(bootstrapFileName('postgres://ada@[::1]:6543'), 'bootstrap-client._1-6543-ada.json');
    assert.equal(bootstrapFileName('postgres://u@h:1/my%20shop'), 'bootstrap-client.h-1-my_shop.json');
  });

  test('starting on PostgreSQL from the folder of an embedded database leaves its bootstrap-client.json alone', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'syncline-bootstrap-'));
    const embedded = JSON.stringify({ clientId: 'cli_embedded', clientSecret: 'the embedded database secret' });
    writeFileSync(join(dataDir, 'bootstrap-client.json'), embedded, { mode: 0o600 });
    const outcome = await ensureBootstrapClient(database.db, { dataDir, databaseUrl: database.url, configured: undefined });
    assert.equal(outcome.kind, 'created');
    assert.equal(readFileSync(join(dataDir, 'bootstrap-client.json'), 'utf8'), embedded, 'the embedded database keeps its credentials');
    const file = join(dataDir, bootstrapFileName(database.url));
    assert.equal(outcome.kind === 'created' && outcome.file, file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dataDir).sort(), ['bootstrap-client.json', bootstrapFileName(database.url)].sort());
    // The credentials written are the PostgreSQL database's: they obtain a token from a server on it.
    const credentials = JSON.parse(readFileSync(file, 'utf8')) as { clientId: string; clientSecret: string };
    const server = await startTestServer(database.url);
    try {
      assert.ok(await fetchToken(server.baseUrl, { id: credentials.clientId, secret: credentials.clientSecret }));
    } finally {
      await server.close();
    }
  });
});

describe('WMS webhook secret', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => database?.drop());

  const deliver = (baseUrl: string, secret: string) => {
    const body = JSON.stringify({ id: `whd_${secret.length}`, topic: 'inventory.changed', createdAt: new Date().toISOString(), data: {} });
    return fetch(`${baseUrl}/webhooks/wms/default`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'wms-signature': wmsSignatureHeader(secret, Math.floor(Date.now() / 1000), body), 'wms-topic': 'inventory.changed', 'wms-delivery-id': `whd_${secret.length}` },
      body,
    });
  };

  test('with no WMS configured and no sandbox running, the published sandbox secret is refused', async () => {
    const server = await startTestServer(database.url);
    try {
      assert.deepEqual(server.running.sandboxes, {}, 'an in-process API server starts no sandboxes');
      const refused = await deliver(server.baseUrl, 'wms-sandbox-secret');
      assert.equal(refused.status, 401);
      const problem = (await refused.json()) as { type: string; code: string; detail: string };
      assert.equal(problem.type, '/problems/webhook-rejected');
      assert.equal(problem.code, 'webhook.not_configured');
      assert.match(problem.detail, /No WMS is configured/);
    } finally {
      await server.close();
    }
  });

  test('with a configured secret, that secret is accepted and the published default is not', async () => {
    const secret = 'a-configured-wms-secret-0123456789';
    const server = await startTestServer(database.url, { SYNCLINE_WMS_URL: 'http://127.0.0.1:9', SYNCLINE_WMS_WEBHOOK_SECRET: secret });
    try {
      const accepted = await deliver(server.baseUrl, secret);
      assert.equal(accepted.status, 202, await accepted.clone().text());
      assert.equal(((await accepted.json()) as { accepted: boolean }).accepted, false, 'an unsupported topic is acknowledged and ignored');
      assert.equal((await deliver(server.baseUrl, 'wms-sandbox-secret')).status, 401);
    } finally {
      await server.close();
    }
  });
});

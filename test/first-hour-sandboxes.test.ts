import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadConfig } from '../src/config/config.ts';
import { createLogger } from '../src/observability/logger.ts';
import { startSyncline } from '../src/syncline.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { testEnvironment } from './support/server.ts';

let database: TestDatabase;
before(async () => {
  database = await createTestDatabase();
});
after(async () => database?.drop());

const reachable = async (url: string) => {
  try {
    await fetch(`${url}/_sandbox/health`);
    return true;
  } catch {
    return false;
  }
};

test('start runs the sandbox of each unconfigured system only; a configured system replaces its sandbox; close stops them', async () => {
  const config = loadConfig(
    testEnvironment(database.url, { SYNCLINE_SANDBOXES: 'on', SYNCLINE_SANDBOX_BASE_PORT: '0', SYNCLINE_FRAUD_URL: 'http://127.0.0.1:9/fraud' }),
  );
  const running = await startSyncline(config, createLogger('silent'), { api: true, sandboxes: true });
  const urls = Object.values(running.sandboxes);
  try {
    assert.deepEqual(Object.keys(running.sandboxes).sort(), ['crm', 'erp', 'loyalty', 'payment', 'wms']);
    for (const url of urls) assert.ok(await reachable(url), url);
    // The WMS sandbox calls this Syncline back.
    const wmsConfig = (await (await fetch(`${running.sandboxes.wms}/_sandbox/config`)).json()) as { callbackUrl: string; webhookSecret: string };
    assert.equal(wmsConfig.callbackUrl, `${running.url}/webhooks/wms/default`);
  } finally {
    await running.close();
  }
  for (const url of urls) assert.equal(await reachable(url), false, `${url} is closed`);
});

test('SYNCLINE_SANDBOXES=off starts none, and neither does startSyncline unless asked', async () => {
  for (const [env, roles] of [
    [{ SYNCLINE_SANDBOXES: 'off' }, { api: true, sandboxes: true }],
    [{ SYNCLINE_SANDBOXES: 'on' }, { api: true }],
  ] as const) {
    const config = loadConfig(testEnvironment(database.url, { ...env, SYNCLINE_SANDBOX_BASE_PORT: '0' }));
    const running = await startSyncline(config, createLogger('silent'), roles);
    try {
      assert.deepEqual(running.sandboxes, {});
    } finally {
      await running.close();
    }
  }
});

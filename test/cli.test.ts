import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { fetchToken, spawnSyncline, testEnvironment } from './support/server.ts';
import { call, sampleOrder, submitOrder } from './support/orders.ts';
import { loadConfig } from '../src/config/config.ts';
import { runSyncline as runCli } from './support/cli.ts';


describe('configuration', () => {
  test('a bad variable is named in a clear message', () => {
    assert.throws(() => loadConfig({ PORT: 'eighty' }), /PORT must be a whole number \(got "eighty"\)/);
    assert.throws(() => loadConfig({ PORT: '70000' }), /PORT must be between 0 and 65535/);
    assert.throws(() => loadConfig({ DATABASE_URL: 'mysql://x' }), /DATABASE_URL must be a postgres/);
    assert.throws(() => loadConfig({ SYNCLINE_BOOTSTRAP_CLIENT_ID: 'admin-client' }), /must be set together/);
    assert.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), /LOG_LEVEL/);
    const defaults = loadConfig({});
    assert.equal(defaults.port, 8080);
    assert.equal(defaults.host, '127.0.0.1');
    assert.equal(defaults.maxBodyBytes, 1024 * 1024);
    assert.equal(defaults.databaseUrl, undefined);
  });

  test('the command refuses to start with a bad variable and says which', async () => {
    const result = await runCli(['start'], { PORT: 'eighty' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /syncline: Invalid configuration: PORT must be a whole number/);
    assert.doesNotMatch(result.stderr, /at .*\.ts:\d+/);
  });
});

describe('syncline clients create', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => database?.drop());

  test('unknown scopes and missing flags are clear errors', async () => {
    const env = { DATABASE_URL: database.url };
    const bogus = await runCli(['clients', 'create', '--scopes', 'orders:read,orders:nuke'], env);
    assert.equal(bogus.code, 2);
    assert.match(bogus.stderr, /unknown scope\(s\): orders:nuke/);
    const missing = await runCli(['clients', 'create'], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--scopes is required/);
    const unknownCommand = await runCli(['frobnicate'], env);
    assert.equal(unknownCommand.code, 2);
    assert.match(unknownCommand.stderr, /unknown command "frobnicate"/);
  });

  test('creates a client whose credentials obtain a token with its scopes', async () => {
    const created = await runCli(['clients', 'create', '--scopes', 'orders:write,orders:read', '--name', 'web shop'], { DATABASE_URL: database.url });
    assert.equal(created.code, 0, created.stderr);
    const credentials = JSON.parse(created.stdout) as { clientId: string; clientSecret: string; scopes: string[] };
    assert.deepEqual(credentials.scopes, ['orders:write', 'orders:read']);
    const server = await spawnSyncline(['api'], testEnvironment(database.url));
    try {
      const token = await fetchToken(server.baseUrl, { id: credentials.clientId, secret: credentials.clientSecret });
      assert.equal((await submitOrder(server.baseUrl, token, sampleOrder())).status, 201);
      assert.equal((await call(server.baseUrl, 'GET', '/v1/events', { token })).status, 403);
    } finally {
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0, 'SIGTERM shuts down cleanly');
    }
  });
});

describe('starting up', () => {
  test('two processes starting at once on an empty database both migrate safely and serve', async () => {
    const database = await createTestDatabase({ migrated: false });
    try {
      const env = testEnvironment(database.url);
      const [a, b] = await Promise.all([spawnSyncline(['api'], env), spawnSyncline(['api'], { ...env })]);
      try {
        const ready = await Promise.all([call(a.baseUrl, 'GET', '/readyz'), call(b.baseUrl, 'GET', '/readyz')]);
        assert.deepEqual(ready.map((r) => r.status), [200, 200]);
        const migrations = await database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM syncline_migration');
        assert.ok(migrations.rows[0]!.n >= 1);
      } finally {
        a.child.kill('SIGKILL');
        b.child.kill('SIGKILL');
      }
    } finally {
      await database.drop();
    }
  });

  test('with no DATABASE_URL it runs on embedded PGlite, writes a 0600 bootstrap client file, and keeps data across restarts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'syncline-embedded-'));
    const env = { SYNCLINE_DATA_DIR: dataDir, PORT: '0', SYNCLINE_SANDBOXES: 'off' };
    // Embedded PGlite starts in seconds on an idle machine, but in tens of seconds on a loaded one.
    const first = await spawnSyncline(['start'], env, { startTimeoutMs: 120_000 });
    let orderId: string;
    const file = join(dataDir, 'bootstrap-client.json');
    try {
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.match(first.output(), new RegExp(`credentials are in ${file.replaceAll('/', '\\/')}`));
      const credentials = JSON.parse(readFileSync(file, 'utf8')) as { clientId: string; clientSecret: string };
      assert.ok(!first.output().includes(credentials.clientSecret), 'the secret is not logged');
      const token = await fetchToken(first.baseUrl, { id: credentials.clientId, secret: credentials.clientSecret });
      assert.equal((await call(first.baseUrl, 'GET', '/readyz')).body.database, 'pglite');
      const created = await submitOrder(first.baseUrl, token, sampleOrder());
      assert.equal(created.status, 201);
      orderId = created.body.id;
    } finally {
      first.child.kill('SIGTERM');
      await first.exited;
    }
    const second = await spawnSyncline(['start'], env, { startTimeoutMs: 120_000 });
    try {
      const credentials = JSON.parse(readFileSync(file, 'utf8')) as { clientId: string; clientSecret: string };
      const token = await fetchToken(second.baseUrl, { id: credentials.clientId, secret: credentials.clientSecret });
      assert.equal((await call(second.baseUrl, 'GET', `/v1/orders/${orderId}`, { token })).status, 200);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readmeQuickStart, startEmbedded, type EmbeddedSyncline } from './support/first-hour.ts';
import { fetchToken, spawnSyncline } from './support/server.ts';
import { call } from './support/orders.ts';
import { waitFor } from './support/runtime.ts';

const GRACE_MS = 1000;
// main.ts ends the process at the latest 5 s after the grace period; a little more for a loaded machine.
const EXIT_MARGIN_MS = 6000;

let syncline: EmbeddedSyncline | undefined;
after(() => {
  if (syncline?.child.exitCode === null) syncline.child.kill('SIGKILL');
});

test('SIGTERM ends syncline start within the grace period while a flow waits on a slow ERP', async (t) => {
  syncline = await startEmbedded({ SYNCLINE_SHUTDOWN_GRACE_MS: String(GRACE_MS) });
  const s = syncline;
  const { scopes, bodies } = readmeQuickStart();
  const [location, receipt, order] = bodies;
  const token = await s.token(scopes);
  const post = (path: string, key: string, body: unknown) => call(s.baseUrl, 'POST', path, { token, body, headers: { 'idempotency-key': key } });
  assert.equal((await post('/v1/locations', 'loc', location)).status, 201);
  assert.equal((await post('/v1/inventory/movements', 'receipt', receipt)).status, 201);
  // The ERP answers only after a minute: the posting step is in flight when the signal comes.
  const erp = s.sandboxes.erp!;
  const faults = await fetch(`${erp}/_sandbox/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latencyMs: 60_000 }) });
  assert.equal(faults.status, 200);
  const created = await post('/v1/orders', 'order', order);
  assert.equal(created.status, 201);
  // Stock is allocated: the same job goes on to post to the ERP, which keeps it waiting.
  const allocated = async () => {
    const timeline = await call(s.baseUrl, 'GET', `/v1/orders/${created.body.id}/timeline`, { token });
    return (timeline.body.entries as { action: string; outcome: string }[]).some((e) => e.action === 'inventory.allocate' && e.outcome === 'succeeded');
  };
  await waitFor('the order flow to reach the ERP step', allocated, 60_000, 100);

  const { code, ms } = await s.terminate();
  t.diagnostic(`exited with ${code} after ${ms} ms`);
  assert.ok(ms < GRACE_MS + EXIT_MARGIN_MS, `exited after ${ms} ms:\n${s.output().slice(-3000)}`);
  assert.notEqual(code, null, 'the process exited by itself, not by a signal');
  assert.match(s.output(), /"msg":"shutting down"/);
});

test('SIGTERM ends syncline start even when a job holds a PGlite transaction forever and ignores its abort signal', async (t) => {
  const stubborn = fileURLToPath(new URL('./support/stubborn-handlers.ts', import.meta.url));
  syncline = await startEmbedded({ SYNCLINE_SHUTDOWN_GRACE_MS: String(GRACE_MS), SYNCLINE_HANDLER_MODULES: stubborn, SYNCLINE_SANDBOXES: 'off' });
  const s = syncline;
  const { scopes, bodies } = readmeQuickStart();
  const token = await s.token(scopes);
  const created = await call(s.baseUrl, 'POST', '/v1/orders', { token, body: bodies[2], headers: { 'idempotency-key': 'order' } });
  assert.equal(created.status, 201);
  await waitFor('the stubborn job to run', async () => s.output().includes('stubborn job running'), 60_000, 100);

  const { code, ms } = await s.terminate();
  t.diagnostic(`exited with ${code} after ${ms} ms`);
  assert.ok(ms < GRACE_MS + EXIT_MARGIN_MS, `exited after ${ms} ms:\n${s.output().slice(-3000)}`);
  assert.notEqual(code, null, 'the process exited by itself, not by a signal');
  assert.match(s.output(), /did not finish in time; no longer waiting for it/);
});

test('after SIGKILL the lock is stale: the next start takes it over and serves the same data', async () => {
  syncline = await startEmbedded({ SYNCLINE_SANDBOXES: 'off' });
  const killed = syncline;
  killed.child.kill('SIGKILL');
  await killed.exited;
  const stale = JSON.parse(readFileSync(join(killed.dataDir, 'pgdata.lock'), 'utf8')) as { pid: number };
  assert.equal(stale.pid, killed.child.pid, 'SIGKILL leaves the lock behind');
  const next = await spawnSyncline(['start'], killed.env, { startTimeoutMs: 120_000 });
  try {
    const holder = JSON.parse(readFileSync(join(killed.dataDir, 'pgdata.lock'), 'utf8')) as { pid: number; url: string };
    assert.deepEqual(holder, { ...holder, pid: next.child.pid, url: next.baseUrl });
    // The admin client the first process created is still there: same database.
    const credentials = JSON.parse(readFileSync(join(killed.dataDir, 'bootstrap-client.json'), 'utf8')) as { clientId: string; clientSecret: string };
    assert.ok(await fetchToken(next.baseUrl, { id: credentials.clientId, secret: credentials.clientSecret }));
  } finally {
    next.child.kill('SIGTERM');
    await next.exited;
  }
});

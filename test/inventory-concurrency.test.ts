import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { fetchToken, spawnSyncline, testEnvironment, type ChildServer } from './support/server.ts';
import { call } from './support/orders.ts';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
let database: TestDatabase;
let servers: ChildServer[] = [];

function verifyCli(): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, 'inventory', 'verify'], { env: { PATH: process.env.PATH ?? '', DATABASE_URL: database.url, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stdout += chunk));
    child.on('exit', (code) => resolve({ code, stdout }));
  });
}

before(async () => {
  database = await createTestDatabase();
  servers = [await spawnSyncline(['api'], testEnvironment(database.url)), await spawnSyncline(['api'], testEnvironment(database.url))];
});
after(async () => {
  for (const server of servers) server.child.kill('SIGKILL');
  await database?.drop();
});

test('200 clients over two processes race for 100 units: exactly 100 win, 100 get 409, balances equal the ledger', async () => {
  const token = await fetchToken(servers[0]!.baseUrl);
  const write = (i: number, method: string, path: string, body?: unknown) =>
    call(servers[i % 2]!.baseUrl, method, path, { token, body, headers: { 'idempotency-key': randomUUID() } });
  assert.equal((await write(0, 'POST', '/v1/locations', { code: 'DC-1', name: 'Distribution centre', kind: 'warehouse' })).status, 201);
  assert.equal((await write(1, 'POST', '/v1/locations', { code: 'DC-2', name: 'Second centre', kind: 'warehouse' })).status, 201);
  assert.equal((await write(0, 'POST', '/v1/inventory/movements', { movements: [{ type: 'receipt', sku: 'FLASH', location: 'DC-1', quantity: 100 }] })).status, 201);

  const responses = await Promise.all(
    Array.from({ length: 200 }, (_, i) => write(i, 'POST', '/v1/inventory/reservations', { reference: `flash-${i}`, channel: 'web', lines: [{ sku: 'FLASH', quantity: 1 }] })),
  );
  const statuses = responses.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 201).length, 100, `statuses: ${JSON.stringify(Object.groupBy(statuses, (s) => String(s)), (_k, v) => (Array.isArray(v) ? v.length : v))}`);
  assert.equal(statuses.filter((s) => s === 409).length, 100);
  for (const conflict of responses.filter((r) => r.status === 409)) {
    assert.match(conflict.body.type, /insufficient-stock$/);
    assert.deepEqual(conflict.body.lines.map((l: any) => [l.requested, l.available]), [[1, 0]]);
  }
  const balance = await database.db.query<{ on_hand: string; reserved: string }>("SELECT on_hand, reserved FROM inventory_balance WHERE sku = 'FLASH'");
  assert.deepEqual(balance.rows.map((r) => [Number(r.on_hand), Number(r.reserved)]), [[100, 100]]);
  const active = await database.db.query<{ n: number }>("SELECT count(*)::int AS n FROM inventory_reservation WHERE status = 'active'");
  assert.equal(active.rows[0]!.n, 100);

  // Second round, mixed: the winners release or ship while 150 new clients race for what frees up,
  // and stock moves between locations at the same time.
  const winners = responses.filter((r) => r.status === 201).map((r) => r.body.id as string);
  const mixed = await Promise.all([
    ...winners.slice(0, 50).map((id, i) => write(i, 'DELETE', `/v1/inventory/reservations/${id}`)),
    ...winners.slice(50, 70).map((id, i) => write(i, 'POST', `/v1/inventory/reservations/${id}/consume`, {})),
    ...Array.from({ length: 150 }, (_, i) =>
      write(i, 'POST', '/v1/inventory/reservations', { reference: `second-${i}`, channel: 'web', lines: [{ sku: 'FLASH', quantity: 1 }] }),
    ),
    write(0, 'POST', '/v1/inventory/movements', { movements: [{ type: 'receipt', sku: 'FLASH', location: 'DC-2', quantity: 10 }] }),
  ]);
  for (const r of mixed) assert.ok([200, 201, 409].includes(r.status), `unexpected ${r.status} ${JSON.stringify(r.body)}`);
  const after = await database.db.query<{ on_hand: string; reserved: string }>("SELECT sum(on_hand) AS on_hand, sum(reserved) AS reserved FROM inventory_balance WHERE sku = 'FLASH'");
  const onHand = Number(after.rows[0]!.on_hand);
  const reserved = Number(after.rows[0]!.reserved);
  assert.equal(onHand, 100 - 20 + 10, 'the 20 shipped units left, the 10 received arrived');
  assert.ok(reserved <= onHand, `reserved ${reserved} never exceeds on hand ${onHand}`);
  const perLocation = await database.db.query<{ n: number }>("SELECT count(*)::int AS n FROM inventory_balance WHERE reserved > on_hand");
  assert.equal(perLocation.rows[0]!.n, 0, 'no location holds more than it has');
  const secondWins = mixed.slice(70, 220).filter((r) => r.status === 201).length;
  assert.equal(reserved, 30 + secondWins);

  const verify = await verifyCli();
  assert.equal(verify.code, 0, verify.stdout);
  assert.match(verify.stdout, /ok: every balance equals the ledger/);
});

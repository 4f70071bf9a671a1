import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import stringify from 'safe-stable-stringify';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { call, type ApiResponse } from './support/orders.ts';

let database: TestDatabase;
let server: TestServer;
let token: string;

function write(method: string, path: string, body?: unknown, key: string | null = randomUUID()): Promise<ApiResponse> {
  return call(server.baseUrl, method, path, { token, body, headers: key ? { 'idempotency-key': key } : {} });
}
const read = (path: string) => call(server.baseUrl, 'GET', path, { token });

before(async () => {
  database = await createTestDatabase();
  server = await startTestServer(database.url, { SYNCLINE_HOLD_EXPIRY_INTERVAL_MS: '200', SYNCLINE_AVAILABILITY_INTERVAL_MS: '100' });
  token = await server.token();
  for (const [code, kind] of [['WH-1', 'warehouse'], ['WH-2', 'warehouse'], ['SHOP-1', 'store']]) {
    const created = await write('POST', '/v1/locations', { code, name: `Location ${code}`, kind });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  }
});
after(async () => {
  await server?.close();
  await database?.drop();
});

describe('locations', () => {
  test('created with an id, listed, found by id or code; a taken code is a 409', async () => {
    const key = randomUUID();
    const created = await write('POST', '/v1/locations', { code: '3PL-A', name: 'Fulfilment partner', kind: '3pl' }, key);
    assert.equal(created.status, 201);
    assert.match(created.body.id, /^loc_[0-9a-z]{26}$/);
    const replay = await write('POST', '/v1/locations', { code: '3PL-A', name: 'Fulfilment partner', kind: '3pl' }, key);
    assert.equal(replay.status, 201);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal(replay.body.id, created.body.id);
    const taken = await write('POST', '/v1/locations', { code: '3PL-A', name: 'Other', kind: '3pl' });
    assert.equal(taken.status, 409);
    assert.match(taken.body.type, /location-code-taken$/);
    assert.equal(taken.body.existingLocationId, created.body.id);
    const list = await read('/v1/locations');
    assert.deepEqual(list.body.data.map((l: any) => l.code), ['3PL-A', 'SHOP-1', 'WH-1', 'WH-2']);
    assert.equal((await read(`/v1/locations/${created.body.id}`)).body.code, '3PL-A');
    assert.equal((await read('/v1/locations/3PL-A')).body.id, created.body.id);
    const invalid = await write('POST', '/v1/locations', { code: 'x y', name: '', kind: 'barn' });
    assert.equal(invalid.status, 422);
    assert.deepEqual(invalid.body.errors.map((e: any) => e.pointer).sort(), ['/code', '/kind', '/name']);
    const noKey = await write('POST', '/v1/locations', { code: 'NK', name: 'No key', kind: 'store' }, null);
    assert.equal(noKey.status, 400);
    assert.match(noKey.body.type, /idempotency-key-missing$/);
  });
});

describe('movements, availability and reservations', () => {
  test('the life of a SKU through the API', async () => {
    const receipt = await write('POST', '/v1/inventory/movements', {
      movements: [
        { type: 'receipt', sku: 'API-TEE', location: 'WH-1', quantity: 8 },
        { type: 'receipt', sku: 'API-TEE', location: 'SHOP-1', quantity: 4 },
      ],
    });
    assert.equal(receipt.status, 201, JSON.stringify(receipt.body));
    assert.deepEqual(receipt.body.balances.map((b: any) => [b.location, b.onHand]).sort(), [['SHOP-1', 4], ['WH-1', 8]]);

    const unknown = await write('POST', '/v1/inventory/movements', { movements: [{ type: 'receipt', sku: 'API-TEE', location: 'NOPE', quantity: 1 }] });
    assert.equal(unknown.status, 422);
    assert.equal(unknown.body.errors[0].pointer, '/movements/0/location');
    const rejected = await write('POST', '/v1/inventory/movements', { movements: [{ type: 'adjustment', sku: 'API-TEE', location: 'WH-1', quantity: -9, reason: 'lost' }] });
    assert.equal(rejected.status, 409);
    assert.match(rejected.body.type, /movement-rejected$/);

    const policy = await write('PUT', '/v1/inventory/policies/channels/web-store', { excludedLocations: ['SHOP-1'] }, null);
    assert.equal(policy.status, 200, JSON.stringify(policy.body));
    const safety = await write('PUT', '/v1/inventory/policies/safety-stock', { sku: 'API-TEE', quantity: 1 }, null);
    assert.equal(safety.status, 200);

    const availability = await read('/v1/inventory/availability?sku=API-TEE&channel=web-store');
    assert.equal(availability.status, 200);
    assert.equal(availability.body.available, 7);
    assert.equal(availability.body.onHand, 8);
    assert.deepEqual(availability.body.explanation.excludedLocations, ['SHOP-1']);
    assert.ok(availability.body.explanation.steps.length >= 3);
    assert.equal((await read('/v1/inventory/availability?sku=API-TEE')).body.available, 11);
    assert.equal((await read('/v1/inventory/availability?sku=API-TEE&location=SHOP-1')).body.available, 4);
    assert.equal((await read('/v1/inventory/availability?sku=API-TEE&location=MARS')).status, 400);

    const key = randomUUID();
    const orderedBody = { reference: 'order-77', channel: 'web-store', lines: [{ sku: 'API-TEE', quantity: 5 }] };
    const hold = await write('POST', '/v1/inventory/reservations', orderedBody, key);
    assert.equal(hold.status, 201, JSON.stringify(hold.body));
    assert.match(hold.body.id, /^res_/);
    assert.equal(hold.body.lines[0].location, 'WH-1');
    const replay = await write('POST', '/v1/inventory/reservations', { reference: 'order-77', channel: 'web-store', lines: [{ sku: 'API-TEE', quantity: 5 }] }, key);
    assert.equal(replay.status, 201);
    assert.equal(replay.body.id, hold.body.id);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    // The fingerprint is of the parsed request: the same request with its keys in another order is a retry.
    const reordered = await write('POST', '/v1/inventory/reservations', { lines: [{ quantity: 5, sku: 'API-TEE' }], channel: 'web-store', reference: 'order-77' }, key);
    assert.equal(reordered.status, 201);
    assert.equal(reordered.body.id, hold.body.id);
    assert.equal(reordered.headers.get('idempotent-replayed'), 'true');
    // A record stored by the release before ADR 44 holds the raw-body fingerprint: a retry that
    // straddles the upgrade is still a replay, and a different request under that key still refused.
    const before44 = createHash('sha256').update(`POST /v1/inventory/reservations\n${stringify(orderedBody)}`).digest('base64url');
    assert.equal((await database.db.query('UPDATE idempotency_record SET fingerprint = $1 WHERE key = $2', [before44, key])).rowCount, 1);
    const straddling = await write('POST', '/v1/inventory/reservations', orderedBody, key);
    assert.equal(straddling.status, 201, JSON.stringify(straddling.body));
    assert.equal(straddling.body.id, hold.body.id);
    assert.equal(straddling.headers.get('idempotent-replayed'), 'true');
    const reused = await write('POST', '/v1/inventory/reservations', { reference: 'order-78', channel: 'web-store', lines: [{ sku: 'API-TEE', quantity: 1 }] }, key);
    assert.equal(reused.status, 422);
    assert.match(reused.body.type, /idempotency-key-reused$/);
    // The same key on another route is another request, however alike the bodies.
    const elsewhere = await write('POST', '/v1/inventory/reservations/res_unknown/consume', { lines: [{ sku: 'API-TEE', quantity: 5 }] }, key);
    assert.equal(elsewhere.status, 422);
    assert.match(elsewhere.body.type, /idempotency-key-reused$/);

    const short = await write('POST', '/v1/inventory/reservations', { reference: 'order-79', channel: 'web-store', lines: [{ sku: 'API-TEE', quantity: 3 }] });
    assert.equal(short.status, 409);
    assert.match(short.body.type, /insufficient-stock$/);
    assert.deepEqual(short.body.lines.map((l: any) => [l.sku, l.requested, l.available]), [['API-TEE', 3, 2]]);

    const past = await write('POST', '/v1/inventory/reservations', { reference: 'cart-old', channel: 'web-store', lines: [{ sku: 'API-TEE', quantity: 1 }], expiresAt: '2020-01-01T00:00:00Z' });
    assert.equal(past.status, 422);
    assert.deepEqual(past.body.errors, [{ pointer: '/expiresAt', detail: 'must be in the future' }]);

    assert.equal((await read(`/v1/inventory/reservations/${hold.body.id}`)).body.status, 'active');
    assert.equal((await read('/v1/inventory/reservations?reference=order-77')).body.data.length, 1);

    const shipped = await write('POST', `/v1/inventory/reservations/${hold.body.id}/consume`, { lines: [{ sku: 'API-TEE', quantity: 2 }], reference: 'SHIP-1' });
    assert.equal(shipped.status, 200, JSON.stringify(shipped.body));
    assert.equal(shipped.body.entries[0].type, 'sale');
    assert.equal(shipped.body.entries[0].quantity, -2);
    const released = await write('DELETE', `/v1/inventory/reservations/${hold.body.id}`, undefined, null);
    assert.equal(released.status, 200);
    assert.equal(released.body.status, 'released');
    const releasedAgain = await write('DELETE', `/v1/inventory/reservations/${hold.body.id}`, undefined, null);
    assert.equal(releasedAgain.status, 200);
    assert.equal(releasedAgain.body.status, 'released');
    const consumeClosed = await write('POST', `/v1/inventory/reservations/${hold.body.id}/consume`, {});
    assert.equal(consumeClosed.status, 409);
    assert.match(consumeClosed.body.type, /reservation-not-active$/);
    assert.equal((await write('DELETE', '/v1/inventory/reservations/res_nothing', undefined, null)).status, 404);

    const after = await read('/v1/inventory/availability?sku=API-TEE&channel=web-store');
    assert.deepEqual([after.body.onHand, after.body.reserved, after.body.available], [6, 0, 5]);
    const ledger = await read('/v1/inventory/movements?sku=API-TEE&location=WH-1');
    assert.deepEqual(ledger.body.data.map((e: any) => e.type), ['receipt', 'sale']);

    // Read the outbox itself: this checks what inventory writes, not the feed's horizon.
    const outbox = await database.db.query<{ type: string }>("SELECT DISTINCT type FROM outbox_event WHERE source = '/syncline/inventory'");
    const types = new Set(outbox.rows.map((e) => e.type));
    for (const type of ['inventory.adjusted', 'inventory.reserved', 'inventory.released']) assert.ok(types.has(type), `feed has ${type}`);
  });

  test('scopes: reading needs inventory:read, writing inventory:write', async () => {
    const reader = await server.token('inventory:read');
    const denied = await call(server.baseUrl, 'POST', '/v1/inventory/reservations', {
      token: reader,
      body: { reference: 'x', channel: 'web', lines: [{ sku: 'A', quantity: 1 }] },
      headers: { 'idempotency-key': randomUUID() },
    });
    assert.equal(denied.status, 403);
    assert.equal((await call(server.baseUrl, 'GET', '/v1/inventory/availability?sku=A', { token: reader })).status, 200);
    const orders = await server.token('orders:read');
    assert.equal((await call(server.baseUrl, 'GET', '/v1/inventory/availability?sku=A', { token: orders })).status, 403);
    assert.equal((await call(server.baseUrl, 'GET', '/v1/locations')).status, 401);
  });
});

describe('reconciliation', () => {
  test('a snapshot produces a drift report; applying it writes counts; reports are listed', async () => {
    await write('POST', '/v1/inventory/movements', {
      movements: [
        { type: 'receipt', sku: 'REC-1', location: 'WH-2', quantity: 10 },
        { type: 'receipt', sku: 'REC-2', location: 'WH-2', quantity: 5 },
        { type: 'receipt', sku: 'REC-3', location: 'WH-2', quantity: 2 },
      ],
    });
    await write('POST', '/v1/inventory/reservations', { reference: 'rec-order', channel: 'web', lines: [{ sku: 'REC-1', quantity: 3 }] });
    const snapshot = await write('POST', '/v1/inventory/snapshots', {
      source: 'erp',
      complete: true,
      lines: [
        { sku: 'REC-1', location: 'WH-2', quantity: 7 },
        { sku: 'REC-2', location: 'WH-2', quantity: 5 },
      ],
    });
    assert.equal(snapshot.status, 201, JSON.stringify(snapshot.body));
    assert.match(snapshot.body.id, /^snp_/);
    assert.deepEqual(
      snapshot.body.lines.map((l: any) => [l.sku, l.ours, l.theirs, l.difference, l.openReservations]),
      [
        ['REC-1', 10, 7, -3, 3],
        ['REC-3', 2, 0, -2, 0],
      ],
    );
    assert.deepEqual(snapshot.body.summary, { lines: 3, drifting: 2, unitsOver: 5, unitsShort: 0 });
    assert.equal(snapshot.body.appliedAt, null);

    const applied = await write('POST', `/v1/inventory/snapshots/${snapshot.body.id}/apply`, {});
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    assert.ok(applied.body.appliedAt);
    const twice = await write('POST', `/v1/inventory/snapshots/${snapshot.body.id}/apply`, {});
    assert.equal(twice.status, 409);
    assert.match(twice.body.type, /snapshot-already-applied$/);
    assert.equal((await read('/v1/inventory/availability?sku=REC-1&location=WH-2')).body.onHand, 7);
    assert.equal((await read('/v1/inventory/availability?sku=REC-3&location=WH-2')).body.onHand, 0);

    const list = await read('/v1/inventory/snapshots');
    assert.equal(list.body.data[0].id, snapshot.body.id);
    assert.equal((await read(`/v1/inventory/snapshots/${snapshot.body.id}`)).body.lines.length, 2);
  });
});

describe('background work in the API process', () => {
  test('a cart hold expires on time with no request, and availability events follow', async () => {
    await write('POST', '/v1/inventory/movements', { movements: [{ type: 'receipt', sku: 'CART-API', location: 'WH-1', quantity: 3 }] });
    const expiresAt = new Date(Date.now() + 1000);
    const hold = await write('POST', '/v1/inventory/reservations', { reference: 'cart-9', channel: 'web', lines: [{ sku: 'CART-API', quantity: 3 }], expiresAt: expiresAt.toISOString() });
    assert.equal(hold.status, 201);
    // Watch the database, not the API: no request may be what releases the hold.
    let status = 'active';
    let releasedAt = 0;
    for (let i = 0; i < 60 && status === 'active'; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const row = await database.db.query<{ status: string }>('SELECT status FROM inventory_reservation WHERE id = $1', [hold.body.id]);
      status = row.rows[0]!.status;
      releasedAt = Date.now();
    }
    assert.equal(status, 'expired');
    assert.ok(releasedAt - expiresAt.getTime() < 1500, `released ${releasedAt - expiresAt.getTime()} ms after expiry`);
    const balance = await database.db.query<{ reserved: string }>("SELECT reserved FROM inventory_balance WHERE sku = 'CART-API'");
    assert.equal(Number(balance.rows[0]!.reserved), 0);
    let last: any;
    for (let i = 0; i < 30; i += 1) {
      const events = await database.db.query<{ data: any }>(
        "SELECT data FROM outbox_event WHERE type = 'inventory.availability.changed' AND subject = 'CART-API' ORDER BY tx_id DESC, position DESC LIMIT 1",
      );
      last = events.rows[0]?.data;
      if (last?.available === 3) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(last?.available, 3, 'the last availability event shows the hold returned');
  });
});

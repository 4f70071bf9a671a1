import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient } from '../src/domain/clients/client.service.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { fetchToken, spawnSyncline, testEnvironment, type ChildServer } from './support/server.ts';
import { call, type ApiResponse } from './support/orders.ts';
import { waitFor } from './support/runtime.ts';

const LIMIT = 40;
const WINDOW_SECONDS = 8;
const SYNC_MS = 50;
// The documented bound: a process hears of the other's admissions within one sync interval
// plus the sync statement, so the window admits at most LIMIT plus what the other process
// admits in that time. The test paces each process at about one request per 15 ms: four or
// five per 50 ms interval, doubled for the statement time and a loaded machine.
const OVERSHOOT_BOUND = 12;

/** Two real `syncline api` processes on one PostgreSQL share one client's rate limit. */
describe('per-client rate limit across two API processes', () => {
  let database: TestDatabase;
  const processes: ChildServer[] = [];
  // A client of its own for each run: the window before a run must be empty, as the previous
  // window counts in the sliding estimate. They are made before the processes start, so that
  // each process knows their limit from its first request.
  const fresh: Array<{ id: string; secret: string }> = [];
  const newClient = async () => {
    const client = fresh.shift();
    assert.ok(client, 'a fresh client is left for this run');
    return client;
  };

  before(async () => {
    database = await createTestDatabase();
    for (let i = 0; i < 4; i++) {
      const created = await createClient(database.db, { name: `limited ${i + 1}`, scopes: ['orders:read'], rateLimit: LIMIT });
      fresh.push({ id: created.clientId, secret: created.clientSecret });
    }
    const env = testEnvironment(database.url, { SYNCLINE_CLIENT_RATE_WINDOW_SECONDS: String(WINDOW_SECONDS), SYNCLINE_RATE_LIMIT_SYNC_MS: String(SYNC_MS) });
    processes.push(...(await Promise.all([spawnSyncline(['api'], env), spawnSyncline(['api'], env)])));
  });
  after(async () => {
    for (const p of processes) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
    await database?.drop();
  });

  test('the accepted requests of both processes stay within the limit plus the documented bound; the rest are 429 with RateLimit headers', async (t) => {
    const [a, b] = processes as [ChildServer, ChildServer];
    let client = await newClient();
    let token = await fetchToken(a.baseUrl, client);
    const windowMs = WINDOW_SECONDS * 1000;
    // Every request must fall into one window. On a loaded machine a run can spill into the next
    // window; then it is run again in a fresh window (at most three times, then the test fails).
    let responses: ApiResponse[] = [];
    let refusedBy = { a: 0, b: 0 };
    let windowEnds = 0;
    for (let attempt = 1; ; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, windowMs - (Date.now() % windowMs) + 30));
      windowEnds = Math.ceil(Date.now() / windowMs) * windowMs;
      responses = [];
      refusedBy = { a: 0, b: 0 };
      for (let i = 0; i < 50; i++) {
        const [fromA, fromB] = await Promise.all([a, b].map((p) => call(p.baseUrl, 'GET', '/v1/orders?limit=1', { token })));
        if (fromA!.status === 429) refusedBy.a++;
        if (fromB!.status === 429) refusedBy.b++;
        responses.push(fromA!, fromB!);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      if (Date.now() < windowEnds - 50) break;
      assert.ok(attempt < 3, 'three runs in a row did not fit into one window: the machine is too slow for this test');
      client = await newClient();
      token = await fetchToken(a.baseUrl, client);
    }

    const accepted = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status === 429);
    assert.equal(accepted.length + refused.length, responses.length, `only 200 and 429: ${[...new Set(responses.map((r) => r.status))]}`);
    // A process's view never exceeds the true count, so nothing is refused before the limit is reached.
    t.diagnostic(`accepted ${accepted.length} of ${responses.length} (limit ${LIMIT}); refused by A ${refusedBy.a}, by B ${refusedBy.b}`);
    assert.ok(accepted.length >= LIMIT, `at least the limit was accepted (${accepted.length})`);
    assert.ok(accepted.length <= LIMIT + OVERSHOOT_BOUND, `at most ${LIMIT} + ${OVERSHOOT_BOUND} accepted, got ${accepted.length}`);
    // Both processes refused: each counted the other's requests, not only its own.
    assert.ok(refusedBy.a > 0 && refusedBy.b > 0, `both processes refused: ${JSON.stringify(refusedBy)}`);

    for (const response of refused) {
      assert.match(response.headers.get('content-type')!, /^application\/problem\+json/);
      assert.match(response.body.type, /rate-limited$/);
      assert.equal(response.headers.get('ratelimit-policy'), `"client";q=${LIMIT};w=${WINDOW_SECONDS}`);
      assert.match(response.headers.get('ratelimit')!, /^"client";r=0;t=\d+$/);
      const retryAfter = Number(response.headers.get('retry-after'));
      // The rest of this window, and the part of the next one it takes for this window's count to fade below the limit.
      assert.ok(retryAfter >= 1 && retryAfter <= 2 * WINDOW_SECONDS, `Retry-After ${retryAfter}`);
    }
    const first = accepted[0]!;
    assert.equal(first.headers.get('ratelimit-policy'), `"client";q=${LIMIT};w=${WINDOW_SECONDS}`);
    assert.match(first.headers.get('ratelimit')!, /^"client";r=\d+;t=\d+$/);

    // Every admitted request was counted once in the shared table, by one process or the other.
    const windowStart = windowEnds / 1000 - WINDOW_SECONDS;
    await waitFor('the counts to be shared', async () => {
      const row = await database.db.query<{ count: number }>('SELECT count FROM api_rate_count WHERE bucket = $1 AND window_start = $2', [`client:${client.id}`, windowStart]);
      return row.rows[0]?.count === accepted.length;
    }, 5000);
  });

  test('both processes refuse in the same window: neither admits the limit on its own', async () => {
    const [a, b] = processes as [ChildServer, ChildServer];
    const token = await fetchToken(b.baseUrl, await newClient());
    const windowMs = WINDOW_SECONDS * 1000;
    await new Promise((resolve) => setTimeout(resolve, windowMs - (Date.now() % windowMs) + 30));
    // Process A spends the whole limit, then B, having heard of it, refuses at once.
    let acceptedByA = 0;
    for (let i = 0; i < LIMIT; i++) if ((await call(a.baseUrl, 'GET', '/v1/orders?limit=1', { token })).status === 200) acceptedByA++;
    assert.equal(acceptedByA, LIMIT);
    await waitFor('process B to hear of A\'s requests', async () => (await call(b.baseUrl, 'GET', '/v1/orders?limit=1', { token })).status === 429, 1000, 10);
  });
});

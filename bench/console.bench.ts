import { newId } from '../src/model/ids.ts';
import { addConsoleUser } from '../src/domain/console-users/console-user.service.ts';
import { createTestDatabase, type TestDatabase } from '../test/support/postgres.ts';
import { fetchToken, spawnSyncline, testEnvironment, type ChildServer } from '../test/support/server.ts';
import { sampleOrder, submitOrder } from '../test/support/orders.ts';
import { percentile, stopAll, writeResult } from './support.ts';

/**
 * The operations console with 100,000 orders (issue 12): p50 and p95 of the JSON routes behind the
 * Orders page and the Exceptions page, over many requests, one at a time, against `syncline api`
 * on a fresh database migrated by Syncline and filled by set-based SQL.
 *
 * The data: orders spread over four channels, ten statuses, 25,000 customers and a year of dates
 * (documents copied from one order taken through the real intake, so every row parses as an
 * order); one order_flow row each; about 2,600 orders in the exception state (on hold, kind
 * exception, and kept-status exceptions after release, ADR 0007 and 0011) with their open dead
 * letters, 1,000 other open dead letters and 4,000 resolved ones.
 */
const ORDERS = Number(process.env.BENCH_CONSOLE_ORDERS ?? 100_000);
/** Requests measured per scenario (BENCH_REQUESTS; default 300), after 30 unmeasured ones. */
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 300);
const WARMUP = 30;
const TARGET_P95_MS = 300;
const PASSWORD = 'bench console password';

/** Fills the database: orders, their flow rows, exception holds and dead letters. */
async function generate(database: TestDatabase, template: Record<string, unknown>): Promise<Record<string, number>> {
  const orderIds = Array.from({ length: ORDERS }, () => newId('order'));
  const started = performance.now();
  await database.db.query(
    `WITH g AS (
       SELECT ids.id, ids.n::int AS n,
              (ARRAY['shopify-us','shopify-us','shopify-us','shopify-us','shopify-us','shopify-us','shopify-us','shopify-us','shopify-us',
                     'shopify-eu','shopify-eu','shopify-eu','shopify-eu','shopify-eu',
                     'woocommerce','woocommerce','woocommerce','woocommerce','pos','pos'])[1 + (ids.n * 13) % 20] AS channel,
              CASE WHEN (ids.n * 37) % 100 < 62 THEN 'completed' WHEN (ids.n * 37) % 100 < 72 THEN 'shipped'
                   WHEN (ids.n * 37) % 100 < 78 THEN 'released' WHEN (ids.n * 37) % 100 < 82 THEN 'allocated'
                   WHEN (ids.n * 37) % 100 < 84 THEN 'pending_allocation' WHEN (ids.n * 37) % 100 < 86 THEN 'validated'
                   WHEN (ids.n * 37) % 100 < 87 THEN 'received' WHEN (ids.n * 37) % 100 < 89 THEN 'partially_shipped'
                   WHEN (ids.n * 37) % 100 < 95 THEN 'cancelled' ELSE 'on_hold' END AS status,
              'customer' || ((ids.n * 7919) % 25000) || '@shop' || ((ids.n * 7919) % 25000 % 7) || '.example.com' AS email,
              now() - (($2::int - ids.n) * interval '5 minutes') - interval '1 hour' AS placed_at
         FROM unnest($1::text[]) WITH ORDINALITY AS ids (id, n)
     )
     INSERT INTO sales_order (id, channel, channel_order_id, status, currency, grand_total, placed_at, created_at, updated_at, correlation_id, customer_email, document)
     SELECT g.id, g.channel, upper(left(g.channel, 2)) || '-' || (1000000 + g.n), g.status, $3::jsonb->>'currency', ($3::jsonb->'totals'->>'grandTotal')::numeric,
            g.placed_at, g.placed_at, g.placed_at + interval '30 minutes', 'corr-' || g.n, g.email,
            $3::jsonb || jsonb_build_object('id', g.id, 'channel', g.channel, 'channelOrderId', upper(left(g.channel, 2)) || '-' || (1000000 + g.n),
                                            'placedAt', to_char(g.placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                                            'createdAt', to_char(g.placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                                            'correlationId', 'corr-' || g.n,
                                            'customer', ($3::jsonb->'customer') || jsonb_build_object('email', g.email))
       FROM g`,
    [orderIds, ORDERS, JSON.stringify(template)],
  );
  console.log(`orders inserted in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  // Flow rows: completed orders are finished; half the held ones hold an exception (the rest a
  // validation hold); one in 40 released or shipped orders carries a kept-status exception.
  await database.db.query(
    `WITH o AS (SELECT id, status, placed_at, row_number() OVER (ORDER BY id) AS n FROM sales_order)
     INSERT INTO order_flow (order_id, started_at, hold_reason, completed_at)
     SELECT o.id, o.placed_at,
            CASE WHEN (o.status = 'on_hold' AND o.n % 2 = 0) OR (o.status IN ('released', 'shipped') AND o.n % 40 = 0) THEN
                   jsonb_build_object('kind', 'exception', 'flow', CASE WHEN o.status = 'on_hold' THEN 'order-placed' ELSE 'order-invoice' END,
                     'step', (ARRAY['erp.post', 'erp.post', 'payment.capture', 'wms.fulfil'])[1 + abs(hashtext(o.id)) % 4],
                     'system', (ARRAY['erp', 'erp', 'payment', 'wms'])[1 + abs(hashtext(o.id)) % 4],
                     'code', (ARRAY['erp.unknown_product', 'erp.unavailable', 'payment.declined', 'wms.rejected'])[1 + abs(hashtext(o.id)) % 4],
                     'retry', 'permanent', 'message', 'The system refused the request.', 'deadLetterId', '',
                     'resumeStatus', CASE WHEN o.status = 'on_hold' THEN 'allocated' ELSE o.status END, 'since', o.placed_at + interval '10 minutes')
                   || CASE WHEN o.status = 'on_hold' THEN '{}'::jsonb ELSE '{"statusKept": true}'::jsonb END
                 WHEN o.status = 'on_hold' THEN jsonb_build_object('kind', 'validation', 'problems', jsonb_build_array('shippingAddress.region is missing'))
            END,
            CASE WHEN o.status = 'completed' THEN o.placed_at + interval '2 days' END
       FROM o
     ON CONFLICT (order_id) DO NOTHING`,
  );
  const exceptionOrders = (
    await database.db.query<{ order_id: string; hold: Record<string, string> }>(`SELECT order_id, hold_reason AS hold FROM order_flow WHERE hold_reason->>'kind' = 'exception' ORDER BY order_id`)
  ).rows;
  // Dead letters: one open letter per exception order, 1,000 other open ones (webhook deliveries), 4,000 resolved.
  const other = 1000;
  const resolved = 4000;
  const letterIds = Array.from({ length: resolved + exceptionOrders.length + other }, () => newId('deadLetter'));
  const letters = [
    ...letterIds.slice(0, resolved).map((id, i) => ({ id, orderId: exceptionOrders[i % exceptionOrders.length]!.order_id, code: 'erp.unavailable', target: 'erp', status: i % 3 === 0 ? 'discarded' : 'replayed' })),
    ...exceptionOrders.map((o, i) => ({ id: letterIds[resolved + i]!, orderId: o.order_id, code: o.hold.code!, target: o.hold.system!, status: 'open' })),
    ...letterIds.slice(resolved + exceptionOrders.length).map((id, i) => ({ id, orderId: null, code: i % 2 === 0 ? 'http.gone' : 'http.timeout', target: `webhook:sub_${i % 5}`, status: 'open' })),
  ];
  await database.db.query(
    `INSERT INTO runtime_dead_letter (id, job_id, type, lane, payload, target, correlation_id, attempts, max_attempts, error_class, error_code,
                                     reason, remediation, excerpt, enqueued_at, failed_at, status, resolved_at, resolved_by, resolution_note)
     SELECT l.id, l.n, CASE WHEN l.order_id IS NULL THEN 'subscription.deliver' ELSE 'order.placed' END, 1,
            CASE WHEN l.order_id IS NULL THEN '{"subscriptionId": "sub_1"}'::jsonb ELSE jsonb_build_object('orderId', l.order_id) END,
            l.target, 'corr-dl-' || l.n, 5, 5, 'permanent', l.code, 'The system refused the request (' || l.code || ').',
            'Fix the cause in the system, then replay.', '{"status": 422}'::jsonb,
            now() - (l.total - l.n) * interval '2 minutes', now() - (l.total - l.n) * interval '2 minutes' + interval '5 minutes', l.status,
            CASE WHEN l.status <> 'open' THEN now() END, CASE WHEN l.status <> 'open' THEN 'cli:bench' END,
            CASE WHEN l.status = 'discarded' THEN 'Order cancelled by the customer.' END
       FROM (SELECT x.*, count(*) OVER () AS total FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (id text, order_id text, code text, target text, status text)) WITH ORDINALITY AS x (id, order_id, code, target, status, n)) l`,
    [JSON.stringify(letters.map((l) => ({ id: l.id, order_id: l.orderId, code: l.code, target: l.target, status: l.status })))],
  );
  await database.db.query(
    `UPDATE order_flow f SET hold_reason = jsonb_set(f.hold_reason, '{deadLetterId}', to_jsonb(d.id))
       FROM runtime_dead_letter d WHERE d.status = 'open' AND d.payload->>'orderId' = f.order_id AND f.hold_reason->>'kind' = 'exception'`,
  );
  for (const table of ['sales_order', 'order_flow', 'runtime_dead_letter']) await database.db.query(`VACUUM ANALYZE ${table}`);
  const count = async (sql: string) => (await database.db.query<{ n: number }>(sql)).rows[0]!.n;
  return {
    orders: await count('SELECT count(*)::int AS n FROM sales_order'),
    exceptionOrders: exceptionOrders.length,
    openDeadLetters: await count(`SELECT count(*)::int AS n FROM runtime_dead_letter WHERE status = 'open'`),
    deadLetters: await count('SELECT count(*)::int AS n FROM runtime_dead_letter'),
    customers: await count('SELECT count(DISTINCT customer_email)::int AS n FROM sales_order'),
    generateSeconds: Number(((performance.now() - started) / 1000).toFixed(1)),
  };
}

/** Signs a console operator in; returns the session cookie. */
async function signIn(baseUrl: string, email: string): Promise<string> {
  const response = await fetch(`${baseUrl}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD }) });
  if (response.status !== 201) throw new Error(`console sign-in failed: ${response.status} ${await response.text()}`);
  return /syncline_console=[^;]+/.exec(response.headers.get('set-cookie') ?? '')![0];
}

/** One scenario: `paths(i)` gives the i-th request's path; each answer must be 200 with at least `minItems` items. */
async function measure(baseUrl: string, cookie: string, paths: (i: number) => string, minItems: number) {
  const timings: number[] = [];
  for (let i = 0; i < WARMUP + REQUESTS; i++) {
    const path = paths(i);
    const started = performance.now();
    const response = await fetch(`${baseUrl}/console/api${path}`, { headers: { cookie, accept: 'application/json' } });
    const body = (await response.json()) as { items?: unknown[] };
    const elapsed = performance.now() - started;
    if (response.status !== 200) throw new Error(`${path}: ${response.status} ${JSON.stringify(body)}`);
    if ((body.items?.length ?? 0) < minItems) throw new Error(`${path}: ${body.items?.length ?? 0} items, expected at least ${minItems}`);
    if (i >= WARMUP) timings.push(elapsed);
  }
  timings.sort((a, b) => a - b);
  const round = (v: number) => Number(v.toFixed(1));
  const p95 = percentile(timings, 95);
  return { requests: REQUESTS, p50Ms: round(percentile(timings, 50)), p95Ms: round(p95), maxMs: round(timings.at(-1)!), met: p95 < TARGET_P95_MS };
}

export async function run(): Promise<void> {
  const database = await createTestDatabase();
  let server: ChildServer | undefined;
  try {
    server = await spawnSyncline(['api'], testEnvironment(database.url, { LOG_LEVEL: 'warn' }), { quiet: true });
    const baseUrl = server.baseUrl;
    // One order through the real intake: its document is the template every generated order copies.
    const token = await fetchToken(baseUrl, undefined, 'orders:write');
    const submitted = await submitOrder(baseUrl, token, sampleOrder({ channelOrderId: 'TEMPLATE-1' }));
    if (submitted.status !== 201) throw new Error(`template order refused: ${JSON.stringify(submitted.body)}`);
    const template = (await database.db.query<{ document: Record<string, unknown> }>('SELECT document FROM sales_order')).rows[0]!.document;
    const data = await generate(database, template);
    console.log(`generated ${JSON.stringify(data)}`);

    const email = 'bench.operator@example.com';
    const added = await addConsoleUser(database.db, { actor: 'cli:bench', correlationId: null }, { email, role: 'operator', name: 'Bench', password: PASSWORD });
    if (added.kind !== 'created') throw new Error(`console user: ${JSON.stringify(added)}`);
    const cookie = await signIn(baseUrl, email);

    // Keys the searches pick from: real e-mails and channel order ids, a cursor 90% deep.
    const sample = (await database.db.query<{ email: string; channel: string; channel_order_id: string }>(
      `SELECT customer_email AS email, channel, channel_order_id FROM sales_order TABLESAMPLE SYSTEM (2) LIMIT 500`,
    )).rows;
    const deep = (await database.db.query<{ id: string }>(`SELECT id FROM sales_order ORDER BY id DESC OFFSET $1 LIMIT 1`, [Math.floor(ORDERS * 0.9)])).rows[0]!.id;
    const statuses = ['on_hold', 'completed', 'cancelled', 'received', 'allocated', 'shipped'];
    const channels = ['shopify-us', 'shopify-eu', 'woocommerce', 'pos'];
    const reasons = [['erp.unknown_product', 'erp'], ['payment.declined', 'payment'], ['http.gone', 'webhook:sub_0'], ['wms.rejected', 'wms']];
    const pick = <T>(list: T[], i: number) => list[i % list.length]!;
    const q = (value: string) => encodeURIComponent(value);

    const scenarios: Array<[string, (i: number) => string, number]> = [
      ['orders: default list (newest 25)', () => '/orders', 25],
      ['orders: status filter', (i) => `/orders?status=${pick(statuses, i)}`, 1],
      ['orders: channel filter', (i) => `/orders?channel=${pick(channels, i)}`, 25],
      ['orders: customer e-mail search', (i) => `/orders?q=${q(pick(sample, i).email)}`, 1],
      ['orders: channel order id search', (i) => `/orders?q=${q(pick(sample, i).channel_order_id)}`, 1],
      ['orders: deep page (before, 90% down)', () => `/orders?before=${deep}`, 25],
      ['orders: status + channel, deep page', (i) => `/orders?status=completed&channel=${pick(channels, i)}&before=${deep}`, 25],
      ['exceptions: groups + first page', () => '/exceptions', 25],
      ['exceptions: filtered by reason and system', (i) => `/exceptions?reason=${q(pick(reasons, i)[0]!)}&target=${q(pick(reasons, i)[1]!)}`, 25],
    ];
    const results: Array<{ scenario: string } & Awaited<ReturnType<typeof measure>>> = [];
    for (const [scenario, paths, minItems] of scenarios) {
      const measured = await measure(baseUrl, cookie, paths, minItems);
      results.push({ scenario, ...measured });
      console.log(`${scenario.padEnd(44)} p50 ${String(measured.p50Ms).padStart(6)} ms  p95 ${String(measured.p95Ms).padStart(6)} ms  ${measured.met ? 'met' : 'NOT MET'}`);
    }
    const file = writeResult('console', {
      method: `${REQUESTS} sequential requests per scenario after ${WARMUP} unmeasured, one signed-in operator, syncline api on a fresh database`,
      targetP95Ms: TARGET_P95_MS,
      data,
      scenarios: results,
      allMet: results.every((r) => r.met),
    });
    console.log(`wrote ${file}`);
  } finally {
    if (server) await stopAll([server.child]);
    // BENCH_KEEP_DB=1 keeps the generated database for EXPLAIN ANALYZE (dropped otherwise).
    if (process.env.BENCH_KEEP_DB === '1') {
      console.log(`kept database ${database.name}: psql -h 127.0.0.1 -U postgres ${database.name}`);
      await database.db.close();
    } else await database.drop();
  }
}

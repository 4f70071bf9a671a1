import { randomUUID } from 'node:crypto';
import { CustomerService } from '../src/domain/customers/customer.service.ts';
import { DataRequestService } from '../src/domain/customers/data-request.service.ts';
import { createTestDatabase } from '../test/support/postgres.ts';
import { startTestServer } from '../test/support/server.ts';
import { sampleOrder, submitOrder } from '../test/support/orders.ts';
import { startCpuMeter, writeResult } from './support.ts';

/**
 * `npm run bench -- erasure` (docs/benchmarks.md#erasure): the cost of one erase (ADR 0039) as
 * the database grows. The erase sweeps every text and json column of every table, so its cost
 * follows the size of the database, not the customer. Each round: a customer with three orders
 * taken through the intake API and resolved, among BACKGROUND other orders, each with a copy of
 * its document in an event and a timeline entry (written by SQL: the population, not the path
 * measured). Reports the erase's wall time, Node CPU and database CPU.
 */

const SIZES = (process.env.ERASURE_BACKGROUND ?? '10000,50000').split(',').map(Number);

async function round(background: number) {
  const database = await createTestDatabase();
  const server = await startTestServer(database.url);
  try {
    const token = await server.token();
    const customer = { email: 'bench.subject@example.org', name: 'Bench Subject', phone: '+1 415 555 0111' };
    const customers = new CustomerService(database.db);
    for (let i = 0; i < 3; i++) {
      const order = await submitOrder(server.baseUrl, token, sampleOrder({ customer, channelOrderId: `BENCH-${randomUUID()}` }));
      if (order.status !== 201) throw new Error(`order: ${order.status}`);
      await customers.resolveOrder(order.body, { correlationId: 'bench' });
    }
    const template = (await database.db.query<{ document: Record<string, unknown> }>('SELECT document FROM sales_order LIMIT 1')).rows[0]!.document;
    await database.db.query(
      `INSERT INTO sales_order (id, channel, channel_order_id, status, currency, grand_total, placed_at, created_at, updated_at, correlation_id, customer_email, document)
       SELECT 'ord_bg' || g, 'web', 'BG-' || g, 'released', 'USD', 48.48, now(), now(), now(), 'bench', 'shopper' || g || '@example.com',
              jsonb_set(jsonb_set(jsonb_set($1::jsonb, '{id}', to_jsonb('ord_bg' || g)), '{customer}', jsonb_build_object('email', 'shopper' || g || '@example.com', 'name', 'Shopper ' || g)),
                        '{shippingAddress,name}', to_jsonb('Shopper ' || g))
         FROM generate_series(1, $2::int) AS g`,
      [JSON.stringify(template), background],
    );
    await database.db.query(
      `INSERT INTO outbox_event (id, type, source, subject, time, correlation_id, data)
       SELECT 'evt_bg' || s.id, 'order.amended', '/syncline/orders', s.id, now(), 'bench', jsonb_build_object('previous', s.document) FROM sales_order s WHERE s.id LIKE 'ord_bg%'`,
    );
    await database.db.query(
      `INSERT INTO order_timeline (order_id, at, system, action, outcome, correlation_id, detail)
       SELECT s.id, now(), 'syncline', 'order.received', 'succeeded', 'bench', jsonb_build_object('customer', s.document->'customer') FROM sales_order s WHERE s.id LIKE 'ord_bg%'`,
    );
    await database.db.query('ANALYZE');
    const size = (await database.db.query<{ bytes: string }>('SELECT pg_database_size(current_database())::text AS bytes')).rows[0]!.bytes;
    const { customerId } = (await customers.customerOfOrder((await database.db.query<{ order_id: string }>('SELECT order_id FROM order_customer LIMIT 1')).rows[0]!.order_id))!;
    const meter = await startCpuMeter(database.url, [process.pid]);
    const cpu = process.cpuUsage();
    const started = performance.now();
    const result = await new DataRequestService(database.db).request(customerId, 'erase', { actor: 'bench', correlationId: 'bench' });
    const ms = performance.now() - started;
    const node = process.cpuUsage(cpu);
    const used = await meter.stop();
    if (result.kind !== 'created') throw new Error(`erase: ${result.kind}`);
    const left = await database.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sales_order WHERE document::text ILIKE '%bench subject%' OR document::text ILIKE '%bench.subject@%'`);
    return { backgroundOrders: background, databaseMiB: Math.round(Number(size) / 2 ** 20), eraseMs: Math.round(ms), nodeCpuMs: Math.round((node.user + node.system) / 1000), databaseCpuMs: Math.round(used.databaseMs), ordersLeftWithPersonalData: left.rows[0]!.n };
  } finally {
    await server.close();
    await database.drop();
  }
}

export async function run(): Promise<void> {
  const rounds = [];
  for (const background of SIZES) {
    const r = await round(background);
    console.log(`${r.backgroundOrders} background orders (${r.databaseMiB} MiB): erase ${r.eraseMs} ms, node CPU ${r.nodeCpuMs} ms, database CPU ${r.databaseCpuMs} ms`);
    rounds.push(r);
  }
  console.log(writeResult('erasure', { rounds }));
}

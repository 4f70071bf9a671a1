import Fastify from 'fastify';
import pg from 'pg';

/**
 * The do-it-yourself baseline of the intake benchmark: what a team writes in an afternoon instead
 * of Syncline. A bare Fastify route that stores the request body in one jsonb column, one insert
 * per request: no authentication, no validation, no idempotency, no outbox, no group commit.
 * Usage: node bench/intake-diy-server.ts <database url>; prints `LISTENING <url>` when ready.
 */
const databaseUrl = process.argv[2];
if (!databaseUrl) {
  console.error('usage: node bench/intake-diy-server.ts <database url>');
  process.exit(2);
}
// The same pool size as Syncline's default (SYNCLINE_DB_POOL_SIZE = 20).
const pool = new pg.Pool({ connectionString: databaseUrl, max: 20 });
await pool.query('CREATE TABLE IF NOT EXISTS diy_order (id bigserial PRIMARY KEY, body jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now())');
const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.post('/v1/orders', async (request, reply) => {
  const { rows } = await pool.query<{ id: string }>('INSERT INTO diy_order (body) VALUES ($1) RETURNING id', [request.body]);
  return reply.code(201).send({ id: rows[0]!.id });
});
const url = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(`LISTENING ${url}`);
const stop = async () => {
  await app.close();
  await pool.end();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());

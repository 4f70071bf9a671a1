import { DBOS } from '@dbos-inc/dbos-sdk';
import { createConnectors } from '../src/connectors/connectors.ts';
import type { ConnectorSettings } from '../src/connectors/connectors.ts';
import { InventoryService } from '../src/domain/inventory/inventory.service.ts';
import { orderPlacedSteps, type PlacedState } from '../src/flows/order-placed/order-placed.steps.ts';
import type { FlowDeps } from '../src/flows/flow-deps.ts';
import { singleErpRouter } from '../src/flows/erp-routing/erp-router.ts';
import type { StepRun } from '../src/flows/kit/flow-runner.ts';
import { createLogger } from '../src/observability/logger.ts';
import { openPostgres } from '../src/store/postgres.database.ts';
import { findOrderById } from '../src/store/orders/order-queries.ts';
import { readOrderFlow, startOrderFlow } from '../src/store/orders/order-lifecycle-queries.ts';

/**
 * One DBOS Transact worker process for the flow benchmark (bench/flow.bench.ts). The
 * order-placed flow as a DBOS workflow whose id is the order id: one DBOS step loads the
 * order (and creates its flow row, as Syncline's start does), then one DBOS step per flow
 * step runs that step's forward action — the same connector clients making the same HTTP
 * calls to the sandboxes, and the same domain calls (inventory.reserve) — and applies its
 * local effects (order status, fulfilment rows, order events, the loyalty job) in one
 * transaction of the application database. DBOS checkpoints each step's result in its own
 * system database, which is what makes the workflow resumable.
 *
 * With BARE=1 it is the floor both engines stand on: the same steps and the same local
 * writes, called one after the other with no durability at all (no DBOS, no step records):
 * what is left once an engine's own cost is taken away.
 *
 * Environment: APP_DATABASE_URL, DBOS_SYSTEM_DATABASE_URL, BENCH_CONNECTORS (JSON
 * connector settings), CONCURRENCY, EXECUTOR_ID, POLL_MS (queue polling). Prints "ready"
 * once launched. Queue mode: the benchmark enqueues with DBOSClient on the queue
 * "orders". Direct mode: it sends {ids} over IPC and this process starts each workflow
 * with DBOS.startWorkflow, CONCURRENCY at a time, and answers {done} when all finished.
 */
const concurrency = Number(process.env.CONCURRENCY ?? 10);
const logger = createLogger('warn');
const db = openPostgres({ connectionString: process.env.APP_DATABASE_URL!, poolSize: Number(process.env.POOL_SIZE ?? 8) });
const connectors = createConnectors(JSON.parse(process.env.BENCH_CONNECTORS!) as ConnectorSettings);
const deps: FlowDeps = {
  db,
  connectors,
  erps: singleErpRouter(connectors.erp),
  inventory: new InventoryService(db, logger),
  routing: { kinds: ['warehouse', 'store'], priorities: {} },
  returnWindowDays: 30,
};
const steps = orderPlacedSteps(deps);
const never = new AbortController().signal;
const bare = process.env.BARE === '1';
/** A DBOS step, or (bare) the function itself. */
const step = <R>(fn: () => Promise<R>, config: Parameters<typeof DBOS.runStep>[1]): Promise<R> => (bare ? fn() : DBOS.runStep(fn, config));

async function placeOrder(orderId: string): Promise<string> {
  const loaded = await step(
    async () => {
      const order = await findOrderById(db, orderId);
      if (!order) throw new Error(`no order ${orderId}`);
      await db.transaction((tx) => startOrderFlow(tx, order));
      return { order, flow: (await readOrderFlow(db, orderId))! };
    },
    { name: 'order.load' },
  );
  const state: PlacedState = { ...loaded, results: {} };
  const run: StepRun = { orderId, correlationId: `bench-${orderId}`, attempt: 1, signal: never, via: () => ({ correlationId: `bench-${orderId}` }) };
  for (const flowStep of steps) {
    const outcome = await step(
      async () => {
        const result = await flowStep.forward(state, run);
        if (result.apply) await db.transaction((tx) => result.apply!(tx));
        return result.kind === 'done' ? { done: true as const, result: result.result ?? {} } : { done: false as const, outcome: result.outcome };
      },
      { name: flowStep.id, retriesAllowed: true, maxAttempts: 10, intervalSeconds: 0.5 },
    );
    if (!outcome.done) return `${flowStep.id}:${outcome.outcome}`;
    state.results[flowStep.id] = outcome.result;
  }
  return 'released';
}

const workflow = bare ? placeOrder : DBOS.registerWorkflow(placeOrder, { name: 'placeOrder' });
const start = async (id: string) => (bare ? placeOrder(id) : (await DBOS.startWorkflow(workflow, { workflowID: id })(id)).getResult());

if (!bare) {
  DBOS.setConfig({
    name: 'syncline-flow-bench',
    systemDatabaseUrl: process.env.DBOS_SYSTEM_DATABASE_URL!,
    systemDatabasePoolSize: Number(process.env.POOL_SIZE ?? 8),
    executorID: process.env.EXECUTOR_ID ?? 'bench-0',
    applicationVersion: 'bench',
    logLevel: 'error',
  });
  await DBOS.launch();
  await DBOS.registerQueue('orders', { workerConcurrency: concurrency, minPollingIntervalMs: Number(process.env.POLL_MS ?? 50), onConflict: 'always_update' });
}
console.log('ready');

process.on('message', (message: { ids: string[] }) => {
  void (async () => {
    const ids = [...message.ids];
    const lane = async () => {
      for (let id = ids.shift(); id !== undefined; id = ids.shift()) await start(id);
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
    process.send!({ done: true });
  })().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
});

process.once('SIGTERM', () => {
  void (bare ? Promise.resolve() : DBOS.shutdown())
    .then(() => db.close())
    .then(() => process.exit(0));
});

import { run } from 'graphile-worker';

/**
 * One graphile-worker process for the runtime benchmark: the same trivial task and the
 * same concurrency as a Syncline worker process. Prints "ready" once it listens.
 */
const runner = await run({
  connectionString: process.env.DATABASE_URL!,
  concurrency: Number(process.env.CONCURRENCY ?? 10),
  maxPoolSize: Number(process.env.POOL_SIZE ?? 8),
  noHandleSignals: true,
  ...(process.env.LOCAL_QUEUE ? { preset: { worker: { localQueue: { size: Number(process.env.LOCAL_QUEUE) }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } } } : {}),
  taskList: { 'bench.noop': async () => {} },
  logger: undefined,
});
console.log('ready');
process.once('SIGTERM', () => {
  void runner.stop().then(() => process.exit(0));
});

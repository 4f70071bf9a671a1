import { run } from 'graphile-worker';

/**
 * One graphile-worker process for the runtime benchmark: the same trivial task and the
 * same concurrency as a Syncline worker process. GRAPHILE_PRESET (JSON) holds the
 * `preset.worker` options of the configuration measured (local queue, batched
 * completions, pool size); empty means graphile-worker's defaults. Prints "ready" once it listens.
 */
const preset = JSON.parse(process.env.GRAPHILE_PRESET || '{}') as Record<string, unknown>;
const runner = await run({
  connectionString: process.env.DATABASE_URL!,
  concurrency: Number(process.env.CONCURRENCY ?? 10),
  maxPoolSize: Number(process.env.POOL_SIZE ?? 8),
  noHandleSignals: true,
  ...(Object.keys(preset).length > 0 ? { preset: { worker: preset } } : {}),
  taskList: { 'bench.noop': async () => {} },
  logger: undefined,
});
console.log('ready');
process.once('SIGTERM', () => {
  void runner.stop().then(() => process.exit(0));
});

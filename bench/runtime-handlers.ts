import type { RuntimeRegistry } from '../src/runtime/registry.ts';

/** The benchmark's trivial job, loaded by `syncline worker` through SYNCLINE_HANDLER_MODULES. */
export function register(registry: RuntimeRegistry): void {
  registry.register('bench.noop', async () => {});
}

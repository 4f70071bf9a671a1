import type { RuntimeRegistry } from '../../src/runtime/registry.ts';
import type { HandlerModuleContext } from '../../src/runtime/handler-modules.ts';
import { EVENT_TYPES } from '../../src/model/cloud-event.ts';

/**
 * A handler module (SYNCLINE_HANDLER_MODULES) for shutdown tests: every accepted order starts a
 * job that opens a transaction and never ends it, ignores its abort signal and keeps a timer
 * alive: the worst a handler can do to a process asked to stop. On PGlite (one connection) the
 * open transaction also holds up every other statement of the process, the worker's own
 * bookkeeping and the database's close included.
 */
export function register(registry: RuntimeRegistry, { db }: HandlerModuleContext): void {
  registry.subscribe({
    name: 'test-stubborn',
    types: [EVENT_TYPES.orderCreated],
    lane: 'normal',
    handle: () =>
      db.transaction(
        () =>
          new Promise<void>(() => {
            // The test waits for this line before it sends SIGTERM.
            process.stdout.write('{"msg":"stubborn job running"}\n');
            setInterval(() => {}, 1000);
          }),
      ),
  });
}

import type { RuntimeRegistry } from '../../src/runtime/registry.ts';
import { EVENT_TYPES } from '../../src/model/cloud-event.ts';

/**
 * A handler module (SYNCLINE_HANDLER_MODULES) for shutdown tests: every accepted order starts a
 * job that never finishes, ignores its abort signal and keeps a timer alive, the worst a
 * handler can do to a process that is asked to stop.
 */
export function register(registry: RuntimeRegistry): void {
  registry.subscribe({
    name: 'test-stubborn',
    types: [EVENT_TYPES.orderCreated],
    lane: 'normal',
    handle: () =>
      new Promise<void>(() => {
        // The test waits for this line before it sends SIGTERM.
        process.stdout.write('{"msg":"stubborn job running"}\n');
        setInterval(() => {}, 1000);
      }),
  });
}

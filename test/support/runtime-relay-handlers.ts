import { setTimeout as sleep } from 'node:timers/promises';
import type { RuntimeRegistry } from '../../src/runtime/registry.ts';
import type { HandlerModuleContext } from '../../src/runtime/handler-modules.ts';

/**
 * An outbox subscriber for relay tests, loaded by real `syncline worker` processes through
 * SYNCLINE_HANDLER_MODULES. Every run is logged in test_relay_run; the effect, kept once per
 * event in test_relay_effect, records the order in which subjects saw their events.
 * test_dispatch is filled by a trigger: one row per job the relay enqueued.
 */
export const RELAY_TEST_TABLES = `
  CREATE TABLE test_relay_run (id bigserial PRIMARY KEY, event_id text NOT NULL, subject text NOT NULL, seq integer NOT NULL, worker text NOT NULL);
  CREATE TABLE test_relay_effect (event_id text PRIMARY KEY, subject text NOT NULL, seq integer NOT NULL, applied bigserial);
  CREATE TABLE test_dispatch (id bigserial PRIMARY KEY, job_id bigint NOT NULL, job_key text, ordering_key text, lane smallint NOT NULL);
  CREATE FUNCTION test_record_dispatch() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO test_dispatch (job_id, job_key, ordering_key, lane) VALUES (NEW.id, NEW.job_key, NEW.ordering_key, NEW.lane);
    RETURN NEW;
  END $$;
  CREATE TRIGGER test_record_dispatch AFTER INSERT ON runtime_job FOR EACH ROW WHEN (NEW.type = 'event:relay-probe') EXECUTE FUNCTION test_record_dispatch();
`;

export function register(registry: RuntimeRegistry, { db }: HandlerModuleContext): void {
  const worker = `pid-${process.pid}`;
  registry.subscribe({
    name: 'relay-probe',
    types: ['test.relay.*'],
    lane: 'normal',
    handle: async (event) => {
      const { seq } = event.data as { seq: number };
      await db.query('INSERT INTO test_relay_run (event_id, subject, seq, worker) VALUES ($1, $2, $3, $4)', [event.id, event.subject, seq, worker]);
      await sleep(3);
      await db.query('INSERT INTO test_relay_effect (event_id, subject, seq) VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING', [event.id, event.subject, seq]);
    },
  });
}

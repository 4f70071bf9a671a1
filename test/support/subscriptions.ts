import { loadConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { newId } from '../../src/model/ids.ts';
import { appendEvents } from '../../src/runtime/outbox/outbox.ts';
import { startSyncline, type RunningSyncline } from '../../src/syncline.ts';
import { call } from './orders.ts';
import { createTestDatabase, type TestDatabase } from './postgres.ts';
import { fetchToken, testEnvironment } from './server.ts';

/** Syncline (API and worker in this process) on its own database, with fast webhook retries. */
export interface SubscriptionRig {
  database: TestDatabase;
  running: RunningSyncline;
  /** The environment this rig's Syncline runs with (to start more processes on the same database). */
  env: Record<string, string>;
  baseUrl: string;
  /** A token with events:manage. */
  token: string;
  api(method: string, path: string, body?: unknown, token?: string): ReturnType<typeof call>;
  /** Commits events (one transaction each) of the given type and subjects; returns their ids in commit order. */
  emit(type: string, subjects: readonly string[], data?: Record<string, unknown>): Promise<string[]>;
  close(): Promise<void>;
}

/** Starts a rig (API, and a worker unless workers is false); env overrides the fast defaults. */
export async function startSubscriptionRig(env: Record<string, string> = {}, options: { workers?: boolean } = {}): Promise<SubscriptionRig> {
  const database = await createTestDatabase();
  const environment = testEnvironment(database.url, {
    SYNCLINE_WORKER_POLL_MS: '50',
    SYNCLINE_WEBHOOK_RETRY_SCHEDULE_MS: '100,200,400',
    SYNCLINE_WEBHOOK_BREAKER_COOLDOWN_MS: '300',
    SYNCLINE_WEBHOOK_TIMEOUT_MS: '1000',
    SYNCLINE_WEBHOOK_PAUSE_AFTER_MS: '3600000',
    ...env,
  });
  const config = loadConfig(environment);
  let running: RunningSyncline;
  try {
    running = await startSyncline(config, createLogger(config.logLevel), { api: true, workers: options.workers !== false });
  } catch (error) {
    await database.drop();
    throw error;
  }
  const baseUrl = running.url!;
  const token = await fetchToken(baseUrl, undefined, 'events:manage');
  return {
    database,
    running,
    env: environment,
    baseUrl,
    token,
    api: (method, path, body, other) => call(baseUrl, method, path, { token: other ?? token, ...(body !== undefined ? { body } : {}) }),
    async emit(type, subjects, data = {}) {
      const ids: string[] = [];
      for (const subject of subjects) {
        const id = newId('event');
        await database.db.transaction((tx) =>
          appendEvents(tx, [{ id, type, source: '/test', subject, time: new Date().toISOString(), correlationId: `c-${id}`, data: { subject, ...data } }]),
        );
        ids.push(id);
      }
      return ids;
    },
    async close() {
      await running.close().catch(() => {});
      await database.drop();
    },
  };
}

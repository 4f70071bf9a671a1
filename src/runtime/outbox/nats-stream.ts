import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nanos, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { JetStreamApiError, jetstreamManager, RetentionPolicy, StorageType, type StreamConfig } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { NatsSettings } from '../../config/config.ts';

/**
 * The JetStream stream Syncline publishes to: how to reach the server and what a stream
 * created by Syncline looks like. An existing stream is never changed (ADR 0013).
 */

/** How long the stream keeps a message (limits retention): 7 days. */
export const STREAM_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;
/** JetStream drops a message whose Nats-Msg-Id it has seen within this window: 2 minutes. */
export const STREAM_DUPLICATE_WINDOW_MS = 2 * 60 * 1000;

/** The settings of a stream Syncline creates when it finds none of that name. */
export function defaultStreamConfig(settings: NatsSettings): Partial<StreamConfig> & { name: string } {
  return {
    name: settings.stream,
    subjects: [`${settings.subjectPrefix}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_age: nanos(STREAM_MAX_AGE_MS),
    duplicate_window: nanos(STREAM_DUPLICATE_WINDOW_MS),
  };
}

/** Opens a connection that reconnects by itself; the credentials come from settings and are never logged. */
export async function connectNats(settings: NatsSettings, name = 'syncline'): Promise<NatsConnection> {
  const options: NodeConnectionOptions = {
    servers: settings.servers,
    name,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    // A cluster's gossip may name addresses this machine cannot reach; keep to the configured ones.
    ignoreClusterUpdates: true,
    timeout: 5000,
  };
  const auth = settings.auth;
  if (auth && 'token' in auth) options.token = auth.token;
  else if (auth && 'user' in auth) Object.assign(options, { user: auth.user, pass: auth.password });
  else if (auth && 'credsFile' in auth) options.authenticator = credsAuthenticator(() => new Uint8Array(readFileSync(auth.credsFile)));
  return connect(options);
}

/**
 * Creates the stream with the defaults when it is missing. When it exists, its settings
 * stay as the operator made them; the ones that differ from the defaults are logged (a
 * stream that does not take our subjects makes every publish fail, and the relay retry).
 */
export async function ensureStream(nc: NatsConnection, settings: NatsSettings, logger: Logger): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const wanted = defaultStreamConfig(settings);
  let existing: StreamConfig;
  try {
    existing = (await jsm.streams.info(settings.stream)).config;
  } catch (error) {
    if (!(error instanceof JetStreamApiError) || error.code !== 10059) throw error;
    await jsm.streams.add(wanted);
    logger.info({ stream: settings.stream, subjects: wanted.subjects }, 'NATS stream created');
    return;
  }
  const differs: Record<string, { wanted: unknown; found: unknown }> = {};
  for (const key of ['subjects', 'storage', 'retention', 'max_age', 'duplicate_window'] as const) {
    if (JSON.stringify(existing[key]) !== JSON.stringify(wanted[key])) differs[key] = { wanted: wanted[key], found: existing[key] };
  }
  if (Object.keys(differs).length > 0) logger.warn({ stream: settings.stream, differs }, 'NATS stream exists with other settings; left as it is');
}

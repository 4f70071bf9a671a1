import type { Config } from '../../config/config.ts';
import type { ConnectionSettings } from '../../config/connections-file.ts';
import type { Database } from '../../store/database.ts';
import { countListings, readConnectionStates, type ConnectionStateRow } from '../../store/channels/channel-queries.ts';
import { listTargetStatus, type TargetStatusRow } from '../../store/runtime/target-queries.ts';
import { connectionTarget } from '../kit/channel-connector.ts';
import { maskSecrets, SYSTEM_CONNECTOR_OF, SYSTEM_CONNECTORS, SYSTEM_KINDS } from './connector-registry.ts';

/** A connection as operators see it: never a secret. */
export interface ConnectionView {
  id: string;
  connector: string;
  kind: string;
  /** file: syncline.yaml; environment: SYNCLINE_*_URL; sandbox: served by the sandbox `syncline start` runs; unset: nothing configured. */
  source: 'file' | 'environment' | 'sandbox' | 'unset';
  /** ok; degraded: the last outbound call failed; down: its breaker is open; waiting: no outbound credentials, outbound jobs wait; uninstalled. */
  health: 'ok' | 'degraded' | 'down' | 'waiting' | 'uninstalled';
  options: Record<string, unknown>;
  uninstalled: boolean;
  uninstalledAt: string | null;
  lastInboundAt: string | null;
  lastOutboundAt: string | null;
  lastOutboundError: { code: string; message: string; at: string } | null;
  target: { name: string; breaker: string; blockedUntil: string | null; running: number; waiting: number; policy: Record<string, unknown> | null };
  /** Outbound jobs of this connection waiting in the queue (the target's waiting jobs). */
  pendingOutbound: number;
  /** Channels: where the channel sends its webhooks, the listings known, the reconciliation poll. */
  webhookPath?: string;
  listings?: number;
  reconcile?: { everySeconds: number; cursor: string | null; lastRunAt: string | null };
}

const iso = (value: Date | string | null | undefined) => (value ? new Date(value).toISOString() : null);

function view(
  base: Pick<ConnectionView, 'id' | 'connector' | 'kind' | 'source' | 'options'> & { targetName: string; noClient: boolean },
  state: ConnectionStateRow | undefined,
  target: TargetStatusRow | undefined,
): ConnectionView {
  const breaker = target?.breaker_state ?? 'closed';
  const health: ConnectionView['health'] = state?.uninstalled_at
    ? 'uninstalled'
    : breaker === 'open'
      ? 'down'
      : base.noClient
        ? 'waiting'
        : state?.last_outbound_error
          ? 'degraded'
          : 'ok';
  const { targetName, noClient: _noClient, ...rest } = base;
  return {
    ...rest,
    health,
    uninstalled: Boolean(state?.uninstalled_at),
    uninstalledAt: iso(state?.uninstalled_at),
    lastInboundAt: iso(state?.last_inbound_at),
    lastOutboundAt: iso(state?.last_outbound_at),
    lastOutboundError: state?.last_outbound_error ?? null,
    target: {
      name: targetName,
      breaker,
      blockedUntil: iso(target?.blocked_until),
      running: target?.jobs_running ?? 0,
      waiting: target?.jobs_waiting ?? 0,
      policy: target?.policy ?? null,
    },
    pendingOutbound: target?.jobs_waiting ?? 0,
  };
}

function channelView(c: ConnectionSettings, state: ConnectionStateRow | undefined, target: TargetStatusRow | undefined, listings: number): ConnectionView {
  const name = connectionTarget(c.connector, c.id);
  return {
    ...view({ id: c.id, connector: c.connector, kind: 'channel', source: 'file', options: maskSecrets(c.options, c.secretOptions), targetName: name, noClient: c.channel!.client(c.options) === null }, state, target),
    webhookPath: `/webhooks/${c.connector}/${c.id}`,
    listings,
    reconcile: { everySeconds: c.reconcileEverySeconds, cursor: state?.reconcile_cursor ?? null, lastRunAt: iso(state?.reconciled_at) },
  };
}

/** Every connection: the channel connections of syncline.yaml and the five systems the flows call. */
export async function listConnections(db: Database, config: Config): Promise<ConnectionView[]> {
  const [states, targets, listings] = await Promise.all([readConnectionStates(db), listTargetStatus(db), countListings(db)]);
  const stateOf = new Map(states.map((s) => [s.id, s]));
  const targetOf = new Map(targets.map((t) => [t.name, t]));
  const fromFile = new Map(config.connections.connections.map((c) => [c.kind, c]));
  const systems = SYSTEM_KINDS.map((kind) => {
    const file = fromFile.get(kind);
    const connector = file?.connector ?? SYSTEM_CONNECTOR_OF[kind];
    const secretOptions = SYSTEM_CONNECTORS.find((s) => s.connector === connector)?.secretOptions ?? [];
    const options = (config.systems[kind] ?? {}) as Record<string, unknown>;
    const source = config.connections.systemSources[kind] ?? (config.systems[kind] ? 'sandbox' : 'unset');
    // The flows call each system on the target named after its kind.
    return view({ id: file?.id ?? kind, connector, kind, source, options: maskSecrets(options, secretOptions), targetName: kind, noClient: false }, undefined, targetOf.get(kind));
  });
  // Several ERPs routed between (erpRouting): one entry per ERP connection, on its own target.
  const erps = config.connections.erpRouting
    ? config.connections.connections
        .filter((c) => c.kind === 'erp')
        .map((c) => {
          const name = connectionTarget(c.connector, c.id);
          return view({ id: c.id, connector: c.connector, kind: 'erp', source: 'file', options: maskSecrets(c.options, c.secretOptions), targetName: name, noClient: false }, undefined, targetOf.get(name));
        })
    : [];
  const channels = config.connections.connections
    .filter((c) => c.kind === 'channel')
    .map((c) => channelView(c, stateOf.get(c.id), targetOf.get(connectionTarget(c.connector, c.id)), listings.get(c.id) ?? 0));
  return [...channels, ...(erps.length ? [...erps, ...systems.filter((v) => v.kind !== 'erp')] : systems)];
}

import type { Config } from '../../config/config.ts';
import { createErpClient, type ConnectorSettings } from '../../connectors/connectors.ts';
import type { ErpConnector } from '../../connectors/kit/contracts.ts';
import { connectionTarget } from '../../connectors/kit/channel-connector.ts';
import { SYSTEM_CONNECTORS } from '../../connectors/registry/connector-registry.ts';
import type { TargetPolicy } from '../../runtime/targets/target-policy.ts';
import { SynclineError } from '../../domain/errors.ts';
import { chooseErp, type ErpRoute, type ErpRoutingRules } from '../../domain/orders/erp-routing.ts';
import type { Order } from '../../model/order.ts';
import type { Queryable } from '../../store/database.ts';
import { readErpRoute, recordErpRoute } from '../../store/erp-routing/erp-routing-queries.ts';
import { appendTimeline } from '../../store/orders/order-status.ts';

/**
 * The ERP connections the flows call and the routing between them (ADR 0029).
 *
 * Glossary
 *   ERP endpoint  one ERP connection: its id, its client, the runtime target its calls run on
 *   route         the endpoint (and shadow endpoint) recorded on an order when it is handed to
 *                 the back office; every later ERP call of the order reads it, never the rules
 */

/** The runtime target of the single ERP configured the old way (SYNCLINE_ERP_*, one connection). */
export const SINGLE_ERP_TARGET = 'erp';

export interface ErpEndpoint {
  /** The connection id (`erp` for the ERP set by SYNCLINE_ERP_* or served by the sandbox). */
  id: string;
  connector: string;
  /** `erp` for a single ERP; `<connector>:<id>` (e.g. `tryton:legacy`) when several are routed between. */
  target: string;
  client: ErpConnector;
}

export interface ErpRouter {
  /** The rules in force (one ERP: no rules, its id as default). */
  routing: ErpRoutingRules;
  /** Every ERP endpoint, the default first. */
  endpoints: readonly ErpEndpoint[];
  /** The endpoint of a connection id; a route naming a connection no longer configured fails (permanent), it is never re-routed. */
  endpoint(id: string): ErpEndpoint;
}

/** The runtime target of an ERP connection: its own when several ERPs are routed between, else `erp`. */
export function erpTarget(config: Config, id: string): string {
  const connection = config.connections.erpRouting ? config.connections.connections.find((c) => c.kind === 'erp' && c.id === id) : undefined;
  return connection ? connectionTarget(connection.connector, connection.id) : SINGLE_ERP_TARGET;
}

/** The ERP connection that owns the item master, which the product catalogue is synced from: `erpRouting.catalogue`, else the routing's default, else the one ERP. */
export function catalogueErpId(config: Config): string {
  const routing = config.connections.erpRouting;
  return routing?.catalogue ?? routing?.default ?? config.connections.connections.find((c) => c.kind === 'erp')?.id ?? 'erp';
}

/**
 * The policy of an ERP connection's target: the ERP's built-in policy (`base`), the connector's defaults,
 * the connection's limits, then SYNCLINE_TARGET_POLICIES under the target's name. The single
 * ERP's target `erp`: the built-in policy and SYNCLINE_TARGET_POLICIES.erp.
 */
export function erpTargetPolicy(config: Config, id: string, base: TargetPolicy): TargetPolicy {
  const target = erpTarget(config, id);
  const connection = target === SINGLE_ERP_TARGET ? undefined : config.connections.connections.find((c) => c.kind === 'erp' && c.id === id);
  const defaults = connection ? SYSTEM_CONNECTORS.find((s) => s.connector === connection.connector)?.defaultTargetPolicy : undefined;
  const layers = [base, defaults ?? {}, connection?.limits ?? {}, (config.targetPolicies[target] ?? {}) as TargetPolicy];
  return Object.assign({}, ...layers, { breaker: Object.assign({}, ...layers.map((l) => l.breaker)) }) as TargetPolicy;
}

/** The router of the configured ERPs; `single`: the client of the one ERP (tests may pass their own). */
export function createErpRouter(config: Config, single: ErpConnector): ErpRouter {
  const routing = config.connections.erpRouting;
  let endpoints: ErpEndpoint[];
  if (!routing) {
    const file = config.connections.connections.find((c) => c.kind === 'erp');
    endpoints = [{ id: file?.id ?? 'erp', connector: file?.connector ?? 'tryton', target: SINGLE_ERP_TARGET, client: single }];
  } else {
    endpoints = config.connections.connections
      .filter((c) => c.kind === 'erp')
      .sort((a, b) => Number(b.id === routing.default) - Number(a.id === routing.default))
      .map((c) => ({ id: c.id, connector: c.connector, target: erpTarget(config, c.id), client: createErpClient(c.options as ConnectorSettings['erp']) }));
  }
  return routerOf(endpoints, routing ?? { rules: [], default: endpoints[0]!.id });
}

/** The router of one ERP client on the `erp` target, without rules (benchmarks, tools). */
export function singleErpRouter(client: ErpConnector, id = 'erp'): ErpRouter {
  return routerOf([{ id, connector: client.system, target: SINGLE_ERP_TARGET, client }], { rules: [], default: id });
}

function routerOf(endpoints: ErpEndpoint[], routing: ErpRoutingRules): ErpRouter {
  const byId = new Map(endpoints.map((e) => [e.id, e]));
  return {
    routing,
    endpoints,
    endpoint(id) {
      const found = byId.get(id);
      if (!found) throw new SynclineError('erp.connection_unknown', `the order was routed to ERP connection "${id}", which is not configured any more; add it back to syncline.yaml`);
      return found;
    },
  };
}

/**
 * The order's route: the recorded one, else chosen now by the rules and recorded, with a
 * timeline entry, in `tx`. Choosing twice (a repeated run) keeps the first choice.
 */
export async function routeOrder(router: ErpRouter, tx: Queryable, order: Order, correlationId: string): Promise<{ erp: ErpEndpoint; shadow: ErpEndpoint | null }> {
  const recorded = await readErpRoute(tx, order.id);
  if (recorded) return recordedRoute(router, recorded);
  const route: ErpRoute = chooseErp(order, router.routing);
  if (await recordErpRoute(tx, order.id, { erp: route.erp, shadow: route.shadow })) {
    await appendTimeline(tx, order.id, [
      {
        system: 'syncline',
        action: 'order.erp-routed',
        outcome: 'succeeded',
        attempt: 1,
        durationMs: null,
        correlationId,
        detail: { erp: route.erp, shadow: route.shadow, rule: route.rule, target: router.endpoint(route.erp).target },
      },
    ]);
    return { erp: router.endpoint(route.erp), shadow: route.shadow ? router.endpoint(route.shadow) : null };
  }
  return routeOrder(router, tx, order, correlationId);
}

/** The endpoints of a route recorded earlier (read by the caller, with other things). */
export function recordedRoute(router: ErpRouter, recorded: { erp: string; shadow: string | null }): { erp: ErpEndpoint; shadow: ErpEndpoint | null } {
  return { erp: router.endpoint(recorded.erp), shadow: recorded.shadow ? router.endpoint(recorded.shadow) : null };
}

/** The ERP endpoint of an order's later calls (shipment, invoice, cancel, return): its recorded route, else the default. */
export async function erpOfOrder(router: ErpRouter, db: Queryable, orderId: string): Promise<ErpEndpoint> {
  const recorded = await readErpRoute(db, orderId);
  return router.endpoint(recorded?.erp ?? router.routing.default);
}

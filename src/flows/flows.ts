import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import type { Database } from '../store/database.ts';
import { createConnectors, type Connectors } from '../connectors/connectors.ts';
import { connectorSettingsFromConfig } from '../connectors/connector-settings.ts';
import { ProductService } from '../domain/products/product.service.ts';
import { InventoryService } from '../domain/inventory/inventory.service.ts';
import { EVENT_TYPES } from '../model/cloud-event.ts';
import type { ShipmentConfirmation } from '../model/shipment.ts';
import type { RuntimeRegistry } from '../runtime/registry.ts';
import type { JobPolicy } from '../runtime/runtime.ts';
import type { TargetPolicy } from '../runtime/targets/target-policy.ts';
import { cancelOrder, type CancelPayload } from './cancel/cancel.flow.ts';
import { FLOW_JOBS, TARGETS, type FlowDeps } from './flow-deps.ts';
import { awardLoyalty, reverseLoyalty, type ReversalPayload } from './loyalty/loyalty.flow.ts';
import { placeOrder, placementDeadLettered, releaseOrder, retryBackorders, skusFreedBy, startOnOrderCreated, type PlacePayload } from './order-placed/order-placed.flow.ts';
import { registerProductSync } from './products/product-sync.flow.ts';
import { registerCustomerResolution } from './customers/customer-resolution.flow.ts';
import { registerCustomerPropagation } from './customers/customer-propagation.flow.ts';
import { registerCrmPull } from './customers/crm-contacts.flow.ts';
import { CustomerService } from '../domain/customers/customer.service.ts';
import { registerCustomerRecordSync } from './customers/record-sync.flow.ts';
import { createErpRouter, erpTargetPolicy, SINGLE_ERP_TARGET } from './erp-routing/erp-router.ts';
import { cancelShadow, postShadow, shadowCancelDeadLettered, shadowDeadLettered, type ShadowPayload } from './erp-routing/erp-shadow.flow.ts';
import { processReturn, returnDeadLettered } from './return/return.flow.ts';
import { invoiceDeadLettered, invoiceOrder, recordShipment, shipmentDeadLettered } from './shipment/shipment.flow.ts';
import { amendOrder, amendmentService, type AmendPayload } from './amendment/amendment.flow.ts';

/**
 * Registers the order lifecycle flows with a worker: their job handlers, the outbox
 * subscriptions that start and resume them, and the policies of the systems they call.
 */

/** Built-in target policies; SYNCLINE_TARGET_POLICIES overrides them per target. */
export const DEFAULT_TARGET_POLICIES: Record<string, TargetPolicy> = {
  // The ERP is the slowest and most protective system: few requests at once, a rate limit, a breaker.
  // The limit counts HTTP requests (a posting is about seven): 10 per second is about 1.4 postings;
  // set the ERP's real quota with SYNCLINE_TARGET_POLICIES.
  [TARGETS.erp]: { ratePerSecond: 10, maxConcurrency: 4, timeoutMs: 30_000, maxWaitMs: 2000, breaker: { failureThreshold: 5, cooldownMs: 10_000 } },
  [TARGETS.wms]: { ratePerSecond: 50, maxConcurrency: 10, timeoutMs: 15_000 },
  [TARGETS.payment]: { ratePerSecond: 50, maxConcurrency: 10, timeoutMs: 15_000 },
  [TARGETS.fraud]: { ratePerSecond: 50, timeoutMs: 5000 },
  [TARGETS.loyalty]: { ratePerSecond: 20, timeoutMs: 5000, breaker: { failureThreshold: 3, cooldownMs: 30_000 } },
  // HubSpot allows 100 requests per rolling 10 seconds on Free and Starter portals.
  [TARGETS.crm]: { ratePerSecond: 9, maxConcurrency: 4, timeoutMs: 10_000, breaker: { failureThreshold: 5, cooldownMs: 30_000 } },
};

export interface FlowOptions {
  db: Database;
  config: Config;
  logger: Logger;
  /** (default: clients configured from config, the sandboxes for systems left unset) */
  connectors?: Connectors;
  /** (default: a new service on db; its background loops are not started here) */
  inventory?: InventoryService;
}

/** The flows' dependencies from configuration. */
export function flowDeps(options: FlowOptions): FlowDeps {
  const connectors = options.connectors ?? createConnectors(connectorSettingsFromConfig(options.config));
  return {
    db: options.db,
    connectors,
    inventory: options.inventory ?? new InventoryService(options.db, options.logger),
    products: new ProductService(options.db),
    routing: { kinds: options.config.routing.kinds, priorities: options.config.routing.priorities },
    erps: createErpRouter(options.config, connectors.erp),
    returnWindowDays: options.config.returnWindowDays,
  };
}

/** The CRM connection's id (the records' connection): its id in syncline.yaml, else `crm`. */
export function crmConnectionId(config: Config): string {
  return config.connections.connections.find((c) => c.kind === 'crm')?.id ?? 'crm';
}

/** The policy of one of the flows' targets: the built-in one, then SYNCLINE_TARGET_POLICIES under its name. */
export function flowTargetPolicy(config: Config, name: string): TargetPolicy {
  const policy = DEFAULT_TARGET_POLICIES[name] ?? {};
  const override = (config.targetPolicies[name] ?? {}) as TargetPolicy;
  return { ...policy, ...override, breaker: { ...policy.breaker, ...override.breaker } };
}

/** Adds the flows' handlers, subscriptions and targets to a worker's registry. */
export function registerFlows(registry: RuntimeRegistry, options: FlowOptions): FlowDeps {
  const deps = flowDeps(options);
  for (const name of Object.keys(DEFAULT_TARGET_POLICIES)) registry.defineTarget(name, flowTargetPolicy(options.config, name));
  // Several ERPs: each connection has its own target (`tryton:legacy`), with the ERP's built-in
  // policy, the connector's defaults, the connection's limits, then SYNCLINE_TARGET_POLICIES.
  for (const endpoint of deps.erps.endpoints.filter((e) => e.target !== SINGLE_ERP_TARGET)) {
    registry.defineTarget(endpoint.target, erpTargetPolicy(options.config, endpoint.id, DEFAULT_TARGET_POLICIES[TARGETS.erp]!));
  }
  const flowPolicy: JobPolicy = { maxAttempts: 30, backoffBaseMs: 500, backoffCapMs: options.config.flowBackoffCapMs, timeoutMs: 120_000 };
  registry.register<PlacePayload>(FLOW_JOBS.place, (payload, context) => placeOrder(deps, payload, context), flowPolicy, {
    onDeadLetter: (notice, tx) => placementDeadLettered(deps, notice, tx),
  });
  // The back-office part waits for the ERP's quota on the normal lane; the order's exception state is the same.
  registry.register<PlacePayload>(FLOW_JOBS.release, (payload, context) => releaseOrder(deps, payload, context), flowPolicy, {
    onDeadLetter: (notice, tx) => placementDeadLettered(deps, notice, tx),
  });
  registry.register<CancelPayload>(FLOW_JOBS.cancel, (payload, context) => cancelOrder(deps, payload, context), flowPolicy);
  // A flow after release that fails for good leaves the order's status alone and shows the exception.
  registry.register<ShipmentConfirmation>(FLOW_JOBS.shipment, (payload, context) => recordShipment(deps, payload, context), flowPolicy, {
    onDeadLetter: (notice, tx) => shipmentDeadLettered(deps, notice, tx),
  });
  registry.register<{ orderId: string }>(FLOW_JOBS.invoice, (payload, context) => invoiceOrder(deps, payload, context), flowPolicy, {
    onDeadLetter: (notice, tx) => invoiceDeadLettered(notice, tx),
  });
  registry.register<{ returnId: string }>(FLOW_JOBS.return, (payload, context) => processReturn(deps, payload, context), flowPolicy, {
    onDeadLetter: (notice, tx) => returnDeadLettered(deps, notice, tx),
  });
  // A shadow posting gives up sooner than the order's own work: its failure is only reported.
  registry.register<ShadowPayload>(FLOW_JOBS.erpShadow, (payload, context) => postShadow(deps, payload, context), { ...flowPolicy, maxAttempts: 8 }, {
    onDeadLetter: (notice, tx) => shadowDeadLettered(deps, notice, tx),
  });
  registry.register<ShadowPayload>(FLOW_JOBS.erpShadowCancel, (payload, context) => cancelShadow(deps, payload, context), { ...flowPolicy, maxAttempts: 8 }, {
    onDeadLetter: (notice, tx) => shadowCancelDeadLettered(notice, tx),
  });
  const loyalty: JobPolicy = { maxAttempts: 5, backoffBaseMs: 1000, backoffCapMs: options.config.flowBackoffCapMs };
  registry.register<{ orderId: string }>(FLOW_JOBS.loyalty, (payload, context) => awardLoyalty(deps, payload, context), loyalty);
  registry.register<ReversalPayload>(FLOW_JOBS.loyaltyReversal, (payload, context) => reverseLoyalty(deps, payload, context), loyalty);
  // The product catalogue's sync from the ERP (docs/products.md).
  if (deps.products) registerProductSync(registry, { db: deps.db, config: options.config, erps: deps.erps, products: deps.products });
  const amendments = amendmentService(deps.db, deps.inventory, deps.erps);
  registry.register<AmendPayload>(FLOW_JOBS.amend, (payload, context) => amendOrder(amendments, payload, context), flowPolicy);
  registry.subscribe({ name: 'order-placed', types: [EVENT_TYPES.orderCreated], lane: 'critical', handle: (event) => startOnOrderCreated(deps, event) });
  // The order's customer (docs/customers.md): after acceptance, on the bulk lane, never in intake.
  registerCustomerResolution(registry, deps.db, new CustomerService(deps.db, options.config.connections.customers));
  // Merges, unmerges, consent and erasure carried to the ERP, CRM and loyalty records (ADR 0038).
  registerCustomerPropagation(registry, { db: deps.db, connectors: deps.connectors, erps: deps.erps }, { backoffCapMs: options.config.flowBackoffCapMs });
  // CRM contacts coming in as `crm` records, pulled on a schedule (docs/customers.md#crm-contacts).
  registerCrmPull(registry, { db: deps.db, crm: deps.connectors.crm, customers: new CustomerService(deps.db, options.config.connections.customers), everySeconds: options.config.crmPullSeconds });
  // Customer records pulled from the ERPs and the loyalty service (docs/customers.md).
  registerCustomerRecordSync(registry, { db: deps.db, config: options.config, erps: deps.erps, loyalty: deps.connectors.loyalty });
  registry.subscribe({
    name: 'backorder-retry',
    types: [EVENT_TYPES.inventoryAdjusted, EVENT_TYPES.inventoryReleased],
    lane: 'normal',
    // A store flushing its offline sales moves stock thousands of times: only what frees units makes a job.
    accepts: (event) => skusFreedBy(event).length > 0,
    handle: (event) => retryBackorders(deps, event),
  });
  return deps;
}

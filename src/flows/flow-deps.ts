import type { Database, Queryable } from '../store/database.ts';
import type { Connectors } from '../connectors/connectors.ts';
import type { InventoryService } from '../domain/inventory/inventory.service.ts';
import type { OrderStatus } from '../model/order.ts';
import { lockOrderStatus, transitionOrder } from '../store/orders/order-status.ts';
import type { ProductService } from '../domain/products/product.service.ts';
import type { RoutingPolicy } from './order-placed/routing.ts';
import type { ErpRouter } from './erp-routing/erp-router.ts';

/** What the flows use: the store, the external systems, the inventory service and their settings. */
export interface FlowDeps {
  db: Database;
  connectors: Connectors;
  inventory: InventoryService;
  routing: RoutingPolicy;
  /** The product catalogue order validation checks lines against (absent: no catalogue check). */
  products?: ProductService;
  /** The ERP connections and the routing between them; every ERP call goes through the order's recorded route. */
  erps: ErpRouter;
  /** Days after shipment during which a return is accepted (default: 30). */
  returnWindowDays: number;
}

/** Targets (runtime rate limits and breakers) of the external systems the flows call. */
export const TARGETS = { erp: 'erp', wms: 'wms', payment: 'payment', fraud: 'fraud', loyalty: 'loyalty', crm: 'crm' } as const;

/** Job types of the flows. */
export const FLOW_JOBS = {
  place: 'flow.order-placed',
  /** The back-office part of the order-placed flow (ERP, capture, fulfilment), on the normal lane. */
  release: 'flow.order-release',
  cancel: 'flow.cancel',
  shipment: 'flow.shipment',
  invoice: 'flow.invoice',
  return: 'flow.return',
  loyalty: 'flow.loyalty-award',
  loyaltyReversal: 'flow.loyalty-reversal',
  /** A channel's newer version of an order, taken in between the parts of its flow (docs/adr/0023). */
  amend: 'flow.order-amend',
  /** Posts a routed order to its shadow ERP and compares (bulk lane, the shadow ERP's target). */
  erpShadow: 'flow.erp-shadow',
  /** Cancels an order's shadow sale after its own sale was cancelled (bulk lane, the shadow ERP's target). */
  erpShadowCancel: 'flow.erp-shadow-cancel',
} as const;

/** Every job about one order shares this ordering key, so the order's flows never interleave. */
export const orderingKey = (orderId: string) => `order:${orderId}`;

/** Where inventory writes made by flows keep their idempotency records. */
export const FLOW_IDEMPOTENCY_SCOPE = 'syncline-flows';

/**
 * Moves the order to `to` unless it is there already (a step repeated after a crash
 * finds its own change made). Returns true when the status changed.
 */
export async function advance(tx: Queryable, orderId: string, to: OrderStatus, from: readonly OrderStatus[]): Promise<boolean> {
  if ((await lockOrderStatus(tx, orderId)) === to) return false;
  await transitionOrder(tx, orderId, to, from);
  return true;
}

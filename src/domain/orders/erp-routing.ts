import stringify from 'safe-stable-stringify';
import type { Order } from '../../model/order.ts';
import type { Queryable } from '../../store/database.ts';
import { listAudit, recordAudit, type AuditContext } from '../audit/audit.ts';
import { selectShadowReports, type ShadowReportRow } from '../../store/erp-routing/erp-routing-queries.ts';

/**
 * Routing between ERPs (docs/connections.md, ADR 0029): which ERP connection an order goes to.
 *
 * Glossary
 *   rule     a condition on the order and the ERP connection it then goes to; the first rule
 *            that matches wins, the default takes the rest
 *   shadow   a second ERP the order is also posted to, to compare; the first stays the system
 *            of record
 *   route    the choice made for one order: recorded once, never made again
 */

/** What a rule looks at; every condition given must hold (an empty `when` matches every order). */
export interface ErpRoutingCondition {
  channel?: string;
  /** ISO 3166-1 alpha-2 code of the shipping address. */
  shipToCountry?: string;
  /** The order's `metadata.businessUnit`. */
  businessUnit?: string;
  /** Some line's SKU starts with this. */
  skuPrefix?: string;
}

export interface ErpRoutingRule {
  when: ErpRoutingCondition;
  erp: string;
  shadow?: string;
}

export interface ErpRoutingRules {
  rules: ErpRoutingRule[];
  default: string;
  /** The ERP connection that owns the item master, the catalogue's source (absent: `default`). */
  catalogue?: string;
}

/** The choice made for one order. `rule`: the index of the matching rule, null for the default. */
export interface ErpRoute {
  erp: string;
  shadow: string | null;
  rule: number | null;
}

/** True when every condition of `when` holds for the order. */
export function matchesCondition(order: Pick<Order, 'channel' | 'shippingAddress' | 'metadata' | 'lines'>, when: ErpRoutingCondition): boolean {
  if (when.channel !== undefined && order.channel !== when.channel) return false;
  if (when.shipToCountry !== undefined && order.shippingAddress.country.toUpperCase() !== when.shipToCountry.toUpperCase()) return false;
  if (when.businessUnit !== undefined && order.metadata?.businessUnit !== when.businessUnit) return false;
  if (when.skuPrefix !== undefined && !order.lines.some((l) => l.sku.startsWith(when.skuPrefix!))) return false;
  return true;
}

/** The ERP an order goes to under these rules: the first matching rule, else the default. */
export function chooseErp(order: Pick<Order, 'channel' | 'shippingAddress' | 'metadata' | 'lines'>, routing: ErpRoutingRules): ErpRoute {
  const index = routing.rules.findIndex((rule) => matchesCondition(order, rule.when));
  if (index < 0) return { erp: routing.default, shadow: null, rule: null };
  const rule = routing.rules[index]!;
  return { erp: rule.erp, shadow: rule.shadow ?? null, rule: index };
}

/**
 * Audits the routing rules in force at start: an `erp_routing.changed` event when they differ
 * from the last recorded ones (or when routing was configured before and is gone). Returns
 * true when it recorded one. Orders routed already keep their route whatever the change.
 */
export async function auditErpRouting(db: Queryable, routing: ErpRoutingRules | undefined, who: AuditContext): Promise<boolean> {
  const { items } = await listAudit(db, { action: 'erp_routing.changed' }, { limit: 1 });
  const last = items[0]?.details.routing as ErpRoutingRules | null | undefined;
  if (!routing && !last) return false;
  if (stringify(routing ?? null) === stringify(last ?? null)) return false;
  await recordAudit(db, who, {
    action: 'erp_routing.changed',
    targetType: 'erp_routing',
    targetId: 'syncline.yaml',
    details: { routing: routing ?? null, previous: last ?? null },
  });
  return true;
}

/** A page of shadow reports, newest order first; `next` is the cursor of the following page. */
export async function listErpShadowReports(
  db: Queryable,
  filter: { outcome?: 'matched' | 'different' | 'failed'; shadowErp?: string },
  page: { limit: number; cursor?: string },
): Promise<{ items: ShadowReportRow[]; next: string | null }> {
  const rows = await selectShadowReports(db, { ...filter, before: page.cursor }, page.limit + 1);
  const items = rows.slice(0, page.limit);
  return { items, next: rows.length > page.limit ? items.at(-1)!.orderId : null };
}

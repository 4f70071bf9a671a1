import type { CallContext, ErpConnector, ErpSale, ErpSaleCustomer, ErpSaleDetail, ErpSaleLine } from '../../connectors/kit/contracts.ts';
import { SynclineError } from '../../domain/errors.ts';
import { toScaled } from '../../model/money.ts';
import type { DeadLetterNotice, HandlerContext } from '../../runtime/runtime.ts';
import type { Queryable } from '../../store/database.ts';
import { readErpRoute, recordShadowCancel, upsertShadowReport, type ShadowReportRow } from '../../store/erp-routing/erp-routing-queries.ts';
import { findOrderById } from '../../store/orders/order-queries.ts';
import { appendTimeline, readOrderStatus } from '../../store/orders/order-status.ts';
import { FLOW_JOBS, type FlowDeps } from '../flow-deps.ts';

/**
 * Shadow mode (ADR 0029): an order routed by a rule with `shadow` is also posted to the shadow
 * ERP, as a job of its own on the bulk lane and the shadow ERP's target, after the system of
 * record posted it. Its ordering key is its own (`erp-shadow:<order>`), not the order's: it never
 * holds up the order's own jobs. What the two ERPs computed (amounts and taxes, lines, customer)
 * is compared and kept in erp_shadow_report (GET /v1/ops/erp-shadow); a shadow posting that
 * fails for good is reported as failed, and the order never notices. When the order's sale is
 * cancelled, the shadow sale is cancelled too (a job after the posting, same key).
 */

export interface ShadowPayload {
  orderId: string;
}

/** The shadow jobs of one order run one at a time, in order (the posting, then its cancel), apart from the order's own jobs. */
const shadowOrderingKey = (orderId: string) => `erp-shadow:${orderId}`;

/** The job posting one order to its shadow ERP (queued once: its job key). */
export const shadowJob = (orderId: string, target: string, correlationId: string) => ({
  type: FLOW_JOBS.erpShadow,
  payload: { orderId } satisfies ShadowPayload,
  lane: 'bulk' as const,
  target,
  orderingKey: shadowOrderingKey(orderId),
  jobKey: `erp-shadow:${orderId}`,
  correlationId,
});

/** The job cancelling an order's shadow sale when the order's own sale is cancelled (queued once: its job key). */
export const shadowCancelJob = (orderId: string, target: string, correlationId: string) => ({
  type: FLOW_JOBS.erpShadowCancel,
  payload: { orderId } satisfies ShadowPayload,
  lane: 'bulk' as const,
  target,
  orderingKey: shadowOrderingKey(orderId),
  jobKey: `erp-shadow-cancel:${orderId}`,
  correlationId,
});

type Difference = ShadowReportRow['differences'][number];

/** The sale fields compared between the two ERPs; amounts are compared as exact decimals. */
const COMPARED = ['untaxedAmount', 'taxAmount', 'totalAmount', 'currency'] as const;
/** The fields of a line compared, per SKU (and occurrence of the SKU). */
const LINE_FIELDS = ['quantity', 'unitPrice', 'amount', 'taxPercent'] as const;

/** "48.5" and "48.50" are the same amount: compared as scaled integers, never as floats; a value that is not a decimal compares as text. */
const sameAmount = (a: string, b: string) => {
  if (a === b) return true;
  try {
    return toScaled(a, 8) === toScaled(b, 8);
  } catch {
    return false;
  }
};

/** The differences between the amounts the system of record and the shadow ERP computed for one sale. */
export function compareSales(primary: ErpSale, shadow: ErpSale): Difference[] {
  return COMPARED.filter((field) => (field === 'currency' ? primary.currency !== shadow.currency : !sameAmount(primary[field], shadow[field]))).map((field) => ({
    field,
    primary: primary[field],
    shadow: shadow[field],
  }));
}

/**
 * The differences between the two ERPs' lines: lines are paired by SKU (the n-th line of a SKU
 * with the other's n-th), a line only one ERP has is reported as `lines[SKU]` with null on the
 * other side, and each pair is compared on quantity, unit price and amount (both without tax)
 * and the tax percentage. Null lines (an ERP that no longer shows them) are not compared.
 */
export function compareLines(primary: readonly ErpSaleLine[] | null, shadow: readonly ErpSaleLine[] | null): Difference[] {
  if (!primary || !shadow) return [];
  const bySku = (lines: readonly ErpSaleLine[]) => {
    const map = new Map<string, ErpSaleLine[]>();
    for (const line of lines) map.set(line.sku, [...(map.get(line.sku) ?? []), line]);
    return map;
  };
  const [left, right] = [bySku(primary), bySku(shadow)];
  const differences: Difference[] = [];
  for (const sku of new Set([...left.keys(), ...right.keys()])) {
    const [a, b] = [left.get(sku) ?? [], right.get(sku) ?? []];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const name = `lines[${sku}${i ? `#${i + 1}` : ''}]`;
      const [p, q] = [a[i], b[i]];
      if (!p || !q) {
        differences.push({ field: name, primary: p ?? null, shadow: q ?? null });
        continue;
      }
      for (const field of LINE_FIELDS) if (!sameAmount(p[field], q[field])) differences.push({ field: `${name}.${field}`, primary: p[field], shadow: q[field] });
    }
  }
  return differences;
}

/** The customers the two ERPs matched: the same person by e-mail (case aside) and name. Their ids differ by nature and are not compared. */
export function compareCustomers(primary: ErpSaleCustomer | null, shadow: ErpSaleCustomer | null): Difference[] {
  if (!primary || !shadow) return primary === shadow ? [] : [{ field: 'customer', primary: primary ? 'found' : null, shadow: shadow ? 'found' : null }];
  const differences: Difference[] = [];
  if ((primary.email ?? '').toLowerCase() !== (shadow.email ?? '').toLowerCase()) differences.push({ field: 'customer.email', primary: primary.email, shadow: shadow.email });
  if (primary.name.trim() !== shadow.name.trim()) differences.push({ field: 'customer.name', primary: primary.name, shadow: shadow.name });
  return differences;
}

/** Every difference between the two sales: amounts and taxes, lines, customer. */
export function compareDetails(primary: ErpSaleDetail, shadow: ErpSaleDetail): Difference[] {
  return [...compareSales(primary.sale, shadow.sale), ...compareLines(primary.lines, shadow.lines), ...compareCustomers(primary.customer, shadow.customer)];
}

const saleSummary = ({ sale, customer, lines }: ErpSaleDetail) => ({
  erpId: sale.erpId,
  number: sale.number,
  state: sale.state,
  untaxedAmount: sale.untaxedAmount,
  taxAmount: sale.taxAmount,
  totalAmount: sale.totalAmount,
  currency: sale.currency,
  customer,
  lines,
});

/** The sale with its lines and customer when the connector can read them; else the sale alone. */
async function detailOf(client: ErpConnector, reference: string, context: CallContext, posted?: ErpSale): Promise<ErpSaleDetail | undefined> {
  if (client.saleDetail) return client.saleDetail(reference, context);
  const sale = posted ?? (await client.getSale(reference, context));
  return sale ? { sale, customer: null, lines: null } : undefined;
}

/** Posts the order to its shadow ERP, reads the system of record's sale, and records the comparison. */
export async function postShadow(deps: FlowDeps, payload: ShadowPayload, context: HandlerContext): Promise<void> {
  const order = await findOrderById(deps.db, payload.orderId);
  const route = await readErpRoute(deps.db, payload.orderId);
  if (!order || !route?.shadow) return;
  // Cancelled before its shadow posting ran (or a replay after the cancel): nothing to mirror.
  if ((await readOrderStatus(deps.db, order.id)) === 'cancelled') return;
  const primary = deps.erps.endpoint(route.erp);
  const shadow = deps.erps.endpoint(route.shadow);
  const call = (target: string) => ({ correlationId: context.correlationId, signal: context.signal, target: context.target(target) });
  const primaryDetail = await detailOf(primary.client, order.id, call(primary.target));
  if (!primaryDetail) throw new SynclineError('erp.sale_not_found', `the system of record ${primary.id} has no sale for ${order.id} yet`, { retry: 'transient' });
  const { sale: posted } = await shadow.client.postOrder(order, call(shadow.target));
  const shadowDetail = (await detailOf(shadow.client, order.id, call(shadow.target), posted)) ?? { sale: posted, customer: null, lines: null };
  const differences = compareDetails(primaryDetail, shadowDetail);
  await deps.db.transaction(async (tx) => {
    await upsertShadowReport(tx, {
      orderId: order.id,
      primaryErp: primary.id,
      shadowErp: shadow.id,
      outcome: differences.length ? 'different' : 'matched',
      differences,
      primarySale: saleSummary(primaryDetail),
      shadowSale: saleSummary(shadowDetail),
      error: null,
    });
    await appendTimeline(tx, order.id, [
      {
        system: shadow.id,
        action: 'erp.shadow-posted',
        outcome: 'succeeded',
        attempt: context.attempt,
        durationMs: null,
        correlationId: context.correlationId,
        detail: { erp: shadow.id, number: shadowDetail.sale.number, differences: differences.map((d) => d.field) },
      },
    ]);
  });
}

/**
 * Mirrors the cancel of the order's sale in the system of record onto its shadow sale, so the
 * shadow ERP holds no live sale for an order that was cancelled. Queued by the ERP posting's
 * compensation; after the shadow posting (same ordering key), never in the order's way.
 */
export async function cancelShadow(deps: FlowDeps, payload: ShadowPayload, context: HandlerContext): Promise<void> {
  const route = await readErpRoute(deps.db, payload.orderId);
  if (!route?.shadow) return;
  const shadow = deps.erps.endpoint(route.shadow);
  const outcome = await shadow.client.cancelOrder(payload.orderId, { correlationId: context.correlationId, signal: context.signal, target: context.target(shadow.target) });
  const state = outcome.outcome === 'not_found' ? null : outcome.sale.state;
  await deps.db.transaction(async (tx) => {
    await recordShadowCancel(tx, payload.orderId, { outcome: outcome.outcome, state, at: new Date().toISOString() });
    await appendTimeline(tx, payload.orderId, [
      {
        system: shadow.id,
        action: 'erp.shadow-cancelled',
        outcome: 'succeeded',
        attempt: context.attempt,
        durationMs: null,
        correlationId: context.correlationId,
        detail: { erp: shadow.id, outcome: outcome.outcome, state },
      },
    ]);
  });
}

/** Dead-letter hook: the shadow posting failed for good; the report says so, the order goes on. */
export async function shadowDeadLettered(deps: FlowDeps, notice: DeadLetterNotice<ShadowPayload>, tx: Queryable): Promise<void> {
  const orderId = notice.job.payload?.orderId;
  if (!orderId) return;
  const route = await readErpRoute(tx, orderId);
  if (!route?.shadow) return;
  await upsertShadowReport(tx, {
    orderId,
    primaryErp: route.erp,
    shadowErp: route.shadow,
    outcome: 'failed',
    differences: [],
    primarySale: null,
    shadowSale: null,
    error: { code: notice.errorCode, message: notice.message },
  });
}

/** Dead-letter hook of the shadow cancel: the report says the mirror failed; the order is not concerned. */
export async function shadowCancelDeadLettered(notice: DeadLetterNotice<ShadowPayload>, tx: Queryable): Promise<void> {
  const orderId = notice.job.payload?.orderId;
  if (!orderId) return;
  await recordShadowCancel(tx, orderId, { outcome: 'failed', state: null, at: new Date().toISOString(), error: { code: notice.errorCode, message: notice.message } });
}

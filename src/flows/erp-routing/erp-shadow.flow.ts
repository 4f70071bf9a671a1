import type { ErpSale } from '../../connectors/kit/contracts.ts';
import { SynclineError } from '../../domain/errors.ts';
import { toScaled } from '../../model/money.ts';
import type { DeadLetterNotice, HandlerContext } from '../../runtime/runtime.ts';
import type { Queryable } from '../../store/database.ts';
import { readErpRoute, upsertShadowReport, type ShadowReportRow } from '../../store/erp-routing/erp-routing-queries.ts';
import { findOrderById } from '../../store/orders/order-queries.ts';
import { appendTimeline } from '../../store/orders/order-status.ts';
import { FLOW_JOBS, type FlowDeps } from '../flow-deps.ts';

/**
 * Shadow mode (ADR 0029): an order routed by a rule with `shadow` is also posted to the shadow
 * ERP, as a job of its own on the bulk lane and the shadow ERP's target, after the system of
 * record posted it. It has no ordering key: it never holds up the order's own jobs. What the two
 * ERPs computed is compared and kept in erp_shadow_report (GET /v1/ops/erp-shadow); a shadow
 * posting that fails for good is reported as failed, and the order never notices.
 */

export interface ShadowPayload {
  orderId: string;
}

/** The job posting one order to its shadow ERP (queued once: its job key). */
export const shadowJob = (orderId: string, target: string, correlationId: string) => ({
  type: FLOW_JOBS.erpShadow,
  payload: { orderId } satisfies ShadowPayload,
  lane: 'bulk' as const,
  target,
  jobKey: `erp-shadow:${orderId}`,
  correlationId,
});

/** The sale fields compared between the two ERPs; amounts are compared as exact decimals. */
const COMPARED = ['untaxedAmount', 'taxAmount', 'totalAmount', 'currency'] as const;

/** "48.5" and "48.50" are the same amount: compared as scaled integers, never as floats; a value that is not a decimal compares as text. */
const sameAmount = (a: string, b: string) => {
  if (a === b) return true;
  try {
    return toScaled(a, 8) === toScaled(b, 8);
  } catch {
    return false;
  }
};

/** The differences between what the system of record and the shadow ERP computed for one sale. */
export function compareSales(primary: ErpSale, shadow: ErpSale): ShadowReportRow['differences'] {
  return COMPARED.filter((field) => (field === 'currency' ? primary.currency !== shadow.currency : !sameAmount(primary[field], shadow[field]))).map((field) => ({
    field,
    primary: primary[field],
    shadow: shadow[field],
  }));
}

const saleSummary = (sale: ErpSale) => ({
  erpId: sale.erpId,
  number: sale.number,
  state: sale.state,
  untaxedAmount: sale.untaxedAmount,
  taxAmount: sale.taxAmount,
  totalAmount: sale.totalAmount,
  currency: sale.currency,
});

/** Posts the order to its shadow ERP, reads the system of record's sale, and records the comparison. */
export async function postShadow(deps: FlowDeps, payload: ShadowPayload, context: HandlerContext): Promise<void> {
  const order = await findOrderById(deps.db, payload.orderId);
  const route = await readErpRoute(deps.db, payload.orderId);
  if (!order || !route?.shadow) return;
  const primary = deps.erps.endpoint(route.erp);
  const shadow = deps.erps.endpoint(route.shadow);
  const call = (target: string) => ({ correlationId: context.correlationId, signal: context.signal, target: context.target(target) });
  const primarySale = await primary.client.getSale(order.id, call(primary.target));
  if (!primarySale) throw new SynclineError('erp.sale_not_found', `the system of record ${primary.id} has no sale for ${order.id} yet`, { retry: 'transient' });
  const { sale: shadowSale } = await shadow.client.postOrder(order, call(shadow.target));
  const differences = compareSales(primarySale, shadowSale);
  await deps.db.transaction(async (tx) => {
    await upsertShadowReport(tx, {
      orderId: order.id,
      primaryErp: primary.id,
      shadowErp: shadow.id,
      outcome: differences.length ? 'different' : 'matched',
      differences,
      primarySale: saleSummary(primarySale),
      shadowSale: saleSummary(shadowSale),
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
        detail: { erp: shadow.id, number: shadowSale.number, differences: differences.map((d) => d.field) },
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

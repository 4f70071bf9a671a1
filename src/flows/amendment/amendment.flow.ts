import type { Database } from '../../store/database.ts';
import type { InventoryService } from '../../domain/inventory/inventory.service.ts';
import { OrderAmendmentService } from '../../domain/orders/order-amendment.service.ts';
import type { HandlerContext, JobSpec } from '../../runtime/runtime.ts';
import { FLOW_JOBS, orderingKey } from '../flow-deps.ts';
import { amendmentPorts } from '../order-placed/order-placed.flow.ts';
import type { ErpRouter } from '../erp-routing/erp-router.ts';

/**
 * Order amendments on the job runtime (docs/adr/0023). The intake stores a channel's newer
 * version of an order as pending and enqueues this job in the order's ordering key, so it runs
 * between the order's flow jobs, never during one; each part of the order-placed flow also
 * takes pending versions in before it reads the order (a version received while the back-office
 * part waited for the ERP is applied before the ERP sees the order). A change that comes once
 * the back-office part has begun is held, never slipped in behind the ERP's back.
 */

export interface AmendPayload {
  orderId: string;
}

/** The job that takes in an order's pending channel versions; `amendmentId` is the version that asked for it. */
export const amendJob = (orderId: string, correlationId: string, amendmentId: string): JobSpec => ({
  type: FLOW_JOBS.amend,
  payload: { orderId } satisfies AmendPayload,
  lane: 'normal',
  orderingKey: orderingKey(orderId),
  jobKey: `amend:${orderId}:${amendmentId}`,
  correlationId,
});

/** The amendment service wired to the flows. */
export const amendmentService = (db: Database, inventory: InventoryService, erps: ErpRouter) => new OrderAmendmentService(db, inventory, amendmentPorts(erps));

/** Runs one amend job: every pending version of the order (the flow's own jobs may have taken them in already). */
export async function amendOrder(service: OrderAmendmentService, payload: AmendPayload, context: HandlerContext): Promise<void> {
  const outcomes = await service.takeIn(payload.orderId, context.correlationId);
  if (outcomes.length) context.logger.info({ orderId: payload.orderId, outcomes: outcomes.map((o) => o.kind) }, 'channel versions of the order taken in');
}

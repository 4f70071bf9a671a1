import type { Database } from '../../store/database.ts';
import type { InventoryService } from '../../domain/inventory/inventory.service.ts';
import { OrderAmendmentService, type AmendmentPorts } from '../../domain/orders/order-amendment.service.ts';
import type { OrderSubmission } from '../../model/order.ts';
import { enqueue } from '../../runtime/queue.ts';
import type { HandlerContext, JobSpec } from '../../runtime/runtime.ts';
import { readSteps } from '../../store/flows/flow-steps.ts';
import { FLOW_JOBS, orderingKey } from '../flow-deps.ts';
import { ORDER_PLACED_FLOW, placeJob, releaseJob } from '../order-placed/order-placed.flow.ts';
import { BACK_OFFICE_PART } from '../order-placed/order-placed.steps.ts';

/**
 * Order amendments on the job runtime (docs/adr/0023). A channel's newer version of an order
 * is taken in by a job in the order's ordering key, so it runs between the parts of the
 * order-placed flow, never during one: the back-office part reads the amended order, and a
 * change that comes once that part has begun is held, not slipped in behind the ERP's back.
 */

export interface AmendPayload {
  orderId: string;
  channel: string;
  submission: OrderSubmission;
  channelUpdatedAt?: string | undefined;
}

/** The job that takes in one channel version of an order; `key` names the version (its delivery). */
export const amendJob = (payload: AmendPayload, correlationId: string, key: string): JobSpec => ({
  type: FLOW_JOBS.amend,
  payload,
  lane: 'normal',
  orderingKey: orderingKey(payload.orderId),
  jobKey: `amend:${payload.orderId}:${key}`,
  correlationId,
});

/** How the amendment service reaches the order-placed flow: its steps and its jobs. */
export const amendmentPorts: AmendmentPorts = {
  async backOfficeStarted(db, orderId) {
    return (await readSteps(db, ORDER_PLACED_FLOW, orderId)).some((r) => BACK_OFFICE_PART.has(r.step));
  },
  async resume(tx, orderId, status, key, correlationId) {
    // Allocated: the back-office part is next; anywhere earlier the customer-facing part goes on.
    if (status === 'allocated') await enqueue(tx, { ...releaseJob(orderId, correlationId), jobKey: `release:${orderId}:${key}` });
    else await enqueue(tx, placeJob(orderId, correlationId, `place:${orderId}:${key}`));
  },
};

/** The amendment service wired to the flows. */
export const amendmentService = (db: Database, inventory: InventoryService) => new OrderAmendmentService(db, inventory, amendmentPorts);

/** Runs one amend job. */
export async function amendOrder(service: OrderAmendmentService, payload: AmendPayload, context: HandlerContext): Promise<void> {
  const outcome = await service.receive({ ...payload, correlationId: context.correlationId });
  context.logger.info({ orderId: payload.orderId, outcome: outcome.kind, ...('amendmentId' in outcome ? { amendmentId: outcome.amendmentId } : {}) }, 'channel version of the order taken in');
}

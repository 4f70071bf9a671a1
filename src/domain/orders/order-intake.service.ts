import type { Database } from '../../store/database.ts';
import { CommitBatcher } from '../../store/commit-batcher.ts';
import { insertOrders, type OrderInsert, type OrderInsertOutcome } from '../../store/orders/insert-orders.ts';
import { findAcceptedOrder } from '../../store/orders/order-queries.ts';
import { EVENT_TYPES } from '../../model/cloud-event.ts';
import { newId } from '../../model/ids.ts';
import type { Order, OrderSubmission } from '../../model/order.ts';
import { buildOrder } from './order-builder.ts';
import { SynclineError } from '../errors.ts';

export interface IntakeContext {
  correlationId: string;
  traceparent?: string | undefined;
  tracestate?: string | undefined;
  /** Idempotency key scoped to the caller (the API client id), with a fingerprint of the request. */
  idempotency?: { scope: string; key: string; fingerprint: string } | undefined;
}

export type IntakeResult =
  /** `json`: the order as stored, serialised once (an answer sends it as it is). */
  | { kind: 'created'; order: Order; json: string }
  | { kind: 'replayed'; order: Order; status: number }
  | { kind: 'key-reused' }
  | { kind: 'key-in-flight' }
  | { kind: 'duplicate'; existingOrderId: string };

export interface OrderIntakeOptions {
  /** Most orders committed in one transaction (default: 64). */
  maxBatchSize?: number;
  /** Intake transactions in flight at once (default: 4). */
  maxConcurrentBatches?: number;
  /**
   * The connections the batches are written on (default: the service's database). A pool of
   * their own keeps orders from queueing behind other requests for a connection.
   */
  writer?: Database;
}

/**
 * Accepts orders from channels. An order, its lines, its first timeline entry,
 * its idempotency record and its `order.created` event commit together; orders
 * arriving at the same time share a transaction (group commit).
 */
export class OrderIntakeService {
  readonly #db: Database;
  readonly #batcher: CommitBatcher<OrderInsert, OrderInsertOutcome>;

  constructor(db: Database, options: OrderIntakeOptions = {}) {
    this.#db = db;
    // insertOrders is a single statement: its own transaction, no BEGIN/COMMIT needed.
    this.#batcher = new CommitBatcher(options.writer ?? db, insertOrders, { ...options, transactional: false });
  }

  async submit(submission: OrderSubmission, context: IntakeContext): Promise<IntakeResult> {
    const order = buildOrder(submission, { correlationId: context.correlationId, now: new Date() });
    const outcome = await this.#batcher.submit({
      order,
      idempotency: context.idempotency,
      event: {
        id: newId('event'),
        type: EVENT_TYPES.orderCreated,
        source: '/syncline/orders',
        subject: order.id,
        time: order.createdAt,
        correlationId: context.correlationId,
        traceparent: context.traceparent,
        tracestate: context.tracestate,
      },
    });
    if (outcome.kind !== 'replayed') return outcome;
    const accepted = await findAcceptedOrder(this.#db, outcome.orderId);
    if (!accepted) {
      throw new SynclineError('idempotency-record-orphaned', `Idempotency record points at missing order ${outcome.orderId}`);
    }
    return { kind: 'replayed', order: accepted, status: outcome.status };
  }
}

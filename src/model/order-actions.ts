import { z } from 'zod';
import { LocationRef } from './inventory.ts';
import { OrderException } from './order.ts';

/** Requests an operator or channel makes on an order's lifecycle: cancel, hold release, return. */

export const CancelRequest = z
  .strictObject({ reason: z.string().trim().min(1).max(500).optional() })
  .meta({ id: 'CancelRequest', description: 'Cancels the whole order, as far as it can still be stopped.' });
export type CancelRequest = z.infer<typeof CancelRequest>;

export const Cancellation = z
  .object({
    id: z.string(),
    orderId: z.string(),
    requestedBy: z.string(),
    reason: z.string().nullable(),
    status: z.enum(['requested', 'completed', 'partial', 'refused']).meta({
      description: 'completed: the order is cancelled; partial: some fulfilments could not be stopped (see report.notStopped); refused: nothing could be cancelled.',
    }),
    report: z.record(z.string(), z.unknown()).nullable(),
    correlationId: z.string(),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
  })
  .meta({ id: 'Cancellation' });

export const HoldReleaseRequest = z
  .strictObject({ note: z.string().trim().min(1).max(500).optional() })
  .meta({ id: 'HoldReleaseRequest', description: 'An operator reviewed the hold and lets the order continue.' });

export const ReturnCondition = z.enum(['resellable', 'damaged']).meta({ id: 'ReturnCondition' });

export const ReturnRequest = z
  .strictObject({
    orderId: z.string().min(1).max(128),
    location: LocationRef.meta({ description: 'Where the goods were returned (a store for an online order, or a warehouse).' }),
    reason: z.string().trim().min(1).max(500).optional(),
    lines: z
      .array(
        z.strictObject({
          lineNumber: z.number().int().positive(),
          quantity: z.number().int().positive().max(1_000_000),
          condition: ReturnCondition,
        }),
      )
      .min(1)
      .max(500),
  })
  .meta({ id: 'ReturnRequest', description: 'Goods a customer brought or sent back.' });
export type ReturnRequest = z.infer<typeof ReturnRequest>;

/** A return's failed flow: the order's exception without what only an order has (its status is not touched). */
export const ReturnException = OrderException.omit({ kind: true, resumeStatus: true, statusKept: true }).meta({
  id: 'ReturnException',
  description: 'The failing system, step, error and the dead letter to replay once the cause is fixed.',
});

export const ChannelRefundRef = z
  .object({
    channel: z.string().meta({ description: 'The connection (the order\'s channel).' }),
    refundId: z.string().meta({ description: "The channel's refund id." }),
    source: z.enum(['channel', 'syncline']).meta({
      description: "channel: the refund was taken in the channel, which moved the money (Syncline did not refund again); syncline: the return was made in Syncline and reflected in the channel.",
    }),
  })
  .meta({ id: 'ChannelRefundRef' });

export const OrderReturn = z
  .object({
    id: z.string(),
    orderId: z.string(),
    lines: z.array(z.object({ lineNumber: z.number().int(), sku: z.string(), quantity: z.number().int(), condition: ReturnCondition, unitPrice: z.string() })),
    locationCode: z.string(),
    reason: z.string().nullable(),
    refundAmount: z.string(),
    status: z.enum(['requested', 'completed']),
    refundId: z.string().nullable(),
    creditNote: z.record(z.string(), z.unknown()).nullable(),
    correlationId: z.string(),
    createdAt: z.string(),
    completedAt: z.string().nullable(),
    exception: ReturnException.nullable().meta({ description: "Why the return's flow stopped (its job is a dead letter); null while it runs and once it is done. Replaying the dead letter clears it." }),
    channelRefund: ChannelRefundRef.nullable().meta({ description: "The sales channel's refund paired with the return; null for a return not (yet) reflected in a channel." }),
  })
  .meta({ id: 'OrderReturn' });

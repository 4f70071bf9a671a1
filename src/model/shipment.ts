import { z } from 'zod';
import { Timestamp } from './order.ts';
import { Sku } from './sku.ts';

/**
 * A shipment confirmation: a fulfilment location reports that it shipped some
 * (or all) lines of an order. Connectors map their systems' shipment notices to this;
 * the shipment flow correlates it to the order. Its idempotency key is
 * `${source.system}:${source.shipmentId}` (the external system's shipment id).
 */

export const ShipmentLine = z
  .strictObject({
    /** The order line this shipment line fulfils, when the external system echoes it back. */
    lineNumber: z.number().int().positive().optional(),
    sku: Sku,
    quantity: z.number().int().positive(),
  })
  .meta({ id: 'ShipmentLine' });
export type ShipmentLine = z.infer<typeof ShipmentLine>;

export const ShipmentConfirmation = z
  .strictObject({
    orderId: z.string().min(1).meta({ example: 'ord_01jd5q8x7m2v3k4n5p6r7s8t9w' }),
    /** The fulfilment location that shipped (a warehouse or a store). */
    locationId: z.string().min(1).meta({ example: 'loc_dc_east' }),
    shippedAt: Timestamp,
    carrier: z.string().max(64).optional(),
    trackingNumbers: z.array(z.string().min(1).max(128)).max(50),
    lines: z.array(ShipmentLine).min(1),
    /** True when the fulfilment request now has nothing left to ship. */
    fulfilmentComplete: z.boolean(),
    source: z.strictObject({
      system: z.string().min(1).meta({ example: 'wms' }),
      /** The external system's id of this shipment: the idempotency key with `system`. */
      shipmentId: z.string().min(1),
      /** The external system's id of the fulfilment request that was shipped against. */
      fulfilmentId: z.string().min(1),
      /** The delivery (webhook) id, for tracing duplicates. */
      deliveryId: z.string().min(1).optional(),
    }),
  })
  .meta({ id: 'ShipmentConfirmation', description: 'A fulfilment location confirms it shipped lines of an order.' });
export type ShipmentConfirmation = z.infer<typeof ShipmentConfirmation>;

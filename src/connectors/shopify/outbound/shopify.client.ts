import { SynclineError } from '../../../domain/errors.ts';
import { synclineRefundMark, type ChannelRefundCommand, type AvailabilityResult, type AvailabilityUpdate, type ChangedOrdersPage, type ChannelClient, type ChannelListing, type ChannelRefund, type ChannelShipment } from '../../kit/channel-connector.ts';
import type { CallContext } from '../../kit/http-client.ts';
import {
  FIND_VARIANTS,
  FULFILMENT_CREATE,
  gid,
  gidTail,
  LIST_LOCATIONS,
  ORDER_CANCEL,
  ORDER_FULFILMENT,
  ORDER_LINE_ITEMS,
  ORDER_REFUND_LINES,
  ORDER_REFUNDS,
  ORDERS_UPDATED_SINCE,
  REFUND_CREATE,
  RESTOCKING,
  SET_QUANTITIES,
  type Connection,
  type UserError,
  type WireGraphqlOrder,
} from '../shopify-wire.ts';
import { createShopifyGraphql, type ShopifyGraphql, type ShopifyGraphqlOptions } from './graphql-client.ts';

/**
 * Syncline's outbound calls to one Shopify store, on the GraphQL Admin API. Ids in listings,
 * locations and results are Shopify's numeric ids (the tail of their gid://shopify/... ids),
 * the same ids the webhooks carry.
 */

/**
 * Page sizes keep each query's requested cost (connections cost `first` times their node) well
 * under Shopify's single-query maximum of 1000 points.
 */
/** SKUs per productVariants search (and variants per page). */
const SKUS_PER_SEARCH = 25;
/** Quantities per inventorySetQuantities call. */
const QUANTITIES_PER_SET = 100;
/** Compare-and-set rounds before a quantity that keeps changing is left to the next availability job. */
const MAX_STALE_ROUNDS = 3;
/** Orders per reconciliation page. */
const ORDERS_PER_PAGE = 8;

const permanent = (code: string, message: string, details: Record<string, unknown> = {}) =>
  new SynclineError(code, message, { retry: 'permanent', details: { system: 'shopify', ...details } });

const quote = (value: string) => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** Reason names of orderCancel (OrderCancelReason), from Syncline's free-text reason. */
function cancelReason(reason: string): string {
  const r = reason.toLowerCase();
  if (r.includes('fraud')) return 'FRAUD';
  if (r.includes('declin') || r.includes('payment')) return 'DECLINED';
  if (r.includes('stock') || r.includes('inventory')) return 'INVENTORY';
  if (r.includes('customer')) return 'CUSTOMER';
  if (r.includes('staff')) return 'STAFF';
  return 'OTHER';
}

interface FulfilmentView {
  order: {
    id: string;
    cancelledAt: string | null;
    fulfillments: { id: string; status: string; trackingInfo: { company: string | null; number: string | null; url: string | null }[] }[];
    fulfillmentOrders: Connection<{
      id: string;
      status: string;
      assignedLocation: { location: { id: string } | null } | null;
      lineItems: Connection<{ id: string; remainingQuantity: number; totalQuantity: number; lineItem: { id: string; sku: string | null } }>;
    }>;
  } | null;
}

/** Cursor of the reconciliation poll: the updated-at it searches from, and the GraphQL cursor within that search. */
function parseCursor(cursor: string | null, since: string): { from: string; after?: string } {
  if (!cursor) return { from: since };
  const [from, after] = cursor.split('|', 2);
  return after ? { from: from!, after } : { from: from! };
}

export class ShopifyClient implements ChannelClient {
  readonly graphql: ShopifyGraphql;
  /** Last quantity this client set or read per (inventory item, location): the compare-and-set's expected value. */
  readonly #known = new Map<string, number>();

  constructor(options: ShopifyGraphqlOptions) {
    this.graphql = createShopifyGraphql(options);
  }

  async findListings(skus: string[], call: CallContext): Promise<ChannelListing[]> {
    const wanted = new Set(skus);
    const found = new Map<string, ChannelListing>();
    const unique = [...wanted];
    for (let i = 0; i < unique.length; i += SKUS_PER_SEARCH) {
      const chunk = unique.slice(i, i + SKUS_PER_SEARCH);
      const query = chunk.map((sku) => `sku:${quote(sku)}`).join(' OR ');
      let after: string | null = null;
      do {
        type Page = { productVariants: Connection<{ id: string; sku: string | null; product: { id: string }; inventoryItem: { id: string } | null }> };
        const page: Page = await this.graphql.request<Page>('FindVariants', FIND_VARIANTS, { query, first: SKUS_PER_SEARCH, after }, call);
        for (const v of page.productVariants.nodes) {
          // Shopify's search matches loosely: keep exact SKUs only, the first variant of each.
          if (!v.sku || !wanted.has(v.sku) || found.has(v.sku)) continue;
          const inventoryItemId = gidTail(v.inventoryItem?.id, 'InventoryItem');
          found.set(v.sku, {
            sku: v.sku,
            productId: gidTail(v.product.id, 'Product') ?? v.product.id,
            variantId: gidTail(v.id, 'ProductVariant') ?? v.id,
            ...(inventoryItemId ? { inventoryItemId } : {}),
          });
        }
        after = page.productVariants.pageInfo.hasNextPage ? page.productVariants.pageInfo.endCursor : null;
      } while (after);
    }
    return [...found.values()];
  }

  async listLocations(call: CallContext): Promise<{ id: string; name: string }[]> {
    const locations: { id: string; name: string }[] = [];
    let after: string | null = null;
    do {
      type Page = { locations: Connection<{ id: string; name: string; isActive: boolean }> };
      const page: Page = await this.graphql.request<Page>('ListLocations', LIST_LOCATIONS, { first: 50, after }, call);
      for (const l of page.locations.nodes) if (l.isActive) locations.push({ id: gidTail(l.id, 'Location') ?? l.id, name: l.name });
      after = page.locations.pageInfo.hasNextPage ? page.locations.pageInfo.endCursor : null;
    } while (after);
    return locations;
  }

  /** Reads the available quantity of each (item, location) in one aliased query; null where the item is not stocked there. */
  async readAvailable(pairs: { inventoryItemId: string; locationId: string }[], call: CallContext): Promise<(number | null)[]> {
    if (pairs.length === 0) return [];
    const vars = pairs.flatMap((_, i) => [`$i${i}: ID!`, `$l${i}: ID!`]).join(', ');
    const fields = pairs
      .map((_, i) => `q${i}: inventoryItem(id: $i${i}) { inventoryLevel(locationId: $l${i}) { quantities(names: ["available"]) { name quantity } } }`)
      .join('\n');
    const variables = Object.fromEntries(pairs.flatMap((p, i) => [[`i${i}`, gid('InventoryItem', p.inventoryItemId)], [`l${i}`, gid('Location', p.locationId)]]));
    type Level = { inventoryLevel: { quantities: { name: string; quantity: number }[] } | null } | null;
    const data = await this.graphql.request<Record<string, Level>>('ReadAvailable', `query ReadAvailable(${vars}) {\n${fields}\n}`, variables, call);
    return pairs.map((p, i) => {
      const quantity = data[`q${i}`]?.inventoryLevel?.quantities.find((q) => q.name === 'available')?.quantity;
      if (quantity === undefined) return null;
      this.#known.set(`${p.inventoryItemId}|${p.locationId}`, quantity);
      return quantity;
    });
  }

  async setAvailability(updates: AvailabilityUpdate[], call: CallContext): Promise<AvailabilityResult> {
    let updated = 0;
    let retriedStale = 0;
    const notStocked: string[] = [];
    const usable = updates.filter((u) => {
      if (u.listing.inventoryItemId && u.channelLocationId) return true;
      notStocked.push(u.listing.sku);
      return false;
    });
    for (let i = 0; i < usable.length; i += QUANTITIES_PER_SET) {
      let batch = usable.slice(i, i + QUANTITIES_PER_SET).map((u) => ({ sku: u.listing.sku, inventoryItemId: u.listing.inventoryItemId!, locationId: u.channelLocationId!, quantity: u.available }));
      // The expected current quantity: what this client last saw, else read now.
      const unknown = batch.filter((b) => !this.#known.has(`${b.inventoryItemId}|${b.locationId}`));
      const read = await this.readAvailable(unknown, call);
      unknown.forEach((b, k) => {
        if (read[k] === null) notStocked.push(b.sku);
      });
      batch = batch.filter((b) => this.#known.has(`${b.inventoryItemId}|${b.locationId}`));
      for (let round = 1; batch.length > 0; round++) {
        const quantities = batch.map((b) => ({
          inventoryItemId: gid('InventoryItem', b.inventoryItemId),
          locationId: gid('Location', b.locationId),
          quantity: b.quantity,
          changeFromQuantity: this.#known.get(`${b.inventoryItemId}|${b.locationId}`)!,
        }));
        type Result = { inventorySetQuantities: { inventoryAdjustmentGroup: { id: string } | null; userErrors: UserError[] } | null };
        const result = await this.graphql.request<Result>(
          'SetQuantities',
          SET_QUANTITIES,
          { input: { name: 'available', reason: 'correction', referenceDocumentUri: 'gid://syncline/AvailabilitySync/1', quantities } },
          call,
        );
        const errors = result.inventorySetQuantities?.userErrors ?? [];
        const stale = errors.filter((e) => e.code === 'CHANGE_FROM_QUANTITY_STALE' || e.code === 'COMPARE_QUANTITY_STALE');
        const other = errors.filter((e) => !stale.includes(e));
        if (other.length > 0) {
          throw permanent('shopify.inventory_rejected', `Shopify refused the quantities: ${other[0]!.message}`, { userErrors: other.slice(0, 10) });
        }
        if (stale.length === 0) {
          for (const b of batch) this.#known.set(`${b.inventoryItemId}|${b.locationId}`, b.quantity);
          updated += batch.length;
          break;
        }
        // Someone changed these quantities in Shopify meanwhile: nothing of the batch was set. Re-read the stale ones and send again.
        const staleIndexes = new Set(stale.map((e) => Number(e.field?.[2])).filter((n) => Number.isInteger(n)));
        const reread = staleIndexes.size > 0 ? batch.filter((_, k) => staleIndexes.has(k)) : batch;
        if (round >= MAX_STALE_ROUNDS) {
          throw new SynclineError('shopify.inventory_contended', `quantities of ${reread.map((b) => b.sku).join(', ')} kept changing in Shopify during ${round} attempts`, {
            retry: 'transient',
            details: { system: 'shopify' },
          });
        }
        retriedStale += reread.length;
        await this.readAvailable(reread.map((b) => ({ inventoryItemId: b.inventoryItemId, locationId: b.locationId })), call);
      }
    }
    if (notStocked.length > 0) {
      throw permanent('shopify.not_stocked', `Shopify does not stock ${notStocked.join(', ')} at the given location (or the listing has no inventory item); ${updated} other quantities were set`, {
        skus: notStocked.slice(0, 20),
        updated,
      });
    }
    return { updated, retriedStale };
  }

  async fulfil(shipment: ChannelShipment, call: CallContext): Promise<{ channelFulfilmentId: string }> {
    const view = await this.graphql.request<FulfilmentView>('OrderFulfilment', ORDER_FULFILMENT, { id: gid('Order', shipment.channelOrderId) }, call);
    const order = view.order;
    if (!order) throw permanent('shopify.order_not_found', `Shopify has no order ${shipment.channelOrderId}`);
    // The same shipment again: its tracking number is already on a fulfilment.
    if (shipment.trackingNumber) {
      const existing = order.fulfillments.find((f) => f.status !== 'CANCELLED' && f.trackingInfo.some((t) => t.number === shipment.trackingNumber));
      if (existing) return { channelFulfilmentId: gidTail(existing.id, 'Fulfillment') ?? existing.id };
    }
    // Fulfilment-order lines to fulfil, by location (one fulfillmentCreate per location).
    const byLocation = new Map<string, Map<string, { id: string; quantity: number }[]>>();
    let wanted = 0;
    let placed = 0;
    for (const line of shipment.lines) {
      let left = line.quantity;
      wanted += line.quantity;
      for (const fo of order.fulfillmentOrders.nodes) {
        if (left === 0) break;
        if (fo.status !== 'OPEN' && fo.status !== 'IN_PROGRESS') continue;
        for (const item of fo.lineItems.nodes) {
          if (left === 0) break;
          if (gidTail(item.lineItem.id, 'LineItem') !== line.channelLineId || item.remainingQuantity <= 0) continue;
          const take = Math.min(left, item.remainingQuantity);
          left -= take;
          placed += take;
          const location = fo.assignedLocation?.location?.id ?? 'unassigned';
          const orders = byLocation.get(location) ?? new Map<string, { id: string; quantity: number }[]>();
          orders.set(fo.id, [...(orders.get(fo.id) ?? []), { id: item.id, quantity: take }]);
          byLocation.set(location, orders);
        }
      }
    }
    if (placed === 0) {
      // Nothing left to fulfil for these lines: a repeat of a shipment without tracking number, or lines Shopify already fulfilled.
      const last = order.fulfillments.filter((f) => f.status !== 'CANCELLED').at(-1);
      if (last) return { channelFulfilmentId: gidTail(last.id, 'Fulfillment') ?? last.id };
      throw permanent('shopify.nothing_to_fulfil', `Shopify order ${shipment.channelOrderId} has no open fulfilment-order lines for this shipment`, { wanted });
    }
    let first: string | undefined;
    for (const orders of byLocation.values()) {
      const fulfillment = {
        lineItemsByFulfillmentOrder: [...orders.entries()].map(([fulfillmentOrderId, items]) => ({ fulfillmentOrderId, fulfillmentOrderLineItems: items })),
        notifyCustomer: true,
        ...(shipment.trackingNumber || shipment.carrier || shipment.trackingUrl
          ? {
              trackingInfo: {
                ...(shipment.carrier ? { company: shipment.carrier } : {}),
                ...(shipment.trackingNumber ? { number: shipment.trackingNumber } : {}),
                ...(shipment.trackingUrl ? { url: shipment.trackingUrl } : {}),
              },
            }
          : {}),
      };
      type Result = { fulfillmentCreate: { fulfillment: { id: string } | null; userErrors: UserError[] } | null };
      const result = await this.graphql.request<Result>('FulfilmentCreate', FULFILMENT_CREATE, { fulfillment }, call);
      const created = result.fulfillmentCreate?.fulfillment;
      if (!created) {
        const errors = result.fulfillmentCreate?.userErrors ?? [];
        throw permanent('shopify.fulfilment_rejected', `Shopify refused the fulfilment of order ${shipment.channelOrderId}: ${errors[0]?.message ?? 'no fulfilment returned'}`, {
          userErrors: errors.slice(0, 10),
        });
      }
      first ??= gidTail(created.id, 'Fulfillment') ?? created.id;
    }
    return { channelFulfilmentId: first! };
  }

  async cancelOrder(channelOrderId: string, reason: string, call: CallContext): Promise<boolean> {
    const view = await this.graphql.request<FulfilmentView>('OrderFulfilment', ORDER_FULFILMENT, { id: gid('Order', channelOrderId) }, call);
    if (!view.order) throw permanent('shopify.order_not_found', `Shopify has no order ${channelOrderId}`);
    if (view.order.cancelledAt) return true;
    // Shopify cancels only orders without fulfilments in effect: report the refusal instead of asking.
    if (view.order.fulfillments.some((f) => f.status === 'SUCCESS')) return false;
    type Result = { orderCancel: { job: { id: string } | null; orderCancelUserErrors: UserError[] } | null };
    const result = await this.graphql.request<Result>(
      'OrderCancel',
      ORDER_CANCEL,
      {
        orderId: gid('Order', channelOrderId),
        reason: cancelReason(reason),
        refundMethod: { originalPaymentMethodsRefund: true },
        restock: true,
        notifyCustomer: true,
        staffNote: `Cancelled in Syncline: ${reason}`.slice(0, 255),
      },
      call,
    );
    const errors = result.orderCancel?.orderCancelUserErrors ?? [];
    if (errors.length === 0) return true;
    if (errors.some((e) => e.code === 'INVALID')) return false;
    throw permanent('shopify.cancel_rejected', `Shopify refused to cancel order ${channelOrderId}: ${errors[0]!.message}`, { userErrors: errors.slice(0, 10) });
  }

  /**
   * refundCreate with the returned lines, keyed by the return id; a refund whose note carries the
   * return's mark is the one made before. A REFUND transaction of the amount against the order's
   * sale or capture only when Syncline's payment connector did not refund: money moves once.
   */
  async refund(refund: ChannelRefund, call: CallContext): Promise<{ channelRefundId: string; created: boolean }> {
    type View = {
      order: {
        id: string;
        refunds: { id: string; note: string | null }[];
        transactions: { id: string; kind: string; status: string; gateway: string | null; amountSet: { shopMoney: { amount: string } } }[];
      } | null;
    };
    const view = await this.graphql.request<View>('OrderRefunds', ORDER_REFUNDS, { id: gid('Order', refund.channelOrderId) }, call);
    if (!view.order) throw permanent('shopify.order_not_found', `Shopify has no order ${refund.channelOrderId}`);
    const mark = synclineRefundMark(refund.returnId);
    const before = view.order.refunds.find((r) => r.note?.includes(mark));
    if (before) return { channelRefundId: gidTail(before.id, 'Refund') ?? before.id, created: false };
    const parent = view.order.transactions.find((t) => (t.kind === 'SALE' || t.kind === 'CAPTURE') && t.status === 'SUCCESS');
    const input = {
      orderId: view.order.id,
      note: `${mark} ${refund.reason ?? 'refunded in Syncline'}`.slice(0, 1000),
      notify: true,
      // NO_RESTOCK: Syncline's availability sync sets Shopify's quantity once the return flow has restocked (no double count).
      refundLineItems: refund.lines.map((l) => ({ lineItemId: gid('LineItem', l.channelLineId), quantity: l.quantity, restockType: 'NO_RESTOCK' })),
      // Refunded by Syncline's payment connector, or no sale or capture in Shopify: the refund records lines only.
      transactions: !refund.refundedBySyncline && parent && Number(refund.amount) > 0 ? [{ orderId: view.order.id, amount: refund.amount, gateway: parent.gateway ?? 'manual', kind: 'REFUND', parentId: parent.id }] : [],
    };
    type Result = { refundCreate: { refund: { id: string } | null; userErrors: UserError[] } | null };
    const result = await this.graphql.request<Result>('RefundCreate', REFUND_CREATE, { input, key: `syncline-${refund.returnId}` }, call);
    const created = result.refundCreate?.refund;
    if (!created) {
      const errors = result.refundCreate?.userErrors ?? [];
      throw permanent('shopify.refund_rejected', `Shopify refused the refund of order ${refund.channelOrderId}: ${errors[0]?.message ?? 'no refund returned'}`, { userErrors: errors.slice(0, 10) });
    }
    return { channelRefundId: gidTail(created.id, 'Refund') ?? created.id, created: true };
  }

  /** The order's refunds as commands, as refunds/create would have given them (for a refund whose webhook was lost). */
  async orderRefunds(channelOrderId: string, call: CallContext): Promise<ChannelRefundCommand[]> {
    type View = {
      order: {
        currencyCode: string;
        refunds: {
          id: string;
          note: string | null;
          totalRefundedSet: { shopMoney: { amount: string; currencyCode: string } };
          refundLineItems: { nodes: { quantity: number; restockType: string; location: { id: string } | null; lineItem: { id: string } }[] };
        }[];
      } | null;
    };
    const view = await this.graphql.request<View>('OrderRefundLines', ORDER_REFUND_LINES, { id: gid('Order', channelOrderId) }, call);
    if (!view.order) throw permanent('shopify.order_not_found', `Shopify has no order ${channelOrderId}`);
    return view.order.refunds.map((r) => ({
      kind: 'order.refund' as const,
      channelOrderId,
      channelRefundId: gidTail(r.id, 'Refund') ?? r.id,
      amount: r.totalRefundedSet.shopMoney.amount,
      currency: r.totalRefundedSet.shopMoney.currencyCode,
      lines: r.refundLineItems.nodes.map((l) => {
        const restock = RESTOCKING.has(l.restockType.toLowerCase());
        const location = gidTail(l.location?.id, 'Location');
        return { channelLineId: gidTail(l.lineItem.id, 'LineItem') ?? l.lineItem.id, quantity: l.quantity, restock, ...(restock && location ? { channelLocationId: location } : {}) };
      }),
      ...(r.note ? { note: r.note.slice(0, 2000) } : {}),
    }));
  }

  async ordersUpdatedSince(cursor: string | null, since: string, call: CallContext): Promise<ChangedOrdersPage> {
    const { from, after } = parseCursor(cursor, since);
    // ">=" so that an order updated in the same second as the last one seen is not missed (intake is idempotent).
    const query = `updated_at:>='${new Date(from).toISOString()}'`;
    type Page = { orders: Connection<WireGraphqlOrder> };
    const page = await this.graphql.request<Page>('OrdersUpdatedSince', ORDERS_UPDATED_SINCE, { query, first: ORDERS_PER_PAGE, after: after ?? null }, call);
    const orders = page.orders.nodes;
    // An order with more lines than one page holds gets the rest now: a mapped order must have all its lines.
    for (const order of orders) {
      let lines = order.lineItems;
      while (lines.pageInfo.hasNextPage && lines.pageInfo.endCursor) {
        type More = { order: { lineItems: WireGraphqlOrder['lineItems'] } | null };
        const more: More = await this.graphql.request<More>('OrderLineItems', ORDER_LINE_ITEMS, { id: order.id, after: lines.pageInfo.endCursor }, call);
        if (!more.order) break;
        lines = more.order.lineItems;
        order.lineItems = { nodes: [...order.lineItems.nodes, ...lines.nodes], pageInfo: lines.pageInfo };
      }
    }
    if (page.orders.pageInfo.hasNextPage && page.orders.pageInfo.endCursor) {
      return { orders, nextCursor: `${from}|${page.orders.pageInfo.endCursor}`, more: true };
    }
    const last = orders.reduce((max, o) => (Date.parse(o.updatedAt) > Date.parse(max) ? o.updatedAt : max), from);
    return { orders, nextCursor: new Date(last).toISOString(), more: false };
  }
}

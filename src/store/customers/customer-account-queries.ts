import type { Queryable } from '../database.ts';

/**
 * Reads of the account view (docs/customers.md#account-view): a customer's orders and returns,
 * following merges (an order belongs to the customer its resolved record belongs to now).
 * Only record ids and customer ids are read from the customer tables, never personal columns.
 */

export interface AccountOrderRow {
  id: string;
  channel: string;
  channel_order_id: string;
  status: string;
  currency: string;
  grand_total: string;
  placed_at: Date;
}

export interface AccountReturnRow {
  id: string;
  order_id: string;
  status: string;
  refund_amount: string;
  location_code: string;
  credit_note: unknown;
  created_at: Date;
  completed_at: Date | null;
}

/** The customer's most recent orders, newest first. */
export async function selectCustomerOrders(db: Queryable, customerId: string, limit: number): Promise<AccountOrderRow[]> {
  const result = await db.query<AccountOrderRow>(
    `SELECT o.id, o.channel, o.channel_order_id, o.status, o.currency, o.grand_total::text AS grand_total, o.placed_at
       FROM order_customer oc
       JOIN customer_source_record r ON r.id = oc.record_id
       JOIN sales_order o ON o.id = oc.order_id
      WHERE r.customer_id = $1
      ORDER BY o.placed_at DESC, o.id DESC
      LIMIT $2`,
    [customerId, limit],
  );
  return result.rows;
}

/** The customer's most recent returns (of any of their orders), newest first. */
export async function selectCustomerReturns(db: Queryable, customerId: string, limit: number): Promise<AccountReturnRow[]> {
  const result = await db.query<AccountReturnRow>(
    `SELECT t.id, t.order_id, t.status, t.refund_amount::text AS refund_amount, t.location_code, t.credit_note, t.created_at, t.completed_at
       FROM order_customer oc
       JOIN customer_source_record r ON r.id = oc.record_id
       JOIN order_return t ON t.order_id = oc.order_id
      WHERE r.customer_id = $1
      ORDER BY t.created_at DESC, t.id DESC
      LIMIT $2`,
    [customerId, limit],
  );
  return result.rows;
}

/** The most recent of the customer's orders posted to an ERP, with the ERP connection it was routed to (null: an order of before routing, the default ERP). */
export async function selectLatestErpOrder(db: Queryable, customerId: string): Promise<{ order_id: string; erp: string | null } | undefined> {
  const result = await db.query<{ order_id: string; erp: string | null }>(
    `SELECT o.id AS order_id, f.erp_connection AS erp
       FROM order_customer oc
       JOIN customer_source_record r ON r.id = oc.record_id
       JOIN sales_order o ON o.id = oc.order_id
       JOIN order_flow f ON f.order_id = o.id
      WHERE r.customer_id = $1 AND f.erp_sale IS NOT NULL
      ORDER BY o.placed_at DESC, o.id DESC
      LIMIT 1`,
    [customerId],
  );
  return result.rows[0];
}

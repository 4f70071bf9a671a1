import type { Queryable } from '../database.ts';

/** Replaces an order's personal data (ADR 0039): the pseudonymised document and its e-mail column. */
export async function rewriteOrderPersonalData(tx: Queryable, orderId: string, document: unknown, customerEmail: string): Promise<void> {
  await tx.query('UPDATE sales_order SET document = $2, customer_email = $3 WHERE id = $1', [orderId, JSON.stringify(document), customerEmail]);
}

/** The order's document as stored (the accepted order, amended in place), or undefined. */
export async function selectOrderDocument(db: Queryable, orderId: string): Promise<Record<string, unknown> | undefined> {
  return (await db.query<{ document: Record<string, unknown> }>('SELECT document FROM sales_order WHERE id = $1', [orderId])).rows[0]?.document;
}

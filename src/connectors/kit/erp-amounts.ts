import { SynclineError } from '../../domain/errors.ts';
import { toScaled } from '../../model/money.ts';
import type { Order } from '../../model/order.ts';
import type { ErpSale } from './contracts.ts';

/**
 * The ERP's total must be what the customer paid. A difference beyond rounding (a cent per priced
 * line: goods, shipping, discount, each rounded by the ERP on its own) is the permanent
 * `erp.amount_mismatch` with both sets of amounts, so the order goes to exception instead of being
 * posted with a wrong amount in silence.
 */
export function assertErpTotalMatches(system: string, order: Order, sale: ErpSale): void {
  const erp = toScaled(sale.totalAmount, 2);
  const expected = toScaled(order.totals.grandTotal, 2);
  const priced = BigInt(order.lines.length + (toScaled(order.totals.shipping, 6) > 0n ? 1 : 0) + (toScaled(order.totals.discount, 6) > 0n ? 1 : 0));
  const difference = erp > expected ? erp - expected : expected - erp;
  if (difference <= priced) return;
  throw new SynclineError('erp.amount_mismatch', `${system} computed ${sale.totalAmount} for sale ${sale.number ?? sale.erpId}, the order's total is ${order.totals.grandTotal}`, {
    retry: 'permanent',
    details: {
      system,
      reference: order.id,
      saleId: sale.erpId,
      erpTotal: sale.totalAmount,
      erpUntaxed: sale.untaxedAmount,
      erpTax: sale.taxAmount,
      orderTotal: order.totals.grandTotal,
      orderTax: order.totals.tax,
    },
  });
}

import type { ErpCustomerAccount, ErpOpenInvoice } from '../../kit/contracts.ts';
import type { CallContext } from '../../kit/http-client.ts';
import { decimalOf, TrytonDate } from '../tryton-wire.ts';
import type { TrytonRpc } from './json-rpc.ts';

/**
 * A customer's account in Tryton 6.0 (see ../README.md, "Customer accounts"): the party, its
 * receivable (a function field of the account module: what the party owes on the receivable
 * account) and its customer invoices in state `posted` (posted, not yet paid: a paid invoice
 * moves to `paid`), each with `amount_to_pay`. Tryton keeps a credit note as an `out` invoice
 * with a negative total. A credit limit needs the account_credit_limit module, which the
 * integration does not require: it is reported as null.
 */

type Row = Record<string, unknown> & { id: number };

const INVOICE_FIELDS = ['number', 'invoice_date', 'total_amount', 'amount_to_pay', 'currency'];
/** Open invoices listed per account (the oldest beyond it are left out). */
const MAX_OPEN_INVOICES = 50;

/** The party `account` (its id) with its receivable and open customer invoices; undefined when Tryton has no such party. */
export async function trytonCustomerAccount(rpc: TrytonRpc, account: string, currencyCode: (id: number) => Promise<string>, context: CallContext): Promise<ErpCustomerAccount | undefined> {
  const partyId = Number(account);
  if (!Number.isSafeInteger(partyId) || partyId <= 0) return undefined;
  // search_read, not read: a party that does not exist is an empty answer, not an error.
  // The two reads are independent: sent together, the account costs one round trip of latency.
  const [[party], rows] = await Promise.all([
    rpc.call<Row[]>('model.party.party.search_read', [[['id', '=', partyId]], 0, 1, null, ['name', 'code', 'receivable']], context),
    rpc.call<Row[]>(
      'model.account.invoice.search_read',
      [[['party', '=', partyId], ['type', '=', 'out'], ['state', '=', 'posted']], 0, MAX_OPEN_INVOICES, [['invoice_date', 'DESC'], ['id', 'DESC']], INVOICE_FIELDS],
      context,
    ),
  ]);
  if (!party) return undefined;
  const openInvoices: ErpOpenInvoice[] = [];
  for (const row of rows) {
    const total = decimalOf(row.total_amount);
    openInvoices.push({
      erpId: String(row.id),
      number: (row.number as string | null) ?? null,
      kind: total.startsWith('-') ? 'credit_note' : 'invoice',
      invoiceDate: row.invoice_date instanceof TrytonDate ? row.invoice_date.toIsoDate() : null,
      dueDate: null,
      totalAmount: total,
      remainingAmount: decimalOf(row.amount_to_pay ?? row.total_amount),
      currency: await currencyCode(row.currency as number),
    });
  }
  return {
    account: String(party.id),
    number: (party.code as string | null) ?? null,
    name: (party.name as string | null) ?? null,
    balance: decimalOf(party.receivable ?? '0'),
    creditLimit: null,
    currency: openInvoices[0]?.currency ?? null,
    openInvoices,
  };
}

/** The party of the live sale with this reference (an order id); undefined when Tryton has none. */
export async function trytonSaleAccount(rpc: TrytonRpc, reference: string, context: CallContext): Promise<string | undefined> {
  const rows = await rpc.call<Row[]>('model.sale.sale.search_read', [[['reference', '=', reference]], 0, null, [['id', 'ASC']], ['state', 'party']], context);
  const sale = rows.find((r) => r.state !== 'cancelled') ?? rows[0];
  return sale ? String(sale.party) : undefined;
}

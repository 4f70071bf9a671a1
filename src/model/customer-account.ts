import { z } from 'zod';
import { Customer } from './customer.ts';

/**
 * The composite account view of a customer (docs/customers.md#account-view, ADR 0040).
 *
 * Glossary:
 * - part: one section of the view, read from one source (Syncline's own tables, the loyalty
 *   service, the ERP the customer's account lives in); each part says where it came from and
 *   how old it is.
 * - status: `ok` read for this view; `cached` served from the part cache (a repeat within the
 *   cache TTL, or the system was slow or down and an older copy was served), `ageSeconds` says
 *   how old; `unavailable` neither answered within the budget nor cached.
 */

export const AccountPartStatus = z.enum(['ok', 'cached', 'unavailable']).meta({ id: 'AccountPartStatus' });
export type AccountPartStatus = z.infer<typeof AccountPartStatus>;

/** A part's envelope around its data. */
const part = <T extends z.ZodType>(data: T, id: string, description: string) =>
  z
    .object({
      source: z.string().meta({ description: 'Where the part comes from: syncline, loyalty, or erp:<connection>.' }),
      status: AccountPartStatus,
      fetchedAt: z.string().nullable().meta({ description: 'When the data was read from its source (null: never).' }),
      ageSeconds: z.number().nullable().meta({ description: 'Age of the data when the view was answered, in seconds.' }),
      error: z.string().optional().meta({ description: 'Why the source did not answer (a slow system, a stable error code).' }),
      data: data.nullable(),
    })
    .meta({ id, description });

export const LoyaltyMemberView = z.object({ memberId: z.string(), email: z.string().nullable(), balance: z.number().int(), tier: z.string() }).meta({ id: 'AccountLoyaltyMember' });
export const LoyaltyPartData = z.object({ members: z.array(LoyaltyMemberView) });
export type LoyaltyPartData = z.infer<typeof LoyaltyPartData>;

export const OpenInvoiceView = z
  .object({
    erpId: z.string(),
    number: z.string().nullable(),
    kind: z.enum(['invoice', 'credit_note']),
    invoiceDate: z.string().nullable(),
    dueDate: z.string().nullable(),
    totalAmount: z.string(),
    remainingAmount: z.string(),
    currency: z.string(),
  })
  .meta({ id: 'AccountOpenInvoice' });
export const ErpAccountView = z
  .object({
    connection: z.string().meta({ description: 'The ERP connection the account lives in.' }),
    account: z.string().meta({ description: "The ERP's id of the account (Tryton party id, Business Central customer id)." }),
    number: z.string().nullable(),
    name: z.string().nullable(),
    balance: z.string().meta({ description: 'What the customer owes now (decimal).' }),
    creditLimit: z.string().nullable(),
    currency: z.string().nullable(),
    openInvoices: z.array(OpenInvoiceView),
  })
  .meta({ id: 'AccountErpAccount' });
export const ErpPartData = z.object({ accounts: z.array(ErpAccountView) });
export type ErpPartData = z.infer<typeof ErpPartData>;

export const AccountOrder = z
  .object({ id: z.string(), channel: z.string(), channelOrderId: z.string(), status: z.string(), currency: z.string(), grandTotal: z.string(), placedAt: z.string() })
  .meta({ id: 'AccountOrder' });
export const AccountReturn = z
  .object({
    id: z.string(),
    orderId: z.string(),
    status: z.string(),
    refundAmount: z.string(),
    location: z.string(),
    creditNote: z
      .object({ erpId: z.union([z.number(), z.string()]), number: z.string().nullable(), state: z.string(), totalAmount: z.string() })
      .nullable()
      .meta({ description: 'The ERP credit note of a completed return.' }),
    createdAt: z.string(),
    completedAt: z.string().nullable(),
  })
  .meta({ id: 'AccountReturn' });
export const OrdersPartData = z.object({ orders: z.array(AccountOrder), returns: z.array(AccountReturn) });
export type OrdersPartData = z.infer<typeof OrdersPartData>;

export const ConsentPartData = z.object({ consents: z.array(z.record(z.string(), z.unknown())) }).meta({ id: 'AccountConsent', description: 'The customer’s consents, per purpose and channel.' });
export type ConsentPartData = z.infer<typeof ConsentPartData>;

export const CustomerAccount = z
  .object({
    customerId: z.string(),
    requestedId: z.string().meta({ description: 'The id asked for; differs from customerId when it was merged into another customer.' }),
    budgetMs: z.number().int(),
    elapsedMs: z.number().int(),
    profile: part(Customer, 'AccountProfilePart', 'The golden record with identifiers and source records (Syncline).'),
    loyalty: part(LoyaltyPartData, 'AccountLoyaltyPart', 'Loyalty balance and tier of each member of the customer (loyalty service).'),
    erp: part(ErpPartData, 'AccountErpPart', 'Balance, credit limit and open invoices of each ERP account of the customer.'),
    orders: part(OrdersPartData, 'AccountOrdersPart', 'Recent orders and returns, following merges (Syncline).'),
    consent: part(ConsentPartData, 'AccountConsentPart', 'Consent per purpose and channel.'),
  })
  .meta({ id: 'CustomerAccount', description: 'The composite account view: each part with its source and freshness.' });
export type CustomerAccount = z.infer<typeof CustomerAccount>;

export type AccountPart<T> = { source: string; status: AccountPartStatus; fetchedAt: string | null; ageSeconds: number | null; error?: string; data: T | null };

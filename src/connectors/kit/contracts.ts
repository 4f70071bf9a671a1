import type { Address, Order } from '../../model/order.ts';
import type { ProductRecord } from '../../model/product.ts';
import type { CallContext } from './http-client.ts';

/**
 * The contracts between Syncline's flows and the external systems. Flows depend on
 * these interfaces only; each connector's outbound/ client implements one of them
 * against the system's own API (a sandbox in tests and rehearsals, the real system
 * in production).
 *
 * Glossary
 *   posting       creating the order in the ERP, the financial system of record
 *   fulfilment    a request to one location (warehouse or store) to ship order lines
 *   authorisation money reserved on the customer's payment method, captured later
 *   screening     the fraud service's decision on an order: approve, or hold with reasons
 *
 * Errors: faults (the system is down, throttling, refusing a malformed call) are
 * thrown as SynclineError with a retry class; expected business outcomes (a card
 * declined, a fulfilment already shipped) are returned as result values.
 * Every mutating call is idempotent by a business key, so a flow may repeat it.
 */

export type { CallContext };

// ---------------------------------------------------------------------------------------------
// ERP

export interface ErpSale {
  /** The Syncline order id (or return id) the sale was posted for: the ERP's external reference. */
  reference: string;
  erpId: number;
  number: string | null;
  /** The ERP's own state, e.g. draft, quotation, processing, done, cancelled. */
  state: string;
  shipmentState: string;
  invoiceState: string;
  untaxedAmount: string;
  taxAmount: string;
  totalAmount: string;
  currency: string;
  shipmentIds: number[];
  returnShipmentIds: number[];
  invoiceIds: number[];
}

/** One priced line of an ERP sale, as the ERP computed it; prices and amounts exclude tax. */
export interface ErpSaleLine {
  /** The ERP's product code / item number (charges post as their configured products). */
  sku: string;
  /** A decimal string ("2", "1.5"). */
  quantity: string;
  /** The ERP's unit price without tax (Tryton keeps 4 decimals). */
  unitPrice: string;
  /** The line's amount without tax, as the ERP rounded it. */
  amount: string;
  /** The percentage the ERP's tax rules put on the line ("10.00"; the sum when several taxes apply). */
  taxPercent: string;
}

/** The customer record the ERP matched (or created) for the sale. */
export interface ErpSaleCustomer {
  /** The ERP's own id (a Tryton party id, a Business Central customer GUID). */
  erpId: string;
  /** The ERP's code or number for people (Tryton party code, BC customer number). */
  code: string | null;
  name: string;
  email: string | null;
}

/** A sale with what it is made of: read for comparisons (shadow mode), never on an order's own path. */
export interface ErpSaleDetail {
  sale: ErpSale;
  customer: ErpSaleCustomer | null;
  /** Null when the ERP no longer shows the lines (e.g. a Business Central order closed into posted documents). */
  lines: ErpSaleLine[] | null;
}

export interface ErpPostResult {
  sale: ErpSale;
  /** False when a sale with this reference already existed (the call was a repeat). */
  created: boolean;
}

export type ErpCancelResult =
  | { outcome: 'cancelled'; sale: ErpSale }
  /** Processing sales cannot be cancelled in the ERP: their open shipments and draft invoices were cancelled instead. */
  | { outcome: 'cancelled_documents'; sale: ErpSale; cancelledShipmentIds: number[]; cancelledInvoiceIds: number[] }
  | { outcome: 'already_shipped'; sale: ErpSale }
  | { outcome: 'not_found' };

export interface ErpShipmentLine {
  sku: string;
  quantity: number;
}

export interface ErpShipmentInput {
  /** The external shipment id (e.g. "wms:shp_123"): stored on the ERP shipment, so a repeat does nothing. */
  shipmentKey: string;
  lines: ErpShipmentLine[];
}

export interface ErpShipmentResult {
  /** False when the shipment key had already been recorded. */
  recorded: boolean;
  erpShipmentId: number | null;
  sale: ErpSale;
}

export interface ErpInvoice {
  erpId: number;
  number: string | null;
  state: string;
  /** A credit note has a negative total. */
  kind: 'invoice' | 'credit_note';
  untaxedAmount: string;
  taxAmount: string;
  totalAmount: string;
  currency: string;
  invoiceDate: string | null;
}

export interface ErpReturnInput {
  /** Syncline return id, used as the ERP reference of the return sale. */
  returnId: string;
  orderId: string;
  lines: { sku: string; quantity: number; unitPrice: string }[];
  /** Receive the goods into the ERP's stock (resellable items). */
  restock: boolean;
}

export interface ErpReturnResult {
  sale: ErpSale;
  created: boolean;
  creditNotes: ErpInvoice[];
  /** The customer account credited (Tryton party id, Business Central customer id): the one the order's sale was posted to. */
  account: string;
}

export interface ErpStockLevel {
  sku: string;
  quantity: number;
  forecastQuantity: number;
}

/** A configuration problem found by `checkSetup()` (a charge product or payment term missing in the ERP): each one would fail every posting. */
export interface ErpSetupProblem {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface ErpConnector {
  readonly system: string;
  /** Checks the ERP has what the configuration names (charge products, payment term, warehouse); [] when all is well. */
  checkSetup?(context?: CallContext): Promise<ErpSetupProblem[]>;
  /** Posts the order as a confirmed sale; a repeat finds the existing sale by reference and completes it. */
  postOrder(order: Order, context?: CallContext): Promise<ErpPostResult>;
  /** The sale posted for an order id (or return id), if any. */
  getSale(reference: string, context?: CallContext): Promise<ErpSale | undefined>;
  /** The sale posted for a reference with its lines and customer, if any (several requests: for comparisons only). */
  saleDetail?(reference: string, context?: CallContext): Promise<ErpSaleDetail | undefined>;
  cancelOrder(orderId: string, context?: CallContext): Promise<ErpCancelResult>;
  /** Ships lines of the order's open ERP shipment (full or partial); the ERP's stock goes down. */
  recordShipment(orderId: string, input: ErpShipmentInput, context?: CallContext): Promise<ErpShipmentResult>;
  /** Posts the order's draft invoices and returns all its invoices. */
  postInvoices(reference: string, context?: CallContext): Promise<ErpInvoice[]>;
  /** Posts a return as a return sale: goods back into stock (when restocked) and a posted credit note. */
  postReturn(input: ErpReturnInput, context?: CallContext): Promise<ErpReturnResult>;
  stockLevels(skus: string[], context?: CallContext): Promise<ErpStockLevel[]>;
  /**
   * The item master, a page at a time: products (active or not) the ERP created or changed at or
   * after `since` (its own modification time, ISO 8601 UTC; null: every product), in a stable
   * order (offset paging stays correct while records change: a change only moves a stamp forward).
   */
  productsChangedSince?(since: string | null, page: { offset: number; limit: number }, context?: CallContext): Promise<ErpProductPage>;
  /**
   * Customer propagation (docs/customers.md#propagation): activates or deactivates the ERP's
   * customer (Tryton party, BC customer) by its ERP id. A merge deactivates the merged side's
   * customer (blocked in BC), an unmerge activates it again. 'not-found' when the ERP has no such customer.
   */
  setCustomerActive?(erpId: string, active: boolean, context?: CallContext): Promise<'changed' | 'unchanged' | 'not-found'>;
  /** Erases the personal data of the ERP's customer (name pseudonymised, contacts and address lines blanked) and deactivates it. */
  eraseCustomer?(erpId: string, context?: CallContext): Promise<'erased' | 'not-found'>;
  /** A customer account (Tryton party id, Business Central customer id): balance, credit limit and open invoices; undefined when the ERP has no such account. */
  customerAccount?(account: string, context?: CallContext): Promise<ErpCustomerAccount | undefined>;
  /** The customer account a sale was posted to (by the sale's reference, an order id), in one request; undefined when there is no such sale. */
  saleAccount?(reference: string, context?: CallContext): Promise<string | undefined>;
}

/** One open (posted, not fully paid) sales document of a customer account; amounts are decimal strings. */
export interface ErpOpenInvoice {
  erpId: string;
  number: string | null;
  /** A credit note not yet settled has a negative total. */
  kind: 'invoice' | 'credit_note';
  invoiceDate: string | null;
  dueDate: string | null;
  totalAmount: string;
  /** What is left to pay. */
  remainingAmount: string;
  currency: string;
}

/** A customer account in the ERP as the account view shows it. */
export interface ErpCustomerAccount {
  /** The ERP's id of the account (party id, customer id). */
  account: string;
  number: string | null;
  name: string | null;
  /** What the customer owes now (receivable), a decimal string. */
  balance: string;
  /** Null when the ERP sets none (Tryton without the account_credit_limit module). */
  creditLimit: string | null;
  currency: string | null;
  openInvoices: ErpOpenInvoice[];
}

/** A page of the ERP's item master; `modifiedAt` is the ERP's latest modification time of the record (ISO 8601 UTC). */
export interface ErpProductPage {
  products: (ProductRecord & { modifiedAt: string | null })[];
  /** Products the ERP has but Syncline cannot take (no code, or a code that is not a valid SKU). */
  skipped: { externalId: string; reason: string }[];
  more: boolean;
}

// ---------------------------------------------------------------------------------------------
// WMS (and stores that fulfil)

export type FulfilmentStatus = 'open' | 'partially_shipped' | 'shipped' | 'cancelled';

export interface FulfilmentLine {
  lineNumber: number;
  sku: string;
  quantity: number;
  shippedQuantity: number;
}

export interface Fulfilment {
  /** The WMS's id of the fulfilment request. */
  id: string;
  orderId: string;
  locationId: string;
  status: FulfilmentStatus;
  lines: FulfilmentLine[];
  createdAt: string;
  updatedAt: string;
}

export interface FulfilmentInput {
  orderId: string;
  locationId: string;
  shipTo: Address;
  customer?: { name: string; email?: string };
  lines: { lineNumber: number; sku: string; quantity: number }[];
}

export type FulfilmentCancelResult =
  | { outcome: 'cancelled'; fulfilment: Fulfilment }
  /** Some or all lines left the building; nothing was cancelled. */
  | { outcome: 'already_shipped'; fulfilment: Fulfilment }
  | { outcome: 'not_found' };

export interface WmsConnector {
  readonly system: string;
  /** Creates the request for (order, location); a repeat returns the existing one with created = false. */
  createFulfilment(input: FulfilmentInput, context?: CallContext): Promise<{ fulfilment: Fulfilment; created: boolean }>;
  getFulfilment(fulfilmentId: string, context?: CallContext): Promise<Fulfilment | undefined>;
  findFulfilments(orderId: string, context?: CallContext): Promise<Fulfilment[]>;
  cancelFulfilment(fulfilmentId: string, context?: CallContext): Promise<FulfilmentCancelResult>;
}

// ---------------------------------------------------------------------------------------------
// Payment

export type PaymentState = 'authorized' | 'captured' | 'voided' | 'failed';

export interface PaymentRecord {
  /** The gateway's id (a PaymentIntent id such as pi_…). */
  id: string;
  orderId: string;
  state: PaymentState;
  amount: string;
  currency: string;
  capturedAmount: string;
  refundedAmount: string;
}

export type PaymentOutcome =
  | { outcome: 'succeeded'; payment: PaymentRecord }
  /** The gateway or issuer said no (a card declined); retrying the same call will not help. */
  | { outcome: 'declined'; code: string; message: string; payment: PaymentRecord | undefined };

export interface RefundRecord {
  id: string;
  paymentId: string;
  amount: string;
  currency: string;
  status: string;
}

export interface PaymentConnector {
  readonly system: string;
  /** Authorises `amount` for the order (idempotency key: `authorize:<orderId>`). */
  authorize(input: { orderId: string; amount: string; currency: string; paymentMethod?: string }, context?: CallContext): Promise<PaymentOutcome>;
  capture(paymentId: string, input?: { amount?: string }, context?: CallContext): Promise<PaymentOutcome>;
  /** Voids (cancels) an uncaptured authorisation. */
  void(paymentId: string, context?: CallContext): Promise<PaymentOutcome>;
  /** Refunds part or all of a captured payment; `refundKey` (e.g. the return id) makes it idempotent. */
  refund(paymentId: string, input: { amount: string; refundKey: string; reason?: string }, context?: CallContext): Promise<RefundRecord>;
  getPayment(paymentId: string, context?: CallContext): Promise<PaymentRecord | undefined>;
  /** The payments made for an order (found by the order id they carry), e.g. after an authorisation whose answer was lost. */
  findPayments(orderId: string, context?: CallContext): Promise<PaymentRecord[]>;
}

// ---------------------------------------------------------------------------------------------
// Fraud

export interface ScreeningInput {
  orderId: string;
  email: string;
  amount: string;
  currency: string;
  shippingCountry: string;
  billingCountry?: string;
  lineCount: number;
}

export interface Screening {
  id: string;
  orderId: string;
  decision: 'approve' | 'hold';
  reasons: { code: string; message: string }[];
  score: number;
}

export interface FraudConnector {
  readonly system: string;
  /** Screens an order; a repeat for the same order returns the first decision. */
  screen(input: ScreeningInput, context?: CallContext): Promise<Screening>;
}

// ---------------------------------------------------------------------------------------------
// Loyalty (non-critical: a failure must never block posting or fulfilment)

export interface PointsAward {
  id: string;
  orderId: string;
  email: string;
  /** The member credited (the member id when the award named one, else the member of the e-mail). */
  memberId?: string | undefined;
  points: number;
  balance: number;
  created: boolean;
}

export interface PointsReversal {
  id: string;
  orderId: string;
  /** The award it takes back. */
  awardId: string;
  email: string;
  /** Points taken back (the award's points). */
  points: number;
  balance: number;
  /** False when the award had been reversed already (the call was a repeat). */
  created: boolean;
}

export interface LoyaltyConnector {
  readonly system: string;
  /** Awards points for an order; a repeat for the same order awards nothing more. */
  awardPoints(input: { orderId: string; email: string; amount: string; currency: string; memberId?: string }, context?: CallContext): Promise<PointsAward>;
  /**
   * Takes back the points awarded for an order; undefined when nothing was awarded for it.
   * Without `amount`, everything not taken back yet (once per order). With `amount` (a part of
   * the order's value, in the award's currency), the points that part earned, once per `reference`.
   */
  reversePoints(input: { orderId: string; reason?: string; amount?: string; reference?: string }, context?: CallContext): Promise<PointsReversal | undefined>;
  balance(email: string, context?: CallContext): Promise<number>;
  /** Combines a member into another (points move to `into`); the member is kept as merged so it can be split again. */
  mergeMember?(memberId: string, into: string, context?: CallContext): Promise<'merged' | 'unchanged' | 'not-found'>;
  /** Splits a merged member off again: it gets back the points it brought. */
  unmergeMember?(memberId: string, context?: CallContext): Promise<'unmerged' | 'unchanged' | 'not-found'>;
  /** Erases the member's personal data (the points ledger stays, anonymised). */
  eraseMember?(memberId: string, context?: CallContext): Promise<'erased' | 'not-found'>;
  /** Records the member's consent for a purpose. */
  setMemberConsent?(memberId: string, consent: { purpose: string; channel: string | null; status: 'granted' | 'withdrawn'; at: string }, context?: CallContext): Promise<'changed' | 'not-found'>;
  /** A member by member id (or e-mail): balance and tier; undefined when the programme has none. */
  member?(key: string, context?: CallContext): Promise<LoyaltyMember | undefined>;
}

/** A loyalty member as the programme reports it. */
export interface LoyaltyMember {
  id: string;
  email: string | null;
  balance: number;
  tier: string;
}

// ---------------------------------------------------------------------------------------------
// CRM

/** A CRM contact as Syncline reads it (the connector maps the vendor's properties). */
export interface CrmContact {
  id: string;
  email: string | null;
  givenName: string | null;
  familyName: string | null;
  phone: string | null;
  address: { line1: string; city: string; postalCode: string; region?: string; country: string } | null;
  /** The ERP account the contact is linked to, when the CRM carries it. */
  erpAccount: string | null;
  /** The CRM's engagement preferences (lifecycle stage, preferred channel ...). */
  engagement: Record<string, string>;
  updatedAt: string;
}

export interface CrmConnector {
  readonly system: string;
  /** Contacts a page at a time, in a stable order; pass `next` back for the following page. */
  listContacts(page: { after?: string; limit: number }, context?: CallContext): Promise<{ contacts: CrmContact[]; next?: string }>;
  /** Merges a contact into a primary one (the CRM keeps the primary). 'not-found' when either is gone. */
  mergeContacts(primaryId: string, mergedId: string, context?: CallContext): Promise<'merged' | 'unchanged' | 'not-found'>;
  /** Permanently deletes a contact and its personal data (the CRM's privacy deletion). */
  eraseContact(contactId: string, context?: CallContext): Promise<'erased' | 'not-found'>;
  /**
   * Sets the contact's subscription for a purpose and channel; 'refused' when the CRM does not
   * allow the change (a re-subscription after an opt-out); 'not-mapped' when the connection maps
   * no subscription to the purpose and channel.
   */
  setConsent(contactId: string, consent: { purpose: string; channel: string | null; status: 'granted' | 'withdrawn'; proof: string | null }, context?: CallContext): Promise<'changed' | 'unchanged' | 'refused' | 'not-found' | 'not-mapped'>;
}

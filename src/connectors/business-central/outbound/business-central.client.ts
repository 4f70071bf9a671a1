import { SynclineError } from '../../../domain/errors.ts';
import { fromScaled, toScaled } from '../../../model/money.ts';
import type { Order } from '../../../model/order.ts';
import type {
  CallContext,
  ErpCancelResult,
  ErpCustomerAccount,
  ErpConnector,
  ErpInvoice,
  ErpPostResult,
  ErpReturnInput,
  ErpReturnResult,
  ErpSale,
  ErpSaleDetail,
  ErpSaleLine,
  ErpSetupProblem,
  ErpShipmentInput,
  ErpShipmentResult,
  ErpStockLevel,
} from '../../kit/contracts.ts';
import type { TargetPolicy } from '../../../runtime/targets/target-policy.ts';
import { assertErpTotalMatches } from '../../kit/erp-amounts.ts';
import {
  decimalOfNumber,
  guidToErpId,
  odataString,
  type BcCustomer,
  type BcEntity,
  type BcItem,
  type BcSalesDocument,
  type BcSalesOrder,
  type BcSalesOrderLine,
} from '../business-central-wire.ts';
import { BcODataClient, type BcODataOptions } from './odata-client.ts';
import { bcCustomersChangedSince } from './bc-customers.ts';
import type { CustomerRecordPage, CustomerRecordSource } from '../../kit/customer-source.ts';

/**
 * The ERP connector for Dynamics 365 Business Central (API v2.0). An order becomes a sales order
 * whose `externalDocumentNumber` is the Syncline order id: posting looks it up first (among open
 * sales orders, then posted invoices, since BC deletes an order once it is fully shipped and
 * invoiced), and creates the order with its lines in one deep insert, so a repeat never makes a
 * second order and there is no half-made order to finish.
 */

/** BC item numbers the order's charges are posted as (default: shipping "SHIP"; discount null: BC's invoice discount on the order). */
export interface BcChargeItems {
  shipping?: string | null;
  discount?: string | null;
}

export interface BusinessCentralClientOptions extends BcODataOptions {
  /** (default: { shipping: "SHIP", discount: null }); `checkSetup()` reports a missing item. */
  chargeItems?: BcChargeItems;
  /** Whether the order's prices include tax (default: "auto": they do when the order reports no separate tax). */
  pricesIncludeTax?: 'auto' | boolean;
}

/**
 * Business Central online's limits as the runtime target's default policy (README.md, "Limits"):
 * 6000 requests per user in a 5-minute sliding window is 20 per second on average; at most 5
 * requests of one user run at once (more wait in BC's queue and then time out).
 */
export const BUSINESS_CENTRAL_TARGET_POLICY: TargetPolicy = {
  ratePerSecond: 20,
  maxConcurrency: 5,
  timeoutMs: 60_000,
  maxWaitMs: 5000,
  breaker: { failureThreshold: 5, cooldownMs: 30_000 },
};

const SYSTEM = 'business-central';
const DEFAULT_CHARGES: Required<BcChargeItems> = { shipping: 'SHIP', discount: null };

const permanent = (code: string, message: string, details: Record<string, unknown> = {}) =>
  new SynclineError(code, message, { retry: 'permanent', details: { system: SYSTEM, ...details } });

/** BC's document statuses in the port's words: a posted invoice BC calls Open (unpaid) is posted. */
const DOCUMENT_STATE: Record<string, string> = { Draft: 'draft', 'In Review': 'draft', Open: 'posted', Paid: 'paid', Canceled: 'cancelled', Corrective: 'cancelled' };

/** A unit price without tax, to 4 decimals: `price` / (1 + taxPercent / 100), rounded half away from zero. */
function netUnitPrice(price: number, taxPercent: number): string {
  const scaled = toScaled(decimalOfNumber(price, 4), 4);
  if (!taxPercent) return fromScaled(scaled, 4);
  const rate = toScaled(decimalOfNumber(taxPercent, 4), 4) + 1_000_000n; // (100 + taxPercent) x 10^4
  const numerator = scaled * 1_000_000n;
  const sign = numerator < 0n ? -1n : 1n;
  const magnitude = sign * numerator;
  return fromScaled(sign * ((2n * magnitude + rate) / (2n * rate)), 4);
}

/** BC's money is a JSON number; Syncline's is a decimal string (scale 2 for every currency BC posts in). */
const wireAmount = (value: string) => Number(value);
/** An id of a BC record (a GUID); anything else cannot name a customer and is not sent. */
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class BusinessCentralClient implements ErpConnector, CustomerRecordSource {
  readonly system = SYSTEM;
  readonly odata: BcODataClient;
  readonly #options: BusinessCentralClientOptions;

  constructor(options: BusinessCentralClientOptions) {
    this.#options = options;
    this.odata = new BcODataClient(options);
  }

  get #charges(): Required<BcChargeItems> {
    return { ...DEFAULT_CHARGES, ...this.#options.chargeItems };
  }

  // ---- reading --------------------------------------------------------------------------------

  async #openOrder(reference: string, context: CallContext): Promise<BcSalesOrder | undefined> {
    const [order] = await this.odata.list<BcSalesOrder>(`salesOrders?$filter=${encodeURIComponent(`externalDocumentNumber eq ${odataString(reference)}`)}&$expand=salesOrderLines`, context);
    return order;
  }

  async #documents(collection: 'salesInvoices' | 'salesCreditMemos' | 'salesShipments', reference: string, context: CallContext): Promise<BcSalesDocument[]> {
    return this.odata.list<BcSalesDocument>(`${collection}?$filter=${encodeURIComponent(`externalDocumentNumber eq ${odataString(reference)}`)}`, context);
  }

  #toInvoice(doc: BcSalesDocument, kind: ErpInvoice['kind']): ErpInvoice {
    const sign = kind === 'credit_note' ? -1 : 1;
    return {
      erpId: guidToErpId(doc.id),
      number: doc.number || null,
      state: DOCUMENT_STATE[String(doc.status)] ?? String(doc.status ?? '').toLowerCase(),
      kind,
      untaxedAmount: decimalOfNumber(sign * doc.totalAmountExcludingTax),
      taxAmount: decimalOfNumber(sign * doc.totalTaxAmount),
      totalAmount: decimalOfNumber(sign * doc.totalAmountIncludingTax),
      currency: doc.currencyCode,
      invoiceDate: doc.invoiceDate ?? doc.creditMemoDate ?? doc.postingDate ?? null,
    };
  }

  /** The port's sale from an open sales order (and what was already shipped and invoiced of it). */
  #saleOfOrder(order: BcSalesOrder, shipments: BcSalesDocument[], invoices: BcSalesDocument[]): ErpSale {
    const lines = order.salesOrderLines ?? [];
    const shipped = lines.some((l) => l.shippedQuantity > 0);
    return {
      reference: order.externalDocumentNumber,
      erpId: guidToErpId(order.id),
      number: order.number || null,
      state: String(order.status).toLowerCase(),
      shipmentState: order.fullyShipped ? 'sent' : shipped ? 'partially_sent' : 'waiting',
      invoiceState: invoices.length ? 'partially_paid' : 'none',
      untaxedAmount: decimalOfNumber(order.totalAmountExcludingTax),
      taxAmount: decimalOfNumber(order.totalTaxAmount),
      totalAmount: decimalOfNumber(order.totalAmountIncludingTax),
      currency: order.currencyCode,
      shipmentIds: shipments.map((s) => guidToErpId(s.id)),
      returnShipmentIds: [],
      invoiceIds: invoices.map((i) => guidToErpId(i.id)),
    };
  }

  /** The sale of an order BC has already closed: shipped and invoiced in full, so only its posted documents remain. */
  #saleOfPostedDocuments(reference: string, shipments: BcSalesDocument[], invoices: BcSalesDocument[]): ErpSale {
    const sum = (field: 'totalAmountExcludingTax' | 'totalTaxAmount' | 'totalAmountIncludingTax') =>
      fromScaled(invoices.reduce((total, i) => total + toScaled(decimalOfNumber(i[field]), 2), 0n), 2);
    return {
      reference,
      erpId: guidToErpId(invoices[0]!.id),
      number: invoices[0]!.orderNumber || invoices[0]!.number || null,
      state: 'done',
      shipmentState: 'sent',
      invoiceState: 'paid',
      untaxedAmount: sum('totalAmountExcludingTax'),
      taxAmount: sum('totalTaxAmount'),
      totalAmount: sum('totalAmountIncludingTax'),
      currency: invoices[0]!.currencyCode,
      shipmentIds: shipments.map((s) => guidToErpId(s.id)),
      returnShipmentIds: [],
      invoiceIds: invoices.map((i) => guidToErpId(i.id)),
    };
  }

  async #customerById(erpId: string, context: CallContext): Promise<BcCustomer | undefined> {
    // A GUID only: anything else cannot name a BC customer (and must not reach the URL).
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(erpId)) return undefined;
    return this.odata.get<BcCustomer>(`customers(${erpId})`, context);
  }

  /** BC has no merge of customers: a merged customer is blocked ("All"), unblocked by an unmerge. */
  async setCustomerActive(erpId: string, active: boolean, context: CallContext = {}): Promise<'changed' | 'unchanged' | 'not-found'> {
    const customer = await this.#customerById(erpId, context);
    if (!customer) return 'not-found';
    const blocked = active ? ' ' : 'All';
    const { retried, entity } = await this.odata.write('PATCH', `customers(${customer.id})`, customer, (fresh) => (fresh.blocked === blocked ? undefined : { blocked }), context);
    return entity === customer && !retried ? 'unchanged' : 'changed';
  }

  /** The customer's personal fields blanked (the name pseudonymised: BC requires one) and the customer blocked; its ledger stays. */
  async eraseCustomer(erpId: string, context: CallContext = {}): Promise<'erased' | 'not-found'> {
    const customer = await this.#customerById(erpId, context);
    if (!customer) return 'not-found';
    const erased = { displayName: `Erased ${customer.number}`, email: '', phoneNumber: '', addressLine1: '', addressLine2: '', city: '', state: '', postalCode: '', website: '', blocked: 'All' };
    await this.odata.write('PATCH', `customers(${customer.id})`, customer, () => erased, context);
    return 'erased';
  }

  async getSale(reference: string, context: CallContext = {}): Promise<ErpSale | undefined> {
    const order = await this.#openOrder(reference, context);
    const [shipments, invoices] = [await this.#documents('salesShipments', reference, context), await this.#documents('salesInvoices', reference, context)];
    if (order) return this.#saleOfOrder(order, shipments, invoices);
    return invoices.length ? this.#saleOfPostedDocuments(reference, shipments, invoices) : undefined;
  }

  /**
   * The open sales order with its lines and customer. Line prices and amounts without tax, as
   * Tryton keeps them: with `pricesIncludeTax` BC's unit price includes the line's tax, so it is
   * divided by 1 + taxPercent (to 4 decimals, half away from zero).
   */
  async saleDetail(reference: string, context: CallContext = {}): Promise<ErpSaleDetail | undefined> {
    const order = await this.#openOrder(reference, context);
    if (!order) {
      const sale = await this.getSale(reference, context);
      return sale ? { sale, customer: null, lines: null } : undefined;
    }
    const [shipments, invoices] = [await this.#documents('salesShipments', reference, context), await this.#documents('salesInvoices', reference, context)];
    const customer = await this.odata.get<BcCustomer>(`customers(${order.customerId})`, context).catch((error: unknown) => {
      if (error instanceof SynclineError && error.code === 'erp.not_found') return undefined;
      throw error;
    });
    const lines: ErpSaleLine[] = (order.salesOrderLines ?? [])
      .filter((l) => l.lineType === 'Item')
      .map((l) => ({
        sku: l.lineObjectNumber,
        quantity: String(l.quantity),
        unitPrice: netUnitPrice(l.unitPrice, order.pricesIncludeTax ? l.taxPercent : 0),
        amount: decimalOfNumber(l.amountExcludingTax),
        taxPercent: decimalOfNumber(l.taxPercent),
      }));
    return {
      sale: this.#saleOfOrder(order, shipments, invoices),
      customer: customer ? { erpId: customer.id, code: customer.number || null, name: customer.displayName, email: customer.email || null } : null,
      lines,
    };
  }

  /** Items by number; unknown numbers are missing from the map. */
  async #items(numbers: string[], context: CallContext): Promise<Map<string, BcItem>> {
    const unique = [...new Set(numbers)];
    const found = new Map<string, BcItem>();
    // A filter of a few dozen `or` terms keeps the URL short.
    for (let i = 0; i < unique.length; i += 40) {
      const filter = unique.slice(i, i + 40).map((n) => `number eq ${odataString(n)}`).join(' or ');
      for (const item of await this.odata.list<BcItem>(`items?$filter=${encodeURIComponent(filter)}`, context)) found.set(item.number, item);
    }
    return found;
  }

  async stockLevels(skus: string[], context: CallContext = {}): Promise<ErpStockLevel[]> {
    const items = await this.#items(skus, context);
    return skus.filter((sku) => items.has(sku)).map((sku) => ({ sku, quantity: items.get(sku)!.inventory, forecastQuantity: items.get(sku)!.inventory }));
  }

  // ---- setup ----------------------------------------------------------------------------------

  /** Customers created or changed since the cursor, as customer records (docs/customers.md). */
  async customersChangedSince(since: string | null, page: { offset: number; limit: number }, context: CallContext = {}): Promise<CustomerRecordPage> {
    return bcCustomersChangedSince(this.odata, since, page, context);
  }

  async checkSetup(context: CallContext = {}): Promise<ErpSetupProblem[]> {
    const problems: ErpSetupProblem[] = [];
    const company = await this.odata.get<BcEntity>('', context).catch((error: unknown) => {
      if (error instanceof SynclineError && error.code === 'erp.not_found') return undefined;
      throw error;
    });
    if (!company) {
      return [{ code: 'erp.company_missing', message: `business-central has no company ${this.#options.companyId} in environment ${this.#options.environment}`, details: { companyId: this.#options.companyId } }];
    }
    const charges = Object.entries(this.#charges).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
    const items = await this.#items(charges.map(([, number]) => number), context);
    for (const [charge, number] of charges) {
      if (!items.has(number)) problems.push({ code: 'erp.charge_product_missing', message: `business-central has no item ${number} for the ${charge} charge`, details: { charge, item: number } });
    }
    return problems;
  }

  // ---- posting --------------------------------------------------------------------------------

  async #customer(order: Order, context: CallContext): Promise<BcCustomer> {
    const email = order.customer.email;
    const [existing] = await this.odata.list<BcCustomer>(`customers?$filter=${encodeURIComponent(`email eq ${odataString(email)}`)}`, context);
    if (existing) return existing;
    const a = order.billingAddress ?? order.shippingAddress;
    return this.odata.create<BcCustomer>(
      'customers',
      {
        displayName: order.customer.name.slice(0, 100),
        type: 'Person',
        email,
        ...(order.customer.phone ? { phoneNumber: order.customer.phone } : {}),
        addressLine1: a.line1.slice(0, 100),
        ...(a.line2 ? { addressLine2: a.line2.slice(0, 50) } : {}),
        city: a.city.slice(0, 30),
        ...(a.region ? { state: a.region.slice(0, 30) } : {}),
        postalCode: a.postalCode,
        country: a.country,
        currencyCode: order.currency,
      },
      context,
    );
  }

  #pricesIncludeTax(order: Order): boolean {
    const setting = this.#options.pricesIncludeTax ?? 'auto';
    return setting === 'auto' ? toScaled(order.totals.tax, 2) === 0n : setting;
  }

  async postOrder(order: Order, context: CallContext = {}): Promise<ErpPostResult> {
    const existing = await this.getSale(order.id, context);
    if (existing) {
      // A repeat checks the amounts again: the first attempt may have stopped at the mismatch.
      if (existing.state !== 'done') assertErpTotalMatches(SYSTEM, order, existing);
      return { sale: existing, created: false };
    }
    const charges = this.#charges;
    const shipping = toScaled(order.totals.shipping, 2);
    const discount = toScaled(order.totals.discount, 2);
    const wanted = [...order.lines.map((l) => l.sku), ...(shipping > 0n && charges.shipping ? [charges.shipping] : []), ...(discount > 0n && charges.discount ? [charges.discount] : [])];
    const items = await this.#items(wanted, context);
    const missing = [...new Set(wanted)].filter((sku) => !items.has(sku));
    if (missing.length) throw permanent('erp.unknown_product', `business-central has no item ${missing.join(', ')}`, { skus: missing });
    const blocked = [...new Set(wanted)].filter((sku) => items.get(sku)!.blocked);
    if (blocked.length) throw permanent('erp.unknown_product', `business-central item ${blocked.join(', ')} is blocked`, { skus: blocked, blocked: true });
    const customer = await this.#customer(order, context);
    const line = (number: string, quantity: number, unitPrice: string, description?: string) => ({
      lineType: 'Item',
      lineObjectNumber: number,
      ...(description ? { description: description.slice(0, 100) } : {}),
      quantity,
      unitPrice: wireAmount(unitPrice),
    });
    const lines = order.lines.map((l) => line(l.sku, l.quantity, l.unitPrice, l.name));
    if (shipping > 0n) {
      if (!charges.shipping) throw permanent('erp.charge_product_missing', 'the order has a shipping charge and the connection names no shipping item', { charge: 'shipping' });
      lines.push(line(charges.shipping, 1, order.totals.shipping, 'Shipping'));
    }
    if (discount > 0n && charges.discount) lines.push(line(charges.discount, 1, `-${order.totals.discount}`, 'Discount'));
    const s = order.shippingAddress;
    const created = await this.odata.create<BcSalesOrder>(
      'salesOrders?$expand=salesOrderLines',
      {
        externalDocumentNumber: order.id,
        orderDate: order.placedAt.slice(0, 10),
        customerId: customer.id,
        currencyCode: order.currency,
        pricesIncludeTax: this.#pricesIncludeTax(order),
        ...(discount > 0n && !charges.discount ? { discountAmount: wireAmount(order.totals.discount) } : {}),
        shipToName: s.name.slice(0, 100),
        shipToAddressLine1: s.line1.slice(0, 100),
        ...(s.line2 ? { shipToAddressLine2: s.line2.slice(0, 50) } : {}),
        shipToCity: s.city.slice(0, 30),
        ...(s.region ? { shipToState: s.region.slice(0, 30) } : {}),
        shipToPostCode: s.postalCode,
        shipToCountry: s.country,
        email: order.customer.email,
        salesOrderLines: lines,
      },
      context,
    );
    const sale = this.#saleOfOrder(created, [], []);
    assertErpTotalMatches(SYSTEM, order, sale);
    return { sale, created: true };
  }

  // ---- cancelling -----------------------------------------------------------------------------

  async cancelOrder(orderId: string, context: CallContext = {}): Promise<ErpCancelResult> {
    const order = await this.#openOrder(orderId, context);
    if (!order) {
      const sale = await this.getSale(orderId, context);
      return sale ? { outcome: 'already_shipped', sale } : { outcome: 'not_found' };
    }
    const sale = this.#saleOfOrder(order, [], []);
    if ((order.salesOrderLines ?? []).some((l) => l.shippedQuantity > 0)) return { outcome: 'already_shipped', sale: await this.getSale(orderId, context) ?? sale };
    // Deleting a sales order is how BC cancels one that has shipped nothing; the ETag keeps a concurrent edit from being lost.
    let shippedMeanwhile = false;
    await this.odata.write('DELETE', `salesOrders(${order.id})`, order, (fresh) => {
      shippedMeanwhile = fresh.fullyShipped || (fresh.salesOrderLines ?? []).some((l) => l.shippedQuantity > 0);
      return shippedMeanwhile ? undefined : {};
    }, context, `salesOrders(${order.id})?$expand=salesOrderLines`);
    if (shippedMeanwhile) return { outcome: 'already_shipped', sale: (await this.getSale(orderId, context)) ?? sale };
    return { outcome: 'cancelled', sale: { ...sale, state: 'cancelled' } };
  }

  // ---- shipping and invoicing -----------------------------------------------------------------

  /**
   * BC ships through the sales order: each line's "quantity to ship" (`shipQuantity`) is set to
   * what the WMS shipped, then the bound action `Microsoft.NAV.shipAndInvoice` posts a shipment
   * and an invoice of those quantities. Lines are capped at what is still outstanding, so a
   * repeated shipment that finds nothing outstanding records nothing.
   */
  async recordShipment(orderId: string, input: ErpShipmentInput, context: CallContext = {}): Promise<ErpShipmentResult> {
    const order = await this.#openOrder(orderId, context);
    if (!order) {
      const sale = await this.getSale(orderId, context);
      if (!sale) throw permanent('erp.sale_not_found', `business-central has no sales order for ${orderId}`, { orderId });
      return { recorded: false, erpShipmentId: null, sale };
    }
    const wanted = new Map<string, number>();
    for (const l of input.lines) wanted.set(l.sku, (wanted.get(l.sku) ?? 0) + l.quantity);
    const lines = order.salesOrderLines ?? [];
    const unknown = [...wanted.keys()].filter((sku) => !lines.some((l) => l.lineObjectNumber === sku));
    if (unknown.length) throw permanent('erp.shipment_line_unknown', `business-central order ${order.number} has no line for ${unknown.join(', ')}`, { skus: unknown });
    let toShip = 0;
    for (const l of lines) {
      const outstanding = l.quantity - l.shippedQuantity;
      const isCharge = l.lineObjectNumber === this.#charges.shipping || l.lineObjectNumber === this.#charges.discount;
      // Charges go with the first shipment; goods as the WMS shipped them.
      const ship = isCharge ? (l.shippedQuantity === 0 ? outstanding : 0) : Math.min(outstanding, wanted.get(l.lineObjectNumber) ?? 0);
      if (ship > 0 && !isCharge) toShip += ship;
      if (l.shipQuantity === ship && l.invoiceQuantity === ship) continue;
      await this.odata.write('PATCH', `salesOrders(${order.id})/salesOrderLines(${l.id})`, l, (fresh: BcSalesOrderLine) => {
        const left = fresh.quantity - fresh.shippedQuantity;
        const q = Math.min(ship, left);
        return fresh.shipQuantity === q && fresh.invoiceQuantity === q ? undefined : { shipQuantity: q, invoiceQuantity: q };
      }, context);
    }
    if (toShip === 0) return { recorded: false, erpShipmentId: null, sale: (await this.getSale(orderId, context))! };
    const before = new Set((await this.#documents('salesShipments', orderId, context)).map((s) => s.id));
    await this.odata.action(`salesOrders(${order.id})/Microsoft.NAV.shipAndInvoice`, context);
    const shipment = (await this.#documents('salesShipments', orderId, context)).find((s) => !before.has(s.id));
    return { recorded: true, erpShipmentId: shipment ? guidToErpId(shipment.id) : null, sale: (await this.getSale(orderId, context))! };
  }

  /** BC invoices as it ships (shipAndInvoice), so there are no drafts to post: the posted invoices of the order. */
  /**
   * A customer's account (API v2.0): the customer's balanceDue and creditLimit, and its sales
   * invoices in status Open (posted, not fully paid), newest first, with remainingAmount.
   */
  async customerAccount(account: string, context: CallContext = {}): Promise<ErpCustomerAccount | undefined> {
    if (!GUID.test(account)) return undefined;
    const filter = `customerId eq ${account} and status eq 'Open'`;
    // Independent reads, sent together.
    const [customer, invoices] = await Promise.all([
      this.odata.get<BcCustomer & { balanceDue: number; creditLimit: number; currencyCode: string }>(`customers(${account})`, context).catch((error: unknown) => {
        if (error instanceof SynclineError && error.code === 'erp.not_found') return undefined;
        throw error;
      }),
      this.odata.list<BcSalesDocument & { dueDate?: string; remainingAmount?: number }>(`salesInvoices?$filter=${encodeURIComponent(filter)}&$orderby=${encodeURIComponent('invoiceDate desc')}&$top=50`, context),
    ]);
    if (!customer) return undefined;
    return {
      account: customer.id,
      number: customer.number || null,
      name: customer.displayName || null,
      balance: decimalOfNumber(customer.balanceDue),
      creditLimit: decimalOfNumber(customer.creditLimit),
      currency: customer.currencyCode || null,
      openInvoices: invoices.map((doc) => ({
        erpId: doc.id,
        number: doc.number || null,
        kind: 'invoice' as const,
        invoiceDate: doc.invoiceDate ?? null,
        dueDate: doc.dueDate ?? null,
        totalAmount: decimalOfNumber(doc.totalAmountIncludingTax),
        remainingAmount: decimalOfNumber(doc.remainingAmount ?? doc.totalAmountIncludingTax),
        currency: doc.currencyCode,
      })),
    };
  }

  /** The customer of the order's sales order, or (once it was invoiced in full and BC closed it) of its invoice. */
  async saleAccount(reference: string, context: CallContext = {}): Promise<string | undefined> {
    const [order] = await this.odata.list<BcSalesOrder>(`salesOrders?$filter=${encodeURIComponent(`externalDocumentNumber eq ${odataString(reference)}`)}`, context);
    return order?.customerId ?? (await this.#documents('salesInvoices', reference, context))[0]?.customerId;
  }

  async postInvoices(reference: string, context: CallContext = {}): Promise<ErpInvoice[]> {
    return (await this.#documents('salesInvoices', reference, context)).map((doc) => this.#toInvoice(doc, 'invoice'));
  }

  // ---- returns --------------------------------------------------------------------------------

  /** A return is a sales credit memo (externalDocumentNumber: the return id) with item lines, posted with `Microsoft.NAV.post`. */
  async postReturn(input: ErpReturnInput, context: CallContext = {}): Promise<ErpReturnResult> {
    const existing = await this.#documents('salesCreditMemos', input.returnId, context);
    let created = false;
    let memo = existing[0];
    if (!memo) {
      const [invoice] = await this.#documents('salesInvoices', input.orderId, context);
      const order = invoice ? undefined : await this.#openOrder(input.orderId, context);
      const customerId = invoice?.customerId ?? order?.customerId;
      if (!customerId) throw permanent('erp.sale_not_found', `business-central has no sale for order ${input.orderId}`, { orderId: input.orderId });
      const items = await this.#items(input.lines.map((l) => l.sku), context);
      const missing = input.lines.map((l) => l.sku).filter((sku) => !items.has(sku));
      if (missing.length) throw permanent('erp.unknown_product', `business-central has no item ${missing.join(', ')}`, { skus: missing });
      memo = await this.odata.create<BcSalesDocument>(
        'salesCreditMemos',
        {
          externalDocumentNumber: input.returnId,
          customerId,
          ...(invoice ? { invoiceId: invoice.id } : {}),
          salesCreditMemoLines: input.lines.map((l) => ({ lineType: 'Item', lineObjectNumber: l.sku, quantity: l.quantity, unitPrice: wireAmount(l.unitPrice) })),
        },
        context,
      );
      created = true;
    }
    if (String(memo.status) === 'Draft') {
      await this.odata.action(`salesCreditMemos(${memo.id})/Microsoft.NAV.post`, context);
      memo = (await this.#documents('salesCreditMemos', input.returnId, context))[0] ?? memo;
    }
    const note = this.#toInvoice(memo, 'credit_note');
    return {
      sale: {
        reference: input.returnId,
        erpId: note.erpId,
        number: note.number,
        state: 'done',
        shipmentState: input.restock ? 'received' : 'none',
        invoiceState: 'paid',
        untaxedAmount: note.untaxedAmount,
        taxAmount: note.taxAmount,
        totalAmount: note.totalAmount,
        currency: note.currency,
        shipmentIds: [],
        returnShipmentIds: [],
        invoiceIds: [note.erpId],
      },
      created,
      creditNotes: [note],
      account: memo.customerId,
    };
  }
}

/** A Business Central ERP connector. */
export function createBusinessCentralClient(options: BusinessCentralClientOptions): BusinessCentralClient {
  return new BusinessCentralClient(options);
}

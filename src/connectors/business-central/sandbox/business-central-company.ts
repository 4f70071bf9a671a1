import { randomUUID } from 'node:crypto';
import { fromScaled, toScaled } from '../../../model/money.ts';
import { NIL_GUID } from '../business-central-wire.ts';

/**
 * One Business Central company as the sandbox keeps it: customers, items, open sales orders with
 * their lines, and the posted documents (shipments, invoices, credit memos). Amounts are kept as
 * integer cents and rendered as JSON numbers, as the API sends them. Every entity carries a
 * version that makes its `@odata.etag`.
 */

/** A fault Business Central reports in its OData error shape. */
export class BcApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export interface ItemSeed {
  number: string;
  displayName: string;
  unitPrice: string;
  /** Stock on hand (default: 0). */
  inventory?: number;
  /** VAT/sales tax rate in percent the item's tax group carries (default: 10). */
  taxPercent?: number;
  /** "Inventory" or "Service" (default: Inventory). */
  type?: 'Inventory' | 'Service' | 'Non-Inventory';
  blocked?: boolean;
}

type Fields = Record<string, unknown>;

interface Stored {
  id: string;
  version: number;
  fields: Fields;
}

interface StoredLine extends Stored {
  /** Unit price and tax rate in cents and basis points. */
  priceCents: bigint;
  rateBp: bigint;
}

interface StoredOrder extends Stored {
  lines: StoredLine[];
  discountCents: bigint;
}

interface StoredDocument extends Stored {
  lines: Fields[];
}

const cents = (n: bigint) => Number(fromScaled(n, 2));
const divRound = (a: bigint, b: bigint) => (a >= 0n ? (2n * a + b) / (2n * b) : -((-2n * a + b) / (2n * b)));
const today = () => new Date().toISOString().slice(0, 10);
const now = () => new Date().toISOString();

/** The ETag of an entity version, in the weak-validator form BC sends. */
export function etagOf(entity: { id: string; version: number }): string {
  return `W/"${Buffer.from(`${entity.version};${entity.id}`).toString('base64')}"`;
}

/** A money value of a request body (a JSON number with at most two decimals) in cents. */
function centsOf(value: unknown, field: string): bigint {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new BcApiError(400, 'BadRequest', `The property '${field}' must be a number.`);
  const text = String(value);
  if (/e/i.test(text) || (text.split('.')[1]?.length ?? 0) > 2) throw new BcApiError(400, 'BadRequest', `The value of '${field}' has more than 2 decimals.`);
  return toScaled(text, 2);
}

function positiveQuantity(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new BcApiError(400, 'BadRequest', `The property '${field}' must be a whole, non-negative number.`);
  return value;
}

export class BcCompany {
  readonly id: string;
  readonly name: string;
  readonly items = new Map<string, Stored & { taxPercent: number }>();
  readonly customers = new Map<string, Stored>();
  readonly salesOrders = new Map<string, StoredOrder>();
  readonly salesShipments = new Map<string, StoredDocument>();
  readonly salesInvoices = new Map<string, StoredDocument>();
  readonly salesCreditMemos = new Map<string, StoredDocument>();
  #numbers = { order: 101000, shipment: 102000, invoice: 103000, memo: 104000, customer: 10000 };

  constructor(id: string, name: string, items: ItemSeed[]) {
    this.id = id;
    this.name = name;
    for (const seed of items) this.addItem(seed);
  }

  companyView(): Fields {
    return { id: this.id, systemVersion: '24.0', timestamp: 0, name: this.name, displayName: this.name, businessProfileId: '', systemCreatedAt: now(), systemCreatedBy: NIL_GUID, systemModifiedAt: now(), systemModifiedBy: NIL_GUID };
  }

  addItem(seed: ItemSeed): Fields {
    const id = randomUUID();
    const item = {
      id,
      version: 1,
      taxPercent: seed.taxPercent ?? 10,
      fields: {
        id,
        number: seed.number,
        displayName: seed.displayName,
        displayName2: '',
        type: seed.type ?? 'Inventory',
        itemCategoryId: NIL_GUID,
        itemCategoryCode: '',
        blocked: seed.blocked ?? false,
        gtin: '',
        inventory: seed.inventory ?? 0,
        unitPrice: cents(toScaled(seed.unitPrice, 2)),
        priceIncludesTax: false,
        unitCost: 0,
        taxGroupId: NIL_GUID,
        taxGroupCode: seed.taxPercent === 0 ? 'NONTAXABLE' : 'TAXABLE',
        baseUnitOfMeasureId: NIL_GUID,
        baseUnitOfMeasureCode: 'PCS',
        generalProductPostingGroupId: NIL_GUID,
        generalProductPostingGroupCode: 'RETAIL',
        inventoryPostingGroupId: NIL_GUID,
        inventoryPostingGroupCode: 'RESALE',
        lastModifiedDateTime: now(),
      },
    };
    this.items.set(id, item);
    return item.fields;
  }

  itemByNumber(number: string): (Stored & { taxPercent: number }) | undefined {
    return [...this.items.values()].find((i) => i.fields.number === number);
  }

  createCustomer(body: Fields): Stored {
    if (typeof body.displayName !== 'string' || body.displayName === '') throw new BcApiError(400, 'BadRequest', "The property 'displayName' is required.");
    const id = randomUUID();
    const text = (key: string) => (typeof body[key] === 'string' ? (body[key] as string) : '');
    const customer: Stored = {
      id,
      version: 1,
      fields: {
        id,
        number: `C${++this.#numbers.customer}`,
        displayName: body.displayName,
        type: text('type') || 'Company',
        addressLine1: text('addressLine1'),
        addressLine2: text('addressLine2'),
        city: text('city'),
        state: text('state'),
        country: text('country'),
        postalCode: text('postalCode'),
        phoneNumber: text('phoneNumber'),
        email: text('email'),
        website: '',
        salespersonCode: '',
        balanceDue: 0,
        creditLimit: typeof body.creditLimit === 'number' && body.creditLimit >= 0 ? body.creditLimit : 0,
        taxLiable: false,
        taxAreaId: NIL_GUID,
        taxAreaDisplayName: '',
        taxRegistrationNumber: '',
        currencyId: NIL_GUID,
        currencyCode: text('currencyCode'),
        paymentTermsId: NIL_GUID,
        shipmentMethodId: NIL_GUID,
        paymentMethodId: NIL_GUID,
        blocked: ' ',
        lastModifiedDateTime: now(),
      },
    };
    this.customers.set(id, customer);
    return customer;
  }

  #customerOf(body: Fields): Stored {
    const byId = typeof body.customerId === 'string' ? this.customers.get(body.customerId) : undefined;
    const byNumber = typeof body.customerNumber === 'string' ? [...this.customers.values()].find((c) => c.fields.number === body.customerNumber) : undefined;
    const customer = byId ?? byNumber;
    if (!customer) throw new BcApiError(400, 'Internal_RecordNotFound', 'The Customer does not exist. Identification fields and values: No.=' + String(body.customerNumber ?? body.customerId ?? ''));
    return customer;
  }

  #newLine(order: StoredOrder, body: Fields, sequence: number): StoredLine {
    if ((body.lineType ?? 'Item') !== 'Item') throw new BcApiError(400, 'BadRequest', `The sandbox supports lineType 'Item' only, not '${String(body.lineType)}'.`);
    const item = typeof body.itemId === 'string' ? this.items.get(body.itemId) : typeof body.lineObjectNumber === 'string' ? this.itemByNumber(body.lineObjectNumber) : undefined;
    if (!item) throw new BcApiError(400, 'Internal_RecordNotFound', `The Item does not exist. Identification fields and values: No.='${String(body.lineObjectNumber ?? body.itemId ?? '')}'`);
    if (item.fields.blocked) throw new BcApiError(400, 'Application_DialogException', `Blocked must be equal to 'No' in Item: No.=${String(item.fields.number)}. Current value is 'Yes'.`);
    const quantity = positiveQuantity(body.quantity ?? 0, 'quantity');
    const priceCents = body.unitPrice === undefined ? toScaled(String(item.fields.unitPrice), 2) : centsOf(body.unitPrice, 'unitPrice');
    const id = randomUUID();
    const line: StoredLine = {
      id,
      version: 1,
      priceCents,
      rateBp: BigInt(Math.round(item.taxPercent * 100)),
      fields: {
        id,
        documentId: order.id,
        sequence,
        itemId: item.id,
        accountId: NIL_GUID,
        lineType: 'Item',
        lineObjectNumber: item.fields.number,
        description: typeof body.description === 'string' ? body.description : item.fields.displayName,
        unitOfMeasureId: NIL_GUID,
        unitOfMeasureCode: 'PCS',
        quantity,
        unitPrice: cents(priceCents),
        discountAmount: 0,
        discountPercent: 0,
        discountAppliedBeforeTax: false,
        taxCode: item.fields.taxGroupCode,
        taxPercent: item.taxPercent,
        shipmentDate: today(),
        shippedQuantity: 0,
        invoicedQuantity: 0,
        invoiceQuantity: quantity,
        shipQuantity: quantity,
        itemVariantId: NIL_GUID,
        locationId: NIL_GUID,
      },
    };
    return line;
  }

  /**
   * Recomputes line and order amounts: line amount = quantity x unit price; the order's invoice
   * discount is allocated over the lines by amount (the remainder on the last line); tax is the
   * line's rate on its net amount, backed out of it when prices include tax.
   */
  #recompute(order: StoredOrder): void {
    const includesTax = order.fields.pricesIncludeTax === true;
    const gross = order.lines.map((l) => l.priceCents * BigInt(l.fields.quantity as number));
    const sum = gross.reduce((a, b) => a + b, 0n);
    let left = order.discountCents;
    let excl = 0n;
    let tax = 0n;
    order.lines.forEach((line, index) => {
      const allocation = index === order.lines.length - 1 ? left : sum === 0n ? 0n : divRound(order.discountCents * gross[index]!, sum);
      left -= allocation;
      const net = gross[index]! - allocation;
      const [netExcl, netTax] = includesTax ? ((e) => [e, net - e])(divRound(net * 10_000n, 10_000n + line.rateBp)) : [net, divRound(net * line.rateBp, 10_000n)];
      const [lineExcl, lineTax] = includesTax ? ((e) => [e, gross[index]! - e])(divRound(gross[index]! * 10_000n, 10_000n + line.rateBp)) : [gross[index]!, divRound(gross[index]! * line.rateBp, 10_000n)];
      Object.assign(line.fields, {
        amountExcludingTax: cents(lineExcl),
        totalTaxAmount: cents(lineTax),
        amountIncludingTax: cents(lineExcl + lineTax),
        invoiceDiscountAllocation: cents(allocation),
        netAmount: cents(netExcl!),
        netTaxAmount: cents(netTax!),
        netAmountIncludingTax: cents(netExcl! + netTax!),
      });
      excl += netExcl!;
      tax += netTax!;
    });
    Object.assign(order.fields, {
      discountAmount: cents(order.discountCents),
      totalAmountExcludingTax: cents(excl),
      totalTaxAmount: cents(tax),
      totalAmountIncludingTax: cents(excl + tax),
      fullyShipped: order.lines.length > 0 && order.lines.every((l) => l.fields.shippedQuantity === l.fields.quantity),
      lastModifiedDateTime: now(),
    });
  }

  createSalesOrder(body: Fields): StoredOrder {
    const customer = this.#customerOf(body);
    const text = (key: string, fallback = '') => (typeof body[key] === 'string' ? (body[key] as string) : fallback);
    const id = randomUUID();
    const c = customer.fields;
    const order: StoredOrder = {
      id,
      version: 1,
      lines: [],
      discountCents: body.discountAmount === undefined ? 0n : centsOf(body.discountAmount, 'discountAmount'),
      fields: {
        id,
        number: String(++this.#numbers.order),
        externalDocumentNumber: text('externalDocumentNumber'),
        orderDate: text('orderDate', today()),
        postingDate: today(),
        customerId: customer.id,
        customerNumber: c.number,
        customerName: c.displayName,
        billToName: c.displayName,
        billToCustomerId: customer.id,
        billToCustomerNumber: c.number,
        shipToName: text('shipToName', String(c.displayName)),
        shipToContact: text('shipToContact'),
        sellToAddressLine1: c.addressLine1,
        sellToAddressLine2: c.addressLine2,
        sellToCity: c.city,
        sellToCountry: c.country,
        sellToState: c.state,
        sellToPostCode: c.postalCode,
        billToAddressLine1: c.addressLine1,
        billToAddressLine2: c.addressLine2,
        billToCity: c.city,
        billToCountry: c.country,
        billToState: c.state,
        billToPostCode: c.postalCode,
        shipToAddressLine1: text('shipToAddressLine1', String(c.addressLine1)),
        shipToAddressLine2: text('shipToAddressLine2'),
        shipToCity: text('shipToCity', String(c.city)),
        shipToCountry: text('shipToCountry', String(c.country)),
        shipToState: text('shipToState'),
        shipToPostCode: text('shipToPostCode', String(c.postalCode)),
        shortcutDimension1Code: '',
        shortcutDimension2Code: '',
        currencyId: NIL_GUID,
        currencyCode: text('currencyCode', String(c.currencyCode)),
        pricesIncludeTax: body.pricesIncludeTax === true,
        paymentTermsId: NIL_GUID,
        shipmentMethodId: NIL_GUID,
        salesperson: '',
        partialShipping: true,
        requestedDeliveryDate: '0001-01-01',
        discountAmount: 0,
        discountAppliedBeforeTax: false,
        totalAmountExcludingTax: 0,
        totalTaxAmount: 0,
        totalAmountIncludingTax: 0,
        fullyShipped: false,
        status: 'Draft',
        lastModifiedDateTime: now(),
        phoneNumber: text('phoneNumber', String(c.phoneNumber)),
        email: text('email', String(c.email)),
      },
    };
    const lines = body.salesOrderLines ?? [];
    if (!Array.isArray(lines)) throw new BcApiError(400, 'BadRequest', "The property 'salesOrderLines' must be a collection.");
    // A deep insert is one transaction: any bad line and nothing is created.
    order.lines = lines.map((l, index) => this.#newLine(order, l as Fields, (index + 1) * 10_000));
    this.#recompute(order);
    this.salesOrders.set(id, order);
    return order;
  }

  addSalesOrderLine(order: StoredOrder, body: Fields): StoredLine {
    const line = this.#newLine(order, body, (order.lines.length + 1) * 10_000);
    order.lines.push(line);
    order.version += 1;
    this.#recompute(order);
    return line;
  }

  /** PATCH of an order line: quantities to ship and invoice (and quantity or price before anything shipped). */
  updateSalesOrderLine(order: StoredOrder, line: StoredLine, body: Fields): void {
    for (const key of Object.keys(body)) {
      if (!['shipQuantity', 'invoiceQuantity', 'quantity', 'unitPrice', 'description'].includes(key)) throw new BcApiError(400, 'BadRequest', `The property '${key}' cannot be modified by the sandbox.`);
    }
    const f = line.fields;
    if (body.quantity !== undefined) {
      const quantity = positiveQuantity(body.quantity, 'quantity');
      if (quantity < (f.shippedQuantity as number)) throw new BcApiError(400, 'Application_DialogException', `Quantity cannot be less than the shipped quantity ${String(f.shippedQuantity)}.`);
      f.quantity = quantity;
    }
    if (body.unitPrice !== undefined) line.priceCents = centsOf(body.unitPrice, 'unitPrice');
    if (body.description !== undefined) f.description = String(body.description);
    const outstanding = (f.quantity as number) - (f.shippedQuantity as number);
    if (body.shipQuantity !== undefined) {
      const q = positiveQuantity(body.shipQuantity, 'shipQuantity');
      if (q > outstanding) throw new BcApiError(400, 'Application_DialogException', `You cannot ship more than ${outstanding} units.`);
      f.shipQuantity = q;
    }
    if (body.invoiceQuantity !== undefined) {
      const q = positiveQuantity(body.invoiceQuantity, 'invoiceQuantity');
      if (q > (f.quantity as number) - (f.invoicedQuantity as number)) throw new BcApiError(400, 'Application_DialogException', `You cannot invoice more than ${(f.quantity as number) - (f.invoicedQuantity as number)} units.`);
      f.invoiceQuantity = q;
    }
    f.unitPrice = cents(line.priceCents);
    line.version += 1;
    order.version += 1;
    this.#recompute(order);
  }

  deleteSalesOrder(order: StoredOrder): void {
    if (order.lines.some((l) => (l.fields.shippedQuantity as number) > 0)) {
      throw new BcApiError(400, 'Application_DialogException', `You cannot delete order ${String(order.fields.number)} because part of it has been shipped.`);
    }
    this.salesOrders.delete(order.id);
  }

  #document(kind: 'shipment' | 'invoice', order: StoredOrder, lines: { line: StoredLine; quantity: number }[]): StoredDocument {
    const id = randomUUID();
    const o = order.fields;
    const header: Fields = {
      id,
      number: String(kind === 'shipment' ? ++this.#numbers.shipment : ++this.#numbers.invoice),
      externalDocumentNumber: o.externalDocumentNumber,
      invoiceDate: today(),
      postingDate: today(),
      dueDate: today(),
      customerPurchaseOrderReference: '',
      customerId: o.customerId,
      customerNumber: o.customerNumber,
      customerName: o.customerName,
      billToName: o.billToName,
      billToCustomerNumber: o.billToCustomerNumber,
      shipToName: o.shipToName,
      shipToContact: o.shipToContact,
      sellToAddressLine1: o.sellToAddressLine1,
      sellToAddressLine2: o.sellToAddressLine2,
      sellToCity: o.sellToCity,
      sellToCountry: o.sellToCountry,
      sellToState: o.sellToState,
      sellToPostCode: o.sellToPostCode,
      billToAddressLine1: o.billToAddressLine1,
      billToAddressLine2: o.billToAddressLine2,
      billToCity: o.billToCity,
      billToCountry: o.billToCountry,
      billToState: o.billToState,
      billToPostCode: o.billToPostCode,
      shipToAddressLine1: o.shipToAddressLine1,
      shipToAddressLine2: o.shipToAddressLine2,
      shipToCity: o.shipToCity,
      shipToCountry: o.shipToCountry,
      shipToState: o.shipToState,
      shipToPostCode: o.shipToPostCode,
      currencyCode: o.currencyCode,
      orderNumber: o.number,
      paymentTermsCode: '',
      shipmentMethodCode: '',
      salesperson: '',
      pricesIncludeTax: o.pricesIncludeTax,
      lastModifiedDateTime: now(),
      phoneNumber: o.phoneNumber,
      email: o.email,
    };
    let excl = 0n;
    let tax = 0n;
    const docLines = lines.map(({ line, quantity }, index) => {
      const f = line.fields;
      // The share of the line's net amounts this document carries.
      const share = (value: unknown) => divRound(toScaled(String(value), 2) * BigInt(quantity), BigInt(f.quantity as number));
      excl += share(f.netAmount);
      tax += share(f.netTaxAmount);
      return {
        id: randomUUID(),
        documentId: id,
        documentNo: header.number,
        sequence: (index + 1) * 10_000,
        lineType: 'Item',
        lineObjectNumber: f.lineObjectNumber,
        description: f.description,
        unitOfMeasureCode: f.unitOfMeasureCode,
        unitPrice: f.unitPrice,
        quantity,
        discountPercent: 0,
        taxPercent: f.taxPercent,
        shipmentDate: today(),
      };
    });
    if (kind === 'invoice') Object.assign(header, { status: 'Open', totalAmountExcludingTax: cents(excl), totalTaxAmount: cents(tax), totalAmountIncludingTax: cents(excl + tax), remainingAmount: cents(excl + tax) });
    return { id, version: 1, fields: header, lines: docLines };
  }

  /** `Microsoft.NAV.shipAndInvoice`: posts a shipment and an invoice of each line's quantity to ship; a fully shipped and invoiced order is deleted, as BC does. */
  shipAndInvoice(order: StoredOrder): void {
    const lines = order.lines.filter((l) => (l.fields.shipQuantity as number) > 0).map((line) => ({ line, quantity: line.fields.shipQuantity as number }));
    if (lines.length === 0) throw new BcApiError(400, 'Application_DialogException', 'There is nothing to post.');
    const shipment = this.#document('shipment', order, lines);
    const invoice = this.#document('invoice', order, lines);
    this.salesShipments.set(shipment.id, shipment);
    this.salesInvoices.set(invoice.id, invoice);
    for (const { line, quantity } of lines) {
      const f = line.fields;
      f.shippedQuantity = (f.shippedQuantity as number) + quantity;
      f.invoicedQuantity = (f.invoicedQuantity as number) + quantity;
      const item = this.items.get(f.itemId as string)!;
      if (item.fields.type === 'Inventory') item.fields.inventory = (item.fields.inventory as number) - quantity;
      f.shipQuantity = (f.quantity as number) - (f.shippedQuantity as number);
      f.invoiceQuantity = (f.quantity as number) - (f.invoicedQuantity as number);
      line.version += 1;
    }
    order.version += 1;
    order.fields.status = 'Released';
    this.#recompute(order);
    if (order.lines.every((l) => l.fields.shippedQuantity === l.fields.quantity && l.fields.invoicedQuantity === l.fields.quantity)) this.salesOrders.delete(order.id);
  }

  createCreditMemo(body: Fields): StoredDocument {
    const customer = this.#customerOf(body);
    const lines = body.salesCreditMemoLines ?? [];
    if (!Array.isArray(lines) || lines.length === 0) throw new BcApiError(400, 'BadRequest', "The property 'salesCreditMemoLines' must hold at least one line.");
    // The credit memo's amounts are computed as an order's would be, on a scratch order.
    const scratch: StoredOrder = { id: randomUUID(), version: 1, lines: [], discountCents: 0n, fields: { pricesIncludeTax: body.pricesIncludeTax === true } };
    scratch.lines = lines.map((l, index) => this.#newLine(scratch, l as Fields, (index + 1) * 10_000));
    this.#recompute(scratch);
    const id = randomUUID();
    const c = customer.fields;
    const memo: StoredDocument = {
      id,
      version: 1,
      fields: {
        id,
        number: String(++this.#numbers.memo),
        externalDocumentNumber: typeof body.externalDocumentNumber === 'string' ? body.externalDocumentNumber : '',
        creditMemoDate: today(),
        postingDate: today(),
        dueDate: today(),
        customerId: customer.id,
        customerNumber: c.number,
        customerName: c.displayName,
        currencyCode: c.currencyCode,
        invoiceId: typeof body.invoiceId === 'string' ? body.invoiceId : NIL_GUID,
        invoiceNumber: typeof body.invoiceId === 'string' ? String(this.salesInvoices.get(body.invoiceId)?.fields.number ?? '') : '',
        pricesIncludeTax: body.pricesIncludeTax === true,
        discountAmount: 0,
        totalAmountExcludingTax: scratch.fields.totalAmountExcludingTax,
        totalTaxAmount: scratch.fields.totalTaxAmount,
        totalAmountIncludingTax: scratch.fields.totalAmountIncludingTax,
        status: 'Draft',
        lastModifiedDateTime: now(),
      },
      lines: scratch.lines.map((l) => ({ ...l.fields, documentId: id })),
    };
    this.salesCreditMemos.set(id, memo);
    return memo;
  }

  /** `Microsoft.NAV.post` of a credit memo: its items come back into stock and it becomes Open. */
  postCreditMemo(memo: StoredDocument): void {
    if (memo.fields.status !== 'Draft') throw new BcApiError(400, 'Application_DialogException', 'The credit memo has already been posted.');
    for (const line of memo.lines) {
      const item = this.items.get(line.itemId as string);
      if (item && item.fields.type === 'Inventory') item.fields.inventory = (item.fields.inventory as number) + (line.quantity as number);
    }
    memo.fields.status = 'Open';
    memo.version += 1;
  }

  /**
   * A customer's balanceDue as BC computes it from its ledger: what its open (posted, unpaid)
   * invoices leave to pay, less its posted credit memos. The sandbox applies no payments.
   */
  balanceDue(customerId: string): number {
    let owed = 0n;
    for (const invoice of this.salesInvoices.values()) {
      if (invoice.fields.customerId === customerId && invoice.fields.status === 'Open') owed += toScaled(String(invoice.fields.remainingAmount ?? 0), 2);
    }
    for (const memo of this.salesCreditMemos.values()) {
      if (memo.fields.customerId === customerId && memo.fields.status === 'Open') owed -= toScaled(String(memo.fields.totalAmountIncludingTax ?? 0), 2);
    }
    return cents(owed);
  }

  /** Another user ships and invoices one unit of the order's first open line (the sandbox's conflict control). */
  shipOneUnit(order: StoredOrder): void {
    const open = order.lines.find((l) => (l.fields.shippedQuantity as number) < (l.fields.quantity as number));
    if (!open) return this.touch(order);
    for (const line of order.lines) {
      const q = line === open ? 1 : 0;
      Object.assign(line.fields, { shipQuantity: q, invoiceQuantity: q });
    }
    this.shipAndInvoice(order);
  }

  /** PATCH customers({id}): the fields a customer propagation writes (blocked, and personal data for an erasure). */
  updateCustomer(customer: Stored, body: Fields): void {
    const writable = ['displayName', 'email', 'phoneNumber', 'addressLine1', 'addressLine2', 'city', 'state', 'postalCode', 'website', 'blocked'];
    for (const key of Object.keys(body)) {
      if (!writable.includes(key)) throw new BcApiError(400, 'BadRequest', `The property '${key}' cannot be modified by the sandbox.`);
      if (typeof body[key] !== 'string') throw new BcApiError(400, 'BadRequest', `Cannot convert the literal '${String(body[key])}' to the expected type 'Edm.String'.`);
    }
    if (body.blocked !== undefined && ![' ', 'Ship', 'Invoice', 'All'].includes(body.blocked as string)) {
      throw new BcApiError(400, 'BadRequest', `Cannot convert the literal '${String(body.blocked)}' to the expected type 'Microsoft.NAV.customerBlocked'.`);
    }
    if (body.displayName === '') throw new BcApiError(400, 'Application_FieldValidationException', 'Name must have a value in Customer.');
    Object.assign(customer.fields, body);
    this.touch(customer);
  }

  /** Another user edits the entity (the sandbox's conflict control): its ETag changes. */
  touch(entity: Stored): void {
    entity.version += 1;
    entity.fields.lastModifiedDateTime = now();
  }
}

export type { Stored, StoredDocument, StoredLine, StoredOrder };

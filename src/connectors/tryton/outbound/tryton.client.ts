import { SynclineError } from '../../../domain/errors.ts';
import { fromScaled, toScaled } from '../../../model/money.ts';
import type { Address, CustomerRef, Order } from '../../../model/order.ts';
import type {
  CallContext,
  ErpCancelResult,
  ErpCustomerAccount,
  ErpConnector,
  ErpInvoice,
  ErpPostResult,
  ErpProductPage,
  ErpReturnInput,
  ErpReturnResult,
  ErpSale,
  ErpSaleDetail,
  ErpSetupProblem,
  ErpShipmentInput,
  ErpShipmentResult,
  ErpStockLevel,
} from '../../kit/contracts.ts';
import { assertErpTotalMatches } from '../../kit/erp-amounts.ts';
import { decimalOf, TrytonDate, TrytonDecimal } from '../tryton-wire.ts';
import { TrytonRpc, type TrytonRpcOptions } from './json-rpc.ts';
import { trytonProductsChangedSince } from './tryton-products.ts';
import { trytonCustomerAccount, trytonSaleAccount } from './tryton-accounts.ts';
import { trytonCustomersChangedSince } from './tryton-customers.ts';
import type { CustomerRecordPage, CustomerRecordSource } from '../../kit/customer-source.ts';

/**
 * The ERP connector for Tryton: canonical orders become Tryton sales whose
 * `reference` is the Syncline order id. Every call is safe to repeat: posting looks
 * the reference up before creating and finishes a half-done posting (created but not
 * confirmed); a shipment is recorded under the external shipment id.
 */

/** ERP products the order's charges are posted as, by product code (default: shipping "SHIP", discount "DISC"; null: not posted). */
export interface TrytonChargeProducts {
  shipping?: string | null;
  discount?: string | null;
}

export interface TrytonClientOptions extends TrytonRpcOptions {
  /** Warehouse location the sales ship from (default: 5). */
  warehouseId?: number;
  /** Payment term id for new sales (default: the customer's `customer_payment_term`, else none). */
  paymentTermId?: number;
  /** The ERP products charges post as (default: { shipping: "SHIP", discount: "DISC" }); `checkSetup()` reports missing ones. */
  chargeProducts?: TrytonChargeProducts;
  /**
   * What to do when the ERP's forecast stock is lower than a line (sale_stock_quantity's warning, raised
   * on quote and again on confirm). "acknowledge": answer yes, as a user would in the client; Syncline's
   * own inventory already reserved the stock, so the ERP's forecast is advisory. "hold": stop with the
   * permanent `erp.short_stock`, so the order goes to exception instead of being retried (default: "acknowledge").
   */
  shortStock?: 'acknowledge' | 'hold';
  /**
   * Whether the order's prices include tax. "auto": they do when the order carries no separate tax
   * (`totals.tax` is zero), as channels with tax-included prices report them (default: "auto").
   * See README.md, "Taxes and amounts".
   */
  pricesIncludeTax?: 'auto' | boolean;
  /** How long product ids and line taxes found by code are reused (default: 300000 ms; 0 = always look up). */
  productCacheMs?: number;
}

const SALE_FIELDS = [
  'reference',
  'number',
  'state',
  'shipment_state',
  'invoice_state',
  'untaxed_amount',
  'tax_amount',
  'total_amount',
  'currency',
  'shipments',
  'shipment_returns',
  'invoices',
  'party',
  'invoice_address',
  'shipment_address',
];
const INVOICE_FIELDS = ['number', 'state', 'untaxed_amount', 'tax_amount', 'total_amount', 'currency', 'invoice_date'];
const DEFAULT_CHARGE_PRODUCTS: Required<TrytonChargeProducts> = { shipping: 'SHIP', discount: 'DISC' };
const PRICE_SCALE = 4;
const RATE_SCALE = 6;
const OPEN_SHIPMENT_STATES = new Set(['waiting', 'assigned', 'picked', 'packed']);

type Row = Record<string, unknown> & { id: number };

/** a / b rounded half away from zero (b > 0). */
const divideRounded = (a: bigint, b: bigint): bigint => (a >= 0n ? (2n * a + b) / (2n * b) : -((-2n * a + b) / (2n * b)));

/** Tryton's refusal of a row that breaks a unique SQL constraint (e.g. "The code on party must be unique."). */
const isUniqueViolation = (error: unknown) => error instanceof SynclineError && error.code === 'erp.user_error' && /must be unique/i.test(error.message);

const permanent = (code: string, message: string, details: Record<string, unknown> = {}) =>
  new SynclineError(code, message, { retry: 'permanent', details: { system: 'tryton', ...details } });

/** A Tryton ERP connector. */
export class TrytonClient implements ErpConnector, CustomerRecordSource {
  readonly system = 'tryton';
  readonly rpc: TrytonRpc;
  readonly #options: TrytonClientOptions;
  readonly #currencyCodes = new Map<number, string>();
  readonly #currencyIds = new Map<string, number>();
  readonly #countryIds = new Map<string, number | null>();
  readonly #productCache = new Map<string, { row: Row; at: number }>();
  readonly #paymentTerms = new Map<number, { term: number | null; at: number }>();
  readonly #taxCache = new Map<string, { taxes: { taxIds: number[]; rate: bigint }; at: number }>();

  constructor(options: TrytonClientOptions) {
    this.#options = options;
    this.rpc = new TrytonRpc(options);
  }

  get #warehouse(): number {
    return this.#options.warehouseId ?? 5;
  }

  // ---- reading --------------------------------------------------------------------------------

  async #currencyCode(id: number, context: CallContext): Promise<string> {
    let code = this.#currencyCodes.get(id);
    if (!code) {
      const [row] = await this.rpc.call<Row[]>('model.currency.currency.read', [[id], ['code']], context);
      code = String(row?.code ?? '');
      this.#currencyCodes.set(id, code);
    }
    return code;
  }

  async #currencyId(code: string, context: CallContext): Promise<number> {
    let id = this.#currencyIds.get(code);
    if (id === undefined) {
      const [found] = await this.rpc.call<number[]>('model.currency.currency.search', [[['code', '=', code]], 0, 1, null], context);
      if (found === undefined) throw permanent('erp.unknown_currency', `tryton has no currency ${code}`, { currency: code });
      id = found;
      this.#currencyIds.set(code, id);
    }
    return id;
  }

  async #toSale(row: Row, context: CallContext): Promise<ErpSale> {
    return {
      reference: String(row.reference ?? ''),
      erpId: row.id,
      number: (row.number as string | null) ?? null,
      state: String(row.state),
      shipmentState: String(row.shipment_state),
      invoiceState: String(row.invoice_state),
      untaxedAmount: decimalOf(row.untaxed_amount),
      taxAmount: decimalOf(row.tax_amount),
      totalAmount: decimalOf(row.total_amount),
      currency: await this.#currencyCode(row.currency as number, context),
      shipmentIds: (row.shipments as number[]) ?? [],
      returnShipmentIds: (row.shipment_returns as number[]) ?? [],
      invoiceIds: (row.invoices as number[]) ?? [],
    };
  }

  async #saleRows(reference: string, context: CallContext): Promise<Row[]> {
    return this.rpc.call<Row[]>('model.sale.sale.search_read', [[['reference', '=', reference]], 0, null, [['id', 'ASC']], SALE_FIELDS], context);
  }

  async #readSale(id: number, context: CallContext): Promise<Row> {
    const [row] = await this.rpc.call<Row[]>('model.sale.sale.read', [[id], SALE_FIELDS], context);
    if (!row) throw permanent('erp.sale_not_found', `tryton sale ${id} vanished`, { saleId: id });
    return row;
  }

  /** The live (not cancelled) sale for a reference; the oldest one if several exist. */
  async #liveSale(reference: string, context: CallContext): Promise<Row | undefined> {
    const rows = await this.#saleRows(reference, context);
    return rows.find((r) => r.state !== 'cancelled') ?? rows[0];
  }

  /** The party by id, active or not (Tryton searches active records only unless told). */
  async #party(erpId: string, context: CallContext): Promise<Row | undefined> {
    const id = Number(erpId);
    if (!Number.isInteger(id) || id <= 0) return undefined;
    const [row] = await this.rpc.call<Row[]>('model.party.party.search_read', [[['id', '=', id]], 0, 1, null, ['active', 'name', 'code', 'addresses', 'contact_mechanisms']], context, { active_test: false });
    return row;
  }

  async setCustomerActive(erpId: string, active: boolean, context: CallContext = {}): Promise<'changed' | 'unchanged' | 'not-found'> {
    const party = await this.#party(erpId, context);
    if (!party) return 'not-found';
    // A real Tryton on SQLite answers booleans as 0 and 1.
    if (Boolean(party.active) === active) return 'unchanged';
    await this.rpc.call('model.party.party.write', [[party.id], { active }], context);
    return 'changed';
  }

  async eraseCustomer(erpId: string, context: CallContext = {}): Promise<'erased' | 'not-found'> {
    const party = await this.#party(erpId, context);
    if (!party) return 'not-found';
    // Sales and invoices keep referring to the party (finance keeps them); its personal data goes.
    const mechanisms = (party.contact_mechanisms as number[] | undefined) ?? [];
    if (mechanisms.length) await this.rpc.call('model.party.contact_mechanism.delete', [mechanisms], context);
    const addresses = (party.addresses as number[] | undefined) ?? [];
    if (addresses.length) await this.rpc.call('model.party.address.write', [addresses, { party_name: null, street: '', postal_code: '', city: '' }], context);
    await this.rpc.call('model.party.party.write', [[party.id], { name: `Erased ${String(party.code ?? party.id)}`, active: false }], context);
    return 'erased';
  }

  async getSale(reference: string, context: CallContext = {}): Promise<ErpSale | undefined> {
    const row = await this.#liveSale(reference, context);
    return row ? this.#toSale(row, context) : undefined;
  }

  /** The sale with its priced lines (product code, quantity, tax-excluded unit price and amount) and its party. */
  async saleDetail(reference: string, context: CallContext = {}): Promise<ErpSaleDetail | undefined> {
    const row = await this.#liveSale(reference, context);
    if (!row) return undefined;
    const lines = await this.rpc.call<Row[]>(
      'model.sale.line.search_read',
      [[['sale', '=', row.id], ['type', '=', 'line']], 0, null, [['sequence', 'ASC'], ['id', 'ASC']], ['product', 'quantity', 'unit_price', 'amount', 'taxes']],
      context,
    );
    const taxIds = [...new Set(lines.flatMap((l) => (l.taxes as number[] | undefined) ?? []))];
    const rates = new Map(
      (taxIds.length ? await this.rpc.call<Row[]>('model.account.tax.read', [taxIds, ['type', 'rate']], context) : []).map((t) => [
        t.id,
        t.type === 'percentage' && t.rate != null ? toScaled(decimalOf(t.rate), RATE_SCALE) : 0n,
      ]),
    );
    const productIds = [...new Set(lines.map((l) => l.product as number).filter((id) => typeof id === 'number'))];
    const codes = new Map((await this.rpc.call<Row[]>('model.product.product.read', [productIds, ['code']], context)).map((p) => [p.id, String(p.code ?? '')]));
    const partyId = row.party as number;
    const [party] = await this.rpc.call<Row[]>('model.party.party.read', [[partyId], ['name', 'code']], context);
    const [email] = await this.rpc.call<Row[]>('model.party.contact_mechanism.search_read', [[['party', '=', partyId], ['type', '=', 'email']], 0, 1, [['id', 'ASC']], ['value']], context);
    return {
      sale: await this.#toSale(row, context),
      customer: party ? { erpId: String(party.id), code: (party.code as string | null) ?? null, name: String(party.name ?? ''), email: (email?.value as string | undefined) ?? null } : null,
      lines: lines.map((l) => ({
        sku: codes.get(l.product as number) ?? '',
        quantity: String(Number(l.quantity)),
        unitPrice: decimalOf(l.unit_price),
        amount: decimalOf(l.amount),
        // Tryton's rate is a fraction (0.1): as a percentage to 2 decimals.
        taxPercent: fromScaled((((l.taxes as number[] | undefined) ?? []).reduce((sum, id) => sum + (rates.get(id) ?? 0n), 0n) * 100n) / 10n ** BigInt(RATE_SCALE - 2), 2),
      })),
    };
  }

  async #products(codes: string[], context: CallContext): Promise<Map<string, Row>> {
    const rows = await this.rpc.call<Row[]>(
      'model.product.product.search_read',
      [[['code', 'in', [...new Set(codes)]]], 0, null, null, ['code', 'default_uom', 'type']],
      context,
    );
    return new Map(rows.map((r) => [String(r.code), r]));
  }

  /** Products by code, from a short-lived cache: product ids do not change, and a posting should not pay for them. */
  async #productsOrFail(codes: string[], context: CallContext): Promise<Map<string, Row>> {
    const now = Date.now();
    const ttl = this.#options.productCacheMs ?? 300_000;
    const products = new Map<string, Row>();
    for (const code of codes) {
      const cached = this.#productCache.get(code);
      if (cached && now - cached.at < ttl) products.set(code, cached.row);
    }
    const unknown = [...new Set(codes)].filter((code) => !products.has(code));
    if (unknown.length) {
      for (const [code, row] of await this.#products(unknown, context)) {
        products.set(code, row);
        this.#productCache.set(code, { row, at: now });
      }
    }
    const missing = [...new Set(codes)].filter((code) => !products.has(code));
    if (missing.length) throw permanent('erp.unknown_product', `tryton has no product with code ${missing.join(', ')}`, { skus: missing });
    return products;
  }

  async stockLevels(skus: string[], context: CallContext = {}): Promise<ErpStockLevel[]> {
    const rows = await this.rpc.call<Row[]>(
      'model.product.product.search_read',
      [[['code', 'in', skus]], 0, null, [['code', 'ASC']], ['code', 'quantity', 'forecast_quantity']],
      context,
      { locations: [this.#warehouse] },
    );
    return rows.map((r) => ({ sku: String(r.code), quantity: Number(r.quantity), forecastQuantity: Number(r.forecast_quantity) }));
  }

  async productsChangedSince(since: string | null, page: { offset: number; limit: number }, context: CallContext = {}): Promise<ErpProductPage> {
    return trytonProductsChangedSince(this.rpc, since, page, context);
  }

  /** Parties created or changed since the cursor, as customer records (docs/customers.md). */
  async customersChangedSince(since: string | null, page: { offset: number; limit: number }, context: CallContext = {}): Promise<CustomerRecordPage> {
    return trytonCustomersChangedSince(this.rpc, since, page, context);
  }

  // ---- parties --------------------------------------------------------------------------------

  async #countryId(code: string, context: CallContext): Promise<number | null> {
    if (!this.#countryIds.has(code)) {
      const [id] = await this.rpc.call<number[]>('model.country.country.search', [[['code', '=', code]], 0, 1, null], context);
      this.#countryIds.set(code, id ?? null);
    }
    return this.#countryIds.get(code)!;
  }

  async #addressValues(address: Address, context: CallContext): Promise<Record<string, unknown>> {
    return {
      party_name: address.name,
      street: [address.company, address.line1, address.line2].filter(Boolean).join('\n'),
      postal_code: address.postalCode,
      city: address.city,
      country: await this.#countryId(address.country, context),
    };
  }

  /** Parties with this e-mail among their contact mechanisms, oldest first. */
  async #partiesByEmail(email: string, context: CallContext): Promise<number[]> {
    return this.rpc.call<number[]>('model.party.party.search', [[['contact_mechanisms.value', '=', email]], 0, null, [['id', 'ASC']]], context);
  }

  /**
   * Creates the customer's party, settling a race with another posting of the same new customer:
   * the oldest party with the e-mail wins (a later duplicate of ours is deleted, unused). Tryton
   * numbers parties from a sequence and refuses a code drawn at the same moment by another
   * creation ("The code on party must be unique.", recorded on a real Tryton 6.0 with six
   * creations at once): someone else created a party just now. The party is looked up again by
   * e-mail; when the other party was another customer's, the creation is tried again (a new code),
   * up to 3 times, then fails as the transient `erp.concurrency` for the job to retry.
   */
  async #createParty(customer: CustomerRef, shipping: Address, context: CallContext): Promise<number> {
    const values = {
      name: customer.name,
      contact_mechanisms: [['create', [{ type: 'email', value: customer.email }, ...(customer.phone ? [{ type: 'phone', value: customer.phone }] : [])]]],
      addresses: [['create', [await this.#addressValues(shipping, context)]]],
    };
    let created: number | undefined;
    for (let attempt = 1; created === undefined; attempt++) {
      try {
        [created] = await this.rpc.call<number[]>('model.party.party.create', [[values]], context);
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        const [found] = await this.#partiesByEmail(customer.email, context);
        if (found !== undefined) return found;
        if (attempt >= 3) {
          throw new SynclineError('erp.concurrency', 'tryton refused a new party while others were created at the same moment; trying again later', {
            retry: 'transient',
            cause: error,
            details: { system: 'tryton', method: 'model.party.party.create', erpMessage: (error as Error).message },
          });
        }
      }
    }
    const [oldest] = await this.#partiesByEmail(customer.email, context);
    if (oldest === undefined || oldest === created) return created;
    // Another posting created the customer first: use its party and remove ours, which nothing references yet.
    await this.rpc.call('model.party.party.delete', [[created]], context).catch(() => undefined);
    return oldest;
  }

  /**
   * The customer's party (found by contact email) and its addresses equal to the order's,
   * creating what is missing. A returning customer costs one call.
   */
  async #partyAddresses(
    customer: CustomerRef,
    shipping: Address,
    billing: Address | undefined,
    context: CallContext,
  ): Promise<{ partyId: number; shipmentAddress: number; invoiceAddress: number }> {
    const fields = ['party', 'party_name', 'street', 'postal_code', 'city', 'country'];
    const byEmail = await this.rpc.call<Row[]>(
      'model.party.address.search_read',
      [[['party.contact_mechanisms.value', '=', customer.email]], 0, null, [['id', 'ASC']], fields],
      context,
    );
    let partyId = byEmail[0]?.party as number | undefined;
    let rows = byEmail.filter((r) => r.party === partyId);
    if (partyId === undefined) {
      partyId = (await this.#partiesByEmail(customer.email, context))[0] ?? (await this.#createParty(customer, shipping, context));
      rows = await this.rpc.call<Row[]>('model.party.address.search_read', [[['party', '=', partyId]], 0, null, [['id', 'ASC']], fields], context);
    }
    const ensure = async (address: Address): Promise<number> => {
      const wanted = await this.#addressValues(address, context);
      const same = rows.find((r) => Object.entries(wanted).every(([field, value]) => (r[field] ?? null) === value));
      if (same) return same.id;
      const [created] = await this.rpc.call<number[]>('model.party.address.create', [[{ party: partyId, ...wanted }]], context);
      rows.push({ id: created!, party: partyId, ...wanted });
      return created!;
    };
    const shipmentAddress = await ensure(shipping);
    const invoiceAddress = billing ? await ensure(billing) : shipmentAddress;
    return { partyId: partyId!, shipmentAddress, invoiceAddress };
  }

  // ---- posting --------------------------------------------------------------------------------

  async #createSale(reference: string, values: Record<string, unknown>, context: CallContext): Promise<{ row: Row; created: boolean }> {
    const [id] = await this.rpc.call<number[]>('model.sale.sale.create', [[{ ...values, reference }]], context);
    // Tryton has no unique constraint on reference: if another poster raced us, keep the oldest live sale.
    const rows = (await this.#saleRows(reference, context)).filter((r) => r.state !== 'cancelled');
    const keep = rows[0]!;
    const extras = rows.slice(1).filter((r) => r.state === 'draft' || r.state === 'quotation');
    if (extras.length) await this.rpc.call('model.sale.sale.cancel', [extras.map((r) => r.id)], context);
    return { row: keep, created: keep.id === id };
  }

  /**
   * Calls a sale button that sale_stock_quantity guards (quote, and confirm again): its warning
   * names the line whose quantity is above the ERP's forecast. Per `shortStock`, acknowledge it
   * (a one-shot res.user.warning, then call again) or stop with the permanent `erp.short_stock`.
   */
  async #stockGuarded(button: 'quote' | 'confirm', saleId: number, context: CallContext): Promise<void> {
    for (let acknowledgements = 0; ; acknowledgements++) {
      try {
        await this.rpc.call(`model.sale.sale.${button}`, [[saleId]], context);
        return;
      } catch (error) {
        const warning = error instanceof SynclineError && error.code === 'erp.user_warning' ? String(error.details?.warningName ?? '') : '';
        // One warning per short line; a sale cannot have more acknowledgements than that.
        if (!warning.startsWith('stock_quantity_warning_') || acknowledgements > 500) throw error;
        if ((this.#options.shortStock ?? 'acknowledge') === 'hold') {
          throw permanent('erp.short_stock', `tryton's forecast stock is lower than a line of sale ${saleId}; the short-stock policy is to hold`, {
            saleId,
            button,
            warningName: warning,
            warning: (error as Error).message,
          });
        }
        await this.rpc.call('model.res.user.warning.create', [[{ user: await this.rpc.userId(context), name: warning, always: false }]], context);
      }
    }
  }

  /**
   * Moves a sale through quote and confirm. Buttons skip silently when the state does not
   * fit; one read at the end tells where the sale is.
   */
  async #confirm(row: Row, context: CallContext): Promise<Row> {
    if (row.state !== 'draft' && row.state !== 'quotation' && row.state !== 'confirmed') return row;
    const saleId = row.id;
    if (row.state === 'draft') await this.#stockGuarded('quote', saleId, context);
    if (row.state !== 'confirmed') await this.#stockGuarded('confirm', saleId, context);
    let after = await this.#readSale(saleId, context);
    // With a queue worker, processing happens later; ask for it now.
    if (after.state === 'confirmed') {
      await this.rpc.call('model.sale.sale.process', [[saleId]], context);
      after = await this.#readSale(saleId, context);
    }
    return after;
  }

  /** The taxes Tryton's own rules put on a line of `product` for `partyId` (sale.line on_change), cached like products. */
  async #lineTaxes(product: Row, partyId: number, currencyId: number, context: CallContext): Promise<{ taxIds: number[]; rate: bigint }> {
    const key = `${product.id}:${partyId}:${currencyId}`;
    const cached = this.#taxCache.get(key);
    const ttl = this.#options.productCacheMs ?? 300_000;
    if (cached && Date.now() - cached.at < ttl) return cached.taxes;
    const session = await this.rpc.session(context);
    const [changes] = await this.rpc.call<Record<string, unknown>[]>(
      'model.sale.line.on_change',
      [
        {
          id: -1,
          type: 'line',
          product: product.id,
          quantity: 1,
          unit: null,
          unit_price: null,
          taxes: [],
          sale: -1,
          '_parent_sale.party': partyId,
          '_parent_sale.currency': currencyId,
          '_parent_sale.company': session.context.company ?? null,
        },
        ['product'],
      ],
      context,
    );
    // on_change answers many2many changes as {"add": [[index, {"id": …}]]}, not in write syntax.
    const added = ((changes?.taxes as { add?: [number, { id: number }][] } | undefined)?.add ?? []).map(([, tax]) => tax.id);
    let rate = 0n;
    if (added.length) {
      const taxes = await this.rpc.call<Row[]>('model.account.tax.read', [added, ['type', 'rate']], context);
      for (const tax of taxes) if (tax.type === 'percentage' && tax.rate != null) rate += toScaled(decimalOf(tax.rate), RATE_SCALE);
    }
    const taxes = { taxIds: added, rate };
    this.#taxCache.set(key, { taxes, at: Date.now() });
    return taxes;
  }

  /** Tryton's unit prices exclude tax (4 decimals): a tax-included price is divided by 1 + the line's percentage rates. */
  #unitPrice(price: string, includedRate: bigint): bigint {
    const scaled = toScaled(price, PRICE_SCALE);
    if (includedRate === 0n) return scaled;
    const one = 10n ** BigInt(RATE_SCALE);
    return divideRounded(scaled * one, one + includedRate);
  }

  /** Whether this order's prices include tax (see `pricesIncludeTax`). */
  #includesTax(order: Order): boolean {
    const option = this.#options.pricesIncludeTax ?? 'auto';
    return option === 'auto' ? toScaled(order.totals.tax, 6) === 0n : option;
  }

  async #saleValues(order: Order, context: CallContext): Promise<Record<string, unknown>> {
    const charges = { ...DEFAULT_CHARGE_PRODUCTS, ...this.#options.chargeProducts };
    const shipping = toScaled(order.totals.shipping, 6) > 0n ? charges.shipping : null;
    const discount = toScaled(order.totals.discount, 6) > 0n ? charges.discount : null;
    if (toScaled(order.totals.shipping, 6) > 0n && !shipping) throw permanent('erp.charge_product_unset', 'the order has a shipping charge but no ERP product is configured for it', { charge: 'shipping' });
    if (toScaled(order.totals.discount, 6) > 0n && !discount) throw permanent('erp.charge_product_unset', 'the order has a discount but no ERP product is configured for it', { charge: 'discount' });
    const codes = [...order.lines.map((l) => l.sku), ...(shipping ? [shipping] : []), ...(discount ? [discount] : [])];
    const products = await this.#productsOrFail(codes, context);
    const { partyId, shipmentAddress, invoiceAddress } = await this.#partyAddresses(order.customer, order.shippingAddress, order.billingAddress, context);
    const currencyId = await this.#currencyId(order.currency, context);
    const includesTax = this.#includesTax(order);
    const productLine = async (code: string, quantity: number, price: string, description: string) => {
      const product = products.get(code)!;
      const { taxIds, rate } = await this.#lineTaxes(product, partyId, currencyId, context);
      const unitPrice = this.#unitPrice(price, includesTax ? rate : 0n);
      return {
        type: 'line',
        product: product.id,
        quantity,
        unit: product.default_uom,
        unit_price: new TrytonDecimal(fromScaled(unitPrice, PRICE_SCALE)),
        description,
        taxes: taxIds.length ? [['add', taxIds]] : [],
      };
    };
    const lines: Record<string, unknown>[] = [];
    for (const line of order.lines) lines.push(await productLine(line.sku, line.quantity, line.unitPrice, line.name ?? line.sku));
    if (shipping) lines.push(await productLine(shipping, 1, order.totals.shipping, 'Shipping'));
    if (discount) lines.push(await productLine(discount, 1, `-${order.totals.discount}`, 'Discount'));
    if (order.notes) lines.push({ type: 'comment', description: order.notes });
    const paymentTerm = this.#options.paymentTermId ?? (await this.#customerPaymentTerm(partyId, context));
    return {
      party: partyId,
      invoice_address: invoiceAddress,
      shipment_address: shipmentAddress,
      warehouse: this.#warehouse,
      currency: currencyId,
      description: `${order.channel} ${order.channelOrderId}`,
      ...(paymentTerm ? { payment_term: paymentTerm } : {}),
      lines: [['create', lines]],
    };
  }

  /** The customer's own payment term, cached like products. */
  async #customerPaymentTerm(partyId: number, context: CallContext): Promise<number | null> {
    const cached = this.#paymentTerms.get(partyId);
    if (cached && Date.now() - cached.at < (this.#options.productCacheMs ?? 300_000)) return cached.term;
    const [party] = await this.rpc.call<Row[]>('model.party.party.read', [[partyId], ['customer_payment_term']], context);
    const term = (party?.customer_payment_term as number | null | undefined) ?? null;
    this.#paymentTerms.set(partyId, { term, at: Date.now() });
    return term;
  }

  /**
   * The ERP's total must be what the customer paid: a difference beyond rounding (a cent per
   * priced line, from tax-included prices brought to 4-decimal unit prices) is the permanent
   * `erp.amount_mismatch`, never posted silently.
   */
  #reconcile(order: Order, sale: ErpSale): void {
    assertErpTotalMatches('tryton', order, sale);
  }

  async postOrder(order: Order, context: CallContext = {}): Promise<ErpPostResult> {
    const existing = await this.#liveSale(order.id, context);
    if (existing && existing.state === 'cancelled') {
      throw permanent('erp.sale_cancelled', `tryton sale for ${order.id} was cancelled; it will not be posted again`, { reference: order.id, saleId: existing.id });
    }
    let row = existing;
    let created = false;
    if (!row) {
      const result = await this.#createSale(order.id, await this.#saleValues(order, context), context);
      row = result.row;
      created = result.created;
    }
    // Compare before confirming: a sale with the wrong amount stays a draft (cancelled by the flow's compensation).
    if (row.state === 'draft') this.#reconcile(order, await this.#toSale(row, context));
    row = await this.#confirm(row, context);
    const sale = await this.#toSale(row, context);
    this.#reconcile(order, sale);
    return { sale, created };
  }

  // ---- setup ----------------------------------------------------------------------------------

  /** Checks that the charge products, the payment term and the warehouse the options name exist in the ERP. */
  async checkSetup(context: CallContext = {}): Promise<ErpSetupProblem[]> {
    const problems: ErpSetupProblem[] = [];
    try {
      const charges = Object.entries({ ...DEFAULT_CHARGE_PRODUCTS, ...this.#options.chargeProducts }).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
      const found = await this.#products(charges.map(([, code]) => code), context);
      for (const [charge, code] of charges) {
        if (!found.has(code)) problems.push({ code: 'erp.charge_product_missing', message: `the ERP has no product with code ${code} for the ${charge} charge (chargeProducts.${charge})`, details: { charge, productCode: code } });
      }
      if (this.#options.paymentTermId !== undefined) {
        const terms = await this.rpc.call<number[]>('model.account.invoice.payment_term.search', [[['id', '=', this.#options.paymentTermId]], 0, 1, null], context);
        if (!terms.length) problems.push({ code: 'erp.payment_term_missing', message: `the ERP has no payment term ${this.#options.paymentTermId} (paymentTermId)`, details: { paymentTermId: this.#options.paymentTermId } });
      }
      const warehouses = await this.rpc.call<number[]>('model.stock.location.search', [[['id', '=', this.#warehouse], ['type', '=', 'warehouse']], 0, 1, null], context);
      if (!warehouses.length) problems.push({ code: 'erp.warehouse_missing', message: `location ${this.#warehouse} is not a warehouse in the ERP (warehouseId)`, details: { warehouseId: this.#warehouse } });
    } catch (error) {
      if (!(error instanceof SynclineError) || error.retry !== 'permanent') throw error;
      problems.push({ code: error.code, message: error.message });
    }
    return problems;
  }

  // ---- cancelling -----------------------------------------------------------------------------

  async cancelOrder(orderId: string, context: CallContext = {}): Promise<ErpCancelResult> {
    const row = await this.#liveSale(orderId, context);
    if (!row) return { outcome: 'not_found' };
    if (row.state === 'cancelled') return { outcome: 'cancelled', sale: await this.#toSale(row, context) };
    if (row.state === 'draft' || row.state === 'quotation') {
      // Workflow buttons skip, silently, records with no transition: read back to know.
      await this.rpc.call('model.sale.sale.cancel', [[row.id]], context);
      const after = await this.#readSale(row.id, context);
      if (after.state !== 'cancelled') throw permanent('erp.cancel_refused', `tryton did not cancel sale ${row.id} (state ${String(after.state)})`, { saleId: row.id });
      return { outcome: 'cancelled', sale: await this.#toSale(after, context) };
    }
    // A confirmed sale cannot be cancelled in Tryton: cancel what it generated instead.
    const shipments = await this.rpc.call<Row[]>('model.stock.shipment.out.read', [row.shipments, ['state']], context);
    if (shipments.some((s) => s.state === 'done')) return { outcome: 'already_shipped', sale: await this.#toSale(row, context) };
    const openShipments = shipments.filter((s) => s.state !== 'cancelled').map((s) => s.id);
    if (openShipments.length) await this.rpc.call('model.stock.shipment.out.cancel', [openShipments], context);
    const invoices = await this.rpc.call<Row[]>('model.account.invoice.read', [row.invoices, ['state']], context);
    const draftInvoices = invoices.filter((i) => i.state === 'draft' || i.state === 'validated').map((i) => i.id);
    if (draftInvoices.length) await this.rpc.call('model.account.invoice.cancel', [draftInvoices], context);
    return {
      outcome: 'cancelled_documents',
      sale: await this.#toSale(await this.#readSale(row.id, context), context),
      cancelledShipmentIds: openShipments,
      cancelledInvoiceIds: draftInvoices,
    };
  }

  // ---- shipping -------------------------------------------------------------------------------

  async recordShipment(orderId: string, input: ErpShipmentInput, context: CallContext = {}): Promise<ErpShipmentResult> {
    const row = await this.#liveSale(orderId, context);
    if (!row) throw permanent('erp.sale_not_found', `tryton has no sale for ${orderId}`, { reference: orderId });
    const [recorded] = await this.rpc.call<Row[]>(
      'model.stock.shipment.out.search_read',
      [[['reference', '=', input.shipmentKey]], 0, 1, null, ['state', 'outgoing_moves']],
      context,
    );
    if (recorded?.state === 'done') return { recorded: false, erpShipmentId: recorded.id, sale: await this.#toSale(row, context) };

    let shipment = recorded;
    if (!shipment) {
      const candidates = await this.rpc.call<Row[]>('model.stock.shipment.out.read', [row.shipments, ['state', 'reference', 'outgoing_moves']], context);
      shipment = candidates.find((s) => OPEN_SHIPMENT_STATES.has(String(s.state)) && !s.reference);
      if (!shipment) throw permanent('erp.no_open_shipment', `tryton sale ${String(row.number)} has no open shipment for ${input.shipmentKey}`, { reference: orderId });
      await this.rpc.call('model.stock.shipment.out.write', [[shipment.id], { reference: input.shipmentKey }], context);
    }

    // Ship what was confirmed: lower the moves to the shipped quantities (Tryton plans the rest again).
    // Both kinds: packing copies the inventory moves' quantities onto the outgoing ones (recorded on a
    // real Tryton 6.0: lowering only the outgoing moves shipped everything).
    const [withMoves] = await this.rpc.call<Row[]>('model.stock.shipment.out.read', [[shipment.id], ['inventory_moves']], context);
    const inventoryMoves = (withMoves?.inventory_moves as number[] | undefined) ?? [];
    const products = await this.#productsOrFail(input.lines.map((l) => l.sku), context);
    const shipped = new Map<number, number>();
    for (const line of input.lines) {
      const id = products.get(line.sku)!.id;
      shipped.set(id, (shipped.get(id) ?? 0) + line.quantity);
    }
    const lower = async (moveIds: number[]): Promise<Map<number, number>> => {
      const moves = await this.rpc.call<Row[]>('model.stock.move.read', [moveIds, ['product', 'quantity', 'state']], context);
      const remaining = new Map(shipped);
      for (const move of moves.filter((m) => m.state !== 'cancelled' && m.state !== 'done')) {
        const want = remaining.get(move.product as number) ?? 0;
        const ship = Math.min(want, Number(move.quantity));
        remaining.set(move.product as number, want - ship);
        if (ship !== Number(move.quantity)) await this.rpc.call('model.stock.move.write', [[move.id], { quantity: ship }], context);
      }
      return remaining;
    };
    const remaining = await lower(shipment.outgoing_moves as number[]);
    const unmatched = [...remaining].filter(([, quantity]) => quantity > 0);
    if (unmatched.length) {
      const codes = [...products].filter(([, p]) => unmatched.some(([id]) => id === p.id)).map(([code]) => code);
      throw permanent('erp.shipment_mismatch', `tryton shipment ${shipment.id} does not have the quantities confirmed for ${codes.join(', ')}`, { skus: codes });
    }
    await lower(inventoryMoves);

    const state = String((await this.rpc.call<Row[]>('model.stock.shipment.out.read', [[shipment.id], ['state']], context))[0]?.state);
    if (state === 'waiting') {
      const assigned = await this.rpc.call<boolean>('model.stock.shipment.out.assign_try', [[shipment.id]], context);
      if (!assigned) {
        throw permanent('erp.stock_unavailable', `tryton cannot assign shipment ${shipment.id}: its stock is lower than what was shipped`, { shipmentId: shipment.id });
      }
    }
    if (state === 'waiting' || state === 'assigned') await this.rpc.call('model.stock.shipment.out.pick', [[shipment.id]], context);
    if (state !== 'packed') await this.rpc.call('model.stock.shipment.out.pack', [[shipment.id]], context);
    await this.rpc.call('model.stock.shipment.out.done', [[shipment.id]], context);
    return { recorded: true, erpShipmentId: shipment.id, sale: await this.#toSale(await this.#readSale(row.id, context), context) };
  }

  // ---- invoices and returns -------------------------------------------------------------------

  async #invoices(ids: number[], context: CallContext): Promise<ErpInvoice[]> {
    const rows = await this.rpc.call<Row[]>('model.account.invoice.read', [ids, INVOICE_FIELDS], context);
    return Promise.all(
      rows.map(async (r) => {
        const total = decimalOf(r.total_amount);
        return {
          erpId: r.id,
          number: (r.number as string | null) ?? null,
          state: String(r.state),
          kind: total.startsWith('-') ? ('credit_note' as const) : ('invoice' as const),
          untaxedAmount: decimalOf(r.untaxed_amount),
          taxAmount: decimalOf(r.tax_amount),
          totalAmount: total,
          currency: await this.#currencyCode(r.currency as number, context),
          invoiceDate: r.invoice_date instanceof TrytonDate ? r.invoice_date.toIsoDate() : null,
        };
      }),
    );
  }

  async customerAccount(account: string, context: CallContext = {}): Promise<ErpCustomerAccount | undefined> {
    return trytonCustomerAccount(this.rpc, account, (id) => this.#currencyCode(id, context), context);
  }

  async saleAccount(reference: string, context: CallContext = {}): Promise<string | undefined> {
    return trytonSaleAccount(this.rpc, reference, context);
  }

  async postInvoices(reference: string, context: CallContext = {}): Promise<ErpInvoice[]> {
    const row = await this.#liveSale(reference, context);
    if (!row) throw permanent('erp.sale_not_found', `tryton has no sale for ${reference}`, { reference });
    const invoices = await this.#invoices(row.invoices as number[], context);
    const drafts = invoices.filter((i) => i.state === 'draft' || i.state === 'validated').map((i) => i.erpId);
    if (!drafts.length) return invoices;
    await this.rpc.call('model.account.invoice.post', [drafts], context);
    return this.#invoices(row.invoices as number[], context);
  }

  async postReturn(input: ErpReturnInput, context: CallContext = {}): Promise<ErpReturnResult> {
    let row = await this.#liveSale(input.returnId, context);
    let created = false;
    if (!row) {
      const original = await this.#liveSale(input.orderId, context);
      if (!original) throw permanent('erp.sale_not_found', `tryton has no sale for ${input.orderId} to return against`, { reference: input.orderId });
      const products = await this.#productsOrFail(input.lines.map((l) => l.sku), context);
      // A return is a sale with negative quantities: Tryton answers with a return shipment and a credit note.
      const lines = [];
      for (const line of input.lines) {
        const product = products.get(line.sku)!;
        const { taxIds, rate } = await this.#lineTaxes(product, original.party as number, original.currency as number, context);
        const taxes = taxIds.length ? [['add', taxIds]] : [];
        // A return carries no tax total: with "auto", its prices are taken as tax-included, like the orders they refund.
        const includesTax = (this.#options.pricesIncludeTax ?? 'auto') !== false;
        const unitPrice = new TrytonDecimal(fromScaled(this.#unitPrice(line.unitPrice, includesTax ? rate : 0n), PRICE_SCALE));
        lines.push({ type: 'line', product: product.id, quantity: -line.quantity, unit: product.default_uom, unit_price: unitPrice, description: `Return of ${line.sku}`, taxes });
      }
      const result = await this.#createSale(
        input.returnId,
        {
          party: original.party,
          invoice_address: original.invoice_address,
          shipment_address: original.shipment_address,
          warehouse: this.#warehouse,
          currency: original.currency,
          description: `Return for ${input.orderId}`,
          lines: [['create', lines]],
        },
        context,
      );
      row = result.row;
      created = result.created;
    }
    row = await this.#confirm(row, context);
    if (input.restock && (row.shipment_returns as number[]).length) {
      const returns = await this.rpc.call<Row[]>('model.stock.shipment.out.return.read', [row.shipment_returns, ['state']], context);
      const drafts = returns.filter((s) => s.state === 'draft').map((s) => s.id);
      if (drafts.length) await this.rpc.call('model.stock.shipment.out.return.receive', [drafts], context);
      const received = returns.filter((s) => s.state === 'draft' || s.state === 'received').map((s) => s.id);
      if (received.length) await this.rpc.call('model.stock.shipment.out.return.done', [received], context);
    }
    const creditNotes = await this.postInvoices(input.returnId, context);
    // The return sale was made on the order's own party: the credit note is that account's.
    return { sale: await this.#toSale(await this.#readSale(row.id, context), context), created, creditNotes, account: String(row.party) };
  }
}

/** A Tryton ERP connector. */
export function createTrytonClient(options: TrytonClientOptions): TrytonClient {
  return new TrytonClient(options);
}

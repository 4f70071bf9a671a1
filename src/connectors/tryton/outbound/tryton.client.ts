import { SynclineError } from '../../../domain/errors.ts';
import { toScaled } from '../../../model/money.ts';
import type { Address, CustomerRef, Order } from '../../../model/order.ts';
import type {
  CallContext,
  ErpCancelResult,
  ErpConnector,
  ErpInvoice,
  ErpPostResult,
  ErpReturnInput,
  ErpReturnResult,
  ErpSale,
  ErpShipmentInput,
  ErpShipmentResult,
  ErpStockLevel,
} from '../../kit/contracts.ts';
import { decimalOf, TrytonDate, TrytonDecimal } from '../tryton-wire.ts';
import { TrytonRpc, type TrytonRpcOptions } from './json-rpc.ts';

/**
 * The ERP connector for Tryton: canonical orders become Tryton sales whose
 * `reference` is the Syncline order id. Every call is safe to repeat: posting looks
 * the reference up before creating and finishes a half-done posting (created but not
 * confirmed); a shipment is recorded under the external shipment id.
 */

export interface TrytonClientOptions extends TrytonRpcOptions {
  /** Warehouse location the sales ship from (default: 5). */
  warehouseId?: number;
  /** Payment term id for new sales (default: none). */
  paymentTermId?: number;
  /** Customer tax ids put on every product line (default: none: amounts are posted untaxed). */
  taxIds?: number[];
  /** Service product for the shipping charge; null posts no shipping line (default: "SHIPPING"). */
  shippingProductCode?: string | null;
  /** Service product for order-level discounts, posted with a negative price (default: "DISCOUNT"). */
  discountProductCode?: string | null;
  /**
   * Answer "yes" to sale_stock_quantity's warning (forecast stock lower than the line) by
   * creating a one-shot res.user.warning, as a user would in the client. Syncline has
   * already reserved the stock in its own inventory, so the ERP's forecast is advisory
   * (default: true).
   */
  acknowledgeStockWarnings?: boolean;
  /** How long product ids found by code are reused (default: 300000 ms; 0 = always look up). */
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
const OPEN_SHIPMENT_STATES = new Set(['waiting', 'assigned', 'picked', 'packed']);

type Row = Record<string, unknown> & { id: number };

const permanent = (code: string, message: string, details: Record<string, unknown> = {}) =>
  new SynclineError(code, message, { retry: 'permanent', details: { system: 'tryton', ...details } });

/** A Tryton ERP connector. */
export class TrytonClient implements ErpConnector {
  readonly system = 'tryton';
  readonly rpc: TrytonRpc;
  readonly #options: TrytonClientOptions;
  readonly #currencyCodes = new Map<number, string>();
  readonly #currencyIds = new Map<string, number>();
  readonly #countryIds = new Map<string, number | null>();
  readonly #productCache = new Map<string, { row: Row; at: number }>();

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

  async getSale(reference: string, context: CallContext = {}): Promise<ErpSale | undefined> {
    const row = await this.#liveSale(reference, context);
    return row ? this.#toSale(row, context) : undefined;
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
      const [found] = await this.rpc.call<number[]>('model.party.party.search', [[['contact_mechanisms.value', '=', customer.email]], 0, 1, [['id', 'ASC']]], context);
      if (found !== undefined) partyId = found;
      else {
        const [created] = await this.rpc.call<number[]>(
          'model.party.party.create',
          [
            [
              {
                name: customer.name,
                contact_mechanisms: [['create', [{ type: 'email', value: customer.email }, ...(customer.phone ? [{ type: 'phone', value: customer.phone }] : [])]]],
                addresses: [['create', [await this.#addressValues(shipping, context)]]],
              },
            ],
          ],
          context,
        );
        partyId = created!;
        rows = await this.rpc.call<Row[]>('model.party.address.search_read', [[['party', '=', partyId]], 0, null, [['id', 'ASC']], fields], context);
      }
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
   * Moves a sale through quote and confirm, acknowledging stock warnings when configured.
   * Buttons skip silently when the state does not fit, so they are sent without reading
   * in between; one read at the end tells where the sale is.
   */
  async #confirm(row: Row, context: CallContext): Promise<Row> {
    if (row.state !== 'draft' && row.state !== 'quotation' && row.state !== 'confirmed') return row;
    const saleId = row.id;
    if (row.state === 'draft') {
      for (let acknowledgements = 0; ; ) {
        try {
          await this.rpc.call('model.sale.sale.quote', [[saleId]], context);
          break;
        } catch (error) {
          const warning = error instanceof SynclineError && error.code === 'erp.user_warning' ? String(error.details?.warningName ?? '') : '';
          if (!warning.startsWith('stock_quantity_warning_') || this.#options.acknowledgeStockWarnings === false || acknowledgements++ > 500) throw error;
          await this.rpc.call('model.res.user.warning.create', [[{ user: await this.rpc.userId(context), name: warning, always: false }]], context);
        }
      }
    }
    if (row.state !== 'confirmed') await this.rpc.call('model.sale.sale.confirm', [[saleId]], context);
    let after = await this.#readSale(saleId, context);
    // With a queue worker, processing happens later; ask for it now.
    if (after.state === 'confirmed') {
      await this.rpc.call('model.sale.sale.process', [[saleId]], context);
      after = await this.#readSale(saleId, context);
    }
    return after;
  }

  async postOrder(order: Order, context: CallContext = {}): Promise<ErpPostResult> {
    const existing = await this.#liveSale(order.id, context);
    if (existing && existing.state === 'cancelled') {
      throw permanent('erp.sale_cancelled', `tryton sale for ${order.id} was cancelled; it will not be posted again`, { reference: order.id, saleId: existing.id });
    }
    let row = existing;
    let created = false;
    if (!row) {
      const { shippingProductCode = 'SHIPPING', discountProductCode = 'DISCOUNT' } = this.#options;
      const shipping = shippingProductCode && toScaled(order.totals.shipping, 6) > 0n ? shippingProductCode : null;
      const discount = discountProductCode && toScaled(order.totals.discount, 6) > 0n ? discountProductCode : null;
      const codes = [...order.lines.map((l) => l.sku), ...(shipping ? [shipping] : []), ...(discount ? [discount] : [])];
      const products = await this.#productsOrFail(codes, context);
      const { partyId, shipmentAddress, invoiceAddress } = await this.#partyAddresses(order.customer, order.shippingAddress, order.billingAddress, context);
      const taxes = this.#options.taxIds?.length ? [['add', this.#options.taxIds]] : [];
      const productLine = (code: string, quantity: number, unitPrice: string, description: string) => {
        const product = products.get(code)!;
        return { type: 'line', product: product.id, quantity, unit: product.default_uom, unit_price: new TrytonDecimal(unitPrice), description, taxes };
      };
      const lines: Record<string, unknown>[] = order.lines.map((line) => productLine(line.sku, line.quantity, line.unitPrice, line.name ?? line.sku));
      if (shipping) lines.push(productLine(shipping, 1, order.totals.shipping, 'Shipping'));
      if (discount) lines.push(productLine(discount, 1, `-${order.totals.discount}`, 'Discount'));
      if (order.notes) lines.push({ type: 'comment', description: order.notes });
      const result = await this.#createSale(
        order.id,
        {
          party: partyId,
          invoice_address: invoiceAddress,
          shipment_address: shipmentAddress,
          warehouse: this.#warehouse,
          currency: await this.#currencyId(order.currency, context),
          description: `${order.channel} ${order.channelOrderId}`,
          ...(this.#options.paymentTermId ? { payment_term: this.#options.paymentTermId } : {}),
          lines: [['create', lines]],
        },
        context,
      );
      row = result.row;
      created = result.created;
    }
    row = await this.#confirm(row, context);
    return { sale: await this.#toSale(row, context), created };
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

    // Ship what was confirmed: lower the outgoing moves to the shipped quantities (Tryton plans the rest again).
    const moves = await this.rpc.call<Row[]>('model.stock.move.read', [shipment.outgoing_moves, ['product', 'quantity', 'state']], context);
    const products = await this.#productsOrFail(input.lines.map((l) => l.sku), context);
    const remaining = new Map<number, number>();
    for (const line of input.lines) {
      const id = products.get(line.sku)!.id;
      remaining.set(id, (remaining.get(id) ?? 0) + line.quantity);
    }
    for (const move of moves) {
      const want = remaining.get(move.product as number) ?? 0;
      const ship = Math.min(want, Number(move.quantity));
      remaining.set(move.product as number, want - ship);
      if (ship !== Number(move.quantity)) await this.rpc.call('model.stock.move.write', [[move.id], { quantity: ship }], context);
    }
    const unmatched = [...remaining].filter(([, quantity]) => quantity > 0);
    if (unmatched.length) {
      const codes = [...products].filter(([, p]) => unmatched.some(([id]) => id === p.id)).map(([code]) => code);
      throw permanent('erp.shipment_mismatch', `tryton shipment ${shipment.id} does not have the quantities confirmed for ${codes.join(', ')}`, { skus: codes });
    }

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
      const taxes = this.#options.taxIds?.length ? [['add', this.#options.taxIds]] : [];
      // A return is a sale with negative quantities: Tryton answers with a return shipment and a credit note.
      const lines = input.lines.map((line) => {
        const product = products.get(line.sku)!;
        return { type: 'line', product: product.id, quantity: -line.quantity, unit: product.default_uom, unit_price: new TrytonDecimal(line.unitPrice), description: `Return of ${line.sku}`, taxes };
      });
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
    return { sale: await this.#toSale(await this.#readSale(row.id, context), context), created, creditNotes };
  }
}

/** A Tryton ERP connector. */
export function createTrytonClient(options: TrytonClientOptions): TrytonClient {
  return new TrytonClient(options);
}

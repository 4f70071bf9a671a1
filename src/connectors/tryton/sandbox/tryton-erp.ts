import { toScaled } from '../../../model/money.ts';
import { decimalOf, TrytonDate, TrytonDateTime, TrytonDecimal } from '../tryton-wire.ts';
import {
  AMOUNT_SCALE,
  dec,
  INTERNAL_LOCATIONS,
  LOCATION,
  PRICE_SCALE,
  RELATIONS,
  roundTo,
  scaledOf,
  SUPPORTED_MODELS,
  TrytonForbidden,
  TrytonUserError,
  TrytonUserWarning,
  type ProductSeed,
  type Rec,
} from './tryton-data.ts';
import { FieldIndexes, PlannedStock } from './tryton-indexes.ts';

/**
 * The sandbox ERP's own state and business rules: products with stock, parties,
 * sales with their workflow (draft → quotation → confirmed → processing), outgoing
 * and return shipments that move its own stock, and invoices and credit notes.
 * It follows the behaviour recorded from a real Tryton 6.0 (see ../SOURCES.md);
 * the simplifications are listed in ../README.md.
 */

export class TrytonErp {
  readonly tables = new Map<string, Map<number, Rec>>();
  #nextId = new Map<string, number>();
  #sequences = new Map<string, number>();
  #indexes = new FieldIndexes();
  #stock = new PlannedStock();

  constructor() {
    for (const model of SUPPORTED_MODELS) this.tables.set(model, new Map());
    const locations: [number, string, string, number | null][] = [
      [LOCATION.supplier, 'Supplier', 'supplier', null],
      [LOCATION.customer, 'Customer', 'customer', null],
      [LOCATION.input, 'Input Zone', 'storage', LOCATION.warehouse],
      [LOCATION.output, 'Output Zone', 'storage', LOCATION.warehouse],
      [LOCATION.warehouse, 'Warehouse', 'warehouse', null],
      [LOCATION.storage, 'Storage Zone', 'storage', LOCATION.warehouse],
      [LOCATION.lostFound, 'Lost and Found', 'lost_found', null],
    ];
    for (const [id, name, type, parent] of locations) this.#put('stock.location', { id, name, type, parent, rec_name: name });
    this.#nextId.set('stock.location', 8);
    const currencies: [string, string, number][] = [['USD', 'U.S. Dollar', 2], ['EUR', 'Euro', 2], ['GBP', 'Pound Sterling', 2], ['JPY', 'Yen', 0], ['CAD', 'Canadian Dollar', 2]];
    for (const [code, name, digits] of currencies) this.insert('currency.currency', { code, name, digits, rec_name: code });
    for (const [code, name] of [['US', 'United States'], ['CA', 'Canada'], ['GB', 'United Kingdom'], ['DE', 'Germany'], ['FR', 'France'], ['NL', 'Netherlands'], ['BE', 'Belgium'], ['ES', 'Spain'], ['IT', 'Italy'], ['JP', 'Japan']] as const) {
      this.insert('country.country', { code, name, rec_name: name });
    }
    this.insert('account.invoice.payment_term', { name: 'Direct', rec_name: 'Direct' });
    this.insert('product.uom', { name: 'Unit', symbol: 'u', rec_name: 'Unit' });
    this.insert('product.category', { name: 'Retail goods', accounting: 1, rec_name: 'Retail goods' });
    this.insert('account.tax', { name: '10% Sales Tax', type: 'percentage', rate: new TrytonDecimal('0.10'), rec_name: '10% Sales Tax' });
    this.seedProducts([
      { code: 'SHIP', name: 'Shipping', type: 'service', listPrice: '0' },
      { code: 'DISC', name: 'Discount', type: 'service', listPrice: '0' },
    ]);
  }

  // ---- storage helpers -------------------------------------------------------------------

  table(model: string): Map<number, Rec> {
    const table = this.tables.get(model);
    if (!table) throw new TrytonForbidden(`model ${model} is not served by the sandbox`);
    return table;
  }

  #put(model: string, rec: Rec): Rec {
    this.table(model).set(rec.id, rec);
    this.#indexes.add(model, rec);
    if (model === 'stock.move') this.#stock.add(rec);
    return rec;
  }

  /**
   * The records of model whose field (an indexed one) may equal value, a string or number, as a
   * domain's "=" compares: every record that does is among them, in id order; the caller checks
   * each. Undefined when the field has no index.
   */
  candidates(model: string, field: string, value: string | number): Rec[] | undefined {
    const table = this.table(model);
    return this.#indexes.candidates(model, field, value)?.flatMap((id) => table.get(id) ?? []);
  }

  /** Records of model whose indexed field is exactly value, in id order. */
  #where(model: string, field: string, value: string | number): Rec[] {
    return this.candidates(model, field, value)!.filter((rec) => rec[field] === value);
  }

  insert(model: string, values: Record<string, unknown>): Rec {
    const id = this.#nextId.get(model) ?? 1;
    this.#nextId.set(model, id + 1);
    // Stamps as a real server keeps them (naive UTC, microseconds); the item master's sync reads them.
    return this.#put(model, { ...values, id, create_date: TrytonDateTime.now(), write_date: null });
  }

  get(model: string, id: number): Rec {
    const rec = this.table(model).get(id);
    if (!rec) throw new TrytonUserError(`The record "${model},${id}" does not exist.`, 'It may have been deleted.');
    return rec;
  }

  #sequence(name: string, prefix = ''): string {
    const next = (this.#sequences.get(name) ?? 0) + 1;
    this.#sequences.set(name, next);
    return `${prefix}${next}`;
  }

  /** Adds products (or tops up stock of existing codes) — the sandbox's way to load master data. */
  seedProducts(seeds: ProductSeed[]): Rec[] {
    return seeds.map((seed) => {
      const existing = [...this.table('product.product').values()].find((p) => p.code === seed.code);
      if (existing) {
        if (seed.quantity !== undefined) existing.on_hand = seed.quantity;
        if (seed.listPrice !== undefined) this.write('product.template', [existing.template as number], { list_price: new TrytonDecimal(seed.listPrice) });
        return existing;
      }
      // As a real Tryton 6.0: a variant of its own template, whose account category carries the tax.
      const template = this.insert('product.template', { name: seed.name ?? seed.code, active: 1 });
      return this.insert('product.product', {
        template: template.id,
        account_category: 1,
        identifiers: [],
        active: 1,
        code: seed.code,
        name: seed.name ?? seed.code,
        rec_name: `[${seed.code}] ${seed.name ?? seed.code}`,
        type: seed.type ?? 'goods',
        // SQLite booleans come back as 1/0 from the recorded server.
        salable: 1,
        default_uom: 1,
        // Returned as stored, like a real server ('25.00' stays '25.00').
        list_price: new TrytonDecimal(seed.listPrice ?? '0'),
        // Like the seeded real server, every product's category carries the 10 % customer tax.
        customer_taxes: [1],
        on_hand: seed.quantity ?? 0,
      });
    });
  }

  /**
   * sale.line on_change of the product, as the client asks it: the product's unit, list price and
   * customer taxes. The answer's many2many uses on_change's own shape ({"add": [[index, {"id"}]]}).
   */
  saleLineOnChange(values: Record<string, unknown>): Record<string, unknown> {
    const product = this.get('product.product', Number(values.product));
    const price = scaledOf(product.list_price, PRICE_SCALE);
    return {
      unit: product.default_uom,
      'unit.': { rec_name: 'Unit' },
      unit_digits: 0,
      unit_price: dec(price, PRICE_SCALE),
      taxes: { add: ((product.customer_taxes as number[] | undefined) ?? []).map((id, index) => [index, { id }]) },
      amount: dec(this.#lineAmount({ id: -1, type: 'line', unit_price: product.list_price, quantity: Number(values.quantity ?? 0) }), AMOUNT_SCALE),
    };
  }

  // ---- reads -------------------------------------------------------------------------------

  /** Field values as Tryton's read returns them, including computed (function) fields. */
  view(model: string, rec: Rec, context: Record<string, unknown>): Rec {
    const out: Rec = { ...rec };
    switch (model) {
      case 'product.product': {
        delete out.on_hand;
        const locations = Array.isArray(context.locations) ? (context.locations as number[]) : [];
        // Only the `locations` context form was recorded; without it the sandbox reports no stock.
        const inWarehouse = locations.some((l) => l === LOCATION.warehouse || l === LOCATION.storage);
        const quantity = inWarehouse ? Number(rec.on_hand) : 0;
        out.quantity = quantity;
        out.forecast_quantity = inWarehouse ? quantity + this.#plannedDelta(rec.id) : 0;
        break;
      }
      case 'sale.sale':
        Object.assign(out, this.#saleComputed(rec));
        break;
      case 'account.invoice':
        Object.assign(out, this.#invoiceAmounts(rec));
        // Nothing is paid in the sandbox: a posted invoice owes its total, a paid one nothing.
        out.amount_to_pay = rec.state === 'posted' ? out.total_amount : dec(0n, AMOUNT_SCALE);
        break;
      case 'party.party':
        out.receivable = this.#receivable(rec.id);
        break;
      case 'sale.line':
        out.amount = dec(this.#lineAmount(rec), AMOUNT_SCALE);
        break;
      default:
        break;
    }
    return out;
  }

  /** Stock that moves not yet done will add (+) or take (-) from the warehouse. */
  #plannedDelta(productId: number): number {
    return this.#stock.delta(productId, this.table('stock.move'));
  }


  #lineAmount(line: Rec): bigint {
    if (line.type !== 'line') return 0n;
    const price = scaledOf(line.unit_price, PRICE_SCALE);
    const quantityScaled = toScaled(String(line.quantity), 2);
    return roundTo(price * quantityScaled, PRICE_SCALE + 2, AMOUNT_SCALE);
  }

  /**
   * A document's tax: Tryton rounds taxes per document by default (account configuration
   * `tax_rounding`), in one group per tax and sign of the base (recorded: bases 59.06 and -1.82 at
   * 10 % gave tax lines 5.91 and -0.18, a sale tax of 5.73, not 5.72).
   */
  #taxTotal(lines: { amount: bigint; taxes: unknown }[]): bigint {
    const groups = new Map<string, bigint>();
    for (const { amount, taxes } of lines) {
      for (const id of (taxes as number[] | undefined) ?? []) {
        const key = `${id}:${amount >= 0n}`;
        groups.set(key, (groups.get(key) ?? 0n) + amount * scaledOf(this.get('account.tax', id).rate, 4));
      }
    }
    let total = 0n;
    for (const unrounded of groups.values()) total += roundTo(unrounded, AMOUNT_SCALE + 4, AMOUNT_SCALE);
    return total;
  }

  #saleComputed(sale: Rec): Record<string, unknown> {
    let untaxed = 0n;
    const taxed: { amount: bigint; taxes: unknown }[] = [];
    for (const id of sale.lines as number[]) {
      const line = this.get('sale.line', id);
      const amount = this.#lineAmount(line);
      untaxed += amount;
      taxed.push({ amount, taxes: line.taxes });
    }
    const tax = this.#taxTotal(taxed);
    const moves = this.#saleMoves(sale);
    const shipments = new Set<number>();
    const returns = new Set<number>();
    for (const move of moves) {
      const [model, id] = String(move.shipment ?? '').split(',');
      if (model === 'stock.shipment.out') shipments.add(Number(id));
      if (model === 'stock.shipment.out.return') returns.add(Number(id));
    }
    const invoices = this.#saleInvoices(sale).map((i) => i.id);
    return {
      untaxed_amount: dec(untaxed, AMOUNT_SCALE),
      tax_amount: dec(tax, AMOUNT_SCALE),
      total_amount: dec(untaxed + tax, AMOUNT_SCALE),
      moves: moves.map((m) => m.id),
      shipments: [...shipments].sort((a, b) => a - b),
      shipment_returns: [...returns].sort((a, b) => a - b),
      invoices,
    };
  }

  /** The account module's party.receivable: what the party's posted customer invoices (and credit notes) leave to pay. */
  #receivable(partyId: number): unknown {
    let owed = 0n;
    for (const invoice of this.table('account.invoice').values()) {
      if (invoice.party !== partyId || invoice.type !== 'out' || invoice.state !== 'posted') continue;
      owed += scaledOf(this.#invoiceAmounts(invoice).total_amount, AMOUNT_SCALE);
    }
    return dec(owed, AMOUNT_SCALE);
  }

  #invoiceAmounts(invoice: Rec): Record<string, unknown> {
    let untaxed = 0n;
    const taxed: { amount: bigint; taxes: unknown }[] = [];
    for (const id of invoice.lines as number[]) {
      const line = this.get('account.invoice.line', id);
      const amount = scaledOf(line.amount, AMOUNT_SCALE);
      untaxed += amount;
      taxed.push({ amount, taxes: line.taxes });
    }
    const rounded = this.#taxTotal(taxed);
    return { untaxed_amount: dec(untaxed, AMOUNT_SCALE), tax_amount: dec(rounded, AMOUNT_SCALE), total_amount: dec(untaxed + rounded, AMOUNT_SCALE) };
  }

  #saleMoves(sale: Rec): Rec[] {
    const lines = new Set(sale.lines as number[]);
    return [...lines].flatMap((id) => this.#where('stock.move', 'origin', `sale.line,${id}`)).sort((a, b) => a.id - b.id);
  }

  /** One field's value: stored fields directly, function fields computed (computing all of a sale's is costly). */
  field(model: string, rec: Rec, name: string, context: Record<string, unknown>): unknown {
    if (name in rec && !(model === 'product.product' && name === 'on_hand')) return rec[name];
    return this.view(model, rec, context)[name];
  }

  /** Follows a dotted field name (contact_mechanisms.value) through relations. */
  valuesAt(model: string, rec: Rec, path: string, context: Record<string, unknown>): unknown[] {
    const [head, ...rest] = path.split('.');
    const value = this.field(model, rec, head!, context);
    if (rest.length === 0) return [value];
    const target = RELATIONS[model]?.[head!];
    if (!target) throw new TrytonUserError(`Invalid domain: "${path}" on "${model}".`);
    const ids = Array.isArray(value) ? (value as number[]) : value === null || value === undefined ? [] : [value as number];
    return ids.flatMap((id) => this.valuesAt(target, this.get(target, id), rest.join('.'), context));
  }

  // ---- writes ------------------------------------------------------------------------------

  /** model.create: values use Tryton's relation syntax ([["create",[…]]], [["add",[ids]]]). */
  create(model: string, vlist: Record<string, unknown>[]): number[] {
    switch (model) {
      case 'party.party':
        return vlist.map((values) => this.#createParty(values));
      case 'party.address':
        return vlist.map((values) => this.#createAddress(values.party as number, values));
      case 'party.contact_mechanism':
        return vlist.map((values) => this.#createContactMechanism(Number(values.party), values));
      case 'sale.sale':
        return vlist.map((values) => this.#createSale(values));
      case 'product.identifier':
        return vlist.map((values) => {
          const product = this.get('product.product', Number(values.product));
          const identifier = this.insert('product.identifier', { product: product.id, type: values.type ?? null, code: String(values.code ?? '') });
          (product.identifiers as number[]).push(identifier.id);
          return identifier.id;
        });
      case 'res.user.warning':
        return vlist.map((values) => this.insert('res.user.warning', { user: values.user ?? 1, name: String(values.name), always: values.always ? 1 : 0 }).id);
      default:
        throw new TrytonForbidden(`${model}.create is not served by the sandbox`);
    }
  }

  /** model.write: only the fields the integration writes (references and move quantities). */
  write(model: string, ids: number[], values: Record<string, unknown>): void {
    const allowed: Record<string, string[]> = {
      'product.product': ['active'],
      // A party renamed or given other payment terms in the ERP (customer records pulled in).
      'product.template': ['name', 'list_price', 'active'],
      'stock.shipment.out': ['reference'],
      'stock.shipment.out.return': ['reference'],
      'stock.move': ['quantity'],
      'sale.sale': ['comment', 'description'],
      'account.invoice': ['reference', 'description'],
      'party.party': ['active', 'name', 'customer_payment_term'],
      'party.address': ['party_name', 'street', 'postal_code', 'city'],
    };
    const fields = allowed[model];
    if (!fields) throw new TrytonForbidden(`${model}.write is not served by the sandbox`);
    for (const id of ids) {
      const rec = this.get(model, id);
      for (const [field, value] of Object.entries(values)) {
        if (!fields.includes(field)) throw new TrytonUserError(`You cannot write the field "${field}" of "${model}" in the sandbox.`);
        if (model === 'stock.move') {
          if (rec.state !== 'draft' && rec.state !== 'assigned') {
            throw new TrytonUserError(`You cannot modify move "${id}" because it is in state "${String(rec.state)}".`);
          }
          if (typeof value !== 'number' || value < 0) throw new TrytonUserError('The quantity of a move must be positive.');
        }
        rec[field] = value;
        if (model === 'stock.move') this.#stock.track(rec);
      }
      if (model === 'product.product' || model === 'product.template' || model === 'party.party') rec.write_date = TrytonDateTime.now();
      // The sandbox keeps a template's name and price on its variants (a real server computes them from the template).
      if (model === 'product.template') {
        for (const product of this.table('product.product').values()) {
          if (product.template !== id) continue;
          if ('name' in values) {
            product.name = values.name;
            product.rec_name = `[${String(product.code)}] ${String(values.name)}`;
          }
          if ('list_price' in values) product.list_price = new TrytonDecimal(decimalOf(values.list_price));
        }
      }
    }
  }

  #relationCreates(value: unknown): Record<string, unknown>[] {
    if (!Array.isArray(value)) return [];
    return value.flatMap((action) => (Array.isArray(action) && action[0] === 'create' && Array.isArray(action[1]) ? (action[1] as Record<string, unknown>[]) : []));
  }

  #relationAdds(value: unknown): number[] {
    if (!Array.isArray(value)) return [];
    return value.flatMap((action) => (Array.isArray(action) && action[0] === 'add' && Array.isArray(action[1]) ? (action[1] as number[]) : []));
  }

  #createParty(values: Record<string, unknown>): number {
    if (typeof values.name !== 'string' || values.name === '') {
      throw new TrytonUserError('A value is required for field "Name" in "Party".');
    }
    const paymentTerm = typeof values.customer_payment_term === 'number' ? this.get('account.invoice.payment_term', values.customer_payment_term).id : null;
    const party = this.insert('party.party', { name: values.name, active: true, code: this.#sequence('party'), rec_name: values.name, addresses: [], contact_mechanisms: [], customer_payment_term: paymentTerm });
    for (const address of this.#relationCreates(values.addresses)) this.#createAddress(party.id, address);
    for (const mechanism of this.#relationCreates(values.contact_mechanisms)) this.#createContactMechanism(party.id, mechanism);
    return party.id;
  }

  #createContactMechanism(partyId: number, values: Record<string, unknown>): number {
    const party = this.get('party.party', partyId);
    const rec = this.insert('party.contact_mechanism', { party: partyId, type: values.type ?? 'email', value: values.value ?? '' });
    (party.contact_mechanisms as number[]).push(rec.id);
    return rec.id;
  }

  /** Deletes parties no sale refers to, with their addresses and contact mechanisms (Tryton refuses a party in use). */
  deleteParties(ids: number[]): void {
    for (const id of ids) this.get('party.party', id);
    const used = [...this.table('sale.sale').values()].find((sale) => ids.includes(sale.party as number));
    if (used) throw new TrytonUserError(`The party is used by sale "${String(used.number ?? used.id)}" and cannot be deleted.`);
    for (const id of ids) {
      const party = this.get('party.party', id);
      for (const address of party.addresses as number[]) this.table('party.address').delete(address);
      for (const mechanism of party.contact_mechanisms as number[]) this.table('party.contact_mechanism').delete(mechanism);
      this.table('party.party').delete(id);
    }
  }

  /** Deletes contact mechanisms (an erasure removes a party's e-mails and phones). */
  deleteContactMechanisms(ids: number[]): void {
    for (const id of ids) {
      const mechanism = this.get('party.contact_mechanism', id);
      const party = this.table('party.party').get(mechanism.party as number);
      if (party) party.contact_mechanisms = (party.contact_mechanisms as number[]).filter((m) => m !== id);
      this.table('party.contact_mechanism').delete(id);
    }
  }

  #createAddress(partyId: number, values: Record<string, unknown>): number {
    const party = this.get('party.party', partyId);
    const { party: _party, ...rest } = values;
    const address = this.insert('party.address', {
      party: partyId,
      party_name: null,
      name: null,
      street: '',
      postal_code: null,
      city: null,
      country: null,
      subdivision: null,
      ...rest,
    });
    address.rec_name = [address.party_name ?? party.name, address.street, address.city].filter(Boolean).join(', ');
    (party.addresses as number[]).push(address.id);
    return address.id;
  }

  #createSale(values: Record<string, unknown>): number {
    if (typeof values.party !== 'number') throw new TrytonUserError('A value is required for field "Party" in "Sale".');
    // Required fields are checked before relations (recorded: a missing unit price is refused whatever the party).
    for (const line of this.#relationCreates(values.lines)) {
      if ((line.type ?? 'line') !== 'line') continue;
      if (line.unit == null) throw new TrytonUserError('A value is required for field "Unit" in "Sale Line".');
      if (line.unit_price == null) throw new TrytonUserError('A value is required for field "Unit Price" in "Sale Line".');
    }
    const party = this.get('party.party', values.party);
    const firstAddress = (party.addresses as number[])[0] ?? null;
    const sale = this.insert('sale.sale', {
      number: null,
      reference: values.reference ?? null,
      description: values.description ?? null,
      comment: values.comment ?? null,
      party: party.id,
      invoice_address: values.invoice_address ?? firstAddress,
      shipment_address: values.shipment_address ?? firstAddress,
      warehouse: values.warehouse ?? LOCATION.warehouse,
      currency: values.currency ?? 1,
      payment_term: values.payment_term ?? null,
      company: 1,
      sale_date: null,
      state: 'draft',
      shipment_state: 'none',
      invoice_state: 'none',
      lines: [],
    });
    let sequence = 0;
    for (const lineValues of this.#relationCreates(values.lines)) {
      sequence += 1;
      const type = (lineValues.type as string | undefined) ?? 'line';
      if (type === 'line') {
        if (typeof lineValues.product !== 'number') throw new TrytonUserError('A value is required for field "Product" in "Sale Line".');
        this.get('product.product', lineValues.product);
        // create does not run on_change: without a unit price the record is refused, as recorded.
        if (lineValues.unit_price === undefined || lineValues.unit_price === null) {
          this.table('sale.sale').delete(sale.id);
          throw new TrytonUserError('A value is required for field "Unit Price" in "Sale Line".');
        }
        if (typeof lineValues.quantity !== 'number') throw new TrytonUserError('A value is required for field "Quantity" in "Sale Line".');
      }
      const line = this.insert('sale.line', {
        sale: sale.id,
        sequence,
        type,
        product: type === 'line' ? lineValues.product : null,
        quantity: type === 'line' ? lineValues.quantity : null,
        unit: type === 'line' ? (lineValues.unit ?? 1) : null,
        unit_price: type === 'line' ? dec(scaledOf(lineValues.unit_price, PRICE_SCALE), PRICE_SCALE) : null,
        description: lineValues.description ?? '',
        taxes: this.#relationAdds(lineValues.taxes),
        moves: [],
      });
      (sale.lines as number[]).push(line.id);
    }
    return sale.id;
  }

  // ---- sale workflow -------------------------------------------------------------------------

  /** Workflow buttons skip records whose state has no transition to the target, silently (Tryton's Workflow.transition). */
  quote(ids: number[], acknowledged: (name: string) => boolean): void {
    for (const id of ids) {
      const sale = this.get('sale.sale', id);
      if (sale.state !== 'draft') continue;
      this.#checkStock(sale, acknowledged);
      sale.state = 'quotation';
      sale.number ??= this.#sequence('sale');
    }
  }

  /**
   * sale_stock_quantity: warn when a line asks for more than the forecast stock, on quote and
   * again on confirm (recorded: fixtures/errors-and-warnings.recorded.json, quoteShort and confirmShort).
   */
  #checkStock(sale: Rec, acknowledged: (name: string) => boolean): void {
    for (const lineId of sale.lines as number[]) {
      const line = this.get('sale.line', lineId);
      if (line.type !== 'line' || Number(line.quantity) <= 0) continue;
      const product = this.get('product.product', line.product as number);
      if (product.type !== 'goods') continue;
      const forecast = Number(product.on_hand) + this.#plannedDelta(product.id);
      if (forecast < Number(line.quantity)) {
        const name = `stock_quantity_warning_${line.id}`;
        if (!acknowledged(name)) {
          // Python's float repr and the line's rec_name ("2u [SKU-GREEN] Green mug @ <sale number> [<reference>]"); "forcast" sic.
          const float = (n: number) => (Number.isInteger(n) ? `${n}.0` : String(n));
          const saleName = `${sale.number ? `${String(sale.number)} ` : ''}[${String(sale.reference ?? '')}]`;
          throw new TrytonUserWarning(
            name,
            `The forcast quantity (${float(forecast)}u) for line "${Number(line.quantity)}u ${String(product.rec_name)} @ ${saleName}" is lower than its quantity (${float(Number(line.quantity))}u).`,
          );
        }
      }
    }
  }

  /** confirm → processing in the same request (the recorded server ran with `[queue] worker = False`). */
  confirm(ids: number[], acknowledged: (name: string) => boolean): void {
    for (const id of ids) {
      const sale = this.get('sale.sale', id);
      if (sale.state !== 'quotation') continue;
      this.#checkStock(sale, acknowledged);
      sale.state = 'confirmed';
      sale.sale_date = TrytonDate.today();
      this.process([id]);
    }
  }

  process(ids: number[]): void {
    for (const id of ids) {
      const sale = this.get('sale.sale', id);
      if (sale.state !== 'confirmed' && sale.state !== 'processing') continue;
      if (!this.#saleInvoices(sale).length) this.#createInvoice(sale);
      this.#createMissingMoves(sale);
      sale.state = 'processing';
      this.#updateSaleStates(sale);
    }
  }

  cancel(ids: number[]): void {
    for (const id of ids) {
      const sale = this.get('sale.sale', id);
      if (sale.state === 'draft' || sale.state === 'quotation') sale.state = 'cancelled';
    }
  }

  #saleInvoices(sale: Rec): Rec[] {
    return this.#where('account.invoice', 'sale_origin', sale.id);
  }

  /** Moves for what each goods line still has to ship (or receive back, for negative lines). */
  #createMissingMoves(sale: Rec): void {
    const outgoing: Rec[] = [];
    const incoming: Rec[] = [];
    for (const lineId of sale.lines as number[]) {
      const line = this.get('sale.line', lineId);
      if (line.type !== 'line') continue;
      const product = this.get('product.product', line.product as number);
      if (product.type !== 'goods') continue;
      const wanted = Math.abs(Number(line.quantity));
      const planned = (line.moves as number[]).reduce((sum, moveId) => sum + Number(this.get('stock.move', moveId).quantity), 0);
      const missing = wanted - planned;
      if (missing <= 0) continue;
      const isReturn = Number(line.quantity) < 0;
      const move = this.insert('stock.move', {
        product: product.id,
        quantity: missing,
        uom: 1,
        from_location: isReturn ? LOCATION.customer : LOCATION.output,
        to_location: isReturn ? LOCATION.input : LOCATION.customer,
        state: 'draft',
        origin: `sale.line,${line.id}`,
        shipment: null,
        unit_price: line.unit_price,
        effective_date: null,
      });
      (line.moves as number[]).push(move.id);
      (isReturn ? incoming : outgoing).push(move);
    }
    if (outgoing.length) {
      const shipment = this.insert('stock.shipment.out', {
        number: this.#sequence('shipment.out'),
        reference: null,
        state: 'waiting',
        customer: sale.party,
        delivery_address: sale.shipment_address,
        warehouse: sale.warehouse,
        effective_date: null,
        outgoing_moves: outgoing.map((m) => m.id),
        inventory_moves: [],
        origins: sale.number,
      });
      for (const move of outgoing) {
        move.shipment = `stock.shipment.out,${shipment.id}`;
        const inventory = this.insert('stock.move', {
          product: move.product,
          quantity: move.quantity,
          uom: 1,
          from_location: LOCATION.storage,
          to_location: LOCATION.output,
          state: 'draft',
          origin: null,
          shipment: `stock.shipment.out,${shipment.id}`,
          effective_date: null,
        });
        (shipment.inventory_moves as number[]).push(inventory.id);
      }
      shipment.moves = [...(shipment.outgoing_moves as number[]), ...(shipment.inventory_moves as number[])];
    }
    if (incoming.length) {
      const shipment = this.insert('stock.shipment.out.return', {
        number: this.#sequence('shipment.out.return'),
        reference: null,
        state: 'draft',
        customer: sale.party,
        warehouse: sale.warehouse,
        effective_date: null,
        incoming_moves: incoming.map((m) => m.id),
        inventory_moves: [],
        origins: sale.number,
      });
      for (const move of incoming) move.shipment = `stock.shipment.out.return,${shipment.id}`;
      shipment.moves = [...(shipment.incoming_moves as number[])];
    }
  }

  #createInvoice(sale: Rec): void {
    const lines: number[] = [];
    const invoice = this.insert('account.invoice', {
      number: null,
      reference: null,
      type: 'out',
      state: 'draft',
      party: sale.party,
      invoice_address: sale.invoice_address,
      currency: sale.currency,
      company: 1,
      invoice_date: null,
      origins: sale.number,
      lines,
      sale_origin: sale.id,
    });
    for (const lineId of sale.lines as number[]) {
      const line = this.get('sale.line', lineId);
      if (line.type !== 'line') continue;
      const invoiceLine = this.insert('account.invoice.line', {
        invoice: invoice.id,
        type: 'line',
        product: line.product,
        quantity: line.quantity,
        unit: line.unit,
        unit_price: line.unit_price,
        amount: dec(this.#lineAmount(line), AMOUNT_SCALE),
        description: line.description,
        taxes: line.taxes,
        origin: `sale.line,${line.id}`,
        stock_moves: [],
      });
      lines.push(invoiceLine.id);
    }
  }

  #updateSaleStates(sale: Rec): void {
    let hasMoves = false;
    let exception = false;
    let allDone = true;
    for (const lineId of sale.lines as number[]) {
      const line = this.get('sale.line', lineId);
      const moves = (line.moves as number[]).map((id) => this.get('stock.move', id));
      if (!moves.length) continue;
      hasMoves = true;
      if (moves.some((m) => m.state === 'cancelled')) exception = true;
      const done = moves.filter((m) => m.state === 'done').reduce((sum, m) => sum + Number(m.quantity), 0);
      if (done < Math.abs(Number(line.quantity))) allDone = false;
      for (const invoiceLineId of this.#invoiceLinesOf(line.id)) {
        this.get('account.invoice.line', invoiceLineId).stock_moves = moves.filter((m) => m.state === 'done').map((m) => m.id);
      }
    }
    sale.shipment_state = !hasMoves ? 'none' : exception ? 'exception' : allDone ? 'sent' : 'waiting';
    const invoices = this.#saleInvoices(sale);
    sale.invoice_state = !invoices.length
      ? 'none'
      : invoices.some((i) => i.state === 'cancelled')
        ? 'exception'
        : invoices.every((i) => i.state === 'paid')
          ? 'paid'
          : 'waiting';
    if (sale.shipment_state === 'sent' && sale.invoice_state === 'paid') sale.state = 'done';
  }

  #invoiceLinesOf(saleLineId: number): number[] {
    return this.#where('account.invoice.line', 'origin', `sale.line,${saleLineId}`).map((l) => l.id);
  }

  #salesOfShipment(model: string, shipmentId: number): Rec[] {
    const ref = `${model},${shipmentId}`;
    const saleIds = new Set<number>();
    for (const move of this.table('stock.move').values()) {
      if (move.shipment !== ref || typeof move.origin !== 'string' || !move.origin.startsWith('sale.line,')) continue;
      saleIds.add(this.get('sale.line', Number(move.origin.split(',')[1])).sale as number);
    }
    return [...saleIds].map((id) => this.get('sale.sale', id));
  }

  #moveDone(move: Rec): void {
    if (move.state === 'done' || move.state === 'cancelled') return;
    const from = INTERNAL_LOCATIONS.has(move.from_location as number);
    const to = INTERNAL_LOCATIONS.has(move.to_location as number);
    const product = this.get('product.product', move.product as number);
    if (from && !to) product.on_hand = Number(product.on_hand) - Number(move.quantity);
    if (!from && to) product.on_hand = Number(product.on_hand) + Number(move.quantity);
    move.state = 'done';
    move.effective_date = TrytonDate.today();
    this.#stock.track(move);
  }

  // ---- shipments ---------------------------------------------------------------------------

  /** assign_try: reserves the inventory moves; answers false (no exception) when stock is short. */
  assignTry(ids: number[]): boolean {
    let all = true;
    for (const id of ids) {
      const shipment = this.get('stock.shipment.out', id);
      if (shipment.state !== 'waiting') {
        if (shipment.state !== 'assigned') all = false;
        continue;
      }
      const moves = (shipment.inventory_moves as number[]).map((m) => this.get('stock.move', m));
      const need = new Map<number, number>();
      for (const move of moves) need.set(move.product as number, (need.get(move.product as number) ?? 0) + Number(move.quantity));
      const enough = [...need].every(([productId, quantity]) => this.#availableInStorage(productId) >= quantity);
      if (!enough) {
        all = false;
        continue;
      }
      for (const move of moves) {
        move.state = 'assigned';
        this.#stock.track(move);
      }
      shipment.state = 'assigned';
    }
    return all;
  }

  /** Stock in the storage zone not yet reserved by assigned moves nor moved to the output zone. */
  #availableInStorage(productId: number): number {
    let available = Number(this.get('product.product', productId).on_hand);
    // Neither counts a done or cancelled move.
    for (const move of this.#stock.open(productId, this.table('stock.move'))) {
      // Reserved (assigned) inventory moves, and goods already moved to the output zone waiting to leave.
      if (move.from_location === LOCATION.storage && move.state === 'assigned') available -= Number(move.quantity);
      if (move.from_location === LOCATION.output && move.state !== 'done' && move.state !== 'cancelled') {
        const shipment = this.table('stock.shipment.out').get(Number(String(move.shipment).split(',')[1]));
        if (shipment && shipment.state === 'packed') available -= Number(move.quantity);
      }
    }
    return available;
  }

  pick(ids: number[]): void {
    for (const id of ids) {
      const shipment = this.get('stock.shipment.out', id);
      if (shipment.state === 'assigned' || shipment.state === 'waiting') shipment.state = 'picked';
    }
  }

  pack(ids: number[]): void {
    for (const id of ids) {
      const shipment = this.get('stock.shipment.out', id);
      if (shipment.state !== 'picked' && shipment.state !== 'waiting') continue;
      // Inventory moves are done (goods reach the output zone); the outgoing moves' quantities follow
      // the inventory moves (Tryton 6.0 syncs inventory to outgoing; recorded: lowering only an outgoing
      // move shipped the full inventory quantity).
      const outgoing = (shipment.outgoing_moves as number[]).map((m) => this.get('stock.move', m));
      const inventory = (shipment.inventory_moves as number[]).map((m) => this.get('stock.move', m));
      const picked = new Map<unknown, number>();
      for (const move of inventory) {
        picked.set(move.product, (picked.get(move.product) ?? 0) + Number(move.quantity));
        move.state = 'done';
        move.effective_date = TrytonDate.today();
        this.#stock.track(move);
      }
      for (const move of outgoing) {
        move.quantity = picked.get(move.product) ?? 0;
        picked.set(move.product, 0);
        this.#stock.track(move);
      }
      shipment.state = 'packed';
    }
  }

  /** done: outgoing moves leave the warehouse (its stock goes down); sales create moves for what is left. */
  done(ids: number[]): void {
    for (const id of ids) {
      const shipment = this.get('stock.shipment.out', id);
      if (shipment.state !== 'packed') continue;
      for (const moveId of shipment.outgoing_moves as number[]) {
        const move = this.get('stock.move', moveId);
        if (Number(move.quantity) === 0) {
          move.state = 'cancelled';
          this.#stock.track(move);
        } else this.#moveDone(move);
      }
      shipment.state = 'done';
      shipment.effective_date = TrytonDate.today();
      for (const sale of this.#salesOfShipment('stock.shipment.out', id)) this.#afterShipmentChange(sale);
    }
  }

  cancelShipment(ids: number[]): void {
    for (const id of ids) {
      const shipment = this.get('stock.shipment.out', id);
      if (shipment.state === 'done' || shipment.state === 'cancelled') continue;
      for (const moveId of [...(shipment.outgoing_moves as number[]), ...(shipment.inventory_moves as number[])]) {
        const move = this.get('stock.move', moveId);
        if (move.state === 'done' && move.from_location === LOCATION.storage) {
          // Packed goods return from the output zone to storage; the warehouse total does not change.
          continue;
        }
        move.state = 'cancelled';
        this.#stock.track(move);
      }
      shipment.state = 'cancelled';
      for (const sale of this.#salesOfShipment('stock.shipment.out', id)) this.#updateSaleStates(sale);
    }
  }

  #afterShipmentChange(sale: Rec): void {
    // A move shipped with less than planned (0-quantity moves count as cancelled-by-design, not exceptions).
    for (const lineId of sale.lines as number[]) {
      const line = this.get('sale.line', lineId);
      line.moves = (line.moves as number[]).filter((moveId) => {
        const move = this.get('stock.move', moveId);
        return !(move.state === 'cancelled' && Number(move.quantity) === 0);
      });
    }
    this.process([sale.id]);
  }

  receiveReturn(ids: number[]): void {
    for (const id of ids) {
      const shipment = this.get('stock.shipment.out.return', id);
      if (shipment.state !== 'draft') continue;
      const inventory: number[] = [];
      for (const moveId of shipment.incoming_moves as number[]) {
        const move = this.get('stock.move', moveId);
        this.#moveDone(move);
        inventory.push(
          this.insert('stock.move', {
            product: move.product,
            quantity: move.quantity,
            uom: 1,
            from_location: LOCATION.input,
            to_location: LOCATION.storage,
            state: 'draft',
            origin: null,
            shipment: `stock.shipment.out.return,${id}`,
            effective_date: null,
          }).id,
        );
      }
      shipment.inventory_moves = inventory;
      shipment.moves = [...(shipment.incoming_moves as number[]), ...inventory];
      shipment.state = 'received';
      for (const sale of this.#salesOfShipment('stock.shipment.out.return', id)) this.#updateSaleStates(sale);
    }
  }

  doneReturn(ids: number[]): void {
    for (const id of ids) {
      const shipment = this.get('stock.shipment.out.return', id);
      if (shipment.state !== 'received') continue;
      for (const moveId of shipment.inventory_moves as number[]) this.#moveDone(this.get('stock.move', moveId));
      shipment.state = 'done';
      shipment.effective_date = TrytonDate.today();
    }
  }

  // ---- invoices ----------------------------------------------------------------------------

  postInvoices(ids: number[]): void {
    for (const id of ids) {
      const invoice = this.get('account.invoice', id);
      if (invoice.state !== 'draft' && invoice.state !== 'validated') continue;
      invoice.state = 'posted';
      invoice.number = this.#sequence('invoice', 'INV/');
      invoice.invoice_date = TrytonDate.today();
      const sale = this.table('sale.sale').get(invoice.sale_origin as number);
      if (sale) this.#updateSaleStates(sale);
    }
  }

  cancelInvoices(ids: number[]): void {
    for (const id of ids) {
      const invoice = this.get('account.invoice', id);
      if (invoice.state === 'posted' || invoice.state === 'paid') {
        throw new TrytonUserError(`You cannot cancel invoice "${String(invoice.number)}" because it is posted.`);
      }
      invoice.state = 'cancelled';
      const sale = this.table('sale.sale').get(invoice.sale_origin as number);
      if (sale) this.#updateSaleStates(sale);
    }
  }
}

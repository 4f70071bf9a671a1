import { fromScaled, toScaled } from '../../../model/money.ts';
import { decimalOf, TrytonDecimal } from '../tryton-wire.ts';

/** The sandbox ERP's vocabulary: records, Tryton's exceptions, fixed ids, exact decimal helpers. */

export type Rec = Record<string, unknown> & { id: number };

/** Tryton's UserError: a business rule refused the call. Wire: ["UserError", [message, description, domain]]. */
export class TrytonUserError extends Error {
  readonly description: string;
  constructor(message: string, description = '') {
    super(message);
    this.description = description;
  }
}

/** Tryton's UserWarning: the user must acknowledge `warningName` and call again. */
export class TrytonUserWarning extends Error {
  readonly warningName: string;
  readonly description: string;
  constructor(warningName: string, message: string, description = '') {
    super(message);
    this.warningName = warningName;
    this.description = description;
  }
}

/** A call outside what the sandbox's __rpc__ exposes; answered like Tryton, with HTTP 403. */
export class TrytonForbidden extends Error {}

// Location ids: the warehouse is 5, as in the recorded installation.
// Ids as a real Tryton 6.0 creates them (fixtures/errors-and-warnings.recorded.json, `locations`).
export const LOCATION = { input: 1, output: 2, storage: 3, lostFound: 4, warehouse: 5, supplier: 6, customer: 7 } as const;
export const INTERNAL_LOCATIONS = new Set<number>([LOCATION.input, LOCATION.output, LOCATION.storage, LOCATION.warehouse]);

export const PRICE_SCALE = 4;
export const AMOUNT_SCALE = 2;

export const dec = (scaled: bigint, scale: number) => new TrytonDecimal(fromScaled(scaled, scale));
export const scaledOf = (value: unknown, scale: number): bigint => {
  const text = decimalOf(value);
  // Round half-even is what Python's Decimal.quantize does by default; amounts here come exact.
  const [whole = '0', fraction = ''] = text.replace('-', '').split('.');
  const trimmed = `${whole}.${fraction.slice(0, scale)}`;
  const scaled = toScaled(trimmed.endsWith('.') ? whole : trimmed, scale);
  return text.startsWith('-') ? -scaled : scaled;
};
/** Rounds a scale-6 product of price (4) and quantity to 2 places, half away from zero. */
export const roundTo = (value: bigint, fromScale: number, toScale: number): bigint => {
  const factor = 10n ** BigInt(fromScale - toScale);
  const half = factor / 2n;
  return value >= 0n ? (value + half) / factor : -((-value + half) / factor);
};

export interface ProductSeed {
  code: string;
  name?: string;
  listPrice?: string;
  quantity?: number;
  type?: 'goods' | 'service';
}

/** Models and fields whose values point at other models (for dotted domains and reads). */
export const RELATIONS: Record<string, Record<string, string>> = {
  'product.product': { template: 'product.template', identifiers: 'product.identifier' },
  'party.party': { addresses: 'party.address', contact_mechanisms: 'party.contact_mechanism' },
  'party.address': { party: 'party.party' },
  'sale.sale': { party: 'party.party', lines: 'sale.line' },
  'account.invoice': { lines: 'account.invoice.line', party: 'party.party' },
};

export const SUPPORTED_MODELS = [
  'product.product',
  'product.template',
  'product.identifier',
  'product.uom',
  'product.category',
  'party.party',
  'party.address',
  'party.contact_mechanism',
  'country.country',
  'currency.currency',
  'account.tax',
  'account.invoice.payment_term',
  'stock.location',
  'sale.sale',
  'sale.line',
  'stock.shipment.out',
  'stock.shipment.out.return',
  'stock.move',
  'account.invoice',
  'account.invoice.line',
  'res.user.warning',
] as const;


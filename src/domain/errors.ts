/**
 * Faults carry a stable code and say whether retrying can help. Expected business
 * outcomes (a duplicate order, insufficient stock) are returned as results instead.
 * The HTTP layer maps codes to problem+json in one place (src/api/problem.ts).
 */
export type RetryClass = 'transient' | 'throttled' | 'permanent';

export class SynclineError extends Error {
  override name = 'SynclineError';
  readonly code: string;
  readonly retry: RetryClass;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: { retry?: RetryClass; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.retry = options.retry ?? 'permanent';
    this.details = options.details;
  }
}

/**
 * Why an order line is held at validation by the product catalogue (docs/products.md). Stable:
 * they are in the hold reason operators and the API see.
 */
export const PRODUCT_HOLD_CODES = {
  /** The catalogue has no product with the line's SKU. */
  unknownSku: 'product.unknown_sku',
  /** The catalogue's product for the SKU is not active. */
  inactive: 'product.inactive',
} as const;
export type ProductHoldCode = (typeof PRODUCT_HOLD_CODES)[keyof typeof PRODUCT_HOLD_CODES];

/** Faults of the catalogue sync. */
export const PRODUCT_SYNC_CODES = {
  /** The ERP connector cannot list its item master. */
  unsupported: 'product.sync_unsupported',
} as const;

/**
 * Why a channel's change to an order before release was held for review instead of applied
 * (the hold's `code`, order_amendment.code; docs/adr/0023). Permanent until an operator decides.
 */
export const AMENDMENT_HOLD_CODES = {
  /** More units were asked for than the order's locations can hold now: nothing is oversold. */
  stockShort: 'order.amendment_stock_short',
  /** The back-office part has begun (the ERP has the order): lines and addresses no longer change by themselves. */
  linesLocked: 'order.amendment_lines_locked',
  /** A line changed that the reservation cannot follow (one SKU held at several locations). */
  notResizable: 'order.amendment_not_resizable',
} as const;
export type AmendmentHoldCode = (typeof AMENDMENT_HOLD_CODES)[keyof typeof AMENDMENT_HOLD_CODES];

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

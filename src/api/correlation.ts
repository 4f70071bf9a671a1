import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

const CORRELATION_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;
// W3C Trace Context: version-traceid-parentid-flags, all lowercase hex, ids not all zero.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The valid W3C traceparent header of a request, if any. */
export function readTraceparent(headers: IncomingHttpHeaders): string | undefined {
  const value = headers.traceparent;
  if (typeof value !== 'string') return undefined;
  const match = TRACEPARENT.exec(value.trim());
  if (!match || match[1] === 'ff' || /^0+$/.test(match[2]!) || /^0+$/.test(match[3]!)) return undefined;
  return value.trim();
}

/**
 * The correlation id of a request: X-Correlation-Id when it is a sane token, else
 * the trace id of a valid traceparent, else a new one.
 */
export function correlationIdOf(headers: IncomingHttpHeaders): string {
  const given = headers['x-correlation-id'];
  if (typeof given === 'string' && CORRELATION_ID.test(given)) return given;
  const traceparent = readTraceparent(headers);
  if (traceparent) return traceparent.split('-')[1]!;
  return randomUUID();
}

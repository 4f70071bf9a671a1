import pino, { type Logger } from 'pino';

/**
 * Structured JSON logs. Credentials and personal data are redacted at the
 * logger, so a careless log call cannot leak them.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.client_secret',
  '*.clientSecret',
  '*.access_token',
  '*.password',
  '*.secret',
  '*.email',
  '*.phone',
  '*.customer',
  '*.shippingAddress',
  '*.billingAddress',
];

/** Database errors carry the statement's parameters, which can hold personal data: drop them. */
function serializeError(error: Error): Record<string, unknown> {
  const { params: _params, query: _query, ...rest } = pino.stdSerializers.err(error) as Record<string, unknown>;
  return rest;
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'syncline', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: serializeError },
    },
    destination,
  );
}

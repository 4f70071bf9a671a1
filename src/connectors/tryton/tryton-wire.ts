/**
 * The Tryton JSON-RPC wire encoding, shared by the sandbox and the client (see SOURCES.md).
 *
 * Tryton's JSON encoder tags values JSON has no type for: a Decimal is
 * {"__class__":"Decimal","decimal":"25.00"} and a date {"__class__":"date","year":…,"month":…,"day":…}.
 * Here they are decoded into TrytonDecimal and TrytonDate so that no amount passes through a float.
 */

/** A Tryton Decimal: an exact decimal string. */
export class TrytonDecimal {
  readonly decimal: string;
  constructor(decimal: string) {
    if (!/^-?\d+(\.\d+)?$/.test(decimal)) throw new RangeError(`not a decimal: ${decimal}`);
    this.decimal = decimal;
  }
  toJSON() {
    return { __class__: 'Decimal', decimal: this.decimal };
  }
}

/** A Tryton date (no time, no zone). */
export class TrytonDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  constructor(year: number, month: number, day: number) {
    this.year = year;
    this.month = month;
    this.day = day;
  }
  static today(now: Date = new Date()): TrytonDate {
    return new TrytonDate(now.getUTCFullYear(), now.getUTCMonth() + 1, now.getUTCDate());
  }
  /** ISO 8601 calendar date, e.g. 2026-11-22. */
  toIsoDate(): string {
    return `${String(this.year).padStart(4, '0')}-${String(this.month).padStart(2, '0')}-${String(this.day).padStart(2, '0')}`;
  }
  toJSON() {
    return { __class__: 'date', year: this.year, month: this.month, day: this.day };
  }
}

/**
 * A Tryton datetime: naive, in UTC (trytond stores `create_date` / `write_date` as the server's
 * UTC time). Wire: {"__class__":"datetime","year":…,"month":…,"day":…,"hour":…,"minute":…,"second":…,"microsecond":…}.
 */
export class TrytonDateTime {
  /** Microseconds since the epoch: exact, and comparable without parsing strings. */
  readonly micros: bigint;
  constructor(micros: bigint) {
    this.micros = micros;
  }
  static fromIso(iso: string): TrytonDateTime {
    const match = /\.(\d{1,6})Z$/.exec(iso);
    const millis = Date.parse(iso);
    if (Number.isNaN(millis)) throw new RangeError(`not a date-time: ${iso}`);
    const fraction = match ? BigInt(match[1]!.padEnd(6, '0')) : 0n;
    return new TrytonDateTime(BigInt(Math.floor(millis / 1000)) * 1_000_000n + fraction);
  }
  static now(): TrytonDateTime {
    return new TrytonDateTime(BigInt(Date.now()) * 1000n);
  }
  /** ISO 8601 in UTC with microseconds, e.g. 2026-12-01T21:57:57.295689Z. */
  toIso(): string {
    const seconds = new Date(Number(this.micros / 1_000_000n) * 1000).toISOString().slice(0, 19);
    return `${seconds}.${String(this.micros % 1_000_000n).padStart(6, '0')}Z`;
  }
  toJSON() {
    const d = new Date(Number(this.micros / 1000n));
    return {
      __class__: 'datetime',
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
      microsecond: Number(this.micros % 1_000_000n),
    };
  }
}

/** JSON.parse reviver that turns Tryton's tagged objects into TrytonDecimal / TrytonDate / TrytonDateTime. */
export function trytonReviver(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && '__class__' in value) {
    const tagged = value as Record<string, unknown>;
    if (tagged.__class__ === 'Decimal' && typeof tagged.decimal === 'string') return new TrytonDecimal(tagged.decimal);
    if (tagged.__class__ === 'date') return new TrytonDate(Number(tagged.year), Number(tagged.month), Number(tagged.day));
    if (tagged.__class__ === 'datetime') {
      const seconds = Date.UTC(Number(tagged.year), Number(tagged.month) - 1, Number(tagged.day), Number(tagged.hour ?? 0), Number(tagged.minute ?? 0), Number(tagged.second ?? 0)) / 1000;
      return new TrytonDateTime(BigInt(seconds) * 1_000_000n + BigInt(Number(tagged.microsecond ?? 0)));
    }
  }
  return value;
}

/**
 * Parses a Tryton JSON-RPC body, its tagged objects decoded as trytonReviver does. JSON.parse with
 * a reviver is many times slower than without, so the body is parsed plainly and its tagged
 * objects decoded after, leaves first as a reviver would; a body that can hold none (no
 * `__class__`, no escape that could spell it) is left as parsed.
 */
export function parseTrytonJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  return text.includes('__class__') || text.includes('\\') ? revive(value) : value;
}

function revive(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const revived = revive(value[i]);
      if (revived !== value[i]) value[i] = revived;
    }
    return value;
  }
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    const revived = revive(object[key]);
    if (revived !== object[key]) object[key] = revived;
  }
  return trytonReviver('', object);
}

/** The decimal string of a wire value (TrytonDecimal, number or string). */
export function decimalOf(value: unknown): string {
  if (value instanceof TrytonDecimal) return value.decimal;
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new TypeError(`expected a Decimal, got ${JSON.stringify(value)}`);
}

/** A Tryton JSON-RPC request body. Tryton answers with the same id. */
export interface JsonRpcRequest {
  id: number;
  method: string;
  params: unknown[];
}

/**
 * Tryton's error member: [exception name, args] for TrytonExceptions, e.g.
 * ["UserError", [message, description, domain]], ["UserWarning", [name, message, description]],
 * ["ConcurrencyException", message], ["LoginException", [name, message, type]];
 * any other server exception is [str(exception), traceback].
 */
export type JsonRpcError = [string, unknown];

export type JsonRpcResponse = { id: number; result: unknown } | { id: number; error: JsonRpcError };

/** Builds the `Authorization: Session …` header value: base64 of login:user id:session. */
export function sessionAuthorization(login: string, userId: number, session: string): string {
  return `Session ${Buffer.from(`${login}:${userId}:${session}`, 'utf8').toString('base64')}`;
}

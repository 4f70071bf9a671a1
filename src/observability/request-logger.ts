import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, LevelWithSilentOrString } from 'pino';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type Parent = FastifyBaseLogger & { isLevelEnabled?: (level: string) => boolean };

/**
 * Each request's logger (request.log, reply.log) carries the request's correlation id. Fastify
 * makes it a pino child on every request, and a child costs its bindings serialised through the
 * redaction paths (about 1.5% of the API's CPU per reservation in the inventory benchmark) even
 * when the request writes no line at the configured level (the rule at warn, the default for
 * busy deployments is info, where Fastify logs each request and the child is made anyway).
 * This logger makes the child on the first line it writes, and every line it writes is the
 * child's, with the same bindings, serialisers and redaction.
 */
class RequestLogger {
  readonly #parent: Parent & { isLevelEnabled: (level: string) => boolean };
  readonly #bindings: Bindings;
  #child: FastifyBaseLogger | undefined;

  constructor(parent: Parent & { isLevelEnabled: (level: string) => boolean }, bindings: Bindings) {
    this.#parent = parent;
    this.#bindings = bindings;
  }

  #real(): FastifyBaseLogger {
    return (this.#child ??= this.#parent.child(this.#bindings));
  }

  #write(level: Level, args: unknown[]): void {
    if (this.#child) (this.#child[level] as (...a: unknown[]) => void)(...args);
    else if (this.#parent.isLevelEnabled(level)) (this.#real()[level] as (...a: unknown[]) => void)(...args);
  }

  get level(): LevelWithSilentOrString {
    return (this.#child ?? this.#parent).level;
  }

  set level(level: LevelWithSilentOrString) {
    this.#real().level = level;
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#real().child(bindings, options);
  }

  fatal(...args: unknown[]): void {
    this.#write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.#write('error', args);
  }
  warn(...args: unknown[]): void {
    this.#write('warn', args);
  }
  info(...args: unknown[]): void {
    this.#write('info', args);
  }
  debug(...args: unknown[]): void {
    this.#write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.#write('trace', args);
  }
  silent(): void {}
}

/**
 * Fastify's childLoggerFactory: a RequestLogger where the parent can say which levels are on;
 * a plain child when a route sets its own level or serialisers, or the parent is not pino.
 */
export function requestLoggerFactory(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  const parent = logger as Parent;
  if (typeof parent.isLevelEnabled !== 'function' || Object.keys(options).length > 0) return logger.child(bindings, options);
  return new RequestLogger(parent as Parent & { isLevelEnabled: (level: string) => boolean }, bindings) as unknown as FastifyBaseLogger;
}

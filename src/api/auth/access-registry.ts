import type { Logger } from 'pino';
import type { Database } from '../../store/database.ts';
import { ACCESS_CHANNEL, loadClientStates, loadRevocations, loadSigningKeys, type ClientState } from '../../store/clients/access-queries.ts';
import { parseRevocationNotice } from '../../domain/clients/revocation.ts';
import type { KeyRing } from './key-ring.ts';
import type { AccessChecks } from './tokens.ts';

/** How often the registry reloads even without a notification (a missed NOTIFY, a lost connection). */
export const ACCESS_REFRESH_MS = 5000;

/**
 * What this API process knows about clients, revoked tokens and signing keys, kept in memory
 * so that no request pays a query for it. A change committed anywhere (another API process,
 * the CLI) is announced with NOTIFY on the access channel: a revocation is applied from the
 * notice itself, anything else reloads the lot (tens of rows). A periodic reload covers a
 * notification lost with its connection.
 */
export class AccessRegistry implements AccessChecks {
  readonly #db: Database;
  readonly #logger: Logger;
  readonly #keys: KeyRing;
  readonly #keyLifetimeMs: number;
  #clients = new Map<string, ClientState>();
  #revoked = new Map<string, number>();
  #unlisten: (() => Promise<void>) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #loading: Promise<void> | undefined;
  #again = false;

  /** keyLifetimeMs: how long a retired key keeps verifying (the token lifetime plus clock skew). */
  constructor(db: Database, logger: Logger, keys: KeyRing, options: { keyLifetimeMs: number }) {
    this.#db = db;
    this.#logger = logger;
    this.#keys = keys;
    this.#keyLifetimeMs = options.keyLifetimeMs;
  }

  get keys(): KeyRing {
    return this.#keys;
  }

  /** Loads everything, then listens for changes and reloads periodically. */
  async start(): Promise<void> {
    await this.refresh();
    this.#unlisten = await this.#db.listen(ACCESS_CHANNEL, (payload) => this.#onNotice(payload));
    this.#timer = setInterval(() => void this.refresh().catch((error: unknown) => this.#logger.warn({ err: error }, 'access data could not be reloaded')), ACCESS_REFRESH_MS);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#unlisten?.().catch(() => {});
    await this.#loading?.catch(() => {});
  }

  isDisabled(clientId: string): boolean {
    return this.#clients.get(clientId)?.disabled ?? false;
  }

  isRevoked(jti: string): boolean {
    return jti !== '' && this.#revoked.has(jti);
  }

  /** A client's own rate limit, or null for the default (also for a client not loaded yet). */
  rateLimitOf(clientId: string): number | null {
    return this.#clients.get(clientId)?.rateLimit ?? null;
  }

  /** Marks a token revoked in this process at once (the notification reaches the others). */
  markRevoked(jti: string, expiresAtMs: number): void {
    if (jti) this.#revoked.set(jti, expiresAtMs);
  }

  /** Reloads from the database; concurrent callers share one load, and a change during a load triggers one more. */
  refresh(): Promise<void> {
    if (this.#loading) {
      this.#again = true;
      return this.#loading;
    }
    this.#loading = (async () => {
      try {
        do {
          this.#again = false;
          await this.#load();
        } while (this.#again);
      } finally {
        this.#loading = undefined;
      }
    })();
    return this.#loading;
  }

  async #load(): Promise<void> {
    const [clients, revocations, keys] = [await loadClientStates(this.#db), await loadRevocations(this.#db), await loadSigningKeys(this.#db, this.#keyLifetimeMs)];
    this.#clients = new Map(clients.map((c) => [c.id, c]));
    const revoked = new Map(revocations.map((r) => [r.jti, r.expiresAt.getTime()]));
    // Keep revocations heard of since the query started (a notice can overtake a reload).
    const now = Date.now();
    for (const [jti, expiresAt] of this.#revoked) if (expiresAt > now && !revoked.has(jti)) revoked.set(jti, expiresAt);
    this.#revoked = revoked;
    this.#keys.replace(keys);
  }

  #onNotice(payload: string): void {
    const revocation = parseRevocationNotice(payload);
    if (revocation) {
      this.markRevoked(revocation.jti, revocation.expiresAt);
      return;
    }
    void this.refresh().catch((error: unknown) => this.#logger.warn({ err: error }, 'access data could not be reloaded'));
  }
}

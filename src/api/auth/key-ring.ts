import { createSecretKey, type KeyObject } from 'node:crypto';
import { configuredKeyId } from '../../domain/clients/signing-keys.ts';
import type { SigningKeyRow } from '../../store/clients/access-queries.ts';

/** The kid that tokens without a kid (issued before keys had ids) are verified with. */
const LEGACY_KID = 'legacy';

/** The signing keys a process holds in memory: the one that signs and every one that verifies. */
export class KeyRing {
  #verifiers = new Map<string, KeyObject>();
  #signer: { kid: string; key: KeyObject } | undefined;
  readonly #configured: { kid: string; key: KeyObject } | undefined;

  /** configuredSecret: SYNCLINE_JWT_SECRET, whose row in the database has no secret. */
  constructor(configuredSecret?: string) {
    // KeyObjects made once; handing jose raw bytes would import the key on every verification.
    if (configuredSecret) this.#configured = { kid: configuredKeyId(configuredSecret), key: createSecretKey(Buffer.from(configuredSecret, 'utf8')) };
    if (this.#configured) {
      this.#verifiers.set(this.#configured.kid, this.#configured.key);
      this.#signer = this.#configured;
    }
  }

  /** Replaces the keys with the rows from the database (newest first). */
  replace(rows: SigningKeyRow[]): void {
    const verifiers = new Map<string, KeyObject>();
    let signer: { kid: string; key: KeyObject } | undefined;
    for (const row of rows) {
      const key = row.secret !== null ? createSecretKey(Buffer.from(row.secret, 'utf8')) : row.kid === this.#configured?.kid ? this.#configured.key : undefined;
      // A configured key of another process's configuration: this process cannot use it.
      if (!key) continue;
      verifiers.set(row.kid, key);
      if (!signer && row.retiredAt === null) signer = { kid: row.kid, key };
    }
    if (this.#configured && !verifiers.has(this.#configured.kid)) verifiers.set(this.#configured.kid, this.#configured.key);
    this.#verifiers = verifiers;
    this.#signer = signer ?? (rows.length === 0 ? this.#configured : undefined) ?? this.#signer;
  }

  /** The key that signs new tokens. */
  signer(): { kid: string; key: KeyObject } {
    if (!this.#signer) throw new Error('no signing key is loaded');
    return this.#signer;
  }

  /** The key a token's kid names; a token without kid is checked with the legacy or configured key. */
  verifier(kid: string | undefined): KeyObject | undefined {
    if (kid === undefined) return this.#verifiers.get(LEGACY_KID) ?? this.#configured?.key;
    return this.#verifiers.get(kid);
  }

  /** A ring holding one in-memory key (tests, tools). */
  static single(secret: string): KeyRing {
    return new KeyRing(secret);
  }
}

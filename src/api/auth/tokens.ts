import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';

const ISSUER = 'syncline';
const AUDIENCE = 'syncline-api';

export interface AccessClaims {
  clientId: string;
  scopes: string[];
}

// Clients reuse a token for its whole life, so a verified token is remembered until it
// expires instead of being verified again on every request. Bounded, oldest evicted first.
const VERIFIED_CACHE_SIZE = 10_000;

/** Issues and verifies short-lived HS256 access tokens shared by every Syncline process. */
export class TokenService {
  readonly #key: KeyObject;
  readonly #ttlSeconds: number;
  readonly #verified = new Map<string, AccessClaims & { expiresAt: number }>();

  constructor(secret: string, ttlSeconds: number) {
    // A KeyObject made once; handing jose raw bytes would import the key on every verification.
    this.#key = createSecretKey(Buffer.from(secret, 'utf8'));
    this.#ttlSeconds = ttlSeconds;
  }

  get ttlSeconds(): number {
    return this.#ttlSeconds;
  }

  async issue(claims: AccessClaims): Promise<string> {
    return new SignJWT({ scope: claims.scopes.join(' ') })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setSubject(claims.clientId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.#ttlSeconds}s`)
      .setJti(randomBytes(12).toString('base64url'))
      .sign(this.#key);
  }

  /** The token's claims, or a reason it is not acceptable. */
  async verify(token: string): Promise<AccessClaims | { error: string }> {
    const cached = this.#verified.get(token);
    if (cached) {
      if (cached.expiresAt > Date.now()) return { clientId: cached.clientId, scopes: cached.scopes };
      this.#verified.delete(token);
    }
    try {
      const { payload } = await jwtVerify(token, this.#key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
      if (typeof payload.sub !== 'string' || typeof payload.scope !== 'string') return { error: 'token lacks subject or scope' };
      const claims = { clientId: payload.sub, scopes: payload.scope.split(' ').filter(Boolean) };
      if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value!);
      this.#verified.set(token, { ...claims, expiresAt: (payload.exp ?? 0) * 1000 });
      return claims;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) return { error: 'token expired' };
      return { error: 'token is not valid' };
    }
  }
}

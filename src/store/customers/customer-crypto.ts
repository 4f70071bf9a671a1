import { createCipheriv, createDecipheriv, createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * Encryption at rest of customer personal data (docs/customers.md, ADR 0042).
 *
 * Glossary:
 * - KEK (key-encryption key): 32 bytes from configuration, with an id. Several may be
 *   configured (during a rotation); one is active and wraps every new data key.
 * - data key: 32 random bytes per source record (its payload, match form and history) and per
 *   customer (its golden record), stored wrapped by a KEK as `<kek id>:<base64>`. Forgetting a
 *   data key (crypto-shredding) leaves its ciphertexts unreadable.
 * - blind index: HMAC-SHA-256 of a normalised match key under the index key, so equal keys
 *   still meet in `customer_match_key` without the e-mail or phone being stored.
 *
 * Every ciphertext is AES-256-GCM with a fresh 96-bit nonce, bound (additional data) to the
 * row and column it belongs to, so a value copied to another row does not decrypt.
 */

export interface CustomerKeyring {
  /** KEK id to 32 bytes of key material. */
  keks: ReadonlyMap<string, Buffer>;
  /** The KEK that wraps new data keys. */
  activeKekId: string;
  /** Key of the blind indexes (at least 32 bytes). */
  indexKey: Buffer;
}

/** Node turns a raw key into a key object on every call (the largest cost of a small cipher): each key is turned once. */
const keyObjects = new WeakMap<Buffer, KeyObject>();
const keyObject = (key: Buffer | KeyObject): KeyObject => {
  if (!Buffer.isBuffer(key)) return key;
  let object = keyObjects.get(key);
  if (!object) keyObjects.set(key, (object = createSecretKey(key)));
  return object;
};
/** A data key: a key object, made once per unwrap. */
export type DataKey = KeyObject;

/** A stable code for what went wrong with customer keys; start-up turns it into a clear message. */
export class CustomerKeyError extends Error {
  override name = 'CustomerKeyError';
  readonly code: 'customer.key_missing' | 'customer.key_mismatch' | 'customer.key_invalid' | 'customer.data_key_shredded';
  constructor(code: CustomerKeyError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

const VERSION = 'v1';
const KEK_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** Builds a keyring, checking ids and key lengths. */
export function customerKeyring(keks: Iterable<[string, Buffer]>, activeKekId: string, indexKey: Buffer): CustomerKeyring {
  const map = new Map(keks);
  for (const [id, key] of map) {
    if (!KEK_ID.test(id)) throw new CustomerKeyError('customer.key_invalid', `customer key id "${id}" must be 1-64 letters, digits, _ . -`);
    if (key.length !== 32) throw new CustomerKeyError('customer.key_invalid', `customer key "${id}" must be 32 bytes (base64 of 32 random bytes), got ${key.length}`);
  }
  if (!map.has(activeKekId)) throw new CustomerKeyError('customer.key_invalid', `the active customer key "${activeKekId}" is not among the configured keys (${[...map.keys()].join(', ') || 'none'})`);
  if (indexKey.length < 32) throw new CustomerKeyError('customer.key_invalid', `the customer index key must be at least 32 bytes, got ${indexKey.length}`);
  return { keks: map, activeKekId, indexKey };
}

/** A keyring of fresh random keys (the embedded default's first start, tests). */
export function generateCustomerKeyring(kekId = `k${Date.now().toString(36)}`): CustomerKeyring {
  return customerKeyring([[kekId, randomBytes(32)]], kekId, randomBytes(32));
}

/** The keys as configuration gives them (SYNCLINE_CUSTOMER_KEYS, SYNCLINE_CUSTOMER_ACTIVE_KEY, SYNCLINE_CUSTOMER_INDEX_KEY). */
export interface CustomerKeySettings {
  keks: [string, Buffer][];
  activeKekId: string;
  indexKey: Buffer;
}

/** Parses SYNCLINE_CUSTOMER_KEYS (`id=base64,...`), SYNCLINE_CUSTOMER_ACTIVE_KEY and SYNCLINE_CUSTOMER_INDEX_KEY; the problem text names the variable. */
export function parseCustomerKeySettings(keys: string | undefined, active: string | undefined, index: string | undefined): CustomerKeySettings | string | undefined {
  if (keys === undefined && active === undefined && index === undefined) return undefined;
  if (keys === undefined) return 'SYNCLINE_CUSTOMER_KEYS is required when SYNCLINE_CUSTOMER_ACTIVE_KEY or SYNCLINE_CUSTOMER_INDEX_KEY is set';
  if (index === undefined) return 'SYNCLINE_CUSTOMER_INDEX_KEY is required with SYNCLINE_CUSTOMER_KEYS (base64 of at least 32 random bytes)';
  const keks: [string, Buffer][] = [];
  for (const part of keys.split(',')) {
    const match = /^([A-Za-z0-9_.-]{1,64})=([A-Za-z0-9+/]+={0,2})$/.exec(part.trim());
    if (!match) return 'SYNCLINE_CUSTOMER_KEYS must look like id1=<base64 of 32 bytes>,id2=<base64 of 32 bytes>';
    const key = Buffer.from(match[2]!, 'base64');
    if (key.length !== 32) return `SYNCLINE_CUSTOMER_KEYS: key "${match[1]}" must be 32 bytes (base64 of 32 random bytes: openssl rand -base64 32), got ${key.length}`;
    if (keks.some(([id]) => id === match[1])) return `SYNCLINE_CUSTOMER_KEYS: key "${match[1]}" is given twice`;
    keks.push([match[1]!, key]);
  }
  const activeKekId = active ?? (keks.length === 1 ? keks[0]![0] : undefined);
  if (!activeKekId) return 'SYNCLINE_CUSTOMER_ACTIVE_KEY is required when SYNCLINE_CUSTOMER_KEYS holds several keys: name the one that wraps new data keys';
  if (!keks.some(([id]) => id === activeKekId)) return `SYNCLINE_CUSTOMER_ACTIVE_KEY "${activeKekId}" is not one of the keys of SYNCLINE_CUSTOMER_KEYS (${keks.map(([id]) => id).join(', ')})`;
  const indexKey = Buffer.from(index, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(index) || indexKey.length < 32) return 'SYNCLINE_CUSTOMER_INDEX_KEY must be base64 of at least 32 random bytes (openssl rand -base64 32)';
  return { keks, activeKekId, indexKey };
}

let configured: CustomerKeyring | undefined;
let ephemeral: CustomerKeyring | undefined;

/** Sets the process's customer keyring (start-up does, from configuration). */
export function useCustomerKeyring(keyring: CustomerKeyring): void {
  configured = keyring;
}

/**
 * The process's keyring. `syncline` configures one at start-up (customer-keys.ts). A process
 * that did not (a library use, a test before it starts a server) takes the keys of its
 * environment (SYNCLINE_CUSTOMER_KEYS ...), else random keys that live as long as it does:
 * what it writes is unreadable after it exits.
 */
export function currentKeyring(): CustomerKeyring {
  if (configured) return configured;
  if (!ephemeral) {
    const fromEnvironment = parseCustomerKeySettings(process.env.SYNCLINE_CUSTOMER_KEYS || undefined, process.env.SYNCLINE_CUSTOMER_ACTIVE_KEY || undefined, process.env.SYNCLINE_CUSTOMER_INDEX_KEY || undefined);
    if (typeof fromEnvironment === 'string') throw new CustomerKeyError('customer.key_invalid', fromEnvironment);
    ephemeral = fromEnvironment ? customerKeyring(fromEnvironment.keks, fromEnvironment.activeKekId, fromEnvironment.indexKey) : generateCustomerKeyring('ephemeral');
  }
  return ephemeral;
}

function seal(key: Buffer | KeyObject, plaintext: Buffer, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyObject(key), iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

function open(key: Buffer | KeyObject, sealed: string, aad: string): Buffer {
  const bytes = Buffer.from(sealed, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', keyObject(key), bytes.subarray(0, 12));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(bytes.subarray(12, 28));
  return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]);
}

/** A new data key and its wrapped form (`<kek id>:<base64>`) under the active KEK. */
export function newDataKey(keyring: CustomerKeyring = currentKeyring()): { key: DataKey; wrapped: string } {
  const key = createSecretKey(randomBytes(32));
  return { key, wrapped: wrapDataKey(key, keyring) };
}

export function wrapDataKey(key: DataKey, keyring: CustomerKeyring = currentKeyring()): string {
  return `${keyring.activeKekId}:${seal(keyring.keks.get(keyring.activeKekId)!, key.export(), 'syncline.customer.data-key')}`;
}

/** The data key inside a wrapped one; a shredded (null) key or an unknown KEK is an error with its code. */
export function unwrapDataKey(wrapped: string | null, keyring: CustomerKeyring = currentKeyring()): DataKey {
  if (wrapped === null) throw new CustomerKeyError('customer.data_key_shredded', 'the data key of this customer data was shredded');
  const colon = wrapped.indexOf(':');
  const kekId = wrapped.slice(0, colon);
  const kek = keyring.keks.get(kekId);
  if (!kek) throw new CustomerKeyError('customer.key_missing', `customer data is wrapped by key "${kekId}", which is not configured (SYNCLINE_CUSTOMER_KEYS)`);
  try {
    return createSecretKey(open(kek, wrapped.slice(colon + 1), 'syncline.customer.data-key'));
  } catch {
    throw new CustomerKeyError('customer.key_mismatch', `customer key "${kekId}" does not decrypt the data keys it wrapped: the configured key material is not the one they were written with`);
  }
}

/** Encrypts a JSON value under a data key, bound to where it is stored (e.g. `record:<id>:data`). */
export function encryptJson(key: DataKey, value: unknown, aad: string): string {
  return `${VERSION}:${seal(key, Buffer.from(JSON.stringify(value)), aad)}`;
}

export function decryptJson<T = unknown>(key: DataKey, sealed: string, aad: string): T {
  if (!sealed.startsWith(`${VERSION}:`)) throw new CustomerKeyError('customer.key_invalid', 'customer data is not in the encrypted format');
  return JSON.parse(open(key, sealed.slice(VERSION.length + 1), aad).toString()) as T;
}

/**
 * The blind index of a match key: its kind prefix (`e:`, `p:` ...) kept, the value replaced by
 * the first 128 bits of its HMAC. Equal keys give equal indexes; the value cannot be read back.
 */
export function blindIndex(key: string, keyring: CustomerKeyring = currentKeyring()): string {
  const colon = key.indexOf(':');
  return `${key.slice(0, colon + 1)}${createHmac('sha256', keyObject(keyring.indexKey)).update(key).digest('base64url').slice(0, 22)}`;
}

/** A check value of a KEK (a known text sealed under it) and of the index key, kept in `customer_kek`. */
export function kekCheck(kek: Buffer): string {
  return seal(kek, Buffer.from('syncline customer kek'), 'syncline.customer.kek-check');
}

export function kekMatches(kek: Buffer, check: string): boolean {
  try {
    return open(kek, check, 'syncline.customer.kek-check').toString() === 'syncline customer kek';
  } catch {
    return false;
  }
}

export function indexKeyCheck(keyring: CustomerKeyring): string {
  return createHmac('sha256', keyring.indexKey).update('syncline customer index key').digest('base64');
}

export function indexKeyMatches(keyring: CustomerKeyring, check: string): boolean {
  const mine = Buffer.from(indexKeyCheck(keyring));
  const theirs = Buffer.from(check);
  return mine.length === theirs.length && timingSafeEqual(mine, theirs);
}

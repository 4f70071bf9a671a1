import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Queryable } from '../database.ts';
import {
  CustomerKeyError,
  customerKeyring,
  generateCustomerKeyring,
  indexKeyCheck,
  indexKeyMatches,
  kekCheck,
  kekMatches,
  unwrapDataKey,
  wrapDataKey,
  type CustomerKeyring,
  type CustomerKeySettings,
} from './customer-crypto.ts';

/**
 * Where the customer keys come from, how start-up checks them against the database, and the
 * rotation that re-wraps every data key under the active key (docs/customers.md, ADR 0042).
 */

export type { CustomerKeySettings } from './customer-crypto.ts';

/** The file the embedded default keeps its generated keys in, inside the data folder. */
export const GENERATED_KEYS_FILE = 'customer-keys.json';

/**
 * The keyring of this process: the configured keys; without any, the keys generated into the
 * data folder on the first start (and read from there afterwards), said in the log.
 */
export function loadCustomerKeyring(settings: CustomerKeySettings | undefined, dataDir: string, log: (message: string, fields: Record<string, unknown>) => void): CustomerKeyring {
  if (settings) return customerKeyring(settings.keks, settings.activeKekId, settings.indexKey);
  const file = join(dataDir, GENERATED_KEYS_FILE);
  const read = () => {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { keks: Record<string, string>; active: string; index: string };
    return customerKeyring(Object.entries(saved.keks).map(([id, key]) => [id, Buffer.from(key, 'base64')]), saved.active, Buffer.from(saved.index, 'base64'));
  };
  if (existsSync(file)) return read();
  const keyring = generateCustomerKeyring();
  mkdirSync(dataDir, { recursive: true });
  const body = { keks: Object.fromEntries([...keyring.keks].map(([id, key]) => [id, key.toString('base64')])), active: keyring.activeKekId, index: keyring.indexKey.toString('base64') };
  try {
    writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    // Another process on the same data folder generated them first: theirs are the keys.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return read();
    throw error;
  }
  chmodSync(file, 0o600);
  log(`customer data keys generated into ${file} (mode 0600): keep it with the data folder, or set SYNCLINE_CUSTOMER_KEYS and SYNCLINE_CUSTOMER_INDEX_KEY`, { file, keyId: keyring.activeKekId });
  return keyring;
}

/**
 * Checks the keyring against the database before anything is read: every configured key must
 * be the one that wrote under its id, the index key the one the blind indexes were made with,
 * and every key still wrapping data keys must be configured. Registers new keys.
 */
export async function verifyCustomerKeys(db: Queryable, keyring: CustomerKeyring): Promise<void> {
  const { rows } = await db.query<{ id: string; check_value: string; retired_at: Date | null }>('SELECT id, check_value, retired_at FROM customer_kek');
  const known = new Map(rows.map((r) => [r.id, r]));
  const index = known.get('#index');
  if (index && !indexKeyMatches(keyring, index.check_value)) {
    throw new CustomerKeyError('customer.key_mismatch', 'SYNCLINE_CUSTOMER_INDEX_KEY is not the index key the customer tables were written with: look-ups and matching would find nobody');
  }
  for (const [id, kek] of keyring.keks) {
    const row = known.get(id);
    if (row && !kekMatches(kek, row.check_value)) {
      throw new CustomerKeyError('customer.key_mismatch', `customer key "${id}" is not the key that was used under this id (SYNCLINE_CUSTOMER_KEYS): its material differs`);
    }
  }
  const missing = rows.filter((r) => r.id !== '#index' && !r.retired_at && !keyring.keks.has(r.id)).map((r) => r.id);
  if (missing.length > 0) {
    throw new CustomerKeyError('customer.key_missing', `customer data is wrapped by key${missing.length > 1 ? 's' : ''} ${missing.map((id) => `"${id}"`).join(', ')}, not configured in SYNCLINE_CUSTOMER_KEYS (run \`syncline customers rotate-key\` with it configured before removing it)`);
  }
  await db.query(
    `INSERT INTO customer_kek (id, check_value) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (id) DO NOTHING`,
    [['#index', ...keyring.keks.keys()], [indexKeyCheck(keyring), ...[...keyring.keks.values()].map(kekCheck)]],
  );
  await db.query('UPDATE customer_kek SET retired_at = NULL WHERE id = $1 AND retired_at IS NOT NULL', [keyring.activeKekId]);
}

const TABLES = ['customer_source_record', 'customer'] as const;

/**
 * Re-wraps every data key not under the active key, `batch` rows per short transaction (rows
 * locked by a writer are taken in a later pass): the service keeps running. Then retires the keys nothing is wrapped by any more. Returns the count per table.
 */
export async function rotateCustomerKeys(db: Queryable & { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> }, keyring: CustomerKeyring, batch = 500): Promise<{ records: number; customers: number; retired: string[] }> {
  const counts = { customer_source_record: 0, customer: 0 };
  for (const table of TABLES) {
    // One pass in primary-key order (no index on the key id: it would cost every insert), then
    // passes for rows a writer held (skipped, not waited for) until none is left.
    for (;;) {
      let after = '';
      for (;;) {
        const page = await db.transaction(async (tx) => {
          const { rows } = await tx.query<{ id: string; data_key: string | null }>(`SELECT id, data_key FROM ${table} WHERE id > $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`, [after, batch]);
          const stale = rows.filter((r): r is { id: string; data_key: string } => r.data_key !== null && !r.data_key.startsWith(`${keyring.activeKekId}:`));
          if (stale.length > 0) {
            const rewrapped = stale.map((r) => wrapDataKey(unwrapDataKey(r.data_key, keyring), keyring));
            await tx.query(`UPDATE ${table} t SET data_key = r.data_key FROM unnest($1::text[], $2::text[]) AS r(id, data_key) WHERE t.id = r.id`, [stale.map((r) => r.id), rewrapped]);
          }
          return { last: rows.at(-1)?.id, rewrapped: stale.length };
        });
        counts[table] += page.rewrapped;
        if (!page.last) break;
        after = page.last;
      }
      const left = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE data_key IS NOT NULL AND split_part(data_key, ':', 1) <> $1`, [keyring.activeKekId]);
      if (left.rows[0]!.n === 0) break;
    }
  }
  const { rows } = await db.query<{ id: string }>(
    `UPDATE customer_kek k SET retired_at = now() WHERE k.id <> '#index' AND k.id <> $1 AND k.retired_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM customer_source_record r WHERE split_part(r.data_key, ':', 1) = k.id)
        AND NOT EXISTS (SELECT 1 FROM customer c WHERE split_part(c.data_key, ':', 1) = k.id)
      RETURNING k.id`,
    [keyring.activeKekId],
  );
  return { records: counts.customer_source_record, customers: counts.customer, retired: rows.map((r) => r.id) };
}

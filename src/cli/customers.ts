import { parseArgs } from 'node:util';
import type { Config } from '../config/config.ts';
import { currentKeyring } from '../store/customers/customer-crypto.ts';
import { rotateCustomerKeys } from '../store/customers/customer-keys.ts';
import { ClientsUsageError, handleUsage, withDatabase } from './clients.ts';

export const CUSTOMERS_USAGE = `  customers rotate-key           re-wrap every customer data key under SYNCLINE_CUSTOMER_ACTIVE_KEY, while
                                 Syncline runs; then an older key nothing is wrapped by is retired and may be
                                 removed from SYNCLINE_CUSTOMER_KEYS (docs/customers.md, Encryption at rest)`;

/** `syncline customers rotate-key`: the rotation of the key-encryption key, online (ADR 0042). */
export async function runCustomersCommand(args: string[], config: Config): Promise<number> {
  return handleUsage('customers', async () => {
    const [sub, ...rest] = args;
    if (sub !== 'rotate-key') throw new ClientsUsageError(`unknown customers command "${sub ?? ''}"; use: syncline customers rotate-key`);
    parseArgs({ args: rest, options: {}, strict: true });
    const result = await withDatabase(config, async (db) => {
      const keyring = currentKeyring();
      return { ...(await rotateCustomerKeys(db, keyring)), active: keyring.activeKekId };
    }, { customerKeys: true });
    console.log(`customer data keys re-wrapped under "${result.active}": ${result.records} records, ${result.customers} golden records; retired: ${result.retired.join(', ') || 'none'}`);
    return 0;
  });
}

import type { AccountPart, ConsentPartData } from '../../model/customer-account.ts';
import type { Queryable } from '../../store/database.ts';
import { consentsOf } from './consent.service.ts';

/** The consent part of the account view, in one place (docs/customers.md#account-view). */
export type ConsentReader = (db: Queryable, customerId: string) => Promise<AccountPart<ConsentPartData> | undefined>;

/**
 * The customer's consents as Syncline records them: the current state per purpose and channel of
 * its identity (itself and every customer merged into it; docs/customers.md#consent). Syncline's
 * own data, so always fresh.
 */
export const readConsentPart: ConsentReader = async (db, customerId) => {
  const { current } = await consentsOf(db, customerId);
  return { source: 'syncline', status: 'ok', fetchedAt: new Date().toISOString(), ageSeconds: 0, data: { consents: current } };
};

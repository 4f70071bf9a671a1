import type { AccountPart, ConsentPartData } from '../../model/customer-account.ts';
import type { Queryable } from '../../store/database.ts';

/**
 * The consent part of the account view, in one place. Syncline records no consent yet (the
 * consent model is built beside this view, docs/customers.md#account-view): until it is plugged
 * in here, the part says so (`unavailable`, `consent.not_recorded`) rather than showing
 * anything it does not hold. To plug it in, return the customer's consents from the consent
 * store with source `syncline` and status `ok`.
 */
export type ConsentReader = (db: Queryable, customerId: string) => Promise<AccountPart<ConsentPartData> | undefined>;

/** The customer's consents as Syncline holds them; undefined while Syncline records none. */
export const readConsentPart: ConsentReader = async () => undefined;

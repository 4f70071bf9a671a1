import { EVENT_TYPES } from '../../model/cloud-event.ts';
import { ConsentInput, type ConsentRecord, type CustomerConsents } from '../../model/consent.ts';
import { newId } from '../../model/ids.ts';
import { appendEvents } from '../../runtime/outbox/outbox.ts';
import type { Database, Queryable } from '../../store/database.ts';
import { insertConsent, selectConsents, type ConsentRow } from '../../store/customers/consent-queries.ts';
import { selectCurrentCustomerId, selectIdentityIds } from '../../store/customers/customer-privacy-queries.ts';
import { recordAudit, type AuditContext } from '../audit/audit.ts';
import { currentConsents } from './consent.ts';
import { customerEvent } from './customer-events.ts';

/**
 * Consent per purpose and channel (docs/customers.md, ADR 0039): statements are recorded,
 * never changed; the current state is computed (src/domain/customers/consent.ts). A statement
 * is recorded for the customer the id stands for now (a merged id: its survivor); the
 * survivor reads the statements of every customer merged into it, and an unmerge leaves each
 * statement with the customer it was recorded for.
 */

export const toConsentRecord = (row: ConsentRow): ConsentRecord => ({
  id: row.id,
  customerId: row.customer_id,
  purpose: row.purpose,
  channel: row.channel,
  status: row.status,
  source: { system: row.source_system, connection: row.source_connection },
  at: row.given_at.toISOString(),
  proof: row.proof,
  recordedAt: row.recorded_at.toISOString(),
});

export type RecordConsentResult = { kind: 'not-found' } | { kind: 'recorded' | 'known'; consent: ConsentRecord; consents: CustomerConsents };

/** The statements of one identity (the customer and every customer merged into it) and the current state. */
export async function consentsOf(db: Queryable, customerId: string): Promise<CustomerConsents> {
  const history = (await selectConsents(db, await selectIdentityIds(db, customerId))).map(toConsentRecord);
  return { customerId, current: currentConsents(history), history };
}

export class ConsentService {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  /**
   * Records one statement and publishes customer.consent_changed in the same transaction. The
   * same statement from the same source again (a retry, a resync) is answered with the first
   * one and publishes nothing.
   */
  async record(customerId: string, input: ConsentInput, who: AuditContext): Promise<RecordConsentResult> {
    const statement = ConsentInput.parse(input);
    return this.#db.transaction(async (tx) => {
      const current = await selectCurrentCustomerId(tx, customerId);
      if (!current) return { kind: 'not-found' };
      const id = newId('consent');
      const row = await insertConsent(tx, {
        id,
        customer_id: current,
        purpose: statement.purpose,
        channel: statement.channel,
        status: statement.status,
        source_system: statement.source.system,
        source_connection: statement.source.connection,
        given_at: statement.at,
        proof: statement.proof,
        recorded_by: who.actor,
      });
      const consents = await consentsOf(tx, current);
      if (!row) {
        const same = consents.history.find(
          (c) => c.customerId === current && c.purpose === statement.purpose && c.channel === statement.channel && c.status === statement.status && c.at === statement.at && c.source.system === statement.source.system && c.source.connection === statement.source.connection,
        );
        return { kind: 'known', consent: same!, consents };
      }
      const consent = toConsentRecord(row);
      await appendEvents(tx, [
        customerEvent(
          EVENT_TYPES.customerConsentChanged,
          current,
          { consentId: id, customerId: current, purpose: consent.purpose, channel: consent.channel, status: consent.status, source: { system: row.source_system, connection: row.source_connection }, at: consent.at, proof: consent.proof },
          who.correlationId ?? id,
        ),
      ]);
      await recordAudit(tx, who, { action: 'customer.consent_recorded', targetType: 'customer', targetId: current, details: { consentId: id, purpose: consent.purpose, channel: consent.channel, status: consent.status } });
      return { kind: 'recorded', consent, consents };
    });
  }

  /** The current state and the history of a customer (a merged id: its survivor's); undefined for an unknown id. */
  async list(customerId: string): Promise<CustomerConsents | undefined> {
    const current = await selectCurrentCustomerId(this.#db, customerId);
    return current ? consentsOf(this.#db, current) : undefined;
  }
}

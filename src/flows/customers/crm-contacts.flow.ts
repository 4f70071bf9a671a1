import { randomUUID } from 'node:crypto';
import type { CustomerService, IngestResult } from '../../domain/customers/customer.service.ts';
import { enqueue } from '../../runtime/queue.ts';
import type { RuntimeRegistry } from '../../runtime/registry.ts';
import type { JobSpec } from '../../runtime/runtime.ts';
import type { Database } from '../../store/database.ts';
import { TARGETS } from '../flow-deps.ts';
import { CustomerRecordInput } from '../../model/customer.ts';
import type { CallContext, CrmConnector, CrmContact } from '../../connectors/kit/contracts.ts';

/**
 * CRM contacts coming in (docs/customers.md#crm-contacts): HubSpot documents paging through
 * contacts (CRM v3 list, `after` cursor) rather than pushing them to a middleware, so Syncline
 * pulls: each page of contacts becomes `crm` source records through CustomerService's ingest
 * path (matching, history, golden record), one transaction per page.
 */

/** A CRM contact as a customer source record of the CRM connection. */
export function crmContactRecord(contact: CrmContact, connection: string): CustomerRecordInput {
  return {
    system: 'crm',
    connection,
    externalId: contact.id,
    ...(contact.givenName ? { givenName: contact.givenName } : {}),
    ...(contact.familyName ? { familyName: contact.familyName } : {}),
    // A CRM e-mail is as the contact or a salesperson typed it: not proof of the mailbox.
    emails: contact.email ? [{ address: contact.email, verified: false }] : [],
    phones: contact.phone ? [contact.phone] : [],
    addresses: contact.address ? [contact.address] : [],
    references: contact.erpAccount ? { erpPartyId: contact.erpAccount } : {},
    attributes: Object.keys(contact.engagement).length ? { engagement: contact.engagement } : {},
    observedAt: contact.updatedAt,
  };
}

export interface CrmPullResult {
  pages: number;
  contacts: number;
  outcomes: Record<IngestResult['outcome'], number>;
  /** Contacts that are not a valid customer record (an e-mail the CRM took but is not one), by id. */
  skipped: { contactId: string; reason: string }[];
}

/** Pulls every contact of the CRM, a page at a time, into customer records of `connection`. */
export async function pullCrmContacts(
  deps: { crm: CrmConnector; customers: CustomerService },
  options: { connection: string; pageSize?: number; correlationId: string },
  context: CallContext = {},
): Promise<CrmPullResult> {
  const result: CrmPullResult = { pages: 0, contacts: 0, outcomes: { created: 0, merged: 0, updated: 0, unchanged: 0 }, skipped: [] };
  let after: string | undefined;
  do {
    const page = await deps.crm.listContacts({ limit: options.pageSize ?? 100, ...(after ? { after } : {}) }, context);
    result.pages++;
    const records: CustomerRecordInput[] = [];
    for (const contact of page.contacts) {
      const parsed = CustomerRecordInput.safeParse(crmContactRecord(contact, options.connection));
      if (parsed.success) records.push(parsed.data);
      else result.skipped.push({ contactId: contact.id, reason: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
    }
    for (const r of await deps.customers.ingestMany(records, { correlationId: options.correlationId })) result.outcomes[r.outcome]++;
    result.contacts += page.contacts.length;
    after = page.next;
  } while (after);
  return result;
}

export const CRM_PULL_JOB = 'customers.crm-pull';

const slotOf = (everySeconds: number, now = Date.now()) => Math.floor(now / 1000 / everySeconds);

/** The pull of one time slot, on the CRM's target (its quota and breaker); its job key makes it exist once. */
function pullJob(connection: string, everySeconds: number, slot: number, correlationId: string, runAt: Date): JobSpec {
  return { type: CRM_PULL_JOB, payload: { connection }, lane: 'bulk', target: TARGETS.crm, jobKey: `crm-pull:${connection}:${everySeconds}:${slot}`, runAt, correlationId };
}

/** Registers the scheduled pull: each run enqueues the next slot's first, so a failed run never ends the schedule. */
export function registerCrmPull(registry: RuntimeRegistry, deps: { db: Database; crm: CrmConnector; customers: CustomerService; everySeconds: number }): void {
  registry.register<{ connection: string }>(
    CRM_PULL_JOB,
    async (payload, context) => {
      if (deps.everySeconds > 0) {
        const next = slotOf(deps.everySeconds) + 1;
        await enqueue(deps.db, pullJob(payload.connection, deps.everySeconds, next, context.correlationId, new Date(next * deps.everySeconds * 1000)));
      }
      const result = await pullCrmContacts(deps, { connection: payload.connection, correlationId: context.correlationId }, { correlationId: context.correlationId, signal: context.signal, target: context.target(TARGETS.crm) });
      context.logger.info({ ...result, skipped: result.skipped.map((s) => s.contactId) }, `CRM contacts pulled: ${result.contacts} in ${result.pages} pages`);
    },
    { maxAttempts: 5, backoffBaseMs: 5000, timeoutMs: 1_800_000 },
  );
}

/** Enqueues the first scheduled pull (now), unless the schedule is off (everySeconds 0). */
export async function startCrmPullJobs(db: Database, connection: string, everySeconds: number): Promise<void> {
  if (everySeconds <= 0) return;
  await enqueue(db, pullJob(connection, everySeconds, slotOf(everySeconds), randomUUID(), new Date()));
}

import { z } from 'zod';
import { ChannelSlug, Timestamp } from './order.ts';

/**
 * Consent and data subject requests (docs/customers.md, ADR 0039).
 *
 * Glossary:
 * - purpose: what the customer agrees to: `email_marketing`, `sms_marketing`, `profiling`.
 * - channel: the sales channel (connection slug) a statement is about; null for every channel.
 * - statement: one grant or withdrawal, with its source (system and connection), the time the
 *   customer gave it (`at`) and its proof (a form id, a double opt-in message id ...).
 * - current state: per purpose and channel, the most recent statement that applies (see
 *   currentConsents in src/domain/customers/consent.ts).
 */

export const ConsentPurpose = z.enum(['email_marketing', 'sms_marketing', 'profiling']).meta({ id: 'ConsentPurpose', description: 'What the customer agrees to.' });
export type ConsentPurpose = z.infer<typeof ConsentPurpose>;

export const ConsentStatus = z.enum(['granted', 'withdrawn']).meta({ id: 'ConsentStatus' });
export type ConsentStatus = z.infer<typeof ConsentStatus>;

export const ConsentSource = z
  .strictObject({
    system: z.enum(['channel', 'loyalty', 'crm', 'erp', 'syncline']).meta({ description: 'The kind of system the customer gave the statement in (syncline: an operator or API client).' }),
    connection: ChannelSlug.nullable().default(null).meta({ description: 'The connection of that system (which store, which CRM); null when there is only one.' }),
  })
  .meta({ id: 'ConsentSource' });

/** What a caller records: one grant or withdrawal. */
export const ConsentInput = z
  .strictObject({
    purpose: ConsentPurpose,
    channel: ChannelSlug.nullable().default(null).meta({ description: 'The channel (connection slug) the statement is about; null (default) for every channel.' }),
    status: ConsentStatus,
    source: ConsentSource,
    at: Timestamp.meta({ description: 'When the customer gave or withdrew it (not when Syncline heard of it).' }),
    proof: z.string().trim().min(1).max(2000).nullable().default(null).meta({ description: 'Evidence of the statement: a form submission id, the double opt-in message id, a signed document reference.' }),
  })
  .meta({ id: 'ConsentInput', description: 'A consent statement: a grant or a withdrawal for one purpose and channel.' });
export type ConsentInput = z.input<typeof ConsentInput>;
export type ConsentStatement = z.output<typeof ConsentInput>;

/** A recorded statement (`cns_…`). */
export const ConsentRecord = z
  .object({
    id: z.string().meta({ example: 'cns_01jd5q8x7m2v3k4n5p6r7s8tc7' }),
    customerId: z.string().meta({ description: 'The customer it was recorded for (a merged customer\'s statements are read through the survivor).' }),
    purpose: ConsentPurpose,
    channel: z.string().nullable(),
    status: ConsentStatus,
    source: z.object({ system: z.string(), connection: z.string().nullable() }),
    at: z.string(),
    proof: z.string().nullable(),
    recordedAt: z.string(),
  })
  .meta({ id: 'ConsentRecord' });
export type ConsentRecord = z.infer<typeof ConsentRecord>;

/** The current state of one purpose on one channel (null: every channel not named otherwise). */
export const ConsentState = z
  .object({
    purpose: ConsentPurpose,
    channel: z.string().nullable(),
    status: ConsentStatus,
    consentId: z.string().meta({ description: 'The statement that decides it.' }),
    at: z.string(),
  })
  .meta({ id: 'ConsentState' });
export type ConsentState = z.infer<typeof ConsentState>;

export const CustomerConsents = z
  .object({
    customerId: z.string(),
    current: z.array(ConsentState).meta({ description: 'Per purpose: the state for every channel (channel null) and for each channel a statement names. A purpose with no statement is absent (no consent).' }),
    history: z.array(ConsentRecord).meta({ description: 'Every statement, by the time it was given, oldest first.' }),
  })
  .meta({ id: 'CustomerConsents' });
export type CustomerConsents = z.infer<typeof CustomerConsents>;

export const DataRequestType = z.enum(['export', 'erase']).meta({ id: 'DataRequestType' });
export type DataRequestType = z.infer<typeof DataRequestType>;

export const DataRequestInput = z.strictObject({ type: DataRequestType }).meta({ id: 'DataRequestInput' });

/** A system record an erasure was requested from (system ids only). */
export const ErasureTarget = z.object({ recordId: z.string(), system: z.string(), connection: z.string(), sourceId: z.string() }).meta({ id: 'ErasureTarget' });
export type ErasureTarget = z.infer<typeof ErasureTarget>;

export const DataRequest = z
  .object({
    id: z.string().meta({ example: 'dsr_01jd5q8x7m2v3k4n5p6r7s8tc8' }),
    customerId: z.string().meta({ description: 'The customer the request was made for (for an erase of a merged customer: the survivor whose identity was erased).' }),
    type: DataRequestType,
    status: z.enum(['completed', 'expired']).meta({ description: 'expired: an export whose document was removed when the customer was erased.' }),
    requestedAt: z.string(),
    completedAt: z.string().nullable(),
    document: z.record(z.string(), z.unknown()).nullable().meta({ description: 'export: everything Syncline holds about the customer; null for an erase or an expired export.' }),
    systems: z
      .array(
        ErasureTarget.extend({
          status: z.enum(['requested', 'pending', 'done', 'failed', 'not_applicable']).meta({
            description: "requested: not yet planned for the record's system; pending: being sent (retried while it fails); done; failed: given up after the retries (a replay of its dead letter sends it again); not_applicable: the system has no erasure of its own to ask (a sales channel).",
          }),
          attempts: z.number().int(),
          lastError: z.object({ code: z.string(), message: z.string() }).nullable(),
          updatedAt: z.string().nullable(),
        }),
      )
      .meta({ description: 'erase: each system record the erasure was requested from (customer.erasure_requested), with the outcome of the request to its system (docs/customers.md#propagation).' }),
  })
  .meta({ id: 'DataRequest', description: 'A data subject request (export or erase).' });
export type DataRequest = z.infer<typeof DataRequest>;

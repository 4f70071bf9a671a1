import { z } from 'zod';
import { Address, ChannelSlug, Timestamp } from './order.ts';

/**
 * The canonical customer (docs/customers.md, ADR 0036).
 *
 * Glossary:
 * - system: the kind of system a customer record comes from: a sales `channel` (web
 *   guest, marketplace, POS), the `loyalty` service, the `crm` or the `erp`.
 * - source record: one customer as one system knows them, by the system, the connection
 *   (which store, which ERP) and that system's own id. Source records are never merged
 *   into each other: they are grouped under a customer, each with its own history.
 * - identifiers: the ids the systems know a customer by (channel customer ids per
 *   connection, loyalty member id, ERP party id, CRM contact id).
 * - contact points: e-mails, phones and postal addresses, each with its normalised form.
 * - golden record: the values the customer's source records agree on, attribute by
 *   attribute, as chosen by the survivorship rules; each value names the record it came from.
 */

export const CustomerSystem = z.enum(['channel', 'loyalty', 'crm', 'erp']).meta({ id: 'CustomerSystem', description: 'The kind of system a customer record comes from.' });
export type CustomerSystem = z.infer<typeof CustomerSystem>;

const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);

export const CustomerEmail = z
  .strictObject({
    address: z.email('must be an email address').max(254),
    verified: z.boolean().default(false).meta({ description: 'The system proved the customer owns the mailbox (a confirmed sign-up, a double opt-in).' }),
  })
  .meta({ id: 'CustomerEmail' });

export const CustomerPostalAddress = Address.omit({ name: true, company: true, phone: true }).meta({ id: 'CustomerPostalAddress', description: 'A postal address of a customer.' });
export type CustomerPostalAddress = z.infer<typeof CustomerPostalAddress>;

/** Attributes one system owns (ADR 0036): only its records give their golden value. */
export const OwnedAttributes = z
  .strictObject({
    legalAccount: text(128).optional().meta({ description: 'ERP: the legal (bill-to) account.' }),
    taxId: text(64).optional().meta({ description: 'ERP: tax registration number.' }),
    paymentTerms: text(64).optional().meta({ description: 'ERP: payment terms.' }),
    creditLimit: z.string().regex(/^\d{1,15}(\.\d{1,4})?$/, 'must be a decimal amount such as "5000.00"').optional().meta({ description: 'ERP: credit limit in the account currency.' }),
    engagement: z.record(z.string().max(64), z.string().max(200)).optional().meta({ description: 'CRM: engagement preferences (preferred channel, segment ...).' }),
    loyaltyPoints: z.number().int().min(0).optional().meta({ description: 'Loyalty: the points balance.' }),
    loyaltyTier: text(64).optional().meta({ description: 'Loyalty: the tier.' }),
  })
  .meta({ id: 'OwnedAttributes' });
export type OwnedAttributes = z.infer<typeof OwnedAttributes>;

/** One customer as one system sends it: what matching takes in. */
export const CustomerRecordInput = z
  .strictObject({
    system: CustomerSystem,
    connection: ChannelSlug.meta({ description: 'The connection (store, ERP, loyalty service) the record comes from.' }),
    externalId: text(128).meta({ description: "The system's own id of the customer (for a guest checkout: the channel's guest id or the e-mail)." }),
    givenName: text(100).optional(),
    familyName: text(100).optional(),
    emails: z.array(CustomerEmail).max(10).default([]),
    phones: z.array(text(32)).max(10).default([]),
    addresses: z.array(CustomerPostalAddress).max(10).default([]),
    references: z
      .strictObject({ loyaltyId: text(128).optional(), erpPartyId: text(128).optional(), crmContactId: text(128).optional() })
      .default({})
      .meta({ description: 'Ids of other systems the record carries (a loyalty card scanned at checkout, the ERP account of a B2B contact).' }),
    attributes: OwnedAttributes.default({}),
    observedAt: Timestamp.meta({ description: 'When the system last changed the record.' }),
  })
  .meta({ id: 'CustomerRecordInput', description: 'A customer as one system knows them.' });
export type CustomerRecordInput = z.input<typeof CustomerRecordInput>;
export type CustomerRecordData = z.output<typeof CustomerRecordInput>;

/** A normalised contact point: the value as received and its comparison form. */
const ContactPoint = z.object({ value: z.string(), normalized: z.string(), recordId: z.string() });

const GoldenValue = <T extends z.ZodType>(value: T) =>
  z.object({ value, recordId: z.string().meta({ description: 'The source record the value was taken from.' }), rule: z.string().meta({ description: 'The survivorship rule that chose it.' }) });

export const GoldenRecord = z
  .object({
    givenName: GoldenValue(z.string()).optional(),
    familyName: GoldenValue(z.string()).optional(),
    email: GoldenValue(z.string()).optional(),
    phone: GoldenValue(z.string()).optional(),
    address: GoldenValue(CustomerPostalAddress).optional(),
    legalAccount: GoldenValue(z.string()).optional(),
    taxId: GoldenValue(z.string()).optional(),
    paymentTerms: GoldenValue(z.string()).optional(),
    creditLimit: GoldenValue(z.string()).optional(),
    engagement: GoldenValue(z.record(z.string(), z.string())).optional(),
    loyaltyPoints: GoldenValue(z.number().int()).optional(),
    loyaltyTier: GoldenValue(z.string()).optional(),
  })
  .meta({ id: 'GoldenRecord', description: 'The value of each attribute the survivorship rules chose, with the record it came from.' });
export type GoldenRecord = z.infer<typeof GoldenRecord>;

export const CustomerSourceRecord = z
  .object({
    id: z.string().meta({ example: 'csr_01jd5q8x7m2v3k4n5p6r7s8t9w' }),
    system: CustomerSystem,
    connection: z.string(),
    externalId: z.string(),
    version: z.number().int().meta({ description: 'How many times the system sent the record (its history has one entry each).' }),
    data: z.unknown().meta({ description: 'The record as last received (CustomerRecordInput).' }),
    observedAt: z.string(),
  })
  .meta({ id: 'CustomerSourceRecord' });
export type CustomerSourceRecord = z.infer<typeof CustomerSourceRecord>;

export const CustomerIdentifier = z
  .object({ system: CustomerSystem, connection: z.string(), id: z.string(), kind: z.enum(['own', 'reference']).meta({ description: "own: the record's id in its system; reference: an id of another system the record carries." }) })
  .meta({ id: 'CustomerIdentifier' });

export const CustomerMergeSummary = z
  .object({
    id: z.string().meta({ example: 'cmg_01jd5q8x7m2v3k4n5p6r7s8t9w' }),
    survivorId: z.string(),
    mergedId: z.string(),
    recordIds: z.array(z.string()),
    decision: z.enum(['deterministic', 'automatic', 'steward']),
    rule: z.string(),
    score: z.number().nullable(),
    at: z.string(),
    unmergedAt: z.string().nullable(),
  })
  .meta({ id: 'CustomerMergeSummary' });
export type CustomerMergeSummary = z.infer<typeof CustomerMergeSummary>;

/** A customer as Syncline keeps them across systems (`cus_…`). */
export const Customer = z
  .object({
    id: z.string().meta({ example: 'cus_01jd5q8x7m2v3k4n5p6r7s8t9w' }),
    status: z.enum(['active', 'merged']),
    mergedInto: z.string().nullable().meta({ description: 'For a merged customer: the customer it now belongs to.' }),
    golden: GoldenRecord,
    identifiers: z.array(CustomerIdentifier),
    emails: z.array(ContactPoint),
    phones: z.array(ContactPoint),
    addresses: z.array(ContactPoint.extend({ value: CustomerPostalAddress })),
    sourceRecords: z.array(CustomerSourceRecord),
    merges: z.array(CustomerMergeSummary).meta({ description: 'Merges into this customer, newest first (unmerge one through stewardship).' }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Customer', description: 'A canonical customer: golden record, identifiers, contact points and source records.' });
export type Customer = z.infer<typeof Customer>;

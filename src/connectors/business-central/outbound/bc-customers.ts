import type { CustomerRecordPage, PulledCustomerRecord } from '../../kit/customer-source.ts';
import { splitFullName } from '../../kit/customer-source.ts';
import type { CallContext } from '../../kit/http-client.ts';
import { decimalOfNumber, type BcEntity } from '../business-central-wire.ts';
import type { BcODataClient } from './odata-client.ts';

/**
 * Business Central customers (API v2.0 `customer` entity: id, number, displayName, email,
 * phoneNumber, addressLine1/2, city, state, country, postalCode, taxRegistrationNumber,
 * creditLimit, lastModifiedDateTime) as canonical customer records (docs/customers.md, ADR 41).
 * Changed ones are read with `$filter=lastModifiedDateTime ge <DateTimeOffset>`, following every
 * `@odata.nextLink`, so the whole change set is one page. The number is the legal account, the
 * credit limit an ERP-owned attribute; the e-mail is not verified. Payment terms are an id of
 * another entity (`paymentTerms`) and are not read.
 */

interface BcCustomerRow extends BcEntity {
  number: string;
  displayName: string;
  email: string;
  phoneNumber: string;
  addressLine1: string;
  addressLine2: string;
  city: string;
  state: string;
  country: string;
  postalCode: string;
  taxRegistrationNumber: string;
  creditLimit: number;
  lastModifiedDateTime: string;
}

const text = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);

/** Customers changed at or after `since` (every one when null); offsets past 0 are empty (one page holds them all). */
export async function bcCustomersChangedSince(odata: BcODataClient, since: string | null, page: { offset: number; limit: number }, context: CallContext): Promise<CustomerRecordPage> {
  if (page.offset > 0) return { records: [], skipped: [], more: false };
  const filter = since ? `?$filter=${encodeURIComponent(`lastModifiedDateTime ge ${new Date(since).toISOString()}`)}` : '';
  const rows = await odata.list<BcCustomerRow>(`customers${filter}`, context);
  const result: CustomerRecordPage = { records: [], skipped: [], more: false };
  for (const row of rows) {
    const names = splitFullName(row.displayName ?? '');
    const email = text(row.email);
    const phone = text(row.phoneNumber);
    if (!names.givenName && !email && !phone) {
      result.skipped.push({ externalId: row.id, reason: 'the customer has neither a name nor a contact point' });
      continue;
    }
    const [line1, city, postalCode, country] = [text(row.addressLine1), text(row.city), text(row.postalCode), text(row.country)];
    const record: PulledCustomerRecord = {
      system: 'erp',
      externalId: row.id,
      ...names,
      emails: email ? [{ address: email, verified: false }] : [],
      phones: phone ? [phone] : [],
      addresses: line1 && city && postalCode && country ? [{ line1, ...(text(row.addressLine2) ? { line2: text(row.addressLine2)! } : {}), city, ...(text(row.state) ? { region: text(row.state)! } : {}), postalCode, country }] : [],
      attributes: {
        ...(text(row.number) ? { legalAccount: text(row.number)! } : {}),
        ...(text(row.taxRegistrationNumber) ? { taxId: text(row.taxRegistrationNumber)! } : {}),
        ...(typeof row.creditLimit === 'number' && row.creditLimit > 0 ? { creditLimit: decimalOfNumber(row.creditLimit) } : {}),
      },
      observedAt: row.lastModifiedDateTime,
      modifiedAt: row.lastModifiedDateTime ?? null,
    };
    result.records.push(record);
  }
  return result;
}

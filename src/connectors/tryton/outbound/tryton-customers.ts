import type { CustomerRecordPage, PulledCustomerRecord } from '../../kit/customer-source.ts';
import { splitFullName } from '../../kit/customer-source.ts';
import type { CallContext } from '../../kit/http-client.ts';
import { TrytonDateTime } from '../tryton-wire.ts';
import type { TrytonRpc } from './json-rpc.ts';
import { latestStamp, readMany, stampOf, type Row } from './tryton-reads.ts';

/**
 * Tryton's parties as canonical customer records (ADR 0041; party model of Tryton 6.0, see
 * ../README.md, "Customers"). A party has one name (split at its last word), contact mechanisms
 * (type email, phone or mobile) and addresses, each with its own create_date / write_date, and
 * the customer payment term of the account_invoice module. A change is "the party, one of its
 * addresses or contact mechanisms stamped at or after the cursor"; its modification time is the
 * latest of them. An ERP e-mail is not taken as verified: the ERP did not prove the mailbox.
 */

const PARTY_FIELDS = ['name', 'code', 'addresses', 'contact_mechanisms', 'customer_payment_term', 'write_date', 'create_date'];
const STAMPED = ['', 'addresses.', 'contact_mechanisms.'];

const text = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);

/** One page of parties created or changed at or after `since` (every party when null), by id. */
export async function trytonCustomersChangedSince(rpc: TrytonRpc, since: string | null, page: { offset: number; limit: number }, context: CallContext): Promise<CustomerRecordPage> {
  const at = since === null ? null : TrytonDateTime.fromIso(since);
  const domain = at ? ['OR', ...STAMPED.flatMap((prefix) => [[`${prefix}write_date`, '>=', at], [`${prefix}create_date`, '>=', at]])] : [];
  const rows = await rpc.call<Row[]>('model.party.party.search_read', [domain, page.offset, page.limit, [['id', 'ASC']], PARTY_FIELDS], context, { active_test: false });
  // One call after the other: a runtime target's caller holds one concurrency slot at a time.
  const mechanisms = await readMany(rpc, 'party.contact_mechanism', rows.flatMap((r) => (r.contact_mechanisms as number[] | undefined) ?? []), ['type', 'value', 'write_date', 'create_date'], context);
  const addresses = await readMany(rpc, 'party.address', rows.flatMap((r) => (r.addresses as number[] | undefined) ?? []), ['street', 'postal_code', 'city', 'country', 'write_date', 'create_date'], context);
  const countries = await readMany(rpc, 'country.country', [...addresses.values()].flatMap((a) => (typeof a.country === 'number' ? [a.country] : [])), ['code'], context);
  const terms = await readMany(rpc, 'account.invoice.payment_term', rows.flatMap((r) => (typeof r.customer_payment_term === 'number' ? [r.customer_payment_term] : [])), ['name'], context);
  const result: CustomerRecordPage = { records: [], skipped: [], more: rows.length === page.limit };
  for (const row of rows) {
    const externalId = String(row.id);
    const own = {
      mechanisms: ((row.contact_mechanisms as number[] | undefined) ?? []).map((id) => mechanisms.get(id)).filter((m): m is Row => !!m),
      addresses: ((row.addresses as number[] | undefined) ?? []).map((id) => addresses.get(id)).filter((a): a is Row => !!a),
    };
    const emails = own.mechanisms.filter((m) => m.type === 'email' && text(m.value)).map((m) => ({ address: text(m.value)!, verified: false }));
    const phones = own.mechanisms.filter((m) => (m.type === 'phone' || m.type === 'mobile') && text(m.value)).map((m) => text(m.value)!);
    const postal = own.addresses.flatMap((a) => {
      const country = typeof a.country === 'number' ? text(countries.get(a.country)?.code) : undefined;
      const [line1, ...rest] = (text(a.street) ?? '').split('\n');
      // An address without street, postcode, city or country cannot be compared: left out, not guessed.
      if (!line1 || !country || !text(a.postal_code) || !text(a.city)) return [];
      return [{ line1, ...(rest.length ? { line2: rest.join(', ') } : {}), city: text(a.city)!, postalCode: text(a.postal_code)!, country }];
    });
    const names = splitFullName(String(row.name ?? ''));
    if (!names.givenName && emails.length === 0 && phones.length === 0) {
      result.skipped.push({ externalId, reason: 'the party has neither a name nor a contact point' });
      continue;
    }
    const stamps = [...stampOf(row), ...own.mechanisms.flatMap(stampOf), ...own.addresses.flatMap(stampOf)];
    const modifiedAt = latestStamp(stamps);
    const paymentTerms = typeof row.customer_payment_term === 'number' ? text(terms.get(row.customer_payment_term)?.name) : undefined;
    const record: PulledCustomerRecord = {
      system: 'erp',
      externalId,
      ...names,
      emails,
      phones: phones.slice(0, 10),
      addresses: postal.slice(0, 10),
      attributes: { ...(text(row.code) ? { legalAccount: text(row.code)!.slice(0, 128) } : {}), ...(paymentTerms ? { paymentTerms: paymentTerms.slice(0, 64) } : {}) },
      observedAt: modifiedAt ?? new Date(0).toISOString(),
      modifiedAt,
    };
    result.records.push(record);
  }
  return result;
}

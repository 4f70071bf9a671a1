import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CustomerRecordInput, type CustomerRecordInput as RecordInput } from '../../model/customer.ts';
import { blockingKeys, toMatchRecord } from './match-record.ts';
import { assessPair, decide, DEFAULT_MATCHING } from './matching.ts';
import { goldenRecord } from './survivorship.ts';

const home = { line1: '12 Main Street', city: 'Springfield', postalCode: '62701', country: 'US' };
let serial = 0;
const record = (overrides: Partial<RecordInput> = {}) => {
  const data = CustomerRecordInput.parse({ system: 'channel', connection: 'shopify-us', externalId: `c-${++serial}`, givenName: 'William', familyName: 'Turner', observedAt: '2026-11-01T00:00:00Z', ...overrides });
  return { data, match: toMatchRecord(`csr_${serial}`, data) };
};
const assess = (a: Partial<RecordInput>, b: Partial<RecordInput>) => assessPair(record(a).match, record(b).match);
const band = (x: ReturnType<typeof assess>) => (x.rule ? 'deterministic' : x.namesAgree && x.score >= DEFAULT_MATCHING.autoThreshold ? 'auto' : x.score >= DEFAULT_MATCHING.reviewThreshold ? 'review' : 'apart');

test('deterministic rules: same verified e-mail, same loyalty id, same ERP account merge whatever the names say', () => {
  assert.equal(assess({ emails: [{ address: 'w.turner@gmail.com', verified: true }] }, { givenName: 'Bill', familyName: 'Turner', emails: [{ address: 'wturner+x@googlemail.com', verified: true }] }).rule, 'same-verified-email');
  assert.equal(assess({ system: 'loyalty', externalId: 'LM-1' }, { givenName: 'W', familyName: 'T', references: { loyaltyId: 'LM-1' } }).rule, 'same-loyalty-id');
  assert.equal(assess({ system: 'erp', connection: 'erp', externalId: 'P77' }, { system: 'crm', connection: 'crm', references: { erpPartyId: 'P77' } }).rule, 'same-erp-account');
  // An unverified e-mail is only evidence; a verified one shared by two first names (a family) is too.
  assert.equal(assess({ emails: [{ address: 'turners@example.com', verified: false }] }, { emails: [{ address: 'turners@example.com', verified: false }] }).rule, undefined);
  assert.equal(assess({ emails: [{ address: 'turners@example.com', verified: true }] }, { givenName: 'Elizabeth', emails: [{ address: 'turners@example.com', verified: true }] }).rule, undefined);
});

test('fuzzy evidence: nicknames, typos and transpositions agree; a different first name in a household stays apart', () => {
  const mail = { emails: [{ address: 'wt@example.com', verified: false }] };
  const nickname = assess(mail, { ...mail, givenName: 'Bill' });
  assert.equal(band(nickname), 'auto');
  assert.ok(nickname.evidence.some((e) => e.kind === 'given name' && e.detail.startsWith('nickname')), JSON.stringify(nickname.evidence));
  assert.equal(band(assess(mail, { ...mail, familyName: 'Turnr' })), 'auto', 'a typo in the surname');
  assert.equal(band(assess(mail, { ...mail, givenName: 'Bily' })), 'auto', 'a mistyped nickname');
  const swapped = assess(mail, { ...mail, givenName: 'Turner', familyName: 'William' });
  assert.ok(swapped.evidence.some((e) => e.detail === 'given and family name transposed'));
  assert.equal(band(swapped), 'auto');
  const household = { ...mail, addresses: [home] };
  assert.equal(band(assess(household, { ...household, givenName: 'Elizabeth' })), 'apart', 'a family e-mail and address are not one person');
  assert.equal(band(assess({ addresses: [home] }, { addresses: [home] })), 'review', 'same name at the same address, nothing else: a steward decides');
  assert.equal(band(assess({ addresses: [home] }, { addresses: [{ ...home, line1: '99 Oak Road' }] })), 'apart', 'a common name in one postcode is not enough');
  const noGiven = assess({ ...household, givenName: undefined }, household);
  assert.equal(noGiven.namesAgree, false);
  assert.notEqual(band(noGiven), 'auto', 'no first name to agree on: never automatic');
});

test('each decision records its evidence and a score between 0 and 1', () => {
  const x = assess({ phones: ['(415) 555-2671'], addresses: [home] }, { phones: ['+1 415 555 2671'] });
  assert.ok(x.score > 0 && x.score < 1);
  assert.deepEqual(x.evidence.map((e) => e.kind).sort(), ['family name', 'given name', 'phone']);
});

test('blocking keys: contact points and ids alone, names only with a postcode', () => {
  const { match } = record({ givenName: 'Bill', emails: [{ address: 'B.ill@gmail.com', verified: false }], phones: ['+1 415 555 2671'], addresses: [home], references: { loyaltyId: 'LM-9' } });
  const keys = blockingKeys(match);
  assert.ok(keys.includes('e:bill@gmail.com'));
  assert.ok(keys.includes('p:+14155552671'));
  assert.ok(keys.includes('l:LM-9'));
  assert.ok(keys.includes('f:turner|US|62701'));
  assert.ok(keys.includes('g:william|US|62701'), 'a nickname blocks under its formal name');
  assert.ok(keys.every((k) => !/^[fg]:[^|]+$/.test(k)), 'no name-only key');
});

test('decide: deterministic before automatic, other deterministic customers merge too, the rest go to review', () => {
  const incoming = record({ givenName: 'Bill', emails: [{ address: 'wt@example.com', verified: false }], addresses: [home], references: { loyaltyId: 'LM-5' } }).match;
  const byLoyalty = { customerId: 'cus_b', records: [record({ system: 'loyalty', connection: 'loyalty', externalId: 'LM-5', givenName: 'W' }).match] };
  const byScore = { customerId: 'cus_a', records: [record({ emails: [{ address: 'wt@example.com', verified: false }] }).match] };
  const sameAddress = { customerId: 'cus_c', records: [record({ addresses: [home] }).match] };
  const decision = decide(incoming, [byScore, byLoyalty, sameAddress]);
  assert.equal(decision.decision, 'deterministic');
  assert.equal(decision.into?.customerId, 'cus_b');
  assert.deepEqual(decision.alsoMerge, []);
  assert.deepEqual(decision.review.map((v) => v.customerId).sort(), ['cus_a', 'cus_c']);
  assert.equal(decide(incoming, []).into, undefined);
});

test('survivorship: ERP owns the account, loyalty its points, CRM engagement; verified e-mail first; most complete given name', () => {
  const erp = record({ system: 'erp', connection: 'erp', externalId: 'P1', givenName: 'W', attributes: { legalAccount: 'ACME-1', paymentTerms: 'NET30', creditLimit: '5000.00' }, observedAt: '2026-01-01T00:00:00Z' });
  const web = record({ givenName: 'William', emails: [{ address: 'new@example.com', verified: false }], attributes: { legalAccount: 'FAKE' }, observedAt: '2026-11-01T00:00:00Z' });
  const loyalty = record({ system: 'loyalty', connection: 'loyalty', externalId: 'LM-1', emails: [{ address: 'old@example.com', verified: true }], attributes: { loyaltyPoints: 120, loyaltyTier: 'gold' }, observedAt: '2026-06-01T00:00:00Z' });
  const crm = record({ system: 'crm', connection: 'crm', externalId: 'C1', attributes: { engagement: { channel: 'email' }, loyaltyPoints: 9999 } });
  const golden = goldenRecord([erp, web, loyalty, crm].map((r) => ({ id: r.match.id, data: r.data })));
  assert.equal(golden.legalAccount?.value, 'ACME-1');
  assert.equal(golden.legalAccount?.recordId, erp.match.id);
  assert.equal(golden.legalAccount?.rule, 'owned by erp, most-recent');
  assert.equal(golden.loyaltyPoints?.value, 120, 'the CRM cannot set points');
  assert.deepEqual(golden.engagement?.value, { channel: 'email' });
  assert.equal(golden.email?.value, 'old@example.com', 'verified first, though older');
  assert.equal(golden.givenName?.value, 'William');
});

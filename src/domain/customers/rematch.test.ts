import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CustomerRecordInput, type CustomerRecordInput as RecordInput } from '../../model/customer.ts';
import { toMatchRecord } from './match-record.ts';
import { evidenceMayBeLost, mergeStillSupported, newEvidence } from './rematch.ts';

const base: RecordInput = { system: 'channel', connection: 'shopify-us', externalId: 'c-1', givenName: 'Ada', familyName: 'Lovelace', emails: [{ address: 'ada@example.com', verified: false }], observedAt: '2026-11-01T00:00:00Z' };
const match = (overrides: Partial<RecordInput> = {}, id = 'csr_1') => toMatchRecord(id, CustomerRecordInput.parse({ ...base, ...overrides }));

test('new evidence: an e-mail, a verification, a phone, a loyalty id, an ERP account, an address; not a name or points', () => {
  const before = match();
  assert.deepEqual(newEvidence(before, match({ emails: [{ address: 'ADA@example.com', verified: true }] })), ['email verified']);
  assert.deepEqual(newEvidence(before, match({ emails: [...base.emails!, { address: 'a@work.example', verified: true }] })), ['email (verified)']);
  assert.deepEqual(newEvidence(before, match({ phones: ['+12133734253'], references: { loyaltyId: 'M-1', erpPartyId: '7' } })), ['phone', 'loyalty id', 'erp account']);
  assert.deepEqual(newEvidence(before, match({ addresses: [{ line1: '1 Main St', city: 'X', postalCode: '1', country: 'US' }] })), ['address']);
  assert.deepEqual(newEvidence(before, match({ givenName: 'Augusta', attributes: { loyaltyPoints: 5 } })), []);
  assert.deepEqual(newEvidence(before, match({ phones: ['not a phone'] })), [], 'a phone that is not valid takes no part in matching');
});

test('evidence may be lost only when something was dropped or a name changed', () => {
  const before = match({ phones: ['+12133734253'] });
  assert.equal(evidenceMayBeLost(before, match({ phones: ['+12133734253', '+14155550100'] })), false);
  assert.equal(evidenceMayBeLost(before, match({ phones: [] })), true);
  assert.equal(evidenceMayBeLost(before, match({ phones: ['+12133734253'], emails: [] })), true);
  assert.equal(evidenceMayBeLost(before, match({ phones: ['+12133734253'], givenName: 'Augusta' })), true);
});

test('a merge is supported while some pair across its sides meets a rule or the automatic score', () => {
  const loyalty = match({ system: 'loyalty', connection: 'loyalty', externalId: 'M-1', emails: [{ address: 'ada@example.com', verified: true }] }, 'csr_2');
  const web = match({ emails: [{ address: 'ada@example.com', verified: true }] }, 'csr_1');
  assert.equal(mergeStillSupported([web], [loyalty]), true, 'same verified e-mail');
  const moved = match({ emails: [{ address: 'ada@elsewhere.example', verified: true }] }, 'csr_1');
  assert.equal(mergeStillSupported([moved], [loyalty]), false, 'names alone and different e-mails');
  const withPhone = match({ system: 'crm', connection: 'crm', externalId: 'C-1', emails: [], phones: ['+12133734253'] }, 'csr_3');
  assert.equal(mergeStillSupported([match({ emails: [], phones: ['+12133734253'] }, 'csr_1')], [loyalty, withPhone]), true, 'another record of the side still matches');
});

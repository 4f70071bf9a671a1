import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectorRegistry } from '../connectors/registry/connector-registry.ts';
import { checkConnectionsText } from './connections-file.ts';
import { DEFAULT_MATCHING, EVIDENCE_POINTS, decide } from '../domain/customers/matching.ts';
import { DEFAULT_SURVIVORSHIP } from '../domain/customers/survivorship.ts';
import { toMatchRecord } from '../domain/customers/match-record.ts';

const check = (yaml: string) => checkConnectionsText(yaml, connectorRegistry(), {});

test('customers section: overrides keep every default they do not name', () => {
  const { problems, customers } = check(`
customers:
  matching:
    autoThreshold: 0.97
    maxRecordsPerKey: 50
    points: { givenNickname: 1.2 }
  survivorship:
    rules:
      familyName: { rule: most-recent }
    owners: { creditLimit: crm, engagement: null }
`);
  assert.deepEqual(problems, []);
  assert.equal(customers?.matching.autoThreshold, 0.97);
  assert.equal(customers?.matching.reviewThreshold, DEFAULT_MATCHING.reviewThreshold);
  assert.equal(customers?.matching.points?.givenNickname, 1.2);
  assert.equal(customers?.matching.points?.emailSame, EVIDENCE_POINTS.emailSame);
  assert.equal(customers?.maxRecordsPerKey, 50);
  assert.deepEqual(customers?.survivorship.rules.familyName, { rule: 'most-recent' });
  assert.deepEqual(customers?.survivorship.rules.email, DEFAULT_SURVIVORSHIP.rules.email);
  assert.equal(customers?.survivorship.owners.creditLimit, 'crm');
  assert.equal('engagement' in (customers?.survivorship.owners ?? {}), false);
  assert.equal(customers?.survivorship.owners.loyaltyPoints, 'loyalty');
  assert.equal(check('connections: []\n').customers, undefined, 'no section: the defaults');
});

test('customers section: each wrong value is a problem named by its path', () => {
  const { problems } = check(`
customers:
  matching:
    autoThreshold: 1.5
    reviewThreshold: 0.95
    points: { givenNickname: 99, shoeSize: 2 }
  survivorship:
    rules:
      familyName: { rule: source-priority, order: [erp, erp] }
      favouriteColour: { rule: most-recent }
    owners: { creditLimit: bank }
  colour: blue
`);
  const text = problems.join('\n');
  assert.match(text, /customers\.matching\.autoThreshold: must be between 0 and 1/);
  assert.match(text, /customers\.matching\.points\.givenNickname: must be between -20 and 20/);
  assert.match(text, /customers\.matching\.points.*shoeSize/);
  assert.match(text, /customers\.survivorship\.rules\.familyName\.order: must not name a system twice/);
  assert.match(text, /customers\.survivorship\.rules.*favouriteColour/);
  assert.match(text, /customers\.survivorship\.owners\.creditLimit/);
  assert.match(text, /customers.*colour/);
  const order = check('customers:\n  matching: { autoThreshold: 0.8, reviewThreshold: 0.85 }\n').problems;
  assert.deepEqual(order, ['customers.matching.reviewThreshold: must not be above autoThreshold (0.8)']);
});

test('configured thresholds and points change the decision', () => {
  const base = { system: 'channel' as const, connection: 'web', emails: [], phones: [], addresses: [{ line1: '1 Elm Street', city: 'X', postalCode: '10001', country: 'US' }], references: {}, attributes: {}, observedAt: '2026-11-01T00:00:00Z' };
  const a = toMatchRecord('a', { ...base, externalId: 'a', givenName: 'William', familyName: 'Hart', phones: ['+12125550100'] });
  const b = toMatchRecord('b', { ...base, externalId: 'b', givenName: 'Bill', familyName: 'Hart', phones: ['+12125550100'] });
  const candidates = [{ customerId: 'c1', records: [a] }];
  assert.equal(decide(b, candidates).decision, 'automatic');
  const strict = check('customers:\n  matching: { autoThreshold: 0.9999 }\n').customers!.matching;
  const stricter = decide(b, candidates, strict);
  assert.equal(stricter.decision, undefined);
  assert.equal(stricter.review.length, 1, 'between the thresholds: a steward decides');
  const noNicknames = check('customers:\n  matching: { points: { givenNickname: -5 } }\n').customers!.matching;
  assert.equal(decide(b, candidates, noNicknames).decision, undefined);
});

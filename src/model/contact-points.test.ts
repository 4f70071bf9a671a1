import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeAddress, normalizeEmail, normalizePhone } from './contact-points.ts';

test('e-mails fold case everywhere, and gmail dots and plus tags only where the provider ignores them', () => {
  assert.equal(normalizeEmail(' Ada.Lovelace@Example.COM '), 'ada.lovelace@example.com');
  assert.equal(normalizeEmail('a.d.a+shop@gmail.com'), 'ada@gmail.com');
  assert.equal(normalizeEmail('ADA@googlemail.com'), 'ada@gmail.com');
  assert.equal(normalizeEmail('ada+news@example.com'), 'ada+news@example.com', 'other providers keep plus tags');
  assert.equal(normalizeEmail('a.da@outlook.com'), 'a.da@outlook.com', 'and dots');
  assert.equal(normalizeEmail('not-an-email'), undefined);
  assert.equal(normalizeEmail('+tag@gmail.com'), undefined, 'nothing left of the mailbox');
});

test('phones become E.164; national numbers read in the given country; invalid numbers are refused', () => {
  assert.equal(normalizePhone('(213) 373-4253', 'US'), '+12133734253');
  assert.equal(normalizePhone('+1 213.373.4253'), '+12133734253');
  assert.equal(normalizePhone('06 12 34 56 78', 'FR'), '+33612345678');
  assert.equal(normalizePhone('+44 20 7946 0958'), '+442079460958');
  assert.equal(normalizePhone('12345', 'US'), undefined);
  assert.equal(normalizePhone('call me'), undefined);
});

test('addresses compare equal whatever the case, punctuation, accents and street abbreviations', () => {
  const a = normalizeAddress({ line1: '12 Main Street', line2: 'Apartment 4', postalCode: '62701', country: 'US' });
  const b = normalizeAddress({ line1: '12 MAIN ST.', line2: 'apt 4', postalCode: '62701', country: 'us' });
  assert.equal(a, b);
  assert.equal(normalizeAddress({ line1: '1 Rue de l’Église', postalCode: '75001', country: 'FR' }), normalizeAddress({ line1: '1 rue de l eglise', postalCode: '75 001', country: 'FR' }));
  assert.notEqual(a, normalizeAddress({ line1: '14 Main Street', line2: 'Apartment 4', postalCode: '62701', country: 'US' }));
  assert.equal(normalizeAddress({ line1: 'SW1A 1AA place', postalCode: 'sw1a 1aa', country: 'GB' }).split('|')[1], 'SW1A1AA');
});

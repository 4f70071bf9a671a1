import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConsentRecord } from '../../model/consent.ts';
import { consentFor, currentConsents } from './consent.ts';

let serial = 0;
const s = (status: 'granted' | 'withdrawn', at: string, channel: string | null = null, purpose: ConsentRecord['purpose'] = 'email_marketing'): ConsentRecord => ({
  id: `cns_${String(++serial).padStart(2, '0')}`,
  customerId: 'cus_x',
  purpose,
  channel,
  status,
  source: { system: 'syncline', connection: null },
  at: `2026-11-01T10:${at}:00.000Z`,
  proof: null,
  recordedAt: `2026-11-02T00:00:${String(serial).padStart(2, '0')}.000Z`,
});

// [case, statements, channel asked, expected status (undefined: no consent stated)]
const cases: [string, ConsentRecord[], string | null, 'granted' | 'withdrawn' | undefined][] = [
  ['nothing stated', [], null, undefined],
  ['one grant for every channel', [s('granted', '00')], 'web', 'granted'],
  ['a later withdrawal wins', [s('granted', '00'), s('withdrawn', '05')], null, 'withdrawn'],
  ['a later grant wins', [s('withdrawn', '00'), s('granted', '05')], null, 'granted'],
  ['order of arrival does not matter, the time given does', [s('withdrawn', '05'), s('granted', '00')], null, 'withdrawn'],
  ['same time: the withdrawal wins', [s('granted', '05'), s('withdrawn', '05')], null, 'withdrawn'],
  ['same time, withdrawal first: still the withdrawal', [s('withdrawn', '05'), s('granted', '05')], null, 'withdrawn'],
  ['a withdrawal for every channel beats an older grant on a channel', [s('granted', '00', 'web'), s('withdrawn', '05')], 'web', 'withdrawn'],
  ['a later grant on a channel beats an older withdrawal for every channel, there', [s('withdrawn', '00'), s('granted', '05', 'web')], 'web', 'granted'],
  ['... but not on another channel', [s('withdrawn', '00'), s('granted', '05', 'web')], 'pos', 'withdrawn'],
  ['... nor for every channel', [s('withdrawn', '00'), s('granted', '05', 'web')], null, 'withdrawn'],
  ['a withdrawal on one channel leaves the others granted', [s('granted', '00'), s('withdrawn', '05', 'web')], 'pos', 'granted'],
  ['a withdrawal on one channel holds there', [s('granted', '00'), s('withdrawn', '05', 'web')], 'web', 'withdrawn'],
  ['same time on a channel and for every channel: withdrawal wins', [s('granted', '05', 'web'), s('withdrawn', '05')], 'web', 'withdrawn'],
  ['a statement on another channel does not apply', [s('granted', '00', 'pos')], 'web', undefined],
  ['another purpose does not apply', [s('withdrawn', '09', null, 'profiling'), s('granted', '00')], null, 'granted'],
];

for (const [name, history, channel, expected] of cases) {
  test(`consent precedence: ${name}`, () => {
    assert.equal(consentFor(history, 'email_marketing', channel)?.status, expected);
  });
}

test('the current state lists every channel and each named channel, per purpose', () => {
  const history = [s('granted', '00'), s('withdrawn', '05', 'web'), s('granted', '01', null, 'sms_marketing'), s('withdrawn', '02', 'pos', 'sms_marketing')];
  assert.deepEqual(
    currentConsents(history).map((c) => `${c.purpose}/${c.channel ?? '*'}=${c.status}`),
    ['email_marketing/*=granted', 'email_marketing/web=withdrawn', 'sms_marketing/*=granted', 'sms_marketing/pos=withdrawn'],
  );
});

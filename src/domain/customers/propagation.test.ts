import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planConsent, planErasure, planMerge, planUnmerge, type RecordIds } from './propagation.ts';

const r = (recordId: string, system: string, sourceId: string, connection = system): RecordIds => ({ recordId, system, connection, sourceId });
const survivor = [r('a1', 'erp', '7'), r('a2', 'loyalty', 'ada@example.com'), r('a3', 'channel', 'web-1', 'shopify-us')];
const moved = [r('b1', 'erp', '9'), r('b2', 'crm', '1002'), r('b3', 'loyalty', 'ada.l@example.com')];

test('a merge acts where both sides hold a record of the connection; channels are left out', () => {
  assert.deepEqual(planMerge([...survivor, ...moved], ['b1', 'b2', 'b3']), [
    { system: 'erp', connection: 'erp', action: { kind: 'merge', into: '7', merged: ['9'] } },
    { system: 'loyalty', connection: 'loyalty', action: { kind: 'merge', into: 'ada@example.com', merged: ['ada.l@example.com'] } },
    { system: 'crm', connection: 'crm', action: { kind: 'none', reason: 'only the merged customer has a record here' } },
  ]);
  // Two ERP connections: each its own task.
  const tasks = planMerge([r('a1', 'erp', '7', 'erp-eu'), r('b1', 'erp', '9', 'erp-us')], ['b1']);
  assert.deepEqual(tasks.map((t) => [t.connection, t.action.kind]), [['erp-eu', 'none'], ['erp-us', 'none']]);
});

test('an unmerge acts where the survivor still holds a record of the connection', () => {
  assert.deepEqual(planUnmerge(survivor, moved), [
    { system: 'erp', connection: 'erp', action: { kind: 'unmerge', restored: ['9'] } },
    { system: 'crm', connection: 'crm', action: { kind: 'none', reason: 'the merge combined nothing here' } },
    { system: 'loyalty', connection: 'loyalty', action: { kind: 'unmerge', restored: ['ada.l@example.com'] } },
  ]);
});

test('consent goes to the CRM and loyalty, not to the ERP nor back to where it came from', () => {
  const consent = { purpose: 'email_marketing' as const, channel: 'email', status: 'withdrawn' as const, at: '2026-11-20T09:00:00Z', proof: null };
  const tasks = planConsent([...survivor, ...moved], consent, { system: 'loyalty', connection: 'loyalty' });
  assert.deepEqual(Object.fromEntries(tasks.map((t) => [t.system, t.action.kind])), { erp: 'none', loyalty: 'none', crm: 'consent' });
  assert.deepEqual(planConsent(moved, consent, { system: 'channel', connection: null }).find((t) => t.system === 'crm')!.action, { kind: 'consent', targets: ['1002'], consent });
});

test('an erasure goes to every system; a channel record is the channel’s', () => {
  assert.deepEqual(planErasure([...survivor, ...moved]).map((t) => [t.system, t.action.kind === 'erase' ? t.action.targets : t.action.kind]), [
    ['erp', ['7', '9']],
    ['loyalty', ['ada@example.com', 'ada.l@example.com']],
    ['channel', 'none'],
    ['crm', ['1002']],
  ]);
});

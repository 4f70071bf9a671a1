import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../config/config.ts';
import { loadCustomerKeyring, GENERATED_KEYS_FILE } from './customer-keys.ts';

test('without configured keys, keys are generated into the data folder once, said in the log, and read back after', () => {
  const dir = mkdtempSync(join(tmpdir(), 'syncline-keys-'));
  const logged: string[] = [];
  const first = loadCustomerKeyring(undefined, dir, (message) => logged.push(message));
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, /customer data keys generated into .*customer-keys\.json/);
  assert.equal(statSync(join(dir, GENERATED_KEYS_FILE)).mode & 0o777, 0o600);
  const again = loadCustomerKeyring(undefined, dir, (message) => logged.push(message));
  assert.equal(logged.length, 1, 'the second start says nothing');
  assert.equal(again.activeKekId, first.activeKekId);
  assert.deepEqual(again.keks.get(again.activeKekId), first.keks.get(first.activeKekId));
  assert.deepEqual(again.indexKey, first.indexKey);
});

test('the key variables: each mistake is a configuration error naming the variable, never the key', () => {
  const key = Buffer.alloc(32, 1).toString('base64');
  const index = Buffer.alloc(32, 2).toString('base64');
  const ok = loadConfig({ SYNCLINE_CUSTOMER_KEYS: `a=${key},b=${key}`, SYNCLINE_CUSTOMER_ACTIVE_KEY: 'b', SYNCLINE_CUSTOMER_INDEX_KEY: index }).customerKeys;
  assert.equal(ok?.activeKekId, 'b');
  assert.equal(ok?.keks.length, 2);
  assert.equal(loadConfig({ SYNCLINE_CUSTOMER_KEYS: `a=${key}`, SYNCLINE_CUSTOMER_INDEX_KEY: index }).customerKeys?.activeKekId, 'a', 'one key: the active one');
  assert.equal(loadConfig({}).customerKeys, undefined);
  const cases: [Record<string, string>, RegExp][] = [
    [{ SYNCLINE_CUSTOMER_KEYS: `a=${key}` }, /SYNCLINE_CUSTOMER_INDEX_KEY is required/],
    [{ SYNCLINE_CUSTOMER_KEYS: `a=${Buffer.alloc(16).toString('base64')}`, SYNCLINE_CUSTOMER_INDEX_KEY: index }, /key "a" must be 32 bytes.*got 16/],
    [{ SYNCLINE_CUSTOMER_KEYS: 'not a key list', SYNCLINE_CUSTOMER_INDEX_KEY: index }, /SYNCLINE_CUSTOMER_KEYS must look like/],
    [{ SYNCLINE_CUSTOMER_KEYS: `a=${key},b=${key}`, SYNCLINE_CUSTOMER_INDEX_KEY: index }, /SYNCLINE_CUSTOMER_ACTIVE_KEY is required/],
    [{ SYNCLINE_CUSTOMER_KEYS: `a=${key}`, SYNCLINE_CUSTOMER_ACTIVE_KEY: 'z', SYNCLINE_CUSTOMER_INDEX_KEY: index }, /"z" is not one of the keys/],
    [{ SYNCLINE_CUSTOMER_KEYS: `a=${key}`, SYNCLINE_CUSTOMER_INDEX_KEY: 'c2hvcnQ=' }, /SYNCLINE_CUSTOMER_INDEX_KEY must be base64 of at least 32/],
    [{ SYNCLINE_CUSTOMER_INDEX_KEY: index }, /SYNCLINE_CUSTOMER_KEYS is required/],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => loadConfig(env), (error: Error) => message.test(error.message) && !error.message.includes(key), JSON.stringify(Object.keys(env)));
  }
});

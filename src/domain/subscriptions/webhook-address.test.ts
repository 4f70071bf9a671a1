import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressRefusal, webhookUrlRefusal } from './webhook-address.ts';

test('addresses by network setting', () => {
  for (const internal of ['10.0.0.1', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', 'fe80::1', 'fd12::1', '::', '::ffff:192.168.1.1']) {
    assert.ok(addressRefusal(internal, 'loopback'), internal);
    assert.ok(addressRefusal(internal, 'public'), internal);
    assert.equal(addressRefusal(internal, 'any'), undefined, internal);
  }
  for (const loopback of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1']) {
    assert.equal(addressRefusal(loopback, 'loopback'), undefined, loopback);
    assert.match(addressRefusal(loopback, 'public')!, /loopback/, loopback);
  }
  for (const open of ['93.184.215.14', '2606:4700::1111', '172.32.0.1']) assert.equal(addressRefusal(open, 'public'), undefined, open);
});

test('URLs: scheme, credentials, names resolved to every address', async () => {
  const dns = async (host: string) => ({ 'crm.example': ['93.184.215.14'], 'sneaky.example': ['93.184.215.14', '10.0.0.7'], 'local.example': ['127.0.0.1'] })[host] ?? [];
  assert.equal(await webhookUrlRefusal('https://crm.example/hooks', 'public', dns), undefined);
  assert.match((await webhookUrlRefusal('http://crm.example/hooks', 'loopback', dns))!, /https/);
  assert.equal(await webhookUrlRefusal('http://crm.example/hooks', 'any', dns), undefined);
  assert.match((await webhookUrlRefusal('https://sneaky.example/', 'loopback', dns))!, /10\.0\.0\.7/);
  assert.equal(await webhookUrlRefusal('http://local.example:8080/', 'loopback', dns), undefined);
  assert.match((await webhookUrlRefusal('http://local.example:8080/', 'public', dns))!, /loopback/);
  assert.match((await webhookUrlRefusal('https://nowhere.example/', 'loopback', dns))!, /does not resolve/);
  assert.match((await webhookUrlRefusal('https://a:b@crm.example/', 'loopback', dns))!, /credentials/);
  assert.match((await webhookUrlRefusal('https://crm.example/#x', 'loopback', dns))!, /fragment/);
  assert.match((await webhookUrlRefusal('gopher://crm.example/', 'loopback', dns))!, /https/);
});

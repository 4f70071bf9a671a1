import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from './config.ts';

test('NATS is off unless SYNCLINE_NATS_URL is set, with the documented defaults when it is', () => {
  assert.equal(loadConfig({}).nats, undefined);
  assert.deepEqual(loadConfig({ SYNCLINE_NATS_URL: 'nats://127.0.0.1:4222' }).nats, {
    servers: ['nats://127.0.0.1:4222'],
    stream: 'SYNCLINE',
    subjectPrefix: 'syncline',
    auth: undefined,
  });
  const nats = loadConfig({ SYNCLINE_NATS_URL: 'nats://a:4222,tls://b:4222', SYNCLINE_NATS_STREAM: 'EVENTS', SYNCLINE_NATS_SUBJECT_PREFIX: 'shop.eu', SYNCLINE_NATS_USER: 'u', SYNCLINE_NATS_PASSWORD: 'pw-value' }).nats;
  assert.deepEqual(nats, { servers: ['nats://a:4222', 'tls://b:4222'], stream: 'EVENTS', subjectPrefix: 'shop.eu', auth: { user: 'u', password: 'pw-value' } });
  assert.deepEqual(loadConfig({ SYNCLINE_NATS_URL: 'nats://a:4222', SYNCLINE_NATS_TOKEN: 't' }).nats?.auth, { token: 't' });
});

test('bad NATS settings are refused with the variable named and no secret shown', () => {
  const refuses = (env: Record<string, string>, pattern: RegExp, secret?: string) =>
    assert.throws(() => loadConfig(env), (error: Error) => pattern.test(error.message) && (!secret || !error.message.includes(secret)));
  refuses({ SYNCLINE_NATS_URL: 'http://a:4222' }, /SYNCLINE_NATS_URL must be a nats:\/\/ or tls:\/\/ URL/);
  refuses({ SYNCLINE_NATS_URL: 'nats://a', SYNCLINE_NATS_STREAM: 'bad.name' }, /SYNCLINE_NATS_STREAM/);
  refuses({ SYNCLINE_NATS_URL: 'nats://a', SYNCLINE_NATS_SUBJECT_PREFIX: 'a.>' }, /SYNCLINE_NATS_SUBJECT_PREFIX/);
  refuses({ SYNCLINE_NATS_URL: 'nats://a', SYNCLINE_NATS_USER: 'u' }, /SYNCLINE_NATS_USER, SYNCLINE_NATS_PASSWORD must be set together/);
  refuses({ SYNCLINE_NATS_URL: 'nats://a', SYNCLINE_NATS_TOKEN: 'tok-secret', SYNCLINE_NATS_CREDS_FILE: '/x.creds' }, /only one NATS credential/, 'tok-secret');
  refuses({ SYNCLINE_NATS_TOKEN: 'tok-secret' }, /SYNCLINE_NATS_TOKEN is set but SYNCLINE_NATS_URL is not/, 'tok-secret');
});

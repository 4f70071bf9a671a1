import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyHttpStatus, parseRetryAfter, redactExcerpt, targetErrorFromResponse } from './target-errors.ts';

test('HTTP statuses map to retry classes', () => {
  assert.equal(classifyHttpStatus(429), 'throttled');
  assert.equal(classifyHttpStatus(503, true), 'throttled');
  assert.equal(classifyHttpStatus(503), 'transient');
  assert.equal(classifyHttpStatus(500), 'transient');
  for (const status of [408, 409]) assert.equal(classifyHttpStatus(status), 'transient');
  for (const status of [400, 401, 403, 404, 422]) assert.equal(classifyHttpStatus(status), 'permanent');
});

test('Retry-After as seconds, HTTP date or epoch reset', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('2', now)!.toISOString(), '2026-01-01T00:00:02.000Z');
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', now)!.toISOString(), '2026-01-01T00:01:00.000Z');
  assert.equal(parseRetryAfter(String(now / 1000 + 60), now)!.toISOString(), '2026-01-01T00:01:00.000Z');
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(undefined, now), undefined);
});

test('excerpts lose credentials and long bodies', () => {
  const excerpt = redactExcerpt({
    request: { method: 'POST', url: 'https://erp.example/api?access_token=abc&x=1', headers: { Authorization: 'Bearer s3cret', Accept: 'json' }, body: '{"password":"hunter2","sku":"X"}' },
    response: { status: 401, headers: { 'set-cookie': 'sid=1' }, body: 'x'.repeat(5000) },
  });
  assert.equal(excerpt.request!.headers!.Authorization, '[redacted]');
  assert.equal(excerpt.request!.headers!.Accept, 'json');
  assert.equal(excerpt.request!.url, 'https://erp.example/api?access_token=[redacted]&x=1');
  assert.equal(excerpt.request!.body, '{"password":"[redacted]","sku":"X"}');
  assert.equal(excerpt.response!.headers!['set-cookie'], '[redacted]');
  assert.ok(excerpt.response!.body!.length < 2200);
});

test('a failed response becomes a classified TargetError with its excerpt', async () => {
  const error = await targetErrorFromResponse('erp:main', new Response('{"error":"rate","token":"t"}', { status: 429, headers: { 'retry-after': '3' } }));
  assert.equal(error.retry, 'throttled');
  assert.equal(error.code, 'TARGET_HTTP_429');
  assert.ok(error.retryAt!.getTime() > Date.now() + 2000);
  assert.equal(error.excerpt!.response!.body, '{"error":"rate","token":"[redacted]"}');
  const invalid = await targetErrorFromResponse('erp:main', new Response('bad sku', { status: 422 }));
  assert.equal(invalid.retry, 'permanent');
  assert.match(invalid.remediation!, /correct the data/);
});

test('503 with Retry-After or a rate-limit reset is throttled until then; without one it is transient', async () => {
  const withRetryAfter = await targetErrorFromResponse('erp:main', new Response('busy', { status: 503, headers: { 'retry-after': '5' } }));
  assert.equal(withRetryAfter.retry, 'throttled');
  assert.ok(withRetryAfter.retryAt!.getTime() > Date.now() + 4000);
  const reset = Math.ceil(Date.now() / 1000) + 30;
  const withReset = await targetErrorFromResponse('shopify:acme', new Response('', { status: 429, headers: { 'x-ratelimit-reset': String(reset) } }));
  assert.equal(withReset.retry, 'throttled');
  assert.equal(withReset.retryAt!.getTime(), reset * 1000);
  const plain = await targetErrorFromResponse('erp:main', new Response('oops', { status: 503 }));
  assert.equal(plain.retry, 'transient');
  assert.equal(plain.retryAt, undefined);
  assert.equal(plain.remediation, undefined);
});

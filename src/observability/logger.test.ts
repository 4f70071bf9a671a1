import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger, loggableUrl } from './logger.ts';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: createLogger('info', stream) };
}

test('credentials and personal data never reach the log', () => {
  const { lines, logger } = capture();
  logger.info(
    {
      req: { headers: { authorization: 'Bearer eyJhbGciOi.secret.token' } },
      body: { client_secret: 's3cret', customer: { email: 'ada@example.com', name: 'Ada' }, shippingAddress: { line1: '1 Main St' } },
      correlationId: 'corr-1',
    },
    'request',
  );
  const line = lines.join('');
  for (const leak of ['eyJhbGciOi', 's3cret', 'ada@example.com', '1 Main St']) assert.ok(!line.includes(leak), `${leak} leaked`);
  const entry = JSON.parse(line);
  assert.equal(entry.correlationId, 'corr-1');
  assert.equal(entry.level, 'info');
  assert.equal(entry.msg, 'request');
});

test('a customer record, a golden record and a consent proof logged by mistake are redacted', () => {
  const { lines, logger } = capture();
  logger.info(
    {
      record: { givenName: 'Grace', familyName: 'Hopper', emails: [{ address: 'grace@example.com' }], phones: ['+14155552671'], addresses: [{ line1: '9 Navy Way' }], externalId: 'LM-1' },
      customer: { golden: { email: { value: 'grace@example.com' } } },
      consent: { purpose: 'email_marketing', proof: 'signed by Grace Hopper' },
    },
    'customer',
  );
  const line = lines.join('');
  for (const leak of ['Grace', 'Hopper', 'grace@example.com', '4155552671', '9 Navy Way']) assert.ok(!line.includes(leak), `${leak} leaked: ${line}`);
  const entry = JSON.parse(line);
  assert.equal(entry.record.externalId, 'LM-1', 'ids stay');
  assert.equal(entry.consent.purpose, 'email_marketing');
});

test('database errors are logged without the statement parameters', () => {
  const { lines, logger } = capture();
  const error = Object.assign(new Error('duplicate key value'), { code: '23505', params: ['ada@example.com'], query: 'INSERT ...' });
  logger.error({ err: error }, 'failed');
  const entry = JSON.parse(lines.join(''));
  assert.equal(entry.err.message, 'duplicate key value');
  assert.equal(entry.err.code, '23505');
  assert.equal(entry.err.params, undefined);
  assert.ok(!lines.join('').includes('ada@example.com'));
});

test('logged URLs keep the shape and lose query values and personal path segments', () => {
  assert.equal(loggableUrl('/v1/customers/ada%40example.com/timeline'), '/v1/customers/[redacted]/timeline');
  assert.equal(loggableUrl('/v1/customers/+1%20555%200100/timeline'), '/v1/customers/[redacted]/timeline');
  assert.equal(loggableUrl('/v1/orders/ord_01jd5q8x7m2v3k4n5p6r7s8t9w?channel=web&client_secret=s3cret'), '/v1/orders/ord_01jd5q8x7m2v3k4n5p6r7s8t9w?channel=[redacted]&client_secret=[redacted]');
  assert.ok(loggableUrl(`/v1/${'a'.repeat(5000)}`).length < 600);
});

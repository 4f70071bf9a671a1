import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from './logger.ts';
import { requestLoggerFactory } from './request-logger.ts';

/** A process logger at `level` whose lines are collected, and the pino children it makes. */
function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger(level, stream);
  let children = 0;
  // Children inherit from their parent (pino), so the spy counts grandchildren too and keeps `this`.
  const child = logger.child;
  logger.child = function (this: typeof logger, ...args: Parameters<typeof child>) {
    children += 1;
    return child.apply(this, args);
  } as typeof logger.child;
  return { logger, lines, children: () => children };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

test('a request logger makes no child while nothing reaches the level, and writes as the child once something does', async () => {
  const { logger, lines, children } = capture('warn');
  const log = requestLoggerFactory(logger, { correlationId: 'c-1' }, {});
  log.info({ req: { method: 'POST' } }, 'incoming request');
  log.debug('details');
  assert.equal(children(), 0);
  assert.equal(log.level, 'warn');
  log.error({ err: new Error('boom'), order: { email: 'ada@example.com' } }, 'request failed');
  log.warn('second line');
  await flush();
  assert.equal(children(), 1);
  assert.equal(lines.length, 2);
  // The child's bindings, serialisers and redaction apply.
  assert.equal(lines[0]!.correlationId, 'c-1');
  assert.equal(lines[0]!.msg, 'request failed');
  assert.equal((lines[0]!.err as { message: string }).message, 'boom');
  assert.deepEqual(lines[0]!.order, { email: '[redacted]' });
  assert.equal(lines[1]!.correlationId, 'c-1');
});

test('at info every line is written with the correlation id, and a route with its own level gets a plain child', async () => {
  const { logger, lines, children } = capture('info');
  const log = requestLoggerFactory(logger, { correlationId: 'c-2' }, {});
  log.info('incoming request');
  log.child({ part: 'x' }).info('from a grandchild');
  await flush();
  assert.deepEqual(
    lines.map((l) => [l.correlationId, l.msg]),
    [
      ['c-2', 'incoming request'],
      ['c-2', 'from a grandchild'],
    ],
  );
  assert.equal(children(), 2);
  const own = requestLoggerFactory(logger, { correlationId: 'c-3' }, { level: 'error' });
  assert.equal(own.level, 'error');
  assert.equal(children(), 3);
});

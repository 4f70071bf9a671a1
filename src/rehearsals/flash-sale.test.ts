import assert from 'node:assert/strict';
import { test } from 'node:test';
import { peakLoad } from './flash-sale.ts';

const settings = (options: Parameters<typeof peakLoad>[0]) => peakLoad(options, { hotStock: 20 }).settings;

test('without a duration the 20-minute peak is compressed by the time factor', () => {
  assert.deepEqual([settings({}).peakSeconds, settings({}).timeFactor, settings({}).nominalPeakMinutes], [20, 60, 20]);
  assert.deepEqual([settings({ timeFactor: 10 }).peakSeconds, settings({ timeFactor: 10 }).nominalPeakMinutes], [120, 20]);
});

test('a peak given by --duration is labelled as run, or as compressed when a time factor is given too', () => {
  const asRun = settings({ durationSeconds: 1200 });
  assert.deepEqual([asRun.peakSeconds, asRun.timeFactor, asRun.nominalPeakMinutes], [1200, 1, 20]);
  const short = settings({ durationSeconds: 30 });
  assert.deepEqual([short.peakSeconds, short.timeFactor, short.nominalPeakMinutes], [30, 1, 0.5]);
  const compressed = settings({ durationSeconds: 30, timeFactor: 40 });
  assert.deepEqual([compressed.peakSeconds, compressed.timeFactor, compressed.nominalPeakMinutes], [30, 40, 20]);
});

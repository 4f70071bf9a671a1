import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeSameSkuLines } from './reservation-lines.ts';

test('lines of the same SKU and location merge; other locations stay apart', () => {
  const line = (sku: string, quantity: number, locationId?: string) => ({ sku, quantity, locationId, locationCode: locationId });
  assert.deepEqual(mergeSameSkuLines([line('A', 2), line('B', 1), line('A', 3), line('A', 4, 'loc_1'), line('A', 1, 'loc_1'), line('A', 5, 'loc_2')]), [
    line('A', 5),
    line('B', 1),
    line('A', 5, 'loc_1'),
    line('A', 5, 'loc_2'),
  ]);
});

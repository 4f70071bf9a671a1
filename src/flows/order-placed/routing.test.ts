import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_ROUTING, planRoute, type LocationStock } from './routing.ts';

const at = (code: string, kind: LocationStock['kind'], stock: Record<string, number>): LocationStock[] =>
  Object.entries(stock).map(([sku, available]) => ({ locationId: `loc_${code}`, code, kind, sku, available }));

const lines = [
  { lineNumber: 1, sku: 'A', quantity: 2 },
  { lineNumber: 2, sku: 'B', quantity: 1 },
];

test('one location that ships everything wins over a split, even a lower-ranked kind', () => {
  const route = planRoute(lines, [...at('WH', 'warehouse', { A: 5 }), ...at('STORE', 'store', { A: 2, B: 1 })], DEFAULT_ROUTING);
  assert.equal(route.kind, 'routed');
  assert.deepEqual(route.kind === 'routed' && route.groups.map((g) => [g.locationCode, g.lines.length]), [['STORE', 2]]);
});

test('among locations that ship everything, kind order then priority then code decide', () => {
  const stock = [...at('WH-B', 'warehouse', { A: 9, B: 9 }), ...at('WH-A', 'warehouse', { A: 9, B: 9 }), ...at('STORE', 'store', { A: 9, B: 9 })];
  const first = (policy = DEFAULT_ROUTING) => {
    const route = planRoute(lines, stock, policy);
    return route.kind === 'routed' ? route.groups[0]!.locationCode : 'short';
  };
  assert.equal(first(), 'WH-A');
  assert.equal(first({ ...DEFAULT_ROUTING, priorities: { 'WH-B': 1 } }), 'WH-B');
  assert.equal(first({ kinds: ['store', 'warehouse'], priorities: {} }), 'STORE');
});

test('split: each line whole where possible; a line no location holds whole is split; disallowed kinds are ignored', () => {
  const split = planRoute(lines, [...at('WH', 'warehouse', { A: 2 }), ...at('STORE', 'store', { B: 1 })], DEFAULT_ROUTING);
  assert.deepEqual(split.kind === 'routed' && split.groups.map((g) => [g.locationCode, g.lines.map((l) => l.sku)]), [
    ['WH', ['A']],
    ['STORE', ['B']],
  ]);
  const partial = planRoute([{ lineNumber: 1, sku: 'A', quantity: 3 }], [...at('WH', 'warehouse', { A: 2 }), ...at('WH2', 'warehouse', { A: 2 })], DEFAULT_ROUTING);
  assert.deepEqual(partial.kind === 'routed' && partial.groups.map((g) => [g.locationCode, g.lines[0]!.quantity]), [
    ['WH', 2],
    ['WH2', 1],
  ]);
  const noStores = planRoute(lines, [...at('WH', 'warehouse', { A: 2 }), ...at('STORE', 'store', { B: 1 })], { kinds: ['warehouse'], priorities: {} });
  assert.deepEqual(noStores, { kind: 'short', lines: [{ lineNumber: 2, sku: 'B', requested: 1, available: 0 }] });
});

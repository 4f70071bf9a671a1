import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTrytonJson, TrytonDate, TrytonDateTime, TrytonDecimal, trytonReviver } from './tryton-wire.ts';

test('parseTrytonJson decodes what JSON.parse with the reviver decodes, tags nested or escaped', () => {
  const bodies = [
    '{"id":1,"method":"model.sale.sale.search_read","params":[[["reference","=","ord_1"]],0,null,[["id","ASC"]],["state"],{"locale":{"date":"%m/%d/%Y"}}]}',
    '{"id":2,"result":[{"id":3,"total_amount":{"__class__":"Decimal","decimal":"25.00"},"sale_date":{"__class__":"date","year":2026,"month":12,"day":2}}]}',
    '{"id":3,"result":{"create_date":{"__class__":"datetime","year":2026,"month":12,"day":2,"hour":7,"minute":5,"second":9,"microsecond":295689},"lines":[[{"unit_price":{"__class__":"Decimal","decimal":"-1.5"}}]]}}',
    // A key spelled with escapes is still __class__.
    '{"id":4,"result":{"\\u005f_class__":"Decimal","decimal":"3"}}',
    '{"id":5,"error":["UserError",["line \\"1\\" is short",null,null]],"__class__x":1}',
    '[{"__class__":"unknown","decimal":"1"},{"__class__":"Decimal","decimal":7}]',
    '"just text"',
    'null',
  ];
  for (const body of bodies) assert.deepEqual(parseTrytonJson(body), JSON.parse(body, trytonReviver), body);
  const [sale] = (parseTrytonJson(bodies[1]!) as { result: Record<string, unknown>[] }).result;
  assert.ok(sale!.total_amount instanceof TrytonDecimal);
  assert.ok(sale!.sale_date instanceof TrytonDate);
  assert.ok((parseTrytonJson(bodies[2]!) as { result: { create_date: unknown } }).result.create_date instanceof TrytonDateTime);
  assert.ok((parseTrytonJson(bodies[3]!) as { result: unknown }).result instanceof TrytonDecimal);
  assert.throws(() => parseTrytonJson('{"x":{"__class__":"Decimal","decimal":"1e5"}}'), RangeError);
});

import fc from 'fast-check';

/**
 * fast-check arbitraries from the JSON Schemas of an OpenAPI document: valid-ish
 * values (they follow types, enums, patterns, formats and bounds where they can,
 * so most reach the deeper layers), then hostile mutations of them (wrong types,
 * huge strings, NUL, lone surrogates, numbers at the edges, missing and extra
 * fields), and generic hostile bodies for routes that declare no schema.
 */

export type JsonSchema = Record<string, unknown>;
type Json = unknown;

/** Strings and values that have broken parsers, databases and loggers before. */
export const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  'x\ud800',
  '\udfff',
  '\ud83d',
  '\u202eevil',
  '\ufeffbom',
  '😀'.repeat(50),
  "' OR '1'='1' --",
  '"; DROP TABLE orders; --',
  '../../etc/passwd',
  '%00',
  '%',
  '{{7*7}}',
  '${jndi:ldap://x}',
  '<script>alert(1)</script>',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  '2026-02-30T10:00:00Z',
  '-1',
  '1e309',
  'NaN',
  'null',
  '__proto__',
  'ord_',
  'loc_',
];

export const HOSTILE_NUMBERS = [0, -1, 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 2, -(2 ** 53) - 2, 1e308, -1e308, 0.5, 1e-9, 1_000_000_001, 999_999_999_999];

const hostileString = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 200_000 }).map((n) => 'A'.repeat(n)) },
);

/** A hostile JSON value of any type. */
export const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 5, arbitrary: hostileString },
  { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_NUMBERS) },
  { weight: 1, arbitrary: fc.constantFrom<Json>(null, true, false, [], {}, [null], { '': '' }, JSON.parse('{"__proto__":{"admin":true}}') as Json) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

export class SchemaArbitraries {
  readonly #components: Record<string, JsonSchema>;

  constructor(components: Record<string, JsonSchema>) {
    this.#components = components;
  }

  #resolve(schema: JsonSchema): JsonSchema {
    let current = schema;
    for (let hops = 0; typeof current.$ref === 'string' && hops < 20; hops++) {
      const name = current.$ref.replace(/^#\/components\/schemas\//, '');
      const target = this.#components[name];
      if (!target) return {};
      current = { ...target, ...Object.fromEntries(Object.entries(current).filter(([k]) => k !== '$ref')) };
    }
    return current;
  }

  /** A value that follows the schema as far as this generator understands it. */
  valid(schema: JsonSchema, depth = 0): fc.Arbitrary<Json> {
    const s = this.#resolve(schema);
    if (depth > 8) return fc.constant(null);
    if ('const' in s) return fc.constant(s.const);
    if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as Json[]));
    for (const key of ['oneOf', 'anyOf'] as const) {
      if (Array.isArray(s[key])) return fc.oneof(...(s[key] as JsonSchema[]).map((option) => this.valid(option, depth + 1)));
    }
    if (Array.isArray(s.allOf)) return this.valid(Object.assign({}, ...(s.allOf as JsonSchema[]).map((part) => this.#resolve(part))), depth + 1);
    const type = Array.isArray(s.type) ? (s.type as string[]) : typeof s.type === 'string' ? [s.type] : s.properties ? ['object'] : [];
    if (type.length > 1) return fc.oneof(...type.map((t) => this.valid({ ...s, type: t }, depth + 1)));
    switch (type[0]) {
      case 'object':
        return this.#object(s, depth);
      case 'array': {
        const minLength = Number(s.minItems ?? 0);
        const maxLength = Math.max(minLength, Math.min(Number(s.maxItems ?? 3), 3));
        return fc.array(this.valid((s.items as JsonSchema) ?? {}, depth + 1), { minLength, maxLength });
      }
      case 'string':
        return this.#string(s);
      case 'integer': {
        const min = typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum + 1 : Number(s.minimum ?? -1000);
        const max = typeof s.exclusiveMaximum === 'number' ? s.exclusiveMaximum - 1 : Number(s.maximum ?? 1000);
        return fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31 - 1) });
      }
      case 'number':
        return fc.double({ min: Number(s.minimum ?? -1000), max: Number(s.maximum ?? 1000), noNaN: true, noDefaultInfinity: true });
      case 'boolean':
        return fc.boolean();
      case 'null':
        return fc.constant(null);
      default:
        return fc.jsonValue({ maxDepth: 2 });
    }
  }

  #object(s: JsonSchema, depth: number): fc.Arbitrary<Json> {
    const properties = (s.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((s.required ?? []) as string[]);
    const record = fc.record(
      Object.fromEntries(Object.entries(properties).map(([name, property]) => [name, this.valid(property, depth + 1)])),
      { requiredKeys: Object.keys(properties).filter((name) => required.has(name)) },
    );
    if (Object.keys(properties).length === 0 && s.additionalProperties && typeof s.additionalProperties === 'object') {
      return fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), this.valid(s.additionalProperties as JsonSchema, depth + 1), { maxKeys: 3 });
    }
    return record as fc.Arbitrary<Json>;
  }

  #string(s: JsonSchema): fc.Arbitrary<Json> {
    // Examples are known-good values: favoured, so that most bodies pass validation and reach the store.
    const examples = typeof s.example === 'string' ? [s.example] : [];
    if (s.format === 'email') examples.push('ada@example.com', 'o.brien+tag@example.co.uk');
    let generated: fc.Arbitrary<string> | undefined;
    if (s.format === 'date-time') {
      generated = fc.date({ min: new Date(Date.now() - 30 * 86_400_000), max: new Date(Date.now() + 12 * 3600_000), noInvalidDate: true }).map((d) => d.toISOString());
    } else if (typeof s.pattern === 'string') {
      try {
        generated = fc.stringMatching(new RegExp(s.pattern)).filter((v) => v.length <= Number(s.maxLength ?? 1000));
      } catch {
        // a pattern fast-check cannot generate from: examples and plain strings stand in
      }
    }
    if (!generated) {
      const minLength = Number(s.minLength ?? 0);
      generated = fc.string({ minLength, maxLength: Math.max(minLength, Math.min(Number(s.maxLength ?? 40), 40)) });
    }
    return examples.length > 0 ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...examples) }, { weight: 1, arbitrary: generated }) : generated;
  }

  /**
   * A valid-ish value with one hostile mutation applied somewhere inside it (or to the whole).
   * Most mutations keep the type of what they change (a poisoned string, an edge number),
   * so the rest of the body stays valid and the bad value travels as far as it can.
   */
  mutated(schema: JsonSchema): fc.Arbitrary<Json> {
    return mutations(this.valid(schema));
  }
}

/** Values of base, each with one hostile mutation (see SchemaArbitraries.mutated). */
export function mutations(base: fc.Arbitrary<Json>): fc.Arbitrary<Json> {
  const how = fc.oneof(
    { weight: 4, arbitrary: fc.constant('poison' as const) },
    { weight: 2, arbitrary: fc.constant('edge' as const) },
    { weight: 2, arbitrary: fc.constant('replace' as const) },
    { weight: 2, arbitrary: fc.constant('retype' as const) },
    { weight: 1, arbitrary: fc.constantFrom('delete' as const, 'extra' as const, 'wrap' as const, 'whole' as const) },
  );
  return fc.tuple(base, fc.nat(), hostileValue, how, fc.nat()).map(([value, pick, hostile, kind, variant]) => mutate(value, pick, hostile, kind, variant));
}

type Mutation = 'poison' | 'edge' | 'replace' | 'retype' | 'delete' | 'extra' | 'wrap' | 'whole';

/** Ways to spoil a string while keeping it a string. */
const POISONS: ((text: string) => string)[] = [
  (t) => `${t}\u0000`,
  (t) => `\u0000${t}`,
  (t) => `${t}\ud800`,
  (t) => `\udc00${t}`,
  (t) => t.repeat(Math.ceil(100_000 / Math.max(t.length, 1))),
  () => '',
  (t) => ` ${t} `,
  (t) => `${t}\u202e\u0301`,
  (t) => t.toLowerCase() + t.toUpperCase(),
];

/** Applies one mutation at the pick-th place of value (places in depth-first order). */
function mutate(value: Json, pick: number, hostile: Json, how: Mutation, variant: number): Json {
  if (how === 'whole') return hostile;
  const copy = structuredClone(value);
  const places: { parent: Record<string, Json> | Json[]; key: string | number }[] = [];
  const walk = (node: Json) => {
    if (Array.isArray(node)) node.forEach((child, i) => (places.push({ parent: node, key: i }), walk(child)));
    else if (node !== null && typeof node === 'object') for (const [key, child] of Object.entries(node)) places.push({ parent: node as Record<string, Json>, key }), walk(child);
  };
  walk(copy);
  const at = (place: { parent: Record<string, Json> | Json[]; key: string | number }) => (place.parent as Record<string | number, Json>)[place.key];
  if (how === 'poison' || how === 'edge') {
    const wanted = how === 'poison' ? 'string' : 'number';
    const candidates = places.filter((place) => typeof at(place) === wanted);
    if (candidates.length === 0) return typeof copy === wanted ? (how === 'poison' ? POISONS[variant % POISONS.length]!(String(copy)) : HOSTILE_NUMBERS[variant % HOSTILE_NUMBERS.length]) : copy;
    const place = candidates[pick % candidates.length]!;
    const slot = place.parent as Record<string | number, Json>;
    slot[place.key] = how === 'poison' ? POISONS[variant % POISONS.length]!(String(at(place))) : HOSTILE_NUMBERS[variant % HOSTILE_NUMBERS.length]!;
    return copy;
  }
  if (places.length === 0) return how === 'wrap' ? [copy] : hostile;
  const { parent, key } = places[pick % places.length]!;
  const slot = parent as Record<string | number, Json>;
  switch (how) {
    case 'replace':
      slot[key] = hostile;
      break;
    case 'retype': {
      // Wrong types: the same place holding a value of another JSON type.
      const others = [null, 'x', 7, true, {}, []].filter((v) => typeof v !== typeof slot[key] || Array.isArray(v) !== Array.isArray(slot[key]));
      slot[key] = structuredClone(others[variant % others.length]);
      break;
    }
    case 'delete':
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete slot[key];
      break;
    case 'extra':
      if (Array.isArray(parent)) parent.push(hostile);
      else slot[typeof hostile === 'string' && hostile.length < 100 ? hostile || 'extra' : 'extraField'] = hostile;
      break;
    case 'wrap':
      slot[key] = [[[slot[key]]]];
      break;
  }
  return copy;
}

/** Field names common in this API and the payloads it receives: generic bodies use them so they get past the first lookup. */
const FIELD_NAMES = ['id', 'type', 'topic', 'data', 'shipment', 'fulfillmentOrder', 'lines', 'items', 'sku', 'quantity', 'orderId', 'status', 'reference', 'location', 'amount', 'createdAt', 'name', 'email', 'grant_type', 'scope'];

/** JSON built from those field names with hostile leaves. */
const structuredJson: fc.Arbitrary<Json> = fc.letrec<{ value: Json; object: Json; array: Json }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, hostileValue, tie('object'), tie('array')),
  object: fc.dictionary(fc.constantFrom(...FIELD_NAMES), tie('value'), { maxKeys: 5 }),
  array: fc.array(tie('value'), { maxLength: 3 }),
})).value;

/** Body texts for routes without a schema (and some for all): broken JSON, deep nesting, odd encodings, hostile JSON. */
export const hostileRawBody: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      '{',
      '{"a":1,"a":2}',
      '{"__proto__":{"admin":true}}',
      '{"constructor":{"prototype":{"admin":true}}}',
      '\ufeff{}',
      'null',
      '[]',
      '7',
      '"text"',
      '"\\ud800"',
      '{"a":"\\u0000"}',
      '1e999999',
      '['.repeat(100) + ']'.repeat(100),
      '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000),
      '['.repeat(10_000) + ']'.repeat(10_000),
    ),
  },
  { weight: 3, arbitrary: structuredJson.map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
);

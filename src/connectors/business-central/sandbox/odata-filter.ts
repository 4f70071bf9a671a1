/**
 * The part of OData v4's `$filter` the Business Central sandbox understands: comparisons of a
 * field with a literal (`eq`, `ne`, `gt`, `ge`, `lt`, `le`), joined by `and` / `or` (and binds
 * tighter), with parentheses. Literals: 'strings' (a quote doubled inside), numbers, true, false,
 * null, bare GUIDs and DateTimeOffsets. Anything else is a SyntaxError, which the sandbox answers with 400 as
 * Business Central does for a filter it cannot parse.
 */

export type FilterPredicate = (entity: Record<string, unknown>) => boolean;

type Token = { kind: 'word' | 'string' | 'number' | 'open' | 'close'; text: string };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i]!;
    if (ch === ' ') {
      i++;
    } else if (ch === '(' || ch === ')') {
      tokens.push({ kind: ch === '(' ? 'open' : 'close', text: ch });
      i++;
    } else if (ch === "'") {
      let text = '';
      i++;
      for (;;) {
        if (i >= source.length) throw new SyntaxError('unterminated string literal');
        if (source[i] === "'") {
          if (source[i + 1] === "'") {
            text += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += source[i++];
      }
      tokens.push({ kind: 'string', text });
    } else {
      const match = /^[A-Za-z0-9_.:+-]+/.exec(source.slice(i));
      if (!match) throw new SyntaxError(`unexpected character ${ch} at ${i}`);
      tokens.push({ kind: /^-?\d+(\.\d+)?$/.test(match[0]) ? 'number' : 'word', text: match[0] });
      i += match[0].length;
    }
  }
  return tokens;
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
/** An ordered value: a DateTimeOffset (a literal, or an entity's ISO string) compares as its instant. */
const ordered = (value: unknown) => (typeof value === 'string' && DATE_TIME.test(value) ? Date.parse(value) : (value as number));

const COMPARE: Record<string, (a: unknown, b: unknown) => boolean> = {
  eq: (a, b) => a === b || (typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase() && /^[0-9a-f-]{36}$/i.test(a)),
  ne: (a, b) => !COMPARE.eq!(a, b),
  gt: (a, b) => ordered(a) > ordered(b),
  ge: (a, b) => ordered(a) >= ordered(b),
  lt: (a, b) => ordered(a) < ordered(b),
  le: (a, b) => ordered(a) <= ordered(b),
};

/** Parses a `$filter` expression into a predicate over entities. */
export function parseODataFilter(source: string): FilterPredicate {
  const tokens = tokenize(source);
  let at = 0;
  const peek = () => tokens[at];
  const take = () => {
    const token = tokens[at++];
    if (!token) throw new SyntaxError('unexpected end of $filter');
    return token;
  };
  const literal = (token: Token): unknown => {
    if (token.kind === 'string') return token.text;
    if (token.kind === 'number') return Number(token.text);
    if (token.text === 'true') return true;
    if (token.text === 'false') return false;
    if (token.text === 'null') return null;
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(token.text)) return token.text;
    // An unquoted DateTimeOffset (OData v4), as Business Central takes `lastModifiedDateTime gt 2026-01-01T00:00:00Z`.
    if (DATE_TIME.test(token.text)) return token.text;
    throw new SyntaxError(`${token.text} is not a literal`);
  };
  const primary = (): FilterPredicate => {
    if (peek()?.kind === 'open') {
      take();
      const inner = or();
      if (take().kind !== 'close') throw new SyntaxError('missing )');
      return inner;
    }
    const field = take();
    if (field.kind !== 'word' || !/^[A-Za-z][A-Za-z0-9_]*$/.test(field.text)) throw new SyntaxError(`expected a property name, got ${field.text}`);
    const op = take().text;
    const compare = COMPARE[op];
    if (!compare) throw new SyntaxError(`operator ${op} is not supported`);
    const value = literal(take());
    return (entity) => compare(entity[field.text], value);
  };
  const and = (): FilterPredicate => {
    let left = primary();
    while (peek()?.text === 'and') {
      take();
      const l = left;
      const r = primary();
      left = (e) => l(e) && r(e);
    }
    return left;
  };
  const or = (): FilterPredicate => {
    let left = and();
    while (peek()?.text === 'or') {
      take();
      const l = left;
      const r = and();
      left = (e) => l(e) || r(e);
    }
    return left;
  };
  const predicate = or();
  if (at !== tokens.length) throw new SyntaxError(`unexpected ${tokens[at]!.text}`);
  return predicate;
}

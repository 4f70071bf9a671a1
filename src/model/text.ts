/**
 * Text PostgreSQL cannot store. It refuses NUL (U+0000) in text and jsonb, and
 * unpaired UTF-16 surrogates (for example "\ud800" in JSON) in jsonb, so a body
 * carrying either would fail deep in the store. Every request body is walked
 * once, before its schema, so each such string (and object key) is refused with
 * a pointer to where it sits, whatever the model and field.
 */

/** One string of an input that cannot be stored, with its JSON pointer path. */
export interface UnstorableText {
  path: (string | number)[];
  message: string;
}

/** Why a string cannot be stored, or undefined when it can. */
export function unstorableReason(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (!text.isWellFormed()) return 'must be well-formed Unicode (it holds an unpaired UTF-16 surrogate)';
  return undefined;
}

// Parsed JSON values whose source text was seen to hold no escape of NUL or of a surrogate.
const storable = new WeakSet<object>();

/**
 * Records that a value parsed from JSON text holds no text that cannot be stored, because the
 * text had no \u escape of NUL or of a surrogate (the request guards' scan, src/api/request-guards.ts).
 */
export function markStorable(parsed: unknown): void {
  if (parsed !== null && typeof parsed === 'object') storable.add(parsed);
}

/** Every string value and object key of a JSON value that cannot be stored (at most limit of them). */
export function findUnstorableText(value: unknown, limit = 100): UnstorableText[] {
  if (value !== null && typeof value === 'object' && storable.has(value)) return [];
  const found: UnstorableText[] = [];
  // Iterative with parent links, so a deeply nested body can neither overflow the stack nor cost quadratic time.
  type Node = { value: unknown; key: string | number | undefined; parent: Node | undefined };
  const pathOf = (node: Node | undefined, last?: string): (string | number)[] => {
    const path: (string | number)[] = last === undefined ? [] : [last];
    for (let n = node; n?.key !== undefined; n = n.parent) path.push(n.key);
    return path.reverse();
  };
  const pending: Node[] = [{ value, key: undefined, parent: undefined }];
  while (pending.length > 0 && found.length < limit) {
    const node = pending.pop()!;
    const current = node.value;
    if (typeof current === 'string') {
      const message = unstorableReason(current);
      if (message) found.push({ path: pathOf(node), message });
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) pending.push({ value: current[i], key: i, parent: node });
    } else if (current !== null && typeof current === 'object') {
      const entries = Object.entries(current);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]!;
        const keyProblem = unstorableReason(key);
        if (keyProblem) found.push({ path: pathOf(node, key), message: `key ${keyProblem}` });
        else pending.push({ value: child, key, parent: node });
      }
    }
  }
  return found;
}

/** Scopes an API client can hold. `admin` implies every other scope. */
export const SCOPES = [
  'orders:read',
  'orders:write',
  'inventory:read',
  'inventory:write',
  'products:read',
  'customers:read',
  'customers:write',
  'customers:steward',
  'customers:privacy',
  'customers:pii',
  'ops:read',
  'ops:write',
  'events:read',
  'events:manage',
  'admin',
] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** True when the granted scopes allow the required one. */
export function allows(granted: readonly string[], required: Scope): boolean {
  return granted.includes(required) || granted.includes('admin');
}

/** Parses a space- or comma-separated scope list; returns the unknown names separately. */
export function parseScopes(text: string): { scopes: Scope[]; unknown: string[] } {
  const names = [...new Set(text.split(/[\s,]+/).filter(Boolean))];
  return { scopes: names.filter(isScope), unknown: names.filter((name) => !isScope(name)) };
}

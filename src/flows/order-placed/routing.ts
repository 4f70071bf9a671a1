import type { LocationKind } from '../../model/inventory.ts';

/**
 * Routing: which location ships which order line. One location that can ship every
 * line is preferred; otherwise lines are split, each whole where possible, fewest
 * locations first. Kinds and priorities come from configuration, so an operator can
 * allow ship-from-store, or prefer a warehouse over a 3PL.
 */

export interface RoutingPolicy {
  /** Location kinds that may fulfil orders, most preferred first (default: warehouse, 3pl, store). */
  kinds: readonly LocationKind[];
  /** Priority per location code: lower ships first; unlisted locations get 100 (default: none). */
  priorities: Readonly<Record<string, number>>;
}

export const DEFAULT_ROUTING: RoutingPolicy = { kinds: ['warehouse', '3pl', 'store'], priorities: {} };

export interface RoutableLine {
  lineNumber: number;
  sku: string;
  quantity: number;
}

/** What a location can give of a SKU now, for the order's channel. */
export interface LocationStock {
  locationId: string;
  code: string;
  kind: LocationKind;
  sku: string;
  available: number;
}

export interface RouteGroup {
  locationId: string;
  locationCode: string;
  locationKind: LocationKind;
  lines: RoutableLine[];
}

export type Route =
  | { kind: 'routed'; groups: RouteGroup[] }
  | { kind: 'short'; lines: { lineNumber: number; sku: string; requested: number; available: number }[] };

/** Plans where each line ships from. Pure: stock and policy in, route out. */
export function planRoute(lines: readonly RoutableLine[], stock: readonly LocationStock[], policy: RoutingPolicy): Route {
  const allowed = stock.filter((s) => policy.kinds.includes(s.kind) && s.available > 0);
  const locations = new Map<string, { id: string; code: string; kind: LocationKind; free: Map<string, number> }>();
  for (const s of allowed) {
    const location = locations.get(s.locationId) ?? { id: s.locationId, code: s.code, kind: s.kind, free: new Map() };
    location.free.set(s.sku, (location.free.get(s.sku) ?? 0) + s.available);
    locations.set(s.locationId, location);
  }
  const rank = (l: { code: string; kind: LocationKind }) => [policy.kinds.indexOf(l.kind), policy.priorities[l.code] ?? 100] as const;
  const ranked = [...locations.values()].sort((a, b) => {
    const [ka, pa] = rank(a);
    const [kb, pb] = rank(b);
    return ka - kb || pa - pb || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0);
  });

  // Short lines first: the whole order waits when any SKU lacks stock everywhere allowed.
  const demand = new Map<string, number>();
  for (const l of lines) demand.set(l.sku, (demand.get(l.sku) ?? 0) + l.quantity);
  const total = (sku: string) => ranked.reduce((n, l) => n + (l.free.get(sku) ?? 0), 0);
  const shortSkus = [...demand].filter(([sku, wanted]) => total(sku) < wanted).map(([sku]) => sku);
  if (shortSkus.length > 0) {
    return {
      kind: 'short',
      lines: lines.filter((l) => shortSkus.includes(l.sku)).map((l) => ({ lineNumber: l.lineNumber, sku: l.sku, requested: l.quantity, available: total(l.sku) })),
    };
  }

  const covers = (free: Map<string, number>, group: readonly RoutableLine[]) => {
    const need = new Map<string, number>();
    for (const l of group) need.set(l.sku, (need.get(l.sku) ?? 0) + l.quantity);
    return [...need].every(([sku, n]) => (free.get(sku) ?? 0) >= n);
  };
  const single = ranked.find((l) => covers(l.free, lines));
  if (single) return { kind: 'routed', groups: [{ locationId: single.id, locationCode: single.code, locationKind: single.kind, lines: [...lines] }] };

  // Split: repeatedly take the location that ships the most remaining lines whole.
  const groups = new Map<string, RouteGroup>();
  const add = (l: (typeof ranked)[number], line: RoutableLine) => {
    const group = groups.get(l.id) ?? { locationId: l.id, locationCode: l.code, locationKind: l.kind, lines: [] };
    group.lines.push(line);
    groups.set(l.id, group);
    l.free.set(line.sku, (l.free.get(line.sku) ?? 0) - line.quantity);
  };
  let remaining = [...lines];
  while (remaining.length > 0) {
    let best: { location: (typeof ranked)[number]; lines: RoutableLine[] } | undefined;
    for (const location of ranked) {
      const free = new Map(location.free);
      const whole = remaining.filter((line) => {
        if ((free.get(line.sku) ?? 0) < line.quantity) return false;
        free.set(line.sku, free.get(line.sku)! - line.quantity);
        return true;
      });
      if (whole.length > (best?.lines.length ?? 0)) best = { location, lines: whole };
    }
    if (!best) break;
    for (const line of best.lines) add(best.location, line);
    remaining = remaining.filter((l) => !best.lines.includes(l));
  }
  // Lines no single location can ship whole are split across locations, best ranked first.
  for (const line of remaining) {
    let left = line.quantity;
    for (const location of ranked) {
      const take = Math.min(left, location.free.get(line.sku) ?? 0);
      if (take <= 0) continue;
      add(location, { lineNumber: line.lineNumber, sku: line.sku, quantity: take });
      left -= take;
      if (left === 0) break;
    }
  }
  return { kind: 'routed', groups: [...groups.values()] };
}

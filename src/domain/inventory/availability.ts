import type { Allocation, Availability, LocationAvailability } from '../../model/inventory.ts';

/**
 * Available-to-sell, as one pure function. The reservation path and the
 * availability API both use it, so the figure a channel is shown is exactly
 * the figure its reservations are checked against.
 *
 *   per location:  max(0, on hand - reserved - location safety stock)   (locations the channel may sell from)
 *   pool:          max(0, sum of those - SKU safety stock)
 *   allocation:    shared -> pool
 *                  percentage p -> min(pool, floor(sellable * p / 100) - channel reserved)
 *                  cap n -> min(pool, n - channel reserved)
 *   where sellable = max(0, sum(on hand - location safety stock) - SKU safety stock), and
 *   channel reserved is what this channel already holds of the SKU.
 */

export interface StockPosition {
  locationId: string;
  code: string;
  kind: 'warehouse' | 'store' | '3pl';
  onHand: number;
  reserved: number;
  /** Safety stock of this SKU at this location. */
  safetyStock: number;
}

export interface ChannelRules {
  /** null: no channel given, the shared pool over every location. */
  channel: string | null;
  excludedLocationIds: ReadonlySet<string>;
  allocation: Allocation;
  /** Where the allocation rule came from: nothing configured, the channel's default, or a per-SKU override. */
  allocationSource: 'default' | 'channel' | 'sku';
}

export interface AvailabilityInput {
  sku: string;
  positions: readonly StockPosition[];
  /** Safety stock of the SKU as a whole, deducted from the pool. */
  skuSafetyStock: number;
  rules: ChannelRules;
  /** Units of this SKU held by open reservations of this channel. */
  channelReserved: number;
}

export interface Evaluation {
  available: number;
  pool: number;
  /** Per included location: what may be taken from it (before the pool and allocation caps). */
  perLocation: Map<string, number>;
  sellableBase: number | null;
  allocated: number | null;
  remaining: number | null;
}

export const SHARED: ChannelRules = { channel: null, excludedLocationIds: new Set(), allocation: { mode: 'shared' }, allocationSource: 'default' };

const positive = (n: number) => (n > 0 ? n : 0);

/** The available figure and its parts. */
export function evaluate(input: AvailabilityInput): Evaluation {
  const perLocation = new Map<string, number>();
  let locationSum = 0;
  let sellableSum = 0;
  for (const p of input.positions) {
    if (input.rules.excludedLocationIds.has(p.locationId)) continue;
    const free = positive(p.onHand - p.reserved - p.safetyStock);
    perLocation.set(p.locationId, free);
    locationSum += free;
    sellableSum += positive(p.onHand - p.safetyStock);
  }
  const pool = positive(locationSum - input.skuSafetyStock);
  const allocation = input.rules.allocation;
  if (allocation.mode === 'shared') {
    return { available: pool, pool, perLocation, sellableBase: null, allocated: null, remaining: null };
  }
  const sellableBase = positive(sellableSum - input.skuSafetyStock);
  const allocated = allocation.mode === 'cap' ? allocation.quantity : Math.floor((sellableBase * allocation.percent) / 100);
  const remaining = positive(allocated - input.channelReserved);
  return {
    available: Math.min(pool, remaining),
    pool,
    perLocation,
    sellableBase: allocation.mode === 'cap' ? null : sellableBase,
    allocated,
    remaining,
  };
}

/** How a line would be taken: from one location when one can supply it all, else split. */
export type LinePlan =
  | { kind: 'planned'; allocations: { locationId: string; quantity: number }[] }
  | { kind: 'short'; available: number };

/**
 * Chooses where to hold `quantity` units. A pinned location must be one the channel
 * may sell from. Otherwise the location with the most free units that can supply the
 * whole line wins (ties by code); when none can, the line is split, largest first.
 */
export function planLine(input: AvailabilityInput, quantity: number, pinnedLocationId?: string): LinePlan {
  const evaluation = evaluate(input);
  if (pinnedLocationId !== undefined) {
    const free = evaluation.perLocation.get(pinnedLocationId);
    const available = free === undefined ? 0 : Math.min(free, evaluation.available);
    return available >= quantity ? { kind: 'planned', allocations: [{ locationId: pinnedLocationId, quantity }] } : { kind: 'short', available };
  }
  if (evaluation.available < quantity) return { kind: 'short', available: evaluation.available };
  const codeOf = new Map(input.positions.map((p) => [p.locationId, p.code]));
  const ranked = [...evaluation.perLocation.entries()]
    .filter(([, free]) => free > 0)
    .sort((a, b) => b[1] - a[1] || (codeOf.get(a[0])! < codeOf.get(b[0])! ? -1 : 1));
  const whole = ranked.find(([, free]) => free >= quantity);
  if (whole) return { kind: 'planned', allocations: [{ locationId: whole[0], quantity }] };
  const allocations: { locationId: string; quantity: number }[] = [];
  let left = quantity;
  for (const [locationId, free] of ranked) {
    if (left === 0) break;
    const take = Math.min(free, left);
    allocations.push({ locationId, quantity: take });
    left -= take;
  }
  // The pool already covers quantity, so the locations do too; guard anyway.
  return left === 0 ? { kind: 'planned', allocations } : { kind: 'short', available: quantity - left };
}

function describeAllocation(a: Allocation): string {
  switch (a.mode) {
    case 'shared':
      return 'shared pool';
    case 'percentage':
      return `${a.percent}% of sellable stock`;
    case 'cap':
      return `cap of ${a.quantity} units`;
  }
}

/** The full availability answer with its explanation, optionally narrowed to one location. */
export function explainAvailability(input: AvailabilityInput, onlyLocationId?: string): Availability {
  const evaluation = evaluate(input);
  const rules = input.rules;
  const channelName = rules.channel ?? 'any channel';
  const sorted = [...input.positions].sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  const included = sorted.filter((p) => !rules.excludedLocationIds.has(p.locationId));
  const excluded = sorted.filter((p) => rules.excludedLocationIds.has(p.locationId));

  const locations: LocationAvailability[] = sorted.map((p) => {
    const isIncluded = !rules.excludedLocationIds.has(p.locationId);
    const free = evaluation.perLocation.get(p.locationId) ?? 0;
    const entry: LocationAvailability = {
      location: p.code,
      locationId: p.locationId,
      kind: p.kind,
      onHand: p.onHand,
      reserved: p.reserved,
      safetyStock: p.safetyStock,
      available: isIncluded ? Math.min(free, evaluation.available) : 0,
      included: isIncluded,
    };
    if (!isIncluded) entry.note = `excluded for ${channelName}`;
    else if (p.reserved > p.onHand) entry.note = `short: ${p.reserved - p.onHand} reserved units are not on hand`;
    return entry;
  });

  const sum = (list: readonly StockPosition[], f: (p: StockPosition) => number) => list.reduce((n, p) => n + f(p), 0);
  const onHand = sum(included, (p) => p.onHand);
  const reserved = sum(included, (p) => p.reserved);
  const locationSafety = sum(included, (p) => p.safetyStock);

  const steps: string[] = [];
  steps.push(
    included.length === 0
      ? `No location holding ${input.sku} is open to ${channelName}.`
      : `Counted ${included.length} location(s) open to ${channelName}: ${included.map((p) => p.code).join(', ')}.`,
  );
  if (excluded.length > 0) steps.push(`Left out ${excluded.map((p) => p.code).join(', ')}: excluded for ${channelName}.`);
  steps.push(`On hand ${onHand} - reserved ${reserved} - location safety stock ${locationSafety}, each location floored at 0: ${sum(included, (p) => evaluation.perLocation.get(p.locationId) ?? 0)}.`);
  steps.push(`Minus SKU safety stock ${input.skuSafetyStock}, floored at 0: pool ${evaluation.pool}.`);
  const a = rules.allocation;
  if (a.mode === 'shared') {
    steps.push(`Allocation: ${describeAllocation(a)} (${rules.allocationSource}); available = pool = ${evaluation.available}.`);
  } else {
    const allocatedText =
      a.mode === 'percentage' ? `${a.percent}% of sellable ${evaluation.sellableBase} = ${evaluation.allocated}` : `cap ${evaluation.allocated}`;
    steps.push(
      `Allocation: ${describeAllocation(a)} (${rules.allocationSource}); ${allocatedText}, minus ${input.channelReserved} already held by ${channelName} = ${evaluation.remaining}; ` +
        `available = min(pool ${evaluation.pool}, ${evaluation.remaining}) = ${evaluation.available}.`,
    );
  }

  let available = evaluation.available;
  let location: string | null = null;
  let shown = locations;
  if (onlyLocationId !== undefined) {
    const at = locations.find((l) => l.locationId === onlyLocationId);
    location = at?.location ?? null;
    available = at?.available ?? 0;
    shown = at ? [at] : [];
    steps.push(
      at ? `Narrowed to ${at.location}: min(its free units, channel available) = ${available}.` : `Nothing of ${input.sku} is held at the requested location.`,
    );
  }

  return {
    sku: input.sku,
    channel: rules.channel,
    location,
    available,
    onHand: onlyLocationId !== undefined ? (shown[0]?.onHand ?? 0) : onHand,
    reserved: onlyLocationId !== undefined ? (shown[0]?.reserved ?? 0) : reserved,
    safetyStock: onlyLocationId !== undefined ? (shown[0]?.safetyStock ?? 0) : locationSafety + input.skuSafetyStock,
    locations: shown,
    explanation: {
      locations: included.map((p) => p.code),
      excludedLocations: excluded.map((p) => p.code),
      deductions: { reserved, locationSafetyStock: locationSafety, skuSafetyStock: input.skuSafetyStock },
      pool: evaluation.pool,
      allocation: {
        rule: a,
        source: rules.allocationSource,
        sellableBase: evaluation.sellableBase,
        allocated: evaluation.allocated,
        channelReserved: input.channelReserved,
        remaining: evaluation.remaining,
      },
      steps,
    },
  };
}

import type { Queryable } from '../database.ts';
import type { Allocation } from '../../model/inventory.ts';

/** Reads of balances and policies, and policy writes. */

export interface BalanceRow {
  sku: string;
  locationId: string;
  code: string;
  kind: 'warehouse' | 'store' | '3pl';
  onHand: number;
  reserved: number;
}

interface RawBalance {
  sku: string;
  location_id: string;
  code: string;
  kind: BalanceRow['kind'];
  on_hand: string;
  reserved: string;
}

const toBalance = (r: RawBalance): BalanceRow => ({
  sku: r.sku,
  locationId: r.location_id,
  code: r.code,
  kind: r.kind,
  onHand: Number(r.on_hand),
  reserved: Number(r.reserved),
});

/**
 * Balances of the given SKUs at every location. With lock, the rows are locked
 * FOR UPDATE in (sku, location) order: every writer of balances locks in this
 * order, so writers touching the same SKUs queue instead of deadlocking.
 */
export async function readBalances(q: Queryable, skus: readonly string[], options: { lock: boolean }): Promise<BalanceRow[]> {
  if (skus.length === 0) return [];
  const result = await q.query<RawBalance>(
    `SELECT b.sku, b.location_id, l.code, l.kind, b.on_hand, b.reserved
       FROM inventory_balance b JOIN inventory_location l ON l.id = b.location_id
      WHERE b.sku = ANY($1::text[])
      ORDER BY b.sku, b.location_id
      ${options.lock ? 'FOR UPDATE OF b' : ''}`,
    [[...new Set(skus)].sort()],
  );
  return result.rows.map(toBalance);
}

/**
 * Locks (sku, location) balance rows, creating missing ones at zero first.
 * Rows are created and then locked in sorted order.
 */
export async function lockBalanceRows(tx: Queryable, pairs: readonly { sku: string; locationId: string }[]): Promise<BalanceRow[]> {
  const unique = [...new Map(pairs.map((p) => [`${p.sku}\n${p.locationId}`, p])).values()].sort((a, b) =>
    a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : a.locationId < b.locationId ? -1 : a.locationId > b.locationId ? 1 : 0,
  );
  if (unique.length === 0) return [];
  const skus = unique.map((p) => p.sku);
  const locations = unique.map((p) => p.locationId);
  await tx.query(
    `INSERT INTO inventory_balance (sku, location_id)
     SELECT s, l FROM unnest($1::text[], $2::text[]) AS t(s, l) ORDER BY s, l
     ON CONFLICT (sku, location_id) DO NOTHING`,
    [skus, locations],
  );
  const result = await tx.query<RawBalance>(
    `SELECT b.sku, b.location_id, l.code, l.kind, b.on_hand, b.reserved
       FROM inventory_balance b
       JOIN unnest($1::text[], $2::text[]) AS t(s, lid) ON b.sku = t.s AND b.location_id = t.lid
       JOIN inventory_location l ON l.id = b.location_id
      ORDER BY b.sku, b.location_id
      FOR UPDATE OF b`,
    [skus, locations],
  );
  return result.rows.map(toBalance);
}

/** Writes new on hand and reserved figures for balance rows the caller has locked. */
export async function writeBalances(tx: Queryable, rows: readonly { sku: string; locationId: string; onHand: number; reserved: number }[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `UPDATE inventory_balance b SET on_hand = t.on_hand, reserved = t.reserved, updated_at = now()
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS t(sku, location_id, on_hand, reserved)
      WHERE b.sku = t.sku AND b.location_id = t.location_id`,
    [rows.map((r) => r.sku), rows.map((r) => r.locationId), rows.map((r) => r.onHand), rows.map((r) => r.reserved)],
  );
}

export interface ChannelPolicyRow {
  channel: string;
  excludedLocationIds: string[];
  allocation: Allocation;
}

export interface PolicyRows {
  /** Safety stock keyed by sku, then by location id ('' for the SKU as a whole). */
  safety: Map<string, Map<string, number>>;
  channels: Map<string, ChannelPolicyRow>;
  /** Per-SKU allocations keyed `${channel}\n${sku}`. */
  skuAllocations: Map<string, Allocation>;
}

/** Builds an Allocation from its stored columns. */
export function toAllocation(mode: string, value: string | number | null): Allocation {
  if (mode === 'percentage') return { mode, percent: Number(value ?? 0) };
  if (mode === 'cap') return { mode, quantity: Number(value ?? 0) };
  return { mode: 'shared' };
}

const allocationValue = (a: Allocation): number | null => (a.mode === 'percentage' ? a.percent : a.mode === 'cap' ? a.quantity : null);

/** The policies relevant to some SKUs and channels, in one round trip. */
export async function readPolicies(q: Queryable, skus: readonly string[], channels: readonly string[]): Promise<PolicyRows> {
  const result = await q.query<{ safety: { sku: string; location_id: string | null; quantity: string | number }[]; channels: any[]; sku_allocations: any[] }>(
    `SELECT
       (SELECT coalesce(json_agg(json_build_object('sku', sku, 'location_id', location_id, 'quantity', quantity)), '[]')
          FROM inventory_safety_stock WHERE sku = ANY($1::text[])) AS safety,
       (SELECT coalesce(json_agg(json_build_object('channel', channel, 'excluded', excluded_location_ids, 'mode', allocation_mode, 'value', allocation_value)), '[]')
          FROM inventory_channel_policy WHERE channel = ANY($2::text[])) AS channels,
       (SELECT coalesce(json_agg(json_build_object('channel', channel, 'sku', sku, 'mode', allocation_mode, 'value', allocation_value)), '[]')
          FROM inventory_channel_sku_allocation WHERE channel = ANY($2::text[]) AND sku = ANY($1::text[])) AS sku_allocations`,
    [[...new Set(skus)], [...new Set(channels)]],
  );
  const row = result.rows[0]!;
  const safety = new Map<string, Map<string, number>>();
  for (const s of row.safety) {
    if (!safety.has(s.sku)) safety.set(s.sku, new Map());
    safety.get(s.sku)!.set(s.location_id ?? '', Number(s.quantity));
  }
  const channelRows = new Map<string, ChannelPolicyRow>(
    row.channels.map((c: { channel: string; excluded: string[]; mode: string; value: number | null }) => [
      c.channel,
      { channel: c.channel, excludedLocationIds: c.excluded, allocation: toAllocation(c.mode, c.value) },
    ]),
  );
  const skuAllocations = new Map<string, Allocation>(
    row.sku_allocations.map((a: { channel: string; sku: string; mode: string; value: number | null }) => [`${a.channel}\n${a.sku}`, toAllocation(a.mode, a.value)]),
  );
  return { safety, channels: channelRows, skuAllocations };
}

/** Units of each (channel, sku) held by open reservations; keyed `${channel}\n${sku}`. */
export async function readChannelReserved(q: Queryable, pairs: readonly { channel: string; sku: string }[]): Promise<Map<string, number>> {
  if (pairs.length === 0) return new Map();
  const result = await q.query<{ channel: string; sku: string; held: string }>(
    `SELECT l.channel, l.sku, sum(l.open_quantity)::bigint AS held
       FROM inventory_reservation_line l
       JOIN unnest($1::text[], $2::text[]) AS t(c, s) ON l.channel = t.c AND l.sku = t.s
      WHERE l.open_quantity > 0
      GROUP BY l.channel, l.sku`,
    [pairs.map((p) => p.channel), pairs.map((p) => p.sku)],
  );
  return new Map(result.rows.map((r) => [`${r.channel}\n${r.sku}`, Number(r.held)]));
}

/** Channels with a policy or a per-SKU allocation (their availability is published per channel). */
export async function listPolicyChannels(q: Queryable): Promise<string[]> {
  const result = await q.query<{ channel: string }>(
    'SELECT channel FROM inventory_channel_policy UNION SELECT channel FROM inventory_channel_sku_allocation ORDER BY channel',
  );
  return result.rows.map((r) => r.channel);
}

export async function upsertSafetyStock(tx: Queryable, sku: string, locationId: string | null, quantity: number): Promise<void> {
  await tx.query(
    `INSERT INTO inventory_safety_stock (sku, location_id, quantity) VALUES ($1, $2, $3)
     ON CONFLICT (sku, coalesce(location_id, '')) DO UPDATE SET quantity = EXCLUDED.quantity, updated_at = now()`,
    [sku, locationId, quantity],
  );
}

export async function upsertChannelPolicy(tx: Queryable, channel: string, allocation: Allocation, excludedLocationIds: readonly string[]): Promise<void> {
  await tx.query(
    `INSERT INTO inventory_channel_policy (channel, excluded_location_ids, allocation_mode, allocation_value) VALUES ($1, $2, $3, $4)
     ON CONFLICT (channel) DO UPDATE
       SET excluded_location_ids = EXCLUDED.excluded_location_ids, allocation_mode = EXCLUDED.allocation_mode,
           allocation_value = EXCLUDED.allocation_value, updated_at = now()`,
    [channel, [...excludedLocationIds], allocation.mode, allocationValue(allocation)],
  );
}

export async function upsertSkuAllocation(tx: Queryable, channel: string, sku: string, allocation: Allocation): Promise<void> {
  await tx.query(
    `INSERT INTO inventory_channel_sku_allocation (channel, sku, allocation_mode, allocation_value) VALUES ($1, $2, $3, $4)
     ON CONFLICT (channel, sku) DO UPDATE
       SET allocation_mode = EXCLUDED.allocation_mode, allocation_value = EXCLUDED.allocation_value, updated_at = now()`,
    [channel, sku, allocation.mode, allocationValue(allocation)],
  );
}

/** Every policy, for GET /v1/inventory/policies. Location ids are returned as codes. */
export async function listAllPolicies(q: Queryable): Promise<{
  safety: { sku: string; location: string | null; quantity: number }[];
  channels: { channel: string; allocation: Allocation; excludedLocations: string[] }[];
  skuAllocations: { channel: string; sku: string; allocation: Allocation }[];
}> {
  const safety = await q.query<{ sku: string; code: string | null; quantity: string }>(
    'SELECT s.sku, l.code, s.quantity FROM inventory_safety_stock s LEFT JOIN inventory_location l ON l.id = s.location_id ORDER BY s.sku, l.code NULLS FIRST',
  );
  const channels = await q.query<{ channel: string; codes: string[]; allocation_mode: string; allocation_value: string | null }>(
    `SELECT p.channel, p.allocation_mode, p.allocation_value,
            coalesce((SELECT array_agg(l.code ORDER BY l.code) FROM inventory_location l WHERE l.id = ANY(p.excluded_location_ids)), '{}') AS codes
       FROM inventory_channel_policy p ORDER BY p.channel`,
  );
  const skus = await q.query<{ channel: string; sku: string; allocation_mode: string; allocation_value: string | null }>(
    'SELECT channel, sku, allocation_mode, allocation_value FROM inventory_channel_sku_allocation ORDER BY channel, sku',
  );
  return {
    safety: safety.rows.map((r) => ({ sku: r.sku, location: r.code, quantity: Number(r.quantity) })),
    channels: channels.rows.map((r) => ({ channel: r.channel, allocation: toAllocation(r.allocation_mode, r.allocation_value), excludedLocations: r.codes })),
    skuAllocations: skus.rows.map((r) => ({ channel: r.channel, sku: r.sku, allocation: toAllocation(r.allocation_mode, r.allocation_value) })),
  };
}

/** Notes that the availability of SKUs may have changed (append-only; see the availability publisher). */
export async function markAvailabilityChanged(tx: Queryable, skus: readonly string[]): Promise<void> {
  const unique = [...new Set(skus)];
  if (unique.length === 0) return;
  await tx.query('INSERT INTO inventory_availability_change (sku) SELECT unnest($1::text[])', [unique]);
}

import { z } from 'zod';
import { ChannelSlug, Timestamp } from './order.ts';
import { Sku } from './sku.ts';

/**
 * Canonical inventory schemas: locations, movements, reservations, policies,
 * availability and reconciliation snapshots. Quantities are whole numbers.
 *
 * Glossary:
 * - on hand: units physically at a location (the sum of its ledger movements).
 * - reserved: units held by open reservations at a location.
 * - safety stock: units kept back from selling, per SKU or per SKU and location.
 * - pool: what a channel could sell from its locations after reservations and safety stock.
 * - allocation: the share of stock a channel may hold (shared pool, a percentage, or a fixed cap).
 * - available (to sell): the pool, within the channel's allocation, never negative.
 */

const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);

export { Sku };

/** A location is referenced by its id (`loc_…`) or its code. */
export const LocationRef = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be a location id or code')
  .meta({ id: 'LocationRef', description: 'A location id (loc_…) or its code.', example: 'WH-EAST' });

const quantity = (min: number) =>
  z
    .number({ message: 'must be a number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(1_000_000_000, 'must be at most 1000000000');

export const LocationKind = z.enum(['warehouse', 'store', '3pl']).meta({ id: 'LocationKind' });
export type LocationKind = z.infer<typeof LocationKind>;

export const LocationInput = z
  .strictObject({
    code: z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/, 'must be 1-32 letters, digits, _ . or -').refine((c) => !c.startsWith('loc_'), 'must not start with "loc_"'),
    name: text(200),
    kind: LocationKind,
  })
  .meta({ id: 'LocationInput', description: 'A new stock location.' });
export type LocationInput = z.infer<typeof LocationInput>;

export const Location = z
  .object({ id: z.string(), code: z.string(), name: z.string(), kind: LocationKind, createdAt: z.string() })
  .meta({ id: 'Location' });
export type Location = z.infer<typeof Location>;

/** Movement types accepted by the API. Sales are recorded by consuming reservations. */
export const MovementInput = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('receipt'), sku: Sku, location: LocationRef, quantity: quantity(1), reason: text(200).optional(), reference: text(128).optional() }),
    z.strictObject({
      type: z.literal('adjustment'),
      sku: Sku,
      location: LocationRef,
      quantity: quantity(-1_000_000_000).refine((q) => q !== 0, 'must not be zero'),
      reason: text(200),
      reference: text(128).optional(),
    }),
    z.strictObject({
      type: z.literal('transfer'),
      sku: Sku,
      location: LocationRef,
      toLocation: LocationRef,
      quantity: quantity(1),
      reason: text(200).optional(),
      reference: text(128).optional(),
    }),
    z.strictObject({ type: z.literal('count'), sku: Sku, location: LocationRef, quantity: quantity(0), reason: text(200).optional(), reference: text(128).optional() }),
    z.strictObject({ type: z.literal('return'), sku: Sku, location: LocationRef, quantity: quantity(1), reason: text(200).optional(), reference: text(128).optional() }),
  ])
  .meta({
    id: 'MovementInput',
    description:
      'receipt adds stock; adjustment changes it by a signed quantity (reason required); transfer moves stock to toLocation; ' +
      'count sets the absolute level found by a physical count or a system of record; return restocks a returned unit.',
  });
export type MovementInput = z.infer<typeof MovementInput>;

export const MovementRequest = z
  .strictObject({ movements: z.array(MovementInput).min(1, 'must hold at least one movement').max(1000, 'must hold at most 1000 movements') })
  .meta({ id: 'MovementRequest', description: 'Movements that commit together or not at all.' });
export type MovementRequest = z.infer<typeof MovementRequest>;

export const LedgerType = z.enum(['receipt', 'adjustment', 'transfer_out', 'transfer_in', 'sale', 'return_restock', 'count']).meta({ id: 'LedgerType' });
export type LedgerType = z.infer<typeof LedgerType>;

export const LedgerEntry = z
  .object({
    id: z.string(),
    requestId: z.string(),
    type: LedgerType,
    sku: z.string(),
    location: z.string().meta({ description: 'Location code.' }),
    quantity: z.number().int().meta({ description: 'Signed change of on hand.' }),
    counted: z.number().int().nullable(),
    reason: z.string().nullable(),
    reference: z.string().nullable(),
    reservationId: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: 'LedgerEntry' });
export type LedgerEntry = z.infer<typeof LedgerEntry>;

export const BalanceAfter = z
  .object({ sku: z.string(), location: z.string(), onHand: z.number().int(), reserved: z.number().int() })
  .meta({ id: 'BalanceAfter' });
export type BalanceAfter = z.infer<typeof BalanceAfter>;

export const MovementReceipt = z
  .object({ requestId: z.string(), entries: z.array(LedgerEntry), balances: z.array(BalanceAfter) })
  .meta({ id: 'MovementReceipt', description: 'The ledger entries written and the balances after them.' });
export type MovementReceipt = z.infer<typeof MovementReceipt>;

export const ReservationLineInput = z.strictObject({ sku: Sku, quantity: quantity(1), location: LocationRef.optional() });

export const ReservationRequest = z
  .strictObject({
    reference: text(128).meta({ description: 'The order id or cart id the hold is for.' }),
    channel: ChannelSlug,
    lines: z.array(ReservationLineInput).min(1, 'must hold at least one line').max(200, 'must hold at most 200 lines'),
    expiresAt: Timestamp.optional().meta({ description: 'When the hold lapses (cart holds); absent: held until released or consumed.' }),
  })
  .refine((r) => r.expiresAt === undefined || Date.parse(r.expiresAt) > Date.now(), { path: ['expiresAt'], message: 'must be in the future' })
  .meta({ id: 'ReservationRequest', description: 'Reserve every line or none.' });
export type ReservationRequest = z.infer<typeof ReservationRequest>;

export const ReservationStatus = z.enum(['active', 'released', 'expired', 'consumed']).meta({ id: 'ReservationStatus' });
export type ReservationStatus = z.infer<typeof ReservationStatus>;

export const ReservationLine = z
  .object({
    lineNumber: z.number().int(),
    sku: z.string(),
    quantity: z.number().int(),
    location: z.string().meta({ description: 'Code of the location that holds the most of this line.' }),
    allocations: z
      .array(z.object({ location: z.string(), quantity: z.number().int(), open: z.number().int(), consumed: z.number().int() }))
      .meta({ description: 'Where the line is held; more than one entry when no single location had enough.' }),
  })
  .meta({ id: 'ReservationLine' });
export type ReservationLine = z.infer<typeof ReservationLine>;

export const Reservation = z
  .object({
    id: z.string(),
    reference: z.string(),
    channel: z.string(),
    status: ReservationStatus,
    expiresAt: z.string().nullable(),
    createdAt: z.string(),
    closedAt: z.string().nullable(),
    lines: z.array(ReservationLine),
  })
  .meta({ id: 'Reservation' });
export type Reservation = z.infer<typeof Reservation>;

export const ShortLine = z
  .object({
    lineNumber: z.number().int(),
    sku: z.string(),
    requested: z.number().int(),
    available: z.number().int().meta({ description: 'What the channel could have had for this line (after the lines before it).' }),
    location: z.string().nullable().meta({ description: 'The pinned location, if the line named one.' }),
    short: z.boolean(),
  })
  .meta({ id: 'ShortLine', description: 'A line of a reservation that failed, with the quantity requested and available.' });
export type ShortLine = z.infer<typeof ShortLine>;

export const ConsumeRequest = z
  .strictObject({
    lines: z
      .array(z.strictObject({ sku: Sku, quantity: quantity(1), location: LocationRef.optional() }))
      .min(1)
      .max(200)
      .optional()
      .meta({ description: 'What shipped; absent: everything still held.' }),
    reference: text(128).optional().meta({ description: 'Shipment reference recorded on the sale movements.' }),
  })
  .meta({ id: 'ConsumeRequest', description: 'Commits held units as sold when they ship.' });
export type ConsumeRequest = z.infer<typeof ConsumeRequest>;

export const Allocation = z
  .discriminatedUnion('mode', [
    z.strictObject({ mode: z.literal('shared') }),
    z.strictObject({ mode: z.literal('percentage'), percent: z.number().int().min(0).max(100) }),
    z.strictObject({ mode: z.literal('cap'), quantity: quantity(0) }),
  ])
  .meta({
    id: 'Allocation',
    description:
      'shared: the channel sees the whole pool. percentage: the channel may hold that share of sellable stock (on hand minus safety stock). ' +
      'cap: the channel may hold at most that many units. Units the channel has reserved count against its share.',
  });
export type Allocation = z.infer<typeof Allocation>;

export const SafetyStockInput = z
  .strictObject({ sku: Sku, location: LocationRef.optional(), quantity: quantity(0) })
  .meta({ id: 'SafetyStockInput', description: 'Units kept back from every channel; per SKU, or per SKU and location.' });
export type SafetyStockInput = z.infer<typeof SafetyStockInput>;

export const ChannelPolicyInput = z
  .strictObject({
    allocation: Allocation.default({ mode: 'shared' }),
    excludedLocations: z.array(LocationRef).max(500).default([]),
  })
  .meta({ id: 'ChannelPolicyInput' });
export type ChannelPolicyInput = z.infer<typeof ChannelPolicyInput>;

export const ChannelSkuAllocationInput = z.strictObject({ allocation: Allocation }).meta({ id: 'ChannelSkuAllocationInput' });

export const PolicySet = z
  .object({
    safetyStock: z.array(z.object({ sku: z.string(), location: z.string().nullable(), quantity: z.number().int() })),
    channels: z.array(
      z.object({
        channel: z.string(),
        allocation: Allocation,
        excludedLocations: z.array(z.string()),
        skuAllocations: z.array(z.object({ sku: z.string(), allocation: Allocation })),
      }),
    ),
  })
  .meta({ id: 'PolicySet' });
export type PolicySet = z.infer<typeof PolicySet>;

export const LocationAvailability = z
  .object({
    location: z.string(),
    locationId: z.string(),
    kind: LocationKind,
    onHand: z.number().int(),
    reserved: z.number().int(),
    safetyStock: z.number().int(),
    available: z.number().int(),
    included: z.boolean(),
    note: z.string().optional(),
  })
  .meta({ id: 'LocationAvailability' });
export type LocationAvailability = z.infer<typeof LocationAvailability>;

export const AvailabilityExplanation = z
  .object({
    locations: z.array(z.string()).meta({ description: 'Codes of the locations counted for this channel.' }),
    excludedLocations: z.array(z.string()),
    deductions: z.object({ reserved: z.number().int(), locationSafetyStock: z.number().int(), skuSafetyStock: z.number().int() }),
    pool: z.number().int(),
    allocation: z.object({
      rule: Allocation,
      source: z.enum(['default', 'channel', 'sku']),
      sellableBase: z.number().int().nullable(),
      allocated: z.number().int().nullable(),
      channelReserved: z.number().int(),
      remaining: z.number().int().nullable(),
    }),
    steps: z.array(z.string()).meta({ description: 'The derivation in words, in order.' }),
  })
  .meta({ id: 'AvailabilityExplanation' });

export const Availability = z
  .object({
    sku: z.string(),
    channel: z.string().nullable(),
    location: z.string().nullable(),
    available: z.number().int(),
    onHand: z.number().int(),
    reserved: z.number().int(),
    safetyStock: z.number().int(),
    locations: z.array(LocationAvailability),
    explanation: AvailabilityExplanation,
  })
  .meta({ id: 'Availability', description: 'What a channel may sell now, and how that figure was derived.' });
export type Availability = z.infer<typeof Availability>;

export const SnapshotLineInput = z.strictObject({ sku: Sku, location: LocationRef, quantity: quantity(0) });

export const SnapshotRequest = z
  .strictObject({
    source: text(64).meta({ example: 'erp' }),
    takenAt: Timestamp.optional(),
    complete: z
      .boolean()
      .default(false)
      .meta({ description: 'true: the snapshot lists everything at its locations, so SKUs we hold there that it omits count as 0.' }),
    apply: z.boolean().default(false).meta({ description: 'true: write count movements for every difference right away.' }),
    lines: z.array(SnapshotLineInput).min(1).max(50_000),
  })
  .meta({ id: 'SnapshotRequest', description: 'A stock snapshot from a system of record (ERP, WMS).' });
export type SnapshotRequest = z.infer<typeof SnapshotRequest>;

export const DriftLine = z
  .object({
    sku: z.string(),
    location: z.string(),
    ours: z.number().int(),
    theirs: z.number().int(),
    difference: z.number().int().meta({ description: 'theirs minus ours.' }),
    openReservations: z.number().int(),
  })
  .meta({ id: 'DriftLine' });
export type DriftLine = z.infer<typeof DriftLine>;

export const SnapshotSummary = z
  .object({ lines: z.number().int(), drifting: z.number().int(), unitsOver: z.number().int(), unitsShort: z.number().int() })
  .meta({ id: 'SnapshotSummary' });
export type SnapshotSummary = z.infer<typeof SnapshotSummary>;

export const DriftReport = z
  .object({
    id: z.string(),
    source: z.string(),
    takenAt: z.string(),
    createdAt: z.string(),
    appliedAt: z.string().nullable(),
    complete: z.boolean(),
    summary: SnapshotSummary,
    lines: z.array(DriftLine).optional().meta({ description: 'Lines that differ (absent in lists).' }),
  })
  .meta({ id: 'DriftReport' });
export type DriftReport = z.infer<typeof DriftReport>;

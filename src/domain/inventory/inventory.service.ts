import { mergeSameSkuLines } from './reservation-lines.ts';
import type { Logger } from 'pino';
import type { Database, Queryable } from '../../store/database.ts';
import { pruneRecords, runIdempotent, type IdempotencyClaim, type IdempotentOutcome } from '../../store/idempotency/idempotency-records.ts';
import { markAllSkusChanged } from '../../store/inventory/availability-queries.ts';
import { insertLocation, listLocations, resolveLocations } from '../../store/inventory/location-queries.ts';
import { countInventory, findBalanceDrift, readLedger, type BalanceDrift } from '../../store/inventory/movement-queries.ts';
import { findReservationsByReference, openReservationsOfSku, readReservations, toReservation, type OpenSkuReservation } from '../../store/inventory/reservation-queries.ts';
import { driftOfSku, listSnapshots, readSnapshot, type SkuDrift } from '../../store/inventory/snapshot-queries.ts';
import { listAllPolicies, markAvailabilityChanged, upsertChannelPolicy, upsertSafetyStock, upsertSkuAllocation } from '../../store/inventory/stock-queries.ts';
import { newId } from '../../model/ids.ts';
import type {
  Allocation,
  Availability,
  ConsumeRequest,
  DriftReport,
  LedgerEntry,
  Location,
  LocationInput,
  MovementRequest,
  PolicySet,
  Reservation,
  ReservationRequest,
  SafetyStockInput,
  SnapshotRequest,
} from '../../model/inventory.ts';
import { explainAvailability } from './availability.ts';
import { AvailabilityPublisher } from './availability-publisher.ts';
import { HoldExpiry } from './hold-expiry.ts';
import { consumeHold, releaseHolds, type ConsumeResult, type ReleaseResult } from './holds.ts';
import { applyMovements, type MovementResult, type ResolvedMovement } from './movements.ts';
import { PeriodicTask } from './periodic-task.ts';
import { KeyedBatcher } from './reservation-batcher.ts';
import { applySnapshot, reconcile, type ReconcileResult } from './reconciliation.ts';
import { writeReservations, type ReserveItem, type ReserveOutcome, type ReserveResult } from './reservation-batch.ts';
import { StockView } from './stock-view.ts';
import { resizeHold, type ResizeLine, type ResizeResult } from './hold-resize.ts';

const NO_LOCATIONS: ReadonlyMap<string, string> = new Map();
/**
 * The inventory service: one truth for stock. It owns on hand, reserved and
 * available-to-sell per SKU, location and channel, and never oversells: every
 * write takes its own row locks (callers need not, and cannot, get this wrong).
 *
 * What order flows call:
 * - reserve(): hold stock for an order or cart, all lines or none.
 * - release(): give a hold back (cancelled order, abandoned cart).
 * - consume(): the held units shipped; they leave on hand as sales.
 * - resize(): an amended order's hold gets its new quantities, or stays as it was.
 * - restock(): a returned unit goes back on the shelf.
 */

export interface InventoryServiceOptions {
  /** Most reservations decided in one transaction (default: 256). */
  maxBatchSize?: number;
  /** Reservation transactions in flight at once, on disjoint SKUs (default: 4). */
  maxConcurrentBatches?: number;
  /**
   * Where stock movements are written (default: the service's database): a pool of a few
   * connections of its own bounds how many movement transactions run at once, so that a hundred
   * stores flushing their offline sales queue here instead of taking PostgreSQL's cores from
   * the orders' critical steps (docs/runtime.md).
   */
  movementWriter?: Database;
  /** How often expired holds are looked for at most, in ms; a hold due sooner is released on time (default: 1000). */
  holdExpiryIntervalMs?: number;
  /** How often availability changes are published, in ms; changes within one interval coalesce (default: 250). */
  availabilityIntervalMs?: number;
  /** How long idempotency records of API writes are kept, in hours (default: 24). */
  idempotencyRetentionHours?: number;
}

export interface WriteContext {
  correlationId: string;
  traceparent?: string | undefined;
  tracestate?: string | undefined;
  idempotency?: IdempotencyClaim | undefined;
}

/** A reference to a location that does not exist, with a JSON pointer into the request. */
export interface UnknownLocation {
  kind: 'unknown-locations';
  problems: { pointer: string; detail: string }[];
}

export type LocationResult = { kind: 'created'; location: Location } | { kind: 'code-taken'; code: string };

export interface VerifyReport {
  balances: number;
  movements: number;
  drift: BalanceDrift[];
}

export class InventoryService {
  readonly #db: Database;
  readonly #movementDb: Database;
  readonly #batcher: KeyedBatcher<ReserveItem, ReserveOutcome>;
  readonly #expiry: HoldExpiry;
  readonly #publisher: AvailabilityPublisher;
  readonly #tasks: PeriodicTask[];

  constructor(db: Database, logger: Logger, options: InventoryServiceOptions = {}) {
    this.#db = db;
    this.#movementDb = options.movementWriter ?? db;
    // Keyed by SKU: one transaction per SKU at a time in this process decides every waiting request for it.
    this.#batcher = new KeyedBatcher(db, writeReservations, (item) => item.lines.map((l) => l.sku), {
      maxBatchSize: options.maxBatchSize ?? 256,
      maxConcurrentBatches: options.maxConcurrentBatches ?? 4,
    });
    this.#expiry = new HoldExpiry(db);
    this.#publisher = new AvailabilityPublisher(db);
    this.#tasks = [
      new PeriodicTask('inventory-hold-expiry', options.holdExpiryIntervalMs ?? 1000, () => this.#expiry.tick(), logger),
      new PeriodicTask('inventory-availability-publisher', options.availabilityIntervalMs ?? 250, async () => void (await this.#publisher.drain()), logger),
      new PeriodicTask('idempotency-record-pruning', 60_000, async () => void (await pruneRecords(db, options.idempotencyRetentionHours ?? 24)), logger),
    ];
  }

  /** Starts the background loops (hold expiry, availability publishing). */
  start(): void {
    for (const task of this.#tasks) task.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.#tasks.map((task) => task.stop()));
  }

  /** Expires due holds now (the background loop does this every tick). */
  expireDueHolds(): Promise<number> {
    return this.#expiry.expireDue();
  }

  /** Publishes pending availability changes now; returns how many events were written. */
  publishAvailability(): Promise<number> {
    return this.#publisher.drain();
  }

  async createLocation(input: LocationInput, context: WriteContext): Promise<IdempotentOutcome<LocationResult>> {
    return runIdempotent(this.#db, context.idempotency, async (tx) => {
      const location = await insertLocation(tx, newId('location'), input);
      return location ? { kind: 'created', location } : { kind: 'code-taken', code: input.code };
    });
  }

  listLocations(): Promise<Location[]> {
    return listLocations(this.#db);
  }

  /** Finds one location by id or code. */
  async findLocation(ref: string): Promise<Location | undefined> {
    return (await resolveLocations(this.#db, [ref])).get(ref);
  }

  /** Records movements that commit together; counts set absolute levels. */
  async recordMovements(request: MovementRequest, context: WriteContext): Promise<IdempotentOutcome<MovementResult> | UnknownLocation> {
    const refs = request.movements.flatMap((m, i) => [
      { ref: m.location, pointer: `/movements/${i}/location` },
      ...(m.type === 'transfer' ? [{ ref: m.toLocation, pointer: `/movements/${i}/toLocation` }] : []),
    ]);
    const resolved = await this.#resolve(refs);
    if ('kind' in resolved) return resolved;
    const movements: ResolvedMovement[] = request.movements.map((m) =>
      m.type === 'transfer' ? { ...m, locationId: resolved.get(m.location)!, toLocationId: resolved.get(m.toLocation)! } : { ...m, locationId: resolved.get(m.location)! },
    );
    return runIdempotent(this.#movementDb, context.idempotency, (tx) => applyMovements(tx, movements, context));
  }

  /** Puts returned units back on the shelf (a `return_restock` ledger entry). */
  restock(
    line: { sku: string; location: string; quantity: number; reference?: string; reason?: string },
    context: WriteContext,
  ): Promise<IdempotentOutcome<MovementResult> | UnknownLocation> {
    return this.recordMovements({ movements: [{ type: 'return', ...line }] }, context);
  }

  /** What a channel may sell now, with the derivation. */
  async getAvailability(query: { sku: string; channel?: string | undefined; location?: string | undefined }): Promise<Availability | UnknownLocation> {
    let locationId: string | undefined;
    if (query.location !== undefined) {
      const resolved = await this.#resolve([{ ref: query.location, pointer: '/location' }]);
      if ('kind' in resolved) return resolved;
      locationId = resolved.get(query.location);
    }
    const view = await StockView.load(this.#db, [query.sku], query.channel ? [query.channel] : [], { lock: false });
    return explainAvailability(view.input(query.sku, query.channel ?? null), locationId);
  }

  /**
   * What a channel may sell now of each SKU, from one read of their stock: one transaction however
   * many SKUs, or the caller's (`within`) when it reads other things with it.
   */
  async getAvailabilities(query: { skus: readonly string[]; channel?: string | undefined }, within?: Queryable): Promise<Map<string, Availability>> {
    const skus = [...new Set(query.skus)];
    const channels = query.channel ? [query.channel] : [];
    const load = (q: Queryable) => StockView.load(q, skus, channels, { lock: false });
    const view = await (within ? load(within) : this.#db.transaction(load));
    return new Map(skus.map((sku) => [sku, explainAvailability(view.input(sku, query.channel ?? null))]));
  }

  /** The shared pool and each of `channels`, with their derivations, from one read of the SKU's stock. */
  async explainAcrossChannels(sku: string, channels: readonly string[]): Promise<Availability[]> {
    const view = await StockView.load(this.#db, [sku], [...channels], { lock: false });
    return [null, ...channels].map((channel) => explainAvailability(view.input(sku, channel)));
  }

  /** Active reservations holding a SKU (its open lines per location), newest first, paged by reservation id. */
  openReservationsOfSku(sku: string, page: { before?: string | undefined; limit: number }): Promise<OpenSkuReservation[]> {
    return openReservationsOfSku(this.#db, sku, page);
  }

  /** The SKU's drift in recent reconciliation reports, newest first. */
  driftOfSku(sku: string, limit: number): Promise<SkuDrift[]> {
    return driftOfSku(this.#db, sku, limit);
  }

  /**
   * Holds stock for every line or for none. Concurrent calls are decided in
   * batches, each in one transaction that locks the SKUs' balance rows.
   */
  async reserve(request: ReservationRequest, context: WriteContext): Promise<IdempotentOutcome<ReserveResult> | UnknownLocation> {
    const refs = request.lines.flatMap((l, i) => (l.location ? [{ ref: l.location, pointer: `/lines/${i}/location` }] : []));
    // Most reservations name no location: no lookup to wait for then.
    const resolved = refs.length === 0 ? NO_LOCATIONS : await this.#resolve(refs);
    if ('kind' in resolved) return resolved;
    const outcome = await this.#batcher.submit({
      reservationId: newId('reservation'),
      reference: request.reference,
      channel: request.channel,
      expiresAt: request.expiresAt ?? null,
      lines: mergeSameSkuLines(
        request.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, locationId: l.location ? resolved.get(l.location) : undefined, locationCode: l.location })),
      ).map((l, i) => ({ ...l, lineNumber: i + 1 })),
      correlationId: context.correlationId,
      traceparent: context.traceparent,
      tracestate: context.tracestate,
      idempotency: context.idempotency,
    });
    if (outcome.kind === 'key-reused' || outcome.kind === 'key-in-flight') return outcome;
    const { replayed, ...result } = outcome;
    return { kind: 'done', result, replayed };
  }

  /** Ends a hold and returns its units to available. Releasing a closed hold changes nothing. */
  release(id: string, context: WriteContext): Promise<IdempotentOutcome<ReleaseResult>> {
    return runIdempotent(this.#db, context.idempotency, async (tx) => (await releaseHolds(tx, [id], 'released', context)).get(id)!);
  }

  /**
   * Sets an active hold's quantities per SKU (an order amended before release): only the
   * difference must be free; all lines or none (hold-resize.ts). Takes its own locks.
   */
  resize(id: string, lines: readonly ResizeLine[]): Promise<ResizeResult> {
    return this.#db.transaction((tx) => resizeHold(tx, id, lines));
  }

  /** Records shipped units of a hold as sales (all still held when no lines are given). */
  async consume(id: string, request: ConsumeRequest, context: WriteContext): Promise<IdempotentOutcome<ConsumeResult> | UnknownLocation> {
    const lines = request.lines ?? [];
    const resolved = await this.#resolve(lines.flatMap((l, i) => (l.location ? [{ ref: l.location, pointer: `/lines/${i}/location` }] : [])));
    if ('kind' in resolved) return resolved;
    const consumeLines = request.lines?.map((l) => ({ sku: l.sku, quantity: l.quantity, locationId: l.location ? resolved.get(l.location) : undefined }));
    return runIdempotent(this.#db, context.idempotency, (tx) => consumeHold(tx, id, consumeLines, request.reference, context));
  }

  async getReservation(id: string): Promise<Reservation | undefined> {
    const [held] = await readReservations(this.#db, [id], { lock: false });
    return held ? toReservation(held) : undefined;
  }

  /** The reservations made for a reference; read with `within` when given (the caller's transaction). */
  async findReservations(reference: string, within?: Queryable): Promise<Reservation[]> {
    return (await findReservationsByReference(within ?? this.#db, reference)).map(toReservation);
  }

  async readLedger(filter: { sku: string; location?: string | undefined; after?: string | undefined; limit: number }): Promise<LedgerEntry[] | UnknownLocation> {
    let locationId: string | undefined;
    if (filter.location !== undefined) {
      const resolved = await this.#resolve([{ ref: filter.location, pointer: '/location' }]);
      if ('kind' in resolved) return resolved;
      locationId = resolved.get(filter.location);
    }
    return readLedger(this.#db, { sku: filter.sku, locationId, after: filter.after, limit: filter.limit });
  }

  async setSafetyStock(input: SafetyStockInput, context: WriteContext): Promise<IdempotentOutcome<{ kind: 'saved' }> | UnknownLocation> {
    const resolved = await this.#resolve(input.location ? [{ ref: input.location, pointer: '/location' }] : []);
    if ('kind' in resolved) return resolved;
    return runIdempotent(this.#db, context.idempotency, async (tx) => {
      await upsertSafetyStock(tx, input.sku, input.location ? resolved.get(input.location)! : null, input.quantity);
      await markAvailabilityChanged(tx, [input.sku]);
      return { kind: 'saved' as const };
    });
  }

  async setChannelPolicy(
    channel: string,
    input: { allocation: Allocation; excludedLocations: string[] },
    context: WriteContext,
  ): Promise<IdempotentOutcome<{ kind: 'saved' }> | UnknownLocation> {
    const resolved = await this.#resolve(input.excludedLocations.map((ref, i) => ({ ref, pointer: `/excludedLocations/${i}` })));
    if ('kind' in resolved) return resolved;
    return runIdempotent(this.#db, context.idempotency, async (tx) => {
      await upsertChannelPolicy(tx, channel, input.allocation, [...new Set(input.excludedLocations.map((ref) => resolved.get(ref)!))]);
      await markAllSkusChanged(tx);
      return { kind: 'saved' as const };
    });
  }

  setSkuAllocation(channel: string, sku: string, allocation: Allocation, context: WriteContext): Promise<IdempotentOutcome<{ kind: 'saved' }>> {
    return runIdempotent(this.#db, context.idempotency, async (tx) => {
      await upsertSkuAllocation(tx, channel, sku, allocation);
      await markAvailabilityChanged(tx, [sku]);
      return { kind: 'saved' as const };
    });
  }

  async getPolicies(): Promise<PolicySet> {
    const all = await listAllPolicies(this.#db);
    return {
      safetyStock: all.safety,
      channels: all.channels.map((c) => ({
        ...c,
        skuAllocations: all.skuAllocations.filter((a) => a.channel === c.channel).map((a) => ({ sku: a.sku, allocation: a.allocation })),
      })),
    };
  }

  /** Compares a system of record's snapshot with our stock; applies it as counts when asked. */
  async reconcile(request: SnapshotRequest, context: WriteContext): Promise<IdempotentOutcome<ReconcileResult> | UnknownLocation> {
    const resolved = await this.#resolve(request.lines.map((l, i) => ({ ref: l.location, pointer: `/lines/${i}/location` })));
    if ('kind' in resolved) return resolved;
    const snapshot = {
      source: request.source,
      takenAt: request.takenAt ?? new Date().toISOString(),
      complete: request.complete,
      apply: request.apply,
      lines: request.lines.map((l) => ({ sku: l.sku, locationId: resolved.get(l.location)!, quantity: l.quantity })),
    };
    return runIdempotent(this.#db, context.idempotency, (tx) => reconcile(tx, snapshot, context));
  }

  applySnapshot(id: string, context: WriteContext): Promise<IdempotentOutcome<ReconcileResult>> {
    return runIdempotent(this.#db, context.idempotency, (tx) => applySnapshot(tx, id, context));
  }

  listSnapshots(options: { before?: string | undefined; limit: number }): Promise<DriftReport[]> {
    return listSnapshots(this.#db, options);
  }

  async getSnapshot(id: string): Promise<DriftReport | undefined> {
    const report = await readSnapshot(this.#db, id);
    if (!report) return undefined;
    const { lineRows: _rows, ...rest } = report;
    return rest;
  }

  /** Recomputes balances from the ledger and open reservations; lists every difference. */
  async verify(): Promise<VerifyReport> {
    // One snapshot for both reads, so a write between them cannot show up as drift.
    return this.#db.transaction(async (tx) => {
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const counts = await countInventory(tx);
      return { ...counts, drift: await findBalanceDrift(tx) };
    });
  }

  async #resolve(refs: readonly { ref: string; pointer: string }[]): Promise<Map<string, string> | UnknownLocation> {
    const found = await resolveLocations(this.#db, refs.map((r) => r.ref));
    const missing = refs.filter((r) => !found.has(r.ref));
    if (missing.length > 0) {
      return { kind: 'unknown-locations', problems: missing.map((m) => ({ pointer: m.pointer, detail: `no location with id or code "${m.ref}"` })) };
    }
    return new Map([...found.entries()].map(([ref, location]) => [ref, location.id]));
  }
}

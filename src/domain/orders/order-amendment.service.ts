import type { Database, Queryable } from '../../store/database.ts';
import type { InventoryService } from '../inventory/inventory.service.ts';
import { appendEvents, type NewEvent } from '../../runtime/outbox/outbox.ts';
import { newId } from '../../model/ids.ts';
import type { Order, OrderStatus, OrderSubmission } from '../../model/order.ts';
import type { AmendmentChanges } from '../../model/order-amendment.ts';
import { findOrderById } from '../../store/orders/order-queries.ts';
import { appendTimeline, lockOrderStatus, readOrderStatus, transitionOrder } from '../../store/orders/order-status.ts';
import { readFulfilments, readOrderFlow, updateOrderFlow } from '../../store/orders/order-lifecycle-queries.ts';
import {
  decideAmendment,
  heldAmendment,
  rejectedVersion,
  insertAmendment,
  listAmendments,
  newerVersionSeen,
  pendingAmendments,
  readAmendment,
  replaceLineStates,
  saveOrderDocument,
  setFulfilmentLines,
  settleAmendment,
  supersedeHeld,
  type AmendmentRow,
} from '../../store/orders/order-amendment-queries.ts';
import { recordAudit } from '../audit/audit.ts';
import { AMENDMENT_HOLD_CODES, SynclineError, type AmendmentHoldCode } from '../errors.ts';
import { amendOrder, diffOrder, holdStatus, isEmpty, planAmendment, type AmendmentPlan } from './order-amendment.ts';

/**
 * Carries out order amendments (docs/adr/0023): a channel's newer version of an order is
 * compared with it and applied, held for review or reported (order-amendment.ts decides);
 * an operator applies or rejects a held one. Callers run one amendment of an order at a
 * time (the flows run it as a job in the order's ordering key, between the parts of its
 * flow), so the order-placed flow always reads the amended order; every write here also
 * locks the order row, so an operator's decision and a channel's change never interleave.
 */

/** The order event types written here (registered with the flows' events in src/flows/order-events.ts). */
export const AMENDMENT_EVENT_TYPES = {
  amended: 'order.amended',
  channelUpdateAfterRelease: 'order.channel_update_after_release',
  onHold: 'order.on_hold',
} as const;

/** What the service needs from the flows, which own the order-placed flow's jobs and steps. */
export interface AmendmentPorts {
  /** True once the back-office part (ERP, capture, warehouse) of the order's flow has begun. */
  backOfficeStarted(db: Queryable, orderId: string): Promise<boolean>;
  /** Enqueues, in the caller's transaction, the part of the order-placed flow that goes on from `status`. */
  resume(tx: Queryable, orderId: string, status: OrderStatus, key: string, correlationId: string): Promise<void>;
}

/**
 * Stores a channel's newer version of an order, pending, in the caller's transaction (the
 * intake's, with the job that takes it in). Returns its id.
 */
export async function proposeAmendment(tx: Queryable, version: ChannelVersion): Promise<string> {
  const id = newId('amendment');
  await insertAmendment(tx, {
    id,
    orderId: version.orderId,
    channel: version.channel,
    status: 'pending',
    orderStatus: 'unknown',
    changes: { fields: [], lines: [], paid: false },
    proposed: version.submission,
    code: null,
    channelUpdatedAt: version.channelUpdatedAt ?? null,
    correlationId: version.correlationId,
    decidedBy: null,
  });
  return id;
}

export interface ChannelVersion {
  orderId: string;
  /** The connection that sent it. */
  channel: string;
  submission: OrderSubmission;
  channelUpdatedAt?: string | undefined;
  correlationId: string;
}

export type AmendmentOutcome =
  | { kind: 'not-found' }
  | { kind: 'unchanged' }
  /** An older version than one already taken in: ignored. */
  | { kind: 'stale'; amendmentId: string }
  | { kind: 'applied' | 'held' | 'reported'; amendmentId: string; changes: AmendmentChanges; resumed?: boolean; code?: AmendmentHoldCode };

export type DecisionResult =
  | { kind: 'applied' | 'rejected'; amendment: AmendmentRow; resumed: boolean }
  | { kind: 'not-found' }
  | { kind: 'not-held'; amendment: AmendmentRow }
  /** Still cannot be applied (stock still short, the back office has begun): it stays held. */
  | { kind: 'not-applicable'; amendment: AmendmentRow; code: AmendmentHoldCode; detail: Record<string, unknown> };

type ResizeOutcome = { ok: true } | { ok: false; code: AmendmentHoldCode; detail: Record<string, unknown> };

/** The hold an amendment waiting for review puts on an order. */
interface AmendmentHold {
  kind: 'amendment';
  amendmentId: string;
  code: AmendmentHoldCode;
  resumeStatus: OrderStatus;
  lines: AmendmentChanges['lines'];
}

const isAmendmentHold = (hold: unknown): hold is AmendmentHold => typeof hold === 'object' && hold !== null && (hold as { kind?: unknown }).kind === 'amendment';

export class OrderAmendmentService {
  readonly #db: Database;
  readonly #inventory: InventoryService;
  readonly #ports: AmendmentPorts;

  constructor(db: Database, inventory: InventoryService, ports: AmendmentPorts) {
    this.#db = db;
    this.#inventory = inventory;
    this.#ports = ports;
  }

  /**
   * Takes in the order's pending channel versions, oldest first: each is applied, held for
   * review or reported. The order's flow jobs call this before they read the order, so a
   * version received before a part of the flow starts is in the order that part works on.
   */
  async takeIn(orderId: string, correlationId: string): Promise<AmendmentOutcome[]> {
    const outcomes: AmendmentOutcome[] = [];
    for (const pending of await pendingAmendments(this.#db, orderId)) outcomes.push(await this.#takeIn(pending, correlationId));
    return outcomes;
  }

  async #takeIn(pending: AmendmentRow, correlationId: string): Promise<AmendmentOutcome> {
    const order = await findOrderById(this.#db, pending.orderId);
    if (!order) return { kind: 'not-found' };
    const changes = diffOrder(order, pending.proposed);
    const settle = (tx: Queryable, status: 'unchanged' | 'superseded' | 'applied' | 'held' | 'reported', code: string | null = null, decidedBy: string | null = null) =>
      settleAmendment(tx, pending.id, { status, orderStatus: order.status, changes, code, decidedBy });
    if (isEmpty(changes)) {
      await settle(this.#db, 'unchanged');
      return { kind: 'unchanged' };
    }
    // Webhooks arrive in any order: a version older than one taken in must not undo it.
    if (pending.channelUpdatedAt && (await newerVersionSeen(this.#db, order.id, pending.channelUpdatedAt))) {
      await settle(this.#db, 'superseded');
      return { kind: 'stale', amendmentId: pending.id };
    }
    // The same version again (a redelivery, the reconciliation poll) while it waits for review, or
    // after an operator turned it down: nothing new. A later version of the channel is judged anew.
    const held = await heldAmendment(this.#db, order.id);
    const rejected = held ? undefined : await rejectedVersion(this.#db, order.id, pending.channelUpdatedAt);
    const decided = held ?? rejected;
    if (decided && JSON.stringify(diffOrder(order, decided.proposed)) === JSON.stringify(changes)) {
      await settle(this.#db, 'unchanged');
      return { kind: 'unchanged' };
    }
    const channel = pending.channel;
    const hold = (await readOrderFlow(this.#db, order.id))?.hold_reason;
    // An order held for an earlier change is judged from where that change stopped it.
    const status = isAmendmentHold(hold) ? hold.resumeStatus : order.status;
    const plan = planAmendment(changes, { status, backOfficeStarted: await this.#ports.backOfficeStarted(this.#db, order.id), holdsStock: await this.#holdsStock(order.id) });
    const by = `channel:${channel}`;
    const step = await this.#carryOut(order, plan, pending.proposed, changes);

    return this.#db.transaction(async (tx): Promise<AmendmentOutcome> => {
      const current = await lockOrderStatus(tx, order.id);
      // Another writer moved the order meanwhile (an operator): decide again on the next attempt.
      if (current !== order.status) throw new SynclineError('order.amendment_raced', `order ${order.id} moved from ${order.status} to ${current} while its change was prepared`, { retry: 'transient' });
      if (step.kind === 'report') {
        await settle(tx, 'reported');
        await appendTimeline(tx, order.id, [entry(channel, 'channel.order.changed', 'skipped', correlationId, { amendmentId: pending.id, changes, status: order.status, note: 'changed in the channel after release: not applied' })]);
        await appendEvents(tx, [event(AMENDMENT_EVENT_TYPES.channelUpdateAfterRelease, order.id, correlationId, { amendmentId: pending.id, channel, status: order.status, changes })]);
        return { kind: 'reported', amendmentId: pending.id, changes };
      }
      const superseded = await supersedeHeld(tx, order.id);
      if (step.kind === 'hold') {
        if (step.contact) await this.#write(tx, amendOrder(order, pending.proposed, { lines: false, now: new Date() }), false);
        await settle(tx, 'held', step.code);
        await this.#hold(tx, order, status, { amendmentId: pending.id, code: step.code, lines: changes.lines }, correlationId, channel, { changes, superseded: superseded ?? null, detail: step.detail, contactApplied: step.contact });
        return { kind: 'held', amendmentId: pending.id, changes, code: step.code };
      }
      await this.#write(tx, step.amended, step.lines);
      await settle(tx, 'applied', null, by);
      const resumed = await this.#afterApply(tx, order, hold, step.lines, pending.id, correlationId);
      await this.#announce(tx, order.id, pending.id, channel, changes, by, resumed, correlationId, superseded);
      return { kind: 'applied', amendmentId: pending.id, changes, resumed };
    });
  }

  /** An operator applies a held change (when the stock and the flow allow it now); the order goes on. */
  async apply(orderId: string, amendmentId: string, request: { by: string; note: string | null; correlationId: string }): Promise<DecisionResult> {
    const amendment = await readAmendment(this.#db, orderId, amendmentId);
    if (!amendment) return { kind: 'not-found' };
    if (amendment.status !== 'held') return { kind: 'not-held', amendment };
    const order = (await findOrderById(this.#db, orderId))!;
    const hold = (await readOrderFlow(this.#db, orderId))?.hold_reason;
    const ownHold = isAmendmentHold(hold) && hold.amendmentId === amendmentId;
    const status = ownHold ? hold.resumeStatus : order.status;
    const changes = diffOrder(order, amendment.proposed);
    const plan = planAmendment(changes, { status, backOfficeStarted: await this.#ports.backOfficeStarted(this.#db, orderId), holdsStock: await this.#holdsStock(orderId) });
    const step = await this.#carryOut(order, plan, amendment.proposed, changes);
    if (step.kind === 'hold') return { kind: 'not-applicable', amendment, code: step.code, detail: step.detail };
    if (step.kind === 'report') return { kind: 'not-applicable', amendment, code: AMENDMENT_HOLD_CODES.linesLocked, detail: { status: order.status } };
    return this.#db.transaction(async (tx): Promise<DecisionResult> => {
      const current = await lockOrderStatus(tx, orderId);
      if (current !== order.status || !(await decideAmendment(tx, amendmentId, { status: 'applied', by: request.by, note: request.note }))) {
        const now = (await readAmendment(tx, orderId, amendmentId))!;
        return now.status === 'held' ? { kind: 'not-applicable', amendment: now, code: AMENDMENT_HOLD_CODES.linesLocked, detail: { status: current } } : { kind: 'not-held', amendment: now };
      }
      if (step.kind === 'apply') await this.#write(tx, step.amended, step.lines);
      const resumed = ownHold ? await this.#release(tx, orderId, hold, `amendment-applied:${amendmentId}`, request.correlationId) : false;
      await appendTimeline(tx, orderId, [entry('operator', 'order.amendment.applied', 'succeeded', request.correlationId, { amendmentId, by: request.by, note: request.note, changes: amendment.changes })]);
      await this.#announce(tx, orderId, amendmentId, amendment.channel, amendment.changes, request.by, resumed, request.correlationId, undefined);
      await recordAudit(tx, { actor: request.by, correlationId: request.correlationId }, { action: 'order.amendment_applied', targetType: 'order', targetId: orderId, details: { amendmentId } });
      return { kind: 'applied', amendment: (await readAmendment(tx, orderId, amendmentId))!, resumed };
    });
  }

  /** An operator keeps the order as it was: the held change is dropped and the order goes on. */
  async reject(orderId: string, amendmentId: string, request: { by: string; note: string | null; correlationId: string }): Promise<DecisionResult> {
    if (!(await readAmendment(this.#db, orderId, amendmentId))) return { kind: 'not-found' };
    return this.#db.transaction(async (tx): Promise<DecisionResult> => {
      await lockOrderStatus(tx, orderId);
      if (!(await decideAmendment(tx, amendmentId, { status: 'rejected', by: request.by, note: request.note }))) return { kind: 'not-held', amendment: (await readAmendment(tx, orderId, amendmentId))! };
      const hold = (await readOrderFlow(tx, orderId))?.hold_reason;
      const resumed = isAmendmentHold(hold) && hold.amendmentId === amendmentId ? await this.#release(tx, orderId, hold, `amendment-rejected:${amendmentId}`, request.correlationId) : false;
      await appendTimeline(tx, orderId, [entry('operator', 'order.amendment.rejected', 'succeeded', request.correlationId, { amendmentId, by: request.by, note: request.note })]);
      await recordAudit(tx, { actor: request.by, correlationId: request.correlationId }, { action: 'order.amendment_rejected', targetType: 'order', targetId: orderId, details: { amendmentId } });
      return { kind: 'rejected', amendment: (await readAmendment(tx, orderId, amendmentId))!, resumed };
    });
  }

  /** The order's amendments, oldest first; undefined when there is no such order. */
  async list(orderId: string): Promise<AmendmentRow[] | undefined> {
    if (!(await readOrderStatus(this.#db, orderId))) return undefined;
    return listAmendments(this.#db, orderId);
  }

  async #holdsStock(orderId: string): Promise<boolean> {
    return (await readFulfilments(this.#db, orderId)).some((f) => f.status === 'planned');
  }

  /**
   * Does what must happen outside the order's transaction: resizing the order's holds (the
   * inventory service takes its own locks). Resizing sets quantities, so doing it again after
   * a crash holds the same units. Returns the step to record.
   */
  async #carryOut(
    order: Order,
    plan: AmendmentPlan,
    submission: OrderSubmission,
    changes: AmendmentChanges,
  ): Promise<{ kind: 'report' } | { kind: 'hold'; code: AmendmentHoldCode; contact: boolean; detail: Record<string, unknown> } | { kind: 'apply'; amended: Order; lines: boolean }> {
    if (plan.kind === 'unchanged' || plan.kind === 'report') return { kind: 'report' };
    if (plan.kind === 'hold') return { ...plan, detail: {} };
    const amended = amendOrder(order, submission, { lines: plan.lines, now: new Date() });
    if (plan.resize) {
      const resized = await this.#resize(order, amended);
      const contact = changes.fields.some((f) => f === 'shippingAddress' || f === 'billingAddress' || f === 'contact' || f === 'notes');
      if (!resized.ok) return { kind: 'hold', code: resized.code, contact, detail: resized.detail };
    }
    return { kind: 'apply', amended, lines: plan.lines };
  }

  /** Sets the order's holds to the amended quantities, SKU by SKU at the location that holds it. */
  async #resize(order: Order, amended: Order): Promise<ResizeOutcome> {
    const fulfilments = (await readFulfilments(this.#db, order.id)).filter((f) => f.status === 'planned');
    const quantities = (o: Order) => o.lines.reduce((m, l) => m.set(l.sku, (m.get(l.sku) ?? 0) + l.quantity), new Map<string, number>());
    const before = quantities(order);
    const after = quantities(amended);
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter((sku) => before.get(sku) !== after.get(sku));
    // Each changed SKU belongs to the fulfilment that holds it; a new SKU to the first one.
    const touched = new Set(changed.map((sku) => fulfilments.find((f) => f.lines.some((l) => l.sku === sku)) ?? fulfilments[0]!));
    if (touched.size > 1) return { ok: false, code: AMENDMENT_HOLD_CODES.notResizable, detail: { reason: 'the change spans the holds of several locations' } };
    const [fulfilment] = [...touched];
    if (!fulfilment) return { ok: true };
    const others = new Set(fulfilments.filter((f) => f !== fulfilment).flatMap((f) => f.lines.map((l) => l.sku)));
    const lines = [...after.entries()].filter(([sku]) => !others.has(sku)).map(([sku, quantity]) => ({ sku, quantity }));
    const result = await this.#inventory.resize(fulfilment.reservationId, lines);
    if (result.kind === 'insufficient-stock') return { ok: false, code: AMENDMENT_HOLD_CODES.stockShort, detail: { lines: result.lines.filter((l) => l.short).map((l) => ({ sku: l.sku, requested: l.requested, available: l.available })) } };
    if (result.kind !== 'resized') return { ok: false, code: AMENDMENT_HOLD_CODES.notResizable, detail: { reason: result.kind === 'not-resizable' ? result.reason : result.kind } };
    return { ok: true };
  }

  /** Writes the amended order: its document, and with lines its line quantities and the lines its fulfilments will ask for. */
  async #write(tx: Queryable, amended: Order, lines: boolean): Promise<void> {
    await saveOrderDocument(tx, amended);
    if (!lines || !(await readOrderFlow(tx, amended.id))) return;
    await replaceLineStates(tx, amended);
    const planned = (await readFulfilments(tx, amended.id)).filter((x) => x.status === 'planned');
    if (planned.length === 0) return;
    // Each SKU stays with the fulfilment that held it; a SKU new to the order joins the first one, as its hold did.
    const home = new Map<string, string>();
    for (const f of planned) for (const l of f.lines) if (!home.has(l.sku)) home.set(l.sku, f.locationCode);
    for (const f of planned) {
      const mine = amended.lines.filter((l) => (home.get(l.sku) ?? planned[0]!.locationCode) === f.locationCode);
      await setFulfilmentLines(tx, amended.id, f.locationCode, mine.map((l) => ({ lineNumber: l.lineNumber, sku: l.sku, quantity: l.quantity })));
    }
  }

  /**
   * After an applied change: an order held by validation is validated again (an unpaid order
   * the channel now reports paid goes on), a backordered order whose lines changed tries to
   * allocate again. Returns true when the order left a hold.
   */
  async #afterApply(tx: Queryable, order: Order, hold: unknown, lines: boolean, amendmentId: string, correlationId: string): Promise<boolean> {
    if (order.status === 'on_hold' && (hold as { kind?: string } | null)?.kind === 'validation') {
      await transitionOrder(tx, order.id, 'received', ['on_hold']);
      await updateOrderFlow(tx, order.id, { hold_reason: null });
      await this.#ports.resume(tx, order.id, 'received', `amended:${amendmentId}`, correlationId);
      return true;
    }
    if (isAmendmentHold(hold)) return this.#release(tx, order.id, hold, `amended:${amendmentId}`, correlationId);
    if (order.status === 'pending_allocation' && lines) await this.#ports.resume(tx, order.id, 'pending_allocation', `amended:${amendmentId}`, correlationId);
    return false;
  }

  /** Lifts an amendment hold: the order returns where the change stopped it and its flow goes on. */
  async #release(tx: Queryable, orderId: string, hold: AmendmentHold, key: string, correlationId: string): Promise<boolean> {
    if ((await lockOrderStatus(tx, orderId)) !== 'on_hold') return false;
    await transitionOrder(tx, orderId, hold.resumeStatus, ['on_hold']);
    await updateOrderFlow(tx, orderId, { hold_reason: null });
    await this.#ports.resume(tx, orderId, hold.resumeStatus, key, correlationId);
    return true;
  }

  /** Puts the order on hold for a change to review (or keeps the hold it is on), with the reason. */
  async #hold(tx: Queryable, order: Order, resumeStatus: OrderStatus, held: Omit<AmendmentHold, 'kind' | 'resumeStatus'>, correlationId: string, channel: string, detail: Record<string, unknown>): Promise<void> {
    const to = holdStatus(order.status);
    const current = (await readOrderFlow(tx, order.id))?.hold_reason;
    if (to) await transitionOrder(tx, order.id, to, [order.status]);
    // On hold already: an earlier change's hold is replaced; any other hold (fraud, validation, exception) stays, the change waits beside it.
    if (to || isAmendmentHold(current)) await updateOrderFlow(tx, order.id, { hold_reason: { kind: 'amendment', ...held, resumeStatus } satisfies AmendmentHold });
    await appendTimeline(tx, order.id, [entry(channel, 'channel.order.changed', 'pending', correlationId, { amendmentId: held.amendmentId, code: held.code, status: order.status, ...detail, note: 'changed in the channel before release: held for review' })]);
    if (to) await appendEvents(tx, [event(AMENDMENT_EVENT_TYPES.onHold, order.id, correlationId, { reason: 'amendment', amendmentId: held.amendmentId, code: held.code, lines: held.lines })]);
  }

  async #announce(tx: Queryable, orderId: string, amendmentId: string, channel: string, changes: AmendmentChanges, by: string, resumed: boolean, correlationId: string, superseded: string | undefined): Promise<void> {
    await appendTimeline(tx, orderId, [entry(channel, 'order.amended', 'succeeded', correlationId, { amendmentId, changes, by, resumed, ...(superseded ? { superseded } : {}) })]);
    await appendEvents(tx, [event(AMENDMENT_EVENT_TYPES.amended, orderId, correlationId, { amendmentId, channel, changes, by, resumed })]);
    if (by.startsWith('channel:')) await recordAudit(tx, { actor: by, correlationId }, { action: 'order.amended', targetType: 'order', targetId: orderId, details: { amendmentId, fields: changes.fields, lines: changes.lines.length } });
  }
}

const entry = (system: string, action: string, outcome: 'succeeded' | 'pending' | 'skipped', correlationId: string, detail: Record<string, unknown>) => ({ system, action, outcome, attempt: 1, durationMs: null, correlationId, detail });

const event = (type: string, orderId: string, correlationId: string, data: Record<string, unknown>): NewEvent => ({
  id: newId('event'),
  type,
  source: '/syncline/orders',
  subject: orderId,
  time: new Date().toISOString(),
  correlationId,
  data: { orderId, ...data },
});

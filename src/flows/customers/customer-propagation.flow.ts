import { SynclineError } from '../../domain/errors.ts';
import { planConsent, planErasure, planMerge, planUnmerge, type PropagationAction, type PropagationTask } from '../../domain/customers/propagation.ts';
import { EVENT_TYPES, type CloudEvent } from '../../model/cloud-event.ts';
import type { EventData } from '../../model/events.ts';
import { enqueue } from '../../runtime/queue.ts';
import type { RuntimeRegistry } from '../../runtime/registry.ts';
import type { DeadLetterNotice, HandlerContext, JobPolicy, JobSpec } from '../../runtime/runtime.ts';
import type { Database } from '../../store/database.ts';
import { selectCustomer } from '../../store/customers/customer-queries.ts';
import { insertPropagations, recordPropagationAttempt, selectPropagationStatus, selectRecordRefs, selectRecordRefsAfterMerge, type PropagationStatus } from '../../store/customers/propagation.store.ts';
import type { CallContext } from '../../connectors/kit/contracts.ts';
import type { Connectors } from '../../connectors/connectors.ts';
import type { ErpRouter } from '../erp-routing/erp-router.ts';
import { TARGETS } from '../flow-deps.ts';

/**
 * Customer propagation (ADR 0038, docs/customers.md#propagation): a subscriber to the customer
 * events plans what each event means in every system connection holding a record of the
 * customer (src/domain/customers/propagation.ts), records one `customer_propagation` row each,
 * and enqueues one job per actionable row on that connection's target (its quota and breaker),
 * with retries. A job that fails for good marks its row failed; the other rows go on.
 */

export const CUSTOMER_PROPAGATION = 'customer-propagation';
export const PROPAGATE_JOB = 'customer.propagate';

/** The event types propagated. */
export const PROPAGATED_EVENTS = [EVENT_TYPES.customerMerged, EVENT_TYPES.customerUnmerged, EVENT_TYPES.customerConsentChanged, EVENT_TYPES.customerErasureRequested] as const;

export interface PropagationPayload {
  eventId: string;
  eventType: string;
  customerId: string;
  system: string;
  connection: string;
  action: PropagationAction;
}

export interface PropagationDeps {
  db: Database;
  connectors: Pick<Connectors, 'crm' | 'loyalty'>;
  erps: ErpRouter;
}

/** The customer an id stands for now (following merges). */
async function currentCustomer(db: Database, id: string): Promise<string> {
  let row = await selectCustomer(db, id);
  for (let hops = 0; row?.merged_into && hops < 1000; hops++) row = await selectCustomer(db, row.merged_into);
  return row?.id ?? id;
}

/** The tasks an event asks for, from the records' system ids as they are now (an erasure names its records itself). */
async function planEvent(db: Database, event: CloudEvent): Promise<{ customerId: string; requestId: string | null; tasks: PropagationTask[] }> {
  switch (event.type) {
    case EVENT_TYPES.customerMerged: {
      const data = event.data as EventData<typeof EVENT_TYPES.customerMerged>;
      return { customerId: data.survivorId, requestId: null, tasks: planMerge(await selectRecordRefsAfterMerge(db, data.survivorId, data.mergeId), data.recordIds) };
    }
    case EVENT_TYPES.customerUnmerged: {
      const data = event.data as EventData<typeof EVENT_TYPES.customerUnmerged>;
      return { customerId: data.restoredId, requestId: null, tasks: planUnmerge(await selectRecordRefs(db, data.survivorId), await selectRecordRefs(db, data.restoredId)) };
    }
    case EVENT_TYPES.customerConsentChanged: {
      const data = event.data as EventData<typeof EVENT_TYPES.customerConsentChanged>;
      const customerId = await currentCustomer(db, data.customerId);
      const { purpose, channel, status, at, proof } = data;
      return { customerId: data.customerId, requestId: null, tasks: planConsent(await selectRecordRefs(db, customerId), { purpose, channel, status, at, proof }, data.source) };
    }
    case EVENT_TYPES.customerErasureRequested: {
      const data = event.data as EventData<typeof EVENT_TYPES.customerErasureRequested>;
      return { customerId: data.customerId, requestId: data.requestId, tasks: planErasure(data.records) };
    }
    default:
      throw new SynclineError('flow.event_unsupported', `customer propagation does not handle ${event.type}`, { retry: 'permanent' });
  }
}

/** The target a system connection's calls go through. */
function targetOf(deps: PropagationDeps, system: string, connection: string): string {
  if (system === 'erp') return erpEndpoint(deps, connection).target;
  return system === 'crm' ? TARGETS.crm : TARGETS.loyalty;
}

function erpEndpoint(deps: PropagationDeps, connection: string) {
  const found = deps.erps.endpoints.find((e) => e.id === connection);
  if (!found) throw new SynclineError('customer.propagation_connection_unknown', `no ERP connection "${connection}" is configured`, { retry: 'permanent', details: { connection } });
  return found;
}

/** Plans an event and enqueues its jobs, with their rows, in one transaction. */
export async function propagateEvent(deps: PropagationDeps, event: CloudEvent, policy: { maxAttempts: number }): Promise<void> {
  const { customerId, requestId, tasks } = await planEvent(deps.db, event);
  await deps.db.transaction(async (tx) => {
    const rows = tasks.map((t) => ({
      eventId: event.id,
      eventType: event.type,
      customerId,
      requestId,
      system: t.system,
      connection: t.connection,
      status: (t.action.kind === 'none' ? 'not_applicable' : 'pending') as PropagationStatus,
      detail: t.action.kind === 'none' ? [{ reason: t.action.reason }] : [],
    }));
    await insertPropagations(tx, rows);
    const jobs: JobSpec[] = [];
    for (const task of tasks.filter((t) => t.action.kind !== 'none')) {
      let target: string;
      try {
        target = targetOf(deps, task.system, task.connection);
      } catch (error) {
        await recordPropagationAttempt(tx, { eventId: event.id, system: task.system, connection: task.connection }, { status: 'failed', error: errorOf(error), countAttempt: false });
        continue;
      }
      jobs.push({
        type: PROPAGATE_JOB,
        payload: { eventId: event.id, eventType: event.type, customerId, system: task.system, connection: task.connection, action: task.action } satisfies PropagationPayload,
        lane: 'bulk',
        target,
        // One customer's events reach one connection in the order they were planned (a merge before its unmerge).
        orderingKey: `customer:${task.system}:${task.connection}:${event.subject ?? customerId}`,
        jobKey: `customer-propagate:${event.id}:${task.system}:${task.connection}`,
        correlationId: event.correlationid,
        maxAttempts: policy.maxAttempts,
      });
    }
    if (jobs.length) await enqueue(tx, jobs);
  });
}

function errorOf(error: unknown): { code: string; message: string } {
  return { code: error instanceof SynclineError ? error.code : 'UNHANDLED_ERROR', message: error instanceof Error ? error.message : String(error) };
}

type Outcome = { sourceId: string; result: string };

/** Carries one task to its system; returns the final status and what each record's system answered. */
async function carry(deps: PropagationDeps, payload: PropagationPayload, call: CallContext): Promise<{ status: PropagationStatus; detail: unknown[]; error?: { code: string; message: string } }> {
  const { action } = payload;
  const each = async (ids: string[], run: (id: string) => Promise<string>): Promise<Outcome[]> => {
    const outcomes: Outcome[] = [];
    for (const id of ids) outcomes.push({ sourceId: id, result: await run(id) });
    return outcomes;
  };
  const notApplicable = (reason: string) => ({ status: 'not_applicable' as const, detail: [{ reason }] });
  if (action.kind === 'none') return notApplicable(action.reason);
  if (payload.system === 'erp') {
    const erp = erpEndpoint(deps, payload.connection).client;
    switch (action.kind) {
      case 'merge':
        if (!erp.setCustomerActive) return notApplicable(`the ${erp.system} connector cannot deactivate a customer`);
        return { status: 'done', detail: [{ into: action.into }, ...(await each(action.merged, (id) => erp.setCustomerActive!(id, false, call)))] };
      case 'unmerge':
        if (!erp.setCustomerActive) return notApplicable(`the ${erp.system} connector cannot activate a customer`);
        return { status: 'done', detail: await each(action.restored, (id) => erp.setCustomerActive!(id, true, call)) };
      case 'erase':
        if (!erp.eraseCustomer) return notApplicable(`the ${erp.system} connector cannot erase a customer`);
        return { status: 'done', detail: await each(action.targets, (id) => erp.eraseCustomer!(id, call)) };
      default:
        return notApplicable('consent is not kept by the ERP');
    }
  }
  if (payload.system === 'crm') {
    const crm = deps.connectors.crm;
    switch (action.kind) {
      case 'merge':
        return { status: 'done', detail: [{ into: action.into }, ...(await each(action.merged, (id) => crm.mergeContacts(action.into, id, call)))] };
      case 'unmerge':
        return notApplicable(`${crm.system} cannot undo a merge: the contacts stay merged there (ADR 0038)`);
      case 'erase':
        return { status: 'done', detail: await each(action.targets, (id) => crm.eraseContact(id, call)) };
      case 'consent': {
        const { purpose, channel, status, proof } = action.consent;
        const detail = await each(action.targets, (id) => crm.setConsent(id, { purpose, channel, status, proof }, call));
        if (detail.every((d) => d.result === 'not-mapped')) return notApplicable(`the ${payload.connection} connection maps no subscription to ${purpose}${channel ? ` by ${channel}` : ''}`);
        const refused = detail.find((d) => d.result === 'refused');
        return refused
          ? { status: 'failed', detail, error: { code: 'customer.crm_consent_refused', message: `${crm.system} refused to subscribe contact ${refused.sourceId} again after an opt-out; the contact must opt in through the CRM` } }
          : { status: 'done', detail };
      }
    }
  }
  const loyalty = deps.connectors.loyalty;
  switch (action.kind) {
    case 'merge':
      if (!loyalty.mergeMember) return notApplicable('the loyalty connector cannot merge members');
      return { status: 'done', detail: [{ into: action.into }, ...(await each(action.merged, (id) => loyalty.mergeMember!(id, action.into, call)))] };
    case 'unmerge':
      if (!loyalty.unmergeMember) return notApplicable('the loyalty connector cannot unmerge members');
      return { status: 'done', detail: await each(action.restored, (id) => loyalty.unmergeMember!(id, call)) };
    case 'erase':
      if (!loyalty.eraseMember) return notApplicable('the loyalty connector cannot erase members');
      return { status: 'done', detail: await each(action.targets, (id) => loyalty.eraseMember!(id, call)) };
    case 'consent': {
      if (!loyalty.setMemberConsent) return notApplicable('the loyalty connector takes no consent');
      const { purpose, channel, status, at } = action.consent;
      return { status: 'done', detail: await each(action.targets, (id) => loyalty.setMemberConsent!(id, { purpose, channel, status, at }, call)) };
    }
  }
}

/** The job: one task to one system connection; its row says the outcome of each attempt. */
export async function runPropagation(deps: PropagationDeps, payload: PropagationPayload, context: HandlerContext): Promise<void> {
  const key = { eventId: payload.eventId, system: payload.system, connection: payload.connection };
  // A replayed event (or a job run again after its outcome was recorded) changes nothing more.
  const status = await selectPropagationStatus(deps.db, key);
  if (status && status !== 'pending') return;
  const call: CallContext = { correlationId: context.correlationId, signal: context.signal, target: context.target() };
  let outcome: Awaited<ReturnType<typeof carry>>;
  try {
    outcome = await carry(deps, payload, call);
  } catch (error) {
    await recordPropagationAttempt(deps.db, key, { status: 'pending', error: errorOf(error) });
    throw error;
  }
  await recordPropagationAttempt(deps.db, key, { status: outcome.status, detail: outcome.detail, error: outcome.error ?? null });
}

/** A propagation job that failed for good: its row is failed; the event's other rows are not held up. */
export async function propagationDeadLettered(notice: DeadLetterNotice<PropagationPayload>, tx: Parameters<typeof recordPropagationAttempt>[0]): Promise<void> {
  const { eventId, system, connection } = notice.job.payload;
  await recordPropagationAttempt(tx, { eventId, system, connection }, { status: 'failed', error: { code: notice.errorCode, message: notice.message }, countAttempt: false });
}

/** Adds the subscriber and the job to a worker's registry. */
export function registerCustomerPropagation(registry: RuntimeRegistry, deps: PropagationDeps, policy: JobPolicy = {}): void {
  const jobPolicy: JobPolicy = { maxAttempts: 6, backoffBaseMs: 1000, backoffCapMs: 60_000, ...policy };
  registry.register<PropagationPayload>(PROPAGATE_JOB, (payload, context) => runPropagation(deps, payload, context), jobPolicy, { onDeadLetter: propagationDeadLettered });
  registry.subscribe({ name: CUSTOMER_PROPAGATION, types: PROPAGATED_EVENTS, lane: 'bulk', handle: (event) => propagateEvent(deps, event, { maxAttempts: jobPolicy.maxAttempts! }) });
}

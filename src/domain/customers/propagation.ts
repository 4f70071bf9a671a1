import type { CustomerConsentChangedData } from '../../model/events.ts';
import type { z } from 'zod';

/**
 * What a customer event means in each system holding a record of the customer (ADR 0038,
 * docs/customers.md#propagation). Pure: the flow reads the records' system ids, asks for the
 * plan, then carries each task to its system through the system's connector and target.
 *
 * Glossary
 *   task        one (event, system, connection): what that connection is asked to do
 *   not applicable  the system holds a record but the event asks nothing of it (recorded all the same)
 */

/** Systems Syncline propagates to; channel records are the channels' own (their privacy processes apply). */
export const PROPAGATED_SYSTEMS = ['erp', 'crm', 'loyalty'] as const;
export type PropagatedSystem = (typeof PROPAGATED_SYSTEMS)[number];

export interface RecordIds {
  recordId: string;
  system: string;
  connection: string;
  sourceId: string;
}

export type ConsentChange = Pick<z.output<typeof CustomerConsentChangedData>, 'purpose' | 'channel' | 'status' | 'at' | 'proof'>;

export type PropagationAction =
  /** The merged records' counterparts join the surviving one (`into`). */
  | { kind: 'merge'; into: string; merged: string[] }
  /** The restored records' counterparts come apart again. */
  | { kind: 'unmerge'; restored: string[] }
  | { kind: 'consent'; targets: string[]; consent: ConsentChange }
  | { kind: 'erase'; targets: string[] }
  | { kind: 'none'; reason: string };

export interface PropagationTask {
  system: string;
  connection: string;
  action: PropagationAction;
}

const isPropagated = (system: string): system is PropagatedSystem => (PROPAGATED_SYSTEMS as readonly string[]).includes(system);

/** Records grouped by system and connection, in first-seen order. */
function bySystem(records: readonly RecordIds[]): Map<string, RecordIds[]> {
  const groups = new Map<string, RecordIds[]>();
  for (const r of records) {
    const key = `${r.system}\u0000${r.connection}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return groups;
}
const split = (key: string) => {
  const [system, connection] = key.split('\u0000') as [string, string];
  return { system, connection };
};

/**
 * A merge: in each system connection where both sides hold a record, the moved records join the
 * survivor's oldest one there. Where only one side does, there is nothing to combine.
 */
export function planMerge(survivorRecords: readonly RecordIds[], movedRecordIds: readonly string[]): PropagationTask[] {
  return [...bySystem(survivorRecords.filter((r) => isPropagated(r.system)))].map(([key, records]) => {
    const moved = records.filter((r) => movedRecordIds.includes(r.recordId)).map((r) => r.sourceId);
    const staying = records.filter((r) => !movedRecordIds.includes(r.recordId)).map((r) => r.sourceId);
    const action: PropagationAction =
      moved.length && staying.length
        ? { kind: 'merge', into: staying[0]!, merged: moved.filter((id) => id !== staying[0]) }
        : { kind: 'none', reason: moved.length ? 'only the merged customer has a record here' : 'only the surviving customer has a record here' };
    return { ...split(key), action: action.kind === 'merge' && action.merged.length === 0 ? { kind: 'none', reason: 'both records are the same one here' } : action };
  });
}

/**
 * An unmerge: in each system connection where the restored customer's records were combined with
 * the survivor's (both sides still hold one), the restored ones come apart again.
 */
export function planUnmerge(survivorRecords: readonly RecordIds[], restoredRecords: readonly RecordIds[]): PropagationTask[] {
  return [...bySystem(restoredRecords.filter((r) => isPropagated(r.system)))].map(([key, records]) => {
    const { system, connection } = split(key);
    const survivorHasOne = survivorRecords.some((r) => r.system === system && r.connection === connection);
    const action: PropagationAction = survivorHasOne ? { kind: 'unmerge', restored: records.map((r) => r.sourceId) } : { kind: 'none', reason: 'the merge combined nothing here' };
    return { system, connection, action };
  });
}

/** A consent change goes to the CRM and loyalty records, except to the connection it came from. */
export function planConsent(records: readonly RecordIds[], consent: ConsentChange, source: { system: string; connection: string | null }): PropagationTask[] {
  return [...bySystem(records.filter((r) => isPropagated(r.system)))].map(([key, group]) => {
    const { system, connection } = split(key);
    let action: PropagationAction;
    if (system === 'erp') action = { kind: 'none', reason: 'consent is kept by the CRM and the loyalty service, not the ERP' };
    else if (source.system === system && (source.connection === null || source.connection === connection)) action = { kind: 'none', reason: 'the consent came from this system' };
    else action = { kind: 'consent', targets: group.map((r) => r.sourceId), consent };
    return { system, connection, action };
  });
}

/** An erasure goes to every system holding a record; a channel's records are the channel's to erase. */
export function planErasure(records: readonly RecordIds[]): PropagationTask[] {
  return [...bySystem(records)].map(([key, group]) => {
    const { system, connection } = split(key);
    const action: PropagationAction = isPropagated(system)
      ? { kind: 'erase', targets: group.map((r) => r.sourceId) }
      : { kind: 'none', reason: "a channel's customer data is erased by the channel's own privacy process" };
    return { system, connection, action };
  });
}

import type { CallContext } from '../../connectors/kit/http-client.ts';
import type { CustomerRecordSource } from '../../connectors/kit/customer-source.ts';
import { CustomerRecordInput, type CustomerSystem } from '../../model/customer.ts';
import type { Database } from '../../store/database.ts';
import { completeRecordSync, failRecordSync, resetRecordSync, selectRecordSync } from '../../store/customers/customer-record-queries.ts';
import { SynclineError } from '../errors.ts';
import type { CustomerService, IngestOutcome } from './customer.service.ts';

/**
 * Customer records pulled from a system (docs/customers.md, ADR 0041): an ERP's parties, a
 * loyalty service's members, page by page, each page ingested in one transaction (matching as
 * POST /v1/customers/records does). The cursor moves only when a run completes, held back by the
 * run's duration and an overlap, so a record changed while the run paged through is read again:
 * a record read again unchanged makes no new version.
 */

/** Records read per call (default: 100). */
export const DEFAULT_RECORD_PAGE_SIZE = 100;
/** How far behind the newest modification time the cursor is kept, beyond the run's duration (default: 5000 ms). */
export const DEFAULT_RECORD_OVERLAP_MS = 5000;

export interface RecordSyncReport {
  connection: string;
  system: CustomerSystem;
  kind: 'full' | 'incremental';
  since: string | null;
  cursor: string | null;
  read: number;
  /** Records by outcome: created, merged, updated, unchanged. */
  outcomes: Record<IngestOutcome, number>;
  /** Pairs sent to stewardship (reviews of past merges included). */
  queued: number;
  skipped: { externalId: string; reason: string }[];
  pages: number;
  durationMs: number;
}

const laterOf = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : Date.parse(a) >= Date.parse(b) ? a : b);

export class CustomerRecordSync {
  readonly #db: Database;
  readonly #customers: CustomerService;

  constructor(db: Database, customers: CustomerService) {
    this.#db = db;
    this.#customers = customers;
  }

  /** Pulls what changed on `connection` since its cursor; every call goes through `context` (the connection's target). */
  async sync(source: CustomerRecordSource, connection: string, system: CustomerSystem, context: CallContext = {}, options: { pageSize?: number; overlapMs?: number } = {}): Promise<RecordSyncReport> {
    const started = Date.now();
    const state = await selectRecordSync(this.#db, connection);
    const since = state?.cursor ? state.cursor.toISOString() : null;
    const report: RecordSyncReport = {
      connection,
      system,
      kind: since ? 'incremental' : 'full',
      since,
      cursor: since,
      read: 0,
      outcomes: { created: 0, merged: 0, updated: 0, unchanged: 0 },
      queued: 0,
      skipped: [],
      pages: 0,
      durationMs: 0,
    };
    let newest: string | null = null;
    const correlationId = context.correlationId ?? `customers-sync:${connection}:${started}`;
    try {
      for (let offset = 0; ; ) {
        const page = await source.customersChangedSince(since, { offset, limit: options.pageSize ?? DEFAULT_RECORD_PAGE_SIZE }, context);
        report.pages += 1;
        report.read += page.records.length;
        report.skipped.push(...page.skipped);
        const inputs: CustomerRecordInput[] = [];
        for (const { modifiedAt, ...record } of page.records) {
          newest = laterOf(newest, modifiedAt);
          // A record the canonical model refuses is reported, not allowed to stop the others.
          const parsed = CustomerRecordInput.safeParse({ ...record, connection });
          if (parsed.success) inputs.push(parsed.data);
          else report.skipped.push({ externalId: record.externalId, reason: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
        }
        if (inputs.length) {
          for (const result of await this.#customers.ingestMany(inputs, { correlationId })) {
            report.outcomes[result.outcome] += 1;
            report.queued += result.queued + (result.reviews ?? 0);
          }
        }
        offset += page.records.length + page.skipped.length;
        if (!page.more) break;
      }
    } catch (error) {
      const failure = error instanceof SynclineError ? { code: error.code, message: error.message } : { code: 'customer.sync_failed', message: (error as Error).message };
      await failRecordSync(this.#db, connection, system, failure);
      throw error;
    }
    report.durationMs = Date.now() - started;
    if (newest !== null) report.cursor = laterOf(since, new Date(Date.parse(newest) - report.durationMs - (options.overlapMs ?? DEFAULT_RECORD_OVERLAP_MS)).toISOString());
    const { skipped, ...summary } = report;
    await completeRecordSync(this.#db, connection, system, report.cursor, { ...summary, skipped: skipped.length, at: new Date().toISOString() });
    return report;
  }

  /** The next pull of the connection reads every record again. */
  async resetCursor(connection: string): Promise<void> {
    await resetRecordSync(this.#db, connection);
  }
}

import { randomUUID } from 'node:crypto';
import { insertReplayPreview, takeReplayPreview } from '../../store/console/replay-preview-queries.ts';
import type { Database } from '../../store/database.ts';
import {
  discardDeadLetter,
  getDeadLetter,
  listAudit,
  listDeadLetters,
  openDeadLetterGroups,
  openDeadLetterIds,
  replayDeadLetters,
  type DeadLetterFilter,
  type DeadLetterRow,
} from '../../store/runtime/dead-letter-queries.ts';
import { laneName, type Lane } from '../runtime.ts';

/** A dead letter as operators see it (API and CLI). */
export interface DeadLetterView {
  id: string;
  status: string;
  type: string;
  lane: Lane;
  target: string | null;
  jobKey: string | null;
  orderingKey: string | null;
  correlationId: string;
  errorClass: string;
  errorCode: string;
  reason: string;
  remediation: string;
  attempts: number;
  maxAttempts: number;
  enqueuedAt: string;
  failedAt: string;
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolutionNote: string | null;
  replayJobId: string | null;
}

export interface DeadLetterDetail extends DeadLetterView {
  payload: unknown;
  excerpt: unknown;
  audit: { at: string; actor: string; action: string; detail: unknown }[];
}

const iso = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());

function view(row: DeadLetterRow): DeadLetterView {
  return {
    id: row.id,
    status: row.status,
    type: row.type,
    lane: laneName(row.lane),
    target: row.target,
    jobKey: row.job_key,
    orderingKey: row.ordering_key,
    correlationId: row.correlation_id,
    errorClass: row.error_class,
    errorCode: row.error_code,
    reason: row.reason,
    remediation: row.remediation,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    enqueuedAt: iso(row.enqueued_at)!,
    failedAt: iso(row.failed_at)!,
    resolvedAt: iso(row.resolved_at),
    resolvedBy: row.resolved_by,
    resolutionNote: row.resolution_note,
    replayJobId: row.replay_job_id === null ? null : String(row.replay_job_id),
  };
}

export type DiscardOutcome = 'discarded' | 'not-found' | 'not-open';
export type ReplayOutcome = { kind: 'replayed'; jobId: string } | { kind: 'not-found' } | { kind: 'not-open'; status: string };

/** Most dead letters one bulk replay takes (default: 5000); a larger match is replayed in several. */
export const BULK_REPLAY_MAX = 5000;
/** How long a bulk replay preview stays usable, in seconds (default: 600). */
export const REPLAY_PREVIEW_SECONDS = 600;

/** What a bulk replay would take: the count the operator confirms, and the preview that pins those letters. */
export interface ReplayPreview {
  previewId: string;
  count: number;
  /** More letters matched than one bulk replay takes (BULK_REPLAY_MAX); the oldest are in this one. */
  more: boolean;
  expiresInSeconds: number;
}

export type BulkReplayOutcome =
  | { kind: 'replayed'; items: { id: string; jobId: string }[]; previewed: number; filter: Record<string, unknown> }
  | { kind: 'preview-gone' };

/** Lists, shows, replays and discards dead letters; every change is audited with its actor. */
export class DeadLetterService {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async list(filter: DeadLetterFilter, page: { limit: number; before?: string | undefined }): Promise<{ items: DeadLetterView[]; next: string | null }> {
    const rows = await listDeadLetters(this.#db, filter, { limit: page.limit + 1, before: page.before });
    const items = rows.slice(0, page.limit).map(view);
    return { items, next: rows.length > page.limit ? items.at(-1)!.id : null };
  }

  async show(id: string): Promise<DeadLetterDetail | undefined> {
    const row = await getDeadLetter(this.#db, id);
    if (!row) return undefined;
    const audit = await listAudit(this.#db, id);
    return {
      ...view(row),
      payload: row.payload,
      excerpt: row.excerpt,
      audit: audit.map((a) => ({ at: iso(a.at)!, actor: a.actor, action: a.action, detail: a.detail })),
    };
  }

  /** Replays one open dead letter as a new job under the current code and policy. */
  async replay(id: string, actor: string): Promise<ReplayOutcome> {
    const [done] = await this.#db.transaction((tx) => replayDeadLetters(tx, { ids: [id] }, actor));
    if (done) return { kind: 'replayed', jobId: done.job_id };
    const row = await getDeadLetter(this.#db, id);
    return row ? { kind: 'not-open', status: row.status } : { kind: 'not-found' };
  }

  /** Replays every open dead letter matching the filter (at most `limit`); returns them. */
  async replayMatching(filter: DeadLetterFilter, limit: number, actor: string): Promise<{ id: string; jobId: string }[]> {
    const done = await this.#db.transaction((tx) => replayDeadLetters(tx, { filter, limit }, actor));
    return done.map((d) => ({ id: d.id, jobId: d.job_id }));
  }

  /** Open dead letters counted per error code and target. */
  groups(): Promise<{ code: string; target: string | null; count: number }[]> {
    return openDeadLetterGroups(this.#db);
  }

  /**
   * Pins the open dead letters matching `filter` (oldest first, at most BULK_REPLAY_MAX) for a
   * bulk replay by `userId`: replayPreviewed() then replays exactly these, never one that arrived later.
   */
  async previewReplay(filter: DeadLetterFilter, userId: string): Promise<ReplayPreview> {
    const ids = await openDeadLetterIds(this.#db, filter, BULK_REPLAY_MAX + 1);
    const pinned = ids.slice(0, BULK_REPLAY_MAX);
    const previewId = randomUUID();
    await insertReplayPreview(this.#db, { id: previewId, userId, filter: { ...filter }, deadLetterIds: pinned });
    return { previewId, count: pinned.length, more: ids.length > BULK_REPLAY_MAX, expiresInSeconds: REPLAY_PREVIEW_SECONDS };
  }

  /**
   * Replays the letters a preview pinned that are still open (one replayed or discarded meanwhile is
   * left as it is). A preview is used once, by its user, within REPLAY_PREVIEW_SECONDS.
   */
  async replayPreviewed(previewId: string, userId: string, actor: string): Promise<BulkReplayOutcome> {
    return this.#db.transaction(async (tx) => {
      const preview = await takeReplayPreview(tx, previewId, userId, REPLAY_PREVIEW_SECONDS);
      if (!preview) return { kind: 'preview-gone' } as const;
      const done = preview.deadLetterIds.length === 0 ? [] : await replayDeadLetters(tx, { ids: preview.deadLetterIds }, actor);
      return { kind: 'replayed', items: done.map((d) => ({ id: d.id, jobId: d.job_id })), previewed: preview.deadLetterIds.length, filter: preview.filter } as const;
    });
  }

  async discard(id: string, actor: string, reason: string): Promise<DiscardOutcome> {
    if (await this.#db.transaction((tx) => discardDeadLetter(tx, id, actor, reason))) return 'discarded';
    return (await getDeadLetter(this.#db, id)) ? 'not-open' : 'not-found';
  }
}

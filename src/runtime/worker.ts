import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Database, Queryable } from '../store/database.ts';
import { CommitBatcher } from '../store/commit-batcher.ts';
import { claimJobs, type ClaimedJobRow } from '../store/runtime/claim-jobs.ts';
import { completeJobs, releaseJobs, renewLeases, rescheduleJob } from '../store/runtime/finish-jobs.ts';
import { moveToDeadLetter } from '../store/runtime/dead-letter-queries.ts';
import { JOBS_CHANNEL } from '../store/runtime/insert-jobs.ts';
import { newId } from '../model/ids.ts';
import { enqueue } from './queue.ts';
import { classifyError, decideFailure, DEFAULT_JOB_POLICY, remediationFor } from './retry-policy.ts';
import type { RuntimeRegistry } from './registry.ts';
import { laneName, type HandlerContext, type Job, type JobHooks } from './runtime.ts';
import { createTargetCaller } from './targets/target-caller.ts';
import { OutboxRelay } from './outbox/relay.ts';
import { SynclineError } from '../domain/errors.ts';
import { inJobSpan, withTrace } from '../observability/tracing.ts';

export interface WorkerOptions {
  /** Unique per process; shows as locked_by (default: host-pid-random). */
  workerId?: string;
  /** Jobs run at once in this process (default: 10). */
  concurrency?: number;
  /** Most slots bulk jobs may fill, so critical and normal work always finds one free (default: half of concurrency, at least 1). */
  maxBulk?: number;
  /** Most slots normal jobs may fill, so critical work always finds one free (default: concurrency - 1, at least 1). */
  maxNormal?: number;
  /** How long a claimed job belongs to this worker before others may take it; renewed while it runs (default: 30000 ms). */
  leaseMs?: number;
  /**
   * Jobs claimed ahead of free slots, so that one claim serves many completions. Buffered jobs
   * are leased like running ones; critical work is still claimed at once when a slot is free
   * (default: 2 x concurrency).
   */
  prefetch?: number;
  /** Fallback poll when no notification arrives: retries coming due, expired leases (default: 1000 ms). */
  pollMs?: number;
  /** Run the outbox relay in this process (default: true); only one process relays at a time. */
  relay?: boolean;
  /** How often the relay looks for new outbox events (default: 200 ms). */
  relayPollMs?: number;
}

interface Running {
  row: ClaimedJobRow;
  controller: AbortController;
  done: Promise<void>;
}

/**
 * Claims jobs in batches and runs them with the registered handlers. Completions are
 * group-committed; failures are retried, deferred or dead-lettered by the job's policy.
 */
export class Worker {
  readonly id: string;
  readonly #db: Database;
  readonly #registry: RuntimeRegistry;
  readonly #logger: Logger;
  readonly #concurrency: number;
  readonly #maxBulk: number;
  readonly #maxNormal: number;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #running = new Map<string, Running>();
  readonly #completing = new Set<string>();
  readonly #completer: CommitBatcher<string, void>;
  readonly #relay: OutboxRelay | undefined;
  readonly #prefetch: number;
  // Claimed, not yet started; kept sorted by lane, then id.
  #buffer: ClaimedJobRow[] = [];
  #stopping = false;
  // There may be jobs to claim (a notification, the poll, or a claim that got all it asked for).
  #maybeMore = true;
  // A critical job may be waiting: claim it for a free slot even when the buffer is full.
  #criticalPending = true;
  #wake: (() => void) | undefined;
  #pumpDone: Promise<void> = Promise.resolve();
  #unlisten: (() => Promise<void>) | undefined;
  #timers: NodeJS.Timeout[] = [];
  #pendingFinishes = new Set<Promise<unknown>>();

  constructor(db: Database, registry: RuntimeRegistry, logger: Logger, options: WorkerOptions = {}) {
    this.id = options.workerId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.#db = db;
    this.#registry = registry;
    this.#logger = logger.child({ worker: this.id });
    this.#concurrency = Math.max(1, options.concurrency ?? 10);
    this.#maxBulk = Math.max(1, Math.min(this.#concurrency, options.maxBulk ?? Math.floor(this.#concurrency / 2)));
    this.#maxNormal = Math.max(1, Math.min(this.#concurrency, options.maxNormal ?? this.#concurrency - 1));
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#pollMs = options.pollMs ?? 1000;
    this.#prefetch = Math.max(0, options.prefetch ?? this.#concurrency * 2);
    // One DELETE per batch of finished jobs, while the previous batch commits.
    this.#completer = new CommitBatcher<string, void>(
      db,
      async (tx, ids) => {
        await completeJobs(tx, ids);
        return ids.map(() => undefined);
      },
      { maxBatchSize: 1000, maxConcurrentBatches: 2, transactional: false },
    );
    this.#relay = options.relay === false ? undefined : new OutboxRelay(db, registry, this.#logger, { pollMs: options.relayPollMs ?? 200 });
  }

  /** Starts claiming; resolves once the worker listens for new jobs. */
  async start(): Promise<void> {
    await this.#registry.publishTargets(this.#db);
    this.#unlisten = await this.#db.listen(JOBS_CHANNEL, (lane) => {
      if (lane === '0') this.#criticalPending = true;
      this.#signal(true);
    });
    this.#timers.push(
      setInterval(() => {
        this.#criticalPending = true;
        this.#signal(true);
      }, this.#pollMs),
    );
    this.#timers.push(setInterval(() => void this.#renew(), Math.max(100, Math.floor(this.#leaseMs / 3))));
    this.#pumpDone = this.#pump();
    this.#relay?.start();
  }

  /** Jobs claimed but not started yet. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** Jobs running now in this process. */
  get inFlight(): number {
    return this.#running.size;
  }

  #signal(more: boolean): void {
    if (more) this.#maybeMore = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #countLane(lane: number): number {
    let n = 0;
    for (const r of this.#running.values()) if (r.row.lane === lane) n += 1;
    return n;
  }

  /** Starts buffered jobs while slots are free, lowest lane first, within the lane caps. */
  #dispatch(): void {
    let normal = this.#countLane(1);
    let bulk = this.#countLane(2);
    for (let i = 0; i < this.#buffer.length && this.#running.size < this.#concurrency; ) {
      const row = this.#buffer[i]!;
      const allowed = row.lane === 0 || (row.lane === 1 && normal < this.#maxNormal) || (row.lane === 2 && bulk < this.#maxBulk);
      if (!allowed) {
        i += 1;
        continue;
      }
      this.#buffer.splice(i, 1);
      if (row.lane === 1) normal += 1;
      if (row.lane === 2) bulk += 1;
      this.#start(row);
    }
  }

  async #pump(): Promise<void> {
    while (!this.#stopping) {
      this.#dispatch();
      const capacity = this.#concurrency + this.#prefetch;
      const room = capacity - this.#running.size - this.#buffer.length;
      const criticalRoom = this.#concurrency - this.#running.size - this.#buffer.filter((r) => r.lane === 0).length;
      // Claim in batches: wait until half the capacity is free, unless nothing is left to run
      // or a critical job may be waiting for a free slot.
      const batchDue = this.#maybeMore && room > 0 && (room >= Math.ceil(capacity / 2) || this.#buffer.length === 0);
      const criticalDue = this.#criticalPending && criticalRoom > 0;
      if (batchDue || criticalDue) {
        const limits: [number, number, number] = batchDue ? [Math.max(room, criticalRoom), room, room] : [criticalRoom, 0, 0];
        const total = Math.max(...limits);
        if (batchDue) this.#maybeMore = false;
        this.#criticalPending = false;
        try {
          const rows = await claimJobs(this.#db, this.id, { limits, total, leaseMs: this.#leaseMs });
          if (this.#stopping) {
            await releaseJobs(this.#db, this.id, rows.map((r) => r.id));
            break;
          }
          this.#buffer = [...this.#buffer, ...rows].sort((a, b) => a.lane - b.lane || (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
          if (rows.length === total) {
            this.#maybeMore = true;
            this.#criticalPending ||= limits[0] > 0 && rows.every((r) => r.lane === 0);
          }
        } catch (error) {
          this.#logger.error({ err: error }, 'claiming jobs failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, Math.min(this.#pollMs, 1000)));
          this.#maybeMore = true;
          this.#criticalPending = true;
        }
        continue;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #start(row: ClaimedJobRow): void {
    const controller = new AbortController();
    const entry: Running = { row, controller, done: Promise.resolve() };
    this.#running.set(row.id, entry);
    entry.done = this.#execute(row, controller).finally(() => {
      this.#running.delete(row.id);
      this.#signal(false);
    });
  }

  async #execute(row: ClaimedJobRow, controller: AbortController): Promise<void> {
    const registered = this.#registry.handler(row.type);
    const policy = registered?.policy ?? DEFAULT_JOB_POLICY;
    const maxAttempts = row.max_attempts ?? policy.maxAttempts;
    const job: Job = {
      id: row.id,
      type: row.type,
      lane: laneName(row.lane),
      payload: row.payload,
      orderingKey: row.ordering_key,
      target: row.target,
      jobKey: row.job_key,
      correlationId: row.correlation_id,
      attempt: row.attempts,
      maxAttempts,
    };
    const log = this.#logger.child({ jobId: row.id, type: row.type, correlationId: row.correlation_id, attempt: row.attempts });
    const timeout = setTimeout(() => controller.abort(new SynclineError('JOB_TIMEOUT', `the job ran longer than ${policy.timeoutMs} ms`, { retry: 'transient' })), policy.timeoutMs);
    try {
      if (!registered) throw new SynclineError('NO_HANDLER', `no handler is registered for job type "${row.type}" in this worker`, { retry: 'transient', details: { remediation: `Deploy a worker that registers "${row.type}", then replay.` } });
      const context: HandlerContext = {
        job,
        correlationId: row.correlation_id,
        attempt: row.attempts,
        signal: controller.signal,
        target: (name) => {
          const target = name ?? row.target;
          if (!target) throw new SynclineError('NO_TARGET', `job ${row.type} has no target and none was named`);
          return createTargetCaller(this.#db, target, this.#registry.target(target), `${this.id}:${row.id}`, controller.signal);
        },
        enqueue: async (spec) => {
          await enqueue(this.#db, { ...spec, correlationId: spec.correlationId || row.correlation_id });
        },
        logger: log,
      };
      await new Promise<void>((resolve, reject) => {
        controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
        inJobSpan({ ...job, trace: row }, () => registered.handler(row.payload, context)).then(resolve, reject);
      });
      clearTimeout(timeout);
      this.#complete(row);
    } catch (error) {
      clearTimeout(timeout);
      await withTrace(row, () => this.#fail(row, job, registered?.hooks, policy, error, log));
    }
  }

  #complete(row: ClaimedJobRow): void {
    this.#completing.add(row.id);
    const finished = this.#completer
      .submit(row.id)
      .then(
        () => {
          // The next job of this ordering key became claimable.
          if (row.ordering_key !== null) this.#signal(true);
        },
        (error: unknown) => this.#logger.error({ err: error, jobId: row.id }, 'recording a completion failed; the job will run again after its lease'),
      )
      .finally(() => {
        this.#completing.delete(row.id);
        this.#pendingFinishes.delete(finished);
      });
    this.#pendingFinishes.add(finished);
  }

  async #fail(row: ClaimedJobRow, job: Job, hooks: JobHooks | undefined, policy: typeof DEFAULT_JOB_POLICY, error: unknown, log: Logger): Promise<void> {
    const maxAttempts = job.maxAttempts;
    const classified = classifyError(error);
    // Stopping is not the job's fault: it goes back to the queue at once, attempt not counted.
    const decision =
      classified.code === 'WORKER_STOPPING' ? { kind: 'defer' as const, runAt: new Date() } : decideFailure(classified, row.attempts, maxAttempts, policy);
    const lastError = { class: classified.retry, code: classified.code, message: classified.message, at: new Date().toISOString() };
    try {
      if (decision.kind === 'dead-letter') {
        const reason =
          classified.retry === 'permanent'
            ? `Permanent failure on attempt ${row.attempts}: ${classified.message}`
            : `Gave up after ${row.attempts} of ${maxAttempts} attempts; last error: ${classified.message}`;
        const deadLetterId = newId('deadLetter');
        const move = (db: Queryable) =>
          moveToDeadLetter(db, { id: row.id, worker: this.id, deadLetterId, maxAttempts }, {
            errorClass: classified.retry,
            errorCode: classified.code,
            reason,
            remediation: remediationFor(classified, row.target, row.attempts),
            excerpt: classified.excerpt ?? null,
          });
        const onDeadLetter = hooks?.onDeadLetter;
        if (!onDeadLetter) await move(this.#db);
        else {
          const notice = { deadLetterId, job, errorClass: classified.retry, errorCode: classified.code, message: classified.message };
          try {
            await this.#db.transaction(async (tx) => {
              if (await move(tx)) await onDeadLetter(notice, tx);
            });
          } catch (hookError) {
            // The job must not stay leased because its owner could not record the failure.
            log.error({ err: hookError, deadLetterId }, 'the dead-letter hook failed; dead-lettering without it');
            await move(this.#db);
          }
        }
        log.warn({ deadLetterId, code: classified.code, errorClass: classified.retry }, 'job dead-lettered');
      } else {
        await rescheduleJob(this.#db, { id: row.id, worker: this.id, runAt: decision.runAt, uncount: decision.kind === 'defer', error: lastError });
        if (decision.kind === 'retry') log.info({ code: classified.code, runAt: decision.runAt.toISOString() }, 'job failed; retry scheduled');
      }
    } catch (dbError) {
      log.error({ err: dbError }, 'recording a job failure failed; the job will run again after its lease');
    }
  }

  async #renew(): Promise<void> {
    const ids = [...this.#running.keys(), ...this.#buffer.map((r) => r.id), ...this.#completing];
    if (ids.length === 0) return;
    try {
      await renewLeases(this.#db, this.id, ids, this.#leaseMs);
    } catch (error) {
      this.#logger.warn({ err: error }, 'renewing leases failed');
    }
  }

  /**
   * Stops claiming, lets running jobs finish within graceMs, then aborts the rest (they go
   * back to the queue at once, attempt not counted) and flushes completions.
   */
  async stop(graceMs = 10_000): Promise<{ finished: boolean; released: number }> {
    if (this.#stopping) return { finished: true, released: 0 };
    this.#stopping = true;
    this.#signal(false);
    await this.#relay?.stop();
    await this.#pumpDone;
    // Claimed but never started: back to the queue at once, attempt not counted.
    const unstarted = this.#buffer.map((r) => r.id);
    this.#buffer = [];
    await releaseJobs(this.#db, this.id, unstarted).catch((error: unknown) => this.#logger.warn({ err: error }, 'releasing unstarted jobs failed; they return when their lease expires'));
    const running = [...this.#running.values()];
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      Promise.all(running.map((r) => r.done)).then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
    ]);
    clearTimeout(timer);
    let released = 0;
    if (!finished) {
      const left = [...this.#running.values()];
      released = left.length;
      for (const r of left) r.controller.abort(new SynclineError('WORKER_STOPPING', 'the worker stopped before the job finished', { retry: 'transient' }));
      await Promise.allSettled(left.map((r) => r.done));
    }
    await Promise.allSettled([...this.#pendingFinishes]);
    for (const t of this.#timers) clearInterval(t);
    await this.#unlisten?.().catch(() => {});
    return { finished, released };
  }
}

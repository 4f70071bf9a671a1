import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Database, Queryable } from '../store/database.ts';
import { claimJobs, compareJobIds, type ClaimedJobRow } from '../store/runtime/claim-jobs.ts';
import { releaseJobs, renewLeases, rescheduleJob } from '../store/runtime/finish-jobs.ts';
import { moveToDeadLetter } from '../store/runtime/dead-letter-queries.ts';
import { JOBS_CHANNEL } from '../store/runtime/insert-jobs.ts';
import { newId } from '../model/ids.ts';
import { enqueue } from './queue.ts';
import { CompletionBatcher } from './completion-batcher.ts';
import { classifyError, decideFailure, DEFAULT_JOB_POLICY, remediationFor } from './retry-policy.ts';
import type { RuntimeRegistry } from './registry.ts';
import { laneName, type HandlerContext, type Job, type JobHooks } from './runtime.ts';
import { createTargetCaller } from './targets/target-caller.ts';
import { BreakerView } from './targets/breaker-view.ts';
import { OutboxRelay } from './outbox/relay.ts';
import { SynclineError } from '../domain/errors.ts';
import { asJobRunner, inJobSpan, withTrace } from '../observability/tracing.ts';

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
   * Most jobs claimed ahead of free slots, so that one claim serves many completions. Buffered
   * jobs are leased like running ones; critical work is still claimed at once when a slot is
   * free (default: 50 x concurrency).
   */
  prefetch?: number;
  /**
   * How much work to keep claimed ahead, in milliseconds at the rate this worker has been
   * completing jobs: fast jobs are claimed hundreds at a time, slow ones a few at a time, so a
   * buffer never holds more than about this long of work that another process could have run
   * (default: 500 ms; never fewer than 2 x concurrency jobs, never more than `prefetch`).
   */
  prefetchMs?: number;
  /** Fallback poll when no notification arrives: retries coming due, expired leases (default: 1000 ms). */
  pollMs?: number;
  /** Run the outbox relay in this process (default: true); only one process relays at a time. */
  relay?: boolean;
  /** How often the relay looks for new outbox events (default: 200 ms). */
  relayPollMs?: number;
}

interface Running {
  row: ClaimedJobRow;
  // Made when the handler first reads its signal, or when the job is aborted: most handlers never read it.
  controller: AbortController | undefined;
  /** Rejects the run at once (timeout, stop); set when the handler starts. */
  abandon: ((reason: unknown) => void) | undefined;
  done: Promise<void>;
}

/** The job's abort signal, made on first use. */
function signalOf(entry: Running): AbortSignal {
  return (entry.controller ??= new AbortController()).signal;
}

/** Aborts the job's signal and stops waiting for its handler. */
function abortRun(entry: Running, reason: unknown): void {
  (entry.controller ??= new AbortController()).abort(reason);
  entry.abandon?.(reason);
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
  readonly #completer: CompletionBatcher;
  readonly #relay: OutboxRelay | undefined;
  // The targets' breakers as PostgreSQL last told them: unmetered targets' calls skip the grant.
  readonly #breakers: BreakerView;
  readonly #prefetch: number;
  readonly #minPrefetch: number;
  readonly #prefetchMs: number;
  // Claimed, not yet started: one queue per lane, each in id order.
  readonly #buffer: [JobQueue, JobQueue, JobQueue] = [new JobQueue(), new JobQueue(), new JobQueue()];
  readonly #runningByLane = [0, 0, 0];
  // Running jobs waiting in a target caller for a rate-limit grant or a concurrency slot: their
  // slots are lent to other jobs, up to the concurrency again (at most twice it in flight).
  #waiting = 0;
  // The poll came: claim for the bulk lane even if critical and normal work fills the buffer.
  #bulkDue = false;
  // Jobs completed per second (smoothed), which sizes the prefetch. Failures do not count: jobs
  // deferred by a rate limit or an open breaker come back fast and would inflate it.
  #rate = 0;
  #rateSince = performance.now();
  #completedSince = 0;
  #stopping = false;
  // There may be jobs to claim (a notification, the poll, or a claim that got all it asked for).
  #maybeMore = true;
  // A critical job may be waiting: claim it for a free slot even when the buffer is full.
  #criticalPending = true;
  #wake: (() => void) | undefined;
  #pumpDone: Promise<void> = Promise.resolve();
  #unlisten: (() => Promise<void>) | undefined;
  #timers: NodeJS.Timeout[] = [];
  readonly #timeouts = new JobTimeouts();

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
    this.#prefetch = Math.max(0, options.prefetch ?? this.#concurrency * 50);
    this.#minPrefetch = Math.min(this.#prefetch, this.#concurrency * 2);
    this.#prefetchMs = Math.max(0, options.prefetchMs ?? 500);
    // One DELETE per batch of finished jobs, while the previous batch commits.
    this.#completer = new CompletionBatcher(db, {
      committed: (notify) => {
        // The next job of an ordering key completed here became claimable.
        if (notify) this.#signal(true);
      },
      failed: (ids, error) => this.#logger.error({ err: error, jobIds: ids }, 'recording completions failed; the jobs will run again after their leases'),
    });
    this.#breakers = new BreakerView(db);
    this.#relay = options.relay === false ? undefined : new OutboxRelay(db, registry, this.#logger, { pollMs: options.relayPollMs ?? 200 });
  }

  /** Starts claiming; resolves once the worker listens for new jobs. */
  async start(): Promise<void> {
    await this.#registry.publishTargets(this.#db);
    await this.#breakers.start();
    this.#unlisten = await this.#db.listen(JOBS_CHANNEL, (lane) => {
      if (lane === '0') this.#criticalPending = true;
      this.#signal(true);
    });
    this.#timers.push(
      setInterval(() => {
        this.#criticalPending = true;
        this.#bulkDue = true;
        this.#signal(true);
      }, this.#pollMs),
    );
    this.#timers.push(setInterval(() => void this.#renew(), Math.max(100, Math.floor(this.#leaseMs / 3))));
    // Jobs without a stored trace then run in the worker's own context, with no frame of their own.
    this.#pumpDone = asJobRunner(() => this.#pump());
    this.#relay?.start();
  }

  /** Jobs claimed but not started yet. */
  get buffered(): number {
    return this.#buffer[0].length + this.#buffer[1].length + this.#buffer[2].length;
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

  /** Jobs holding a slot of their own: the running ones, less those whose slot is lent while they wait. */
  get #active(): number {
    return this.#running.size - Math.min(this.#waiting, this.#concurrency);
  }

  /** A running job waits for a target's grant or slot: its slot goes to the next job until it resumes. */
  readonly #lendSlot = (): (() => void) => {
    this.#waiting += 1;
    this.#signal(false);
    let resumed = false;
    return () => {
      if (resumed) return;
      resumed = true;
      this.#waiting -= 1;
    };
  };

  /** Starts buffered jobs while slots are free, lowest lane first, within the lane caps. */
  #dispatch(): void {
    const [critical, normal, bulk] = this.#buffer;
    while (this.#active < this.#concurrency) {
      if (critical.length > 0) this.#start(critical.shift());
      else if (normal.length > 0 && this.#runningByLane[1]! < this.#maxNormal) this.#start(normal.shift());
      else if (bulk.length > 0 && this.#runningByLane[2]! < this.#maxBulk) this.#start(bulk.shift());
      else return;
    }
  }

  /** Jobs to keep claimed ahead: about prefetchMs of work at the recent completion rate, within bounds. */
  #prefetchTarget(): number {
    const now = performance.now();
    const elapsed = now - this.#rateSince;
    if (elapsed >= 250) {
      const sample = (this.#completedSince * 1000) / elapsed;
      this.#rate = this.#rate === 0 ? sample : (this.#rate + sample) / 2;
      this.#rateSince = now;
      this.#completedSince = 0;
    }
    return Math.min(this.#prefetch, Math.max(this.#minPrefetch, Math.round((this.#rate * this.#prefetchMs) / 1000)));
  }

  async #pump(): Promise<void> {
    while (!this.#stopping) {
      this.#dispatch();
      const capacity = this.#concurrency + this.#prefetchTarget();
      const buffered = this.buffered;
      const room = capacity - this.#running.size - buffered;
      const criticalRoom = this.#concurrency - this.#active - this.#buffer[0].length;
      const bulkRoom = this.#maxBulk - this.#runningByLane[2]! - this.#buffer[2].length;
      // Claim in batches: wait until half the capacity is free, unless nothing is left to run
      // or a critical job may be waiting for a free slot. Bulk jobs come after the other lanes
      // in a batch: while those fill the buffer (a backlog for a rate-limited ERP), the poll
      // claims for the bulk lane's own slots, so it is slowed by the other lanes, never stopped.
      const batchDue = this.#maybeMore && room > 0 && (room >= Math.ceil(capacity / 2) || buffered === 0);
      const criticalDue = this.#criticalPending && criticalRoom > 0;
      const bulkDue = this.#bulkDue && bulkRoom > 0 && this.#buffer[2].length === 0;
      if (batchDue || criticalDue || bulkDue) {
        const limits: [number, number, number] = batchDue
          ? [Math.max(room, criticalRoom), room, room]
          : [Math.max(0, criticalDue ? criticalRoom : 0), 0, Math.max(0, bulkDue ? bulkRoom : 0)];
        const total = batchDue ? Math.max(...limits) : limits[0] + limits[2];
        if (batchDue) this.#maybeMore = false;
        if (batchDue || criticalDue) this.#criticalPending = false;
        try {
          const rows = await claimJobs(this.#db, this.id, { limits, total, leaseMs: this.#leaseMs });
          if (this.#stopping) {
            await releaseJobs(this.#db, this.id, rows.map((r) => r.id));
            break;
          }
          for (const row of rows) this.#buffer[row.lane]!.push(row);
          // The bulk lane had its turn unless the other lanes took the whole claim.
          if (limits[2] > 0 && (rows.length < total || this.#buffer[2].length > 0)) this.#bulkDue = false;
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
    const entry: Running = { row, controller: undefined, abandon: undefined, done: undefined! };
    this.#running.set(row.id, entry);
    this.#runningByLane[row.lane]! += 1;
    entry.done = this.#execute(row, entry);
  }

  /** Runs the job and records its outcome; never rejects. */
  async #execute(row: ClaimedJobRow, entry: Running): Promise<void> {
    try {
      await this.#run(row, entry);
    } finally {
      this.#running.delete(row.id);
      this.#runningByLane[row.lane]! -= 1;
      this.#signal(false);
    }
  }

  async #run(row: ClaimedJobRow, entry: Running): Promise<void> {
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
    const context = new JobContext(job, entry, this.#logger, {
      target: (name) => {
        const target = name ?? row.target;
        if (!target) throw new SynclineError('NO_TARGET', `job ${row.type} has no target and none was named`);
        return createTargetCaller(this.#db, target, this.#registry.target(target), `${this.id}:${row.id}`, signalOf(entry), this.#breakers, this.#lendSlot);
      },
      enqueue: async (spec) => {
        await enqueue(this.#db, { ...spec, correlationId: spec.correlationId || row.correlation_id });
      },
    });
    const timeout = this.#timeouts.start(entry, policy.timeoutMs);
    try {
      if (!registered) throw new SynclineError('NO_HANDLER', `no handler is registered for job type "${row.type}" in this worker`, { retry: 'transient', details: { remediation: `Deploy a worker that registers "${row.type}", then replay.` } });
      await new Promise<void>((resolve, reject) => {
        entry.abandon = reject;
        inJobSpan({ ...job, trace: row }, () => registered.handler(row.payload, context)).then(resolve, reject);
      });
      this.#timeouts.finish(timeout);
      this.#complete(row);
    } catch (error) {
      this.#timeouts.finish(timeout);
      await withTrace(row, () => this.#fail(row, job, registered?.hooks, policy, error, context.logger));
    }
  }

  #complete(row: ClaimedJobRow): void {
    this.#completedSince += 1;
    this.#completer.complete(row.id, row.ordering_key !== null);
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
    const ids = [...this.#running.keys(), ...this.#buffer.flatMap((q) => q.ids()), ...this.#completer.ids()];
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
    const unstarted = this.#buffer.flatMap((q) => q.drain().map((r) => r.id));
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
      for (const r of left) abortRun(r, new SynclineError('WORKER_STOPPING', 'the worker stopped before the job finished', { retry: 'transient' }));
      await Promise.allSettled(left.map((r) => r.done));
    }
    await this.#completer.idle();
    await this.#breakers.stop().catch(() => {});
    for (const t of this.#timers) clearInterval(t);
    this.#timeouts.clear();
    await this.#unlisten?.().catch(() => {});
    return { finished, released };
  }
}

/**
 * What a handler gets. A class rather than an object literal: a literal with a getter costs a few
 * microseconds to make, more than a trivial job's whole run. `target` and `enqueue` stay own
 * functions, so a handler may take them out of the context.
 */
class JobContext implements HandlerContext {
  readonly job: Job;
  readonly correlationId: string;
  readonly attempt: number;
  readonly target: HandlerContext['target'];
  readonly enqueue: HandlerContext['enqueue'];
  readonly #entry: Running;
  readonly #workerLogger: Logger;
  #log: Logger | undefined;

  constructor(job: Job, entry: Running, workerLogger: Logger, calls: Pick<HandlerContext, 'target' | 'enqueue'>) {
    this.job = job;
    this.correlationId = job.correlationId;
    this.attempt = job.attempt;
    this.target = calls.target;
    this.enqueue = calls.enqueue;
    this.#entry = entry;
    this.#workerLogger = workerLogger;
  }

  get signal(): AbortSignal {
    return signalOf(this.#entry);
  }

  /** A child logger per job costs more than a trivial job; made only when something logs. */
  get logger(): Logger {
    return (this.#log ??= this.#workerLogger.child({ jobId: this.job.id, type: this.job.type, correlationId: this.correlationId, attempt: this.attempt }));
  }
}

/** A job's timeout: a Node timer armed when the job starts, disarmed (left to fire into nothing) when it ends. */
class JobTimeout {
  entry: Running | undefined;
  readonly ms: number;
  readonly timer: NodeJS.Timeout;

  constructor(entry: Running, ms: number) {
    this.entry = entry;
    this.ms = ms;
    this.timer = setTimeout(() => this.#fire(), ms);
  }

  #fire(): void {
    const entry = this.entry;
    this.entry = undefined;
    if (entry) abortRun(entry, new SynclineError('JOB_TIMEOUT', `the job ran longer than ${this.ms} ms`, { retry: 'transient' }));
  }
}

/**
 * The timeouts of running jobs. Each job still has a timer of its own, armed for its whole
 * timeout from its start, but timers are kept and re-armed (`refresh`) for the next job with
 * the same timeout instead of being made and cleared for every job, which cost more than a
 * trivial job's run. At most one timer per running job and timeout length; cleared on stop.
 */
class JobTimeouts {
  readonly #free = new Map<number, JobTimeout[]>();
  readonly #all: JobTimeout[] = [];

  start(entry: Running, ms: number): JobTimeout {
    const timeout = this.#free.get(ms)?.pop();
    if (!timeout) {
      const made = new JobTimeout(entry, ms);
      this.#all.push(made);
      return made;
    }
    timeout.entry = entry;
    // Re-arms the timer from now, whether it is still pending or has fired.
    timeout.timer.refresh();
    return timeout;
  }

  finish(timeout: JobTimeout): void {
    timeout.entry = undefined;
    let free = this.#free.get(timeout.ms);
    if (!free) this.#free.set(timeout.ms, (free = []));
    free.push(timeout);
  }

  clear(): void {
    for (const t of this.#all) clearTimeout(t.timer);
    this.#all.length = 0;
    this.#free.clear();
  }
}

/** Claimed jobs of one lane waiting for a slot, in id order; O(1) to take the next. */
class JobQueue {
  #rows: ClaimedJobRow[] = [];
  #head = 0;

  get length(): number {
    return this.#rows.length - this.#head;
  }

  /** Adds a claimed job; a job older than the last one queued (a retry come due) is put in its place. */
  push(row: ClaimedJobRow): void {
    const last = this.#rows[this.#rows.length - 1];
    this.#rows.push(row);
    if (this.length > 1 && last && compareJobIds(row.id, last.id) < 0) {
      this.#rows = this.#rows.slice(this.#head).sort((a, b) => compareJobIds(a.id, b.id));
      this.#head = 0;
    }
  }

  /** Takes the oldest job; the caller checks length first. */
  shift(): ClaimedJobRow {
    const row = this.#rows[this.#head]!;
    this.#head += 1;
    if (this.#head > 1024 && this.#head * 2 > this.#rows.length) {
      this.#rows = this.#rows.slice(this.#head);
      this.#head = 0;
    }
    return row;
  }

  ids(): string[] {
    return this.#rows.slice(this.#head).map((r) => r.id);
  }

  /** Empties the queue and returns what it held. */
  drain(): ClaimedJobRow[] {
    const rows = this.#rows.slice(this.#head);
    this.#rows = [];
    this.#head = 0;
    return rows;
  }
}

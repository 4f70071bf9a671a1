import type { CallContext } from '../../connectors/kit/contracts.ts';
import type { Database, Queryable } from '../../store/database.ts';
import { SynclineError } from '../../domain/errors.ts';
import { classifyError } from '../../runtime/retry-policy.ts';
import { inStepSpan } from '../../observability/tracing.ts';
import type { HandlerContext } from '../../runtime/runtime.ts';
import { markCompensated, markStarted, readSteps, recordStep, unmarkStarted, type StepRecord } from '../../store/flows/flow-steps.ts';
import { appendTimeline } from '../../store/orders/order-status.ts';

/**
 * The saga runner shared by every flow (ADR 0005). A flow is a list of steps; each has
 * an id, a forward action and, when it changes something outside, a compensation that
 * receives only the ids the forward action returned. A step is recorded as done in one
 * transaction with its local effects (status change, rows, events, follow-up jobs) and
 * its timeline entry, so a flow resumed after a crash skips what is done and repeats
 * only a step whose outcome was never recorded; external calls are idempotent by
 * business key, so repeating one has a single effect.
 */

/** What a step may use while it runs. */
export interface StepRun {
  orderId: string;
  correlationId: string;
  attempt: number;
  signal: AbortSignal;
  /**
   * The context for a connector call to `target`. It carries the target's gate, so each
   * HTTP request the connector sends takes its own grant (rate limit, concurrency slot,
   * breaker, timeout): a Tryton posting of several requests counts each against the ERP's
   * quota, not once. Never wrap a connector call in `context.target(name).call` as well.
   */
  via(target: string): CallContext;
}

/** Local effects of a step, applied in the transaction that records it. */
export type Apply = (tx: Queryable) => Promise<void>;

export type StepOutcome =
  /** The forward action took effect; `result` holds the ids a compensation needs. */
  | { kind: 'done'; result?: Record<string, unknown>; detail?: Record<string, unknown>; apply?: Apply }
  /** The flow stops here for now (a hold, a backorder, a decline); the step is not recorded as done. */
  | { kind: 'stop'; outcome: 'pending' | 'failed' | 'skipped'; detail: Record<string, unknown>; apply?: Apply };

export interface FlowStep<S> {
  id: string;
  /** The system the step talks to, as shown on the timeline. */
  system: string;
  forward(state: S, run: StepRun): Promise<StepOutcome>;
  /** Undoes the forward action; does nothing when there is nothing to undo. */
  compensate?(result: Record<string, unknown>, run: StepRun): Promise<Record<string, unknown> | void>;
  /**
   * For a step whose call can be cut off after it took effect (a timeout, a crash): finds
   * that effect by the business key and returns the result its compensation needs, or
   * undefined when there is none. A step with `recover` is recorded as started before its
   * forward action runs, so a compensation knows the outcome is unknown, not absent.
   */
  recover?(run: StepRun): Promise<Record<string, unknown> | undefined>;
}

export interface FlowIdentity {
  flow: string;
  key: string;
}

export type FlowResult = { kind: 'completed' } | { kind: 'stopped'; step: string; outcome: string };

/** The outcome of a run that reached a step another part of the flow runs (another job, another lane). */
export const HANDED_OFF = 'handed-off';

/** A StepRun for a job: targets come from the job's handler context. */
export function stepRun(orderId: string, context: HandlerContext): StepRun {
  return {
    orderId,
    correlationId: context.correlationId,
    attempt: context.attempt,
    signal: context.signal,
    via: (target) => ({ correlationId: context.correlationId, signal: context.signal, target: context.target(target) }),
  };
}

const elapsed = (started: number) => Math.round(performance.now() - started);

/** Runs the steps not yet done, in order; `results` receives every done step's result by id. */
export async function runFlow<S extends { results: Record<string, Record<string, unknown>> }>(
  db: Database,
  identity: FlowIdentity,
  steps: readonly FlowStep<S>[],
  state: S,
  run: StepRun,
  options: {
    /**
     * Why the flow must stop before its next step (a cancel), or undefined. Asked before the
     * first step this run does, then in the transaction that records each step, for the step
     * after it: nothing runs between that commit and the next step, and the question costs no
     * transaction of its own.
     */
    interrupted?: (db: Queryable) => Promise<string | undefined>;
    /** The flow's step records, when the caller has just read them (default: read here). */
    records?: readonly StepRecord[];
    /** What `interrupted` answers now, when the caller has just asked it (with the records): the first step's question is then not asked again. */
    asked?: { reason: string | undefined };
    /**
     * Runs in the transaction that records the last step this part does before a step of
     * another part (the hand-off), so that whatever starts the next part commits with it.
     * A run that starts past that step (it was recorded by an earlier run) does not call it.
     */
    handOff?: (tx: Queryable) => Promise<void>;
    /**
     * Local writes of the run's start (a timeline entry), committed with the first step's
     * started mark when it has one, else in a transaction of their own before it.
     */
    opening?: (tx: Queryable) => Promise<void>;
    /**
     * The steps this run may do (default: all). A flow split across jobs runs each part in its
     * own job: a step outside the part that is not done yet ends the run, outcome `handed-off`;
     * done steps of every part still give their results.
     */
    part?: ReadonlySet<string>;
  } = {},
): Promise<FlowResult> {
  const records = new Map((options.records ?? (await readSteps(db, identity.flow, identity.key))).map((r) => [r.step, r]));
  // The step the previous step's transaction marked started: that saves a commit per step that can recover.
  let markedAhead: string | undefined;
  // What the previous step's transaction found when it asked whether to stop (undefined: not asked yet).
  let checked: { reason: string | undefined } | undefined = options.asked;
  // Written with the first step's started mark (or before the first step, or with an interruption).
  let opening = options.opening;
  for (const [index, step] of steps.entries()) {
    const recorded = records.get(step.id);
    if (recorded?.status === 'done') {
      state.results[step.id] = recorded.result;
      continue;
    }
    if (recorded?.status === 'compensated') return { kind: 'stopped', step: step.id, outcome: 'compensated' };
    if (options.part && !options.part.has(step.id)) return { kind: 'stopped', step: step.id, outcome: HANDED_OFF };
    // Checked before every step still to do: a cancel must not wait for a flow stuck on a system that is down.
    const reason = checked ? checked.reason : await options.interrupted?.(db);
    checked = undefined;
    if (reason) {
      // Marked ahead but never begun: not an unknown outcome for a compensation to look up.
      if (markedAhead === step.id) await unmarkStarted(db, identity.flow, identity.key, step.id);
      const interruption = [
        { system: 'syncline', action: `${identity.flow}.interrupted`, outcome: 'skipped' as const, attempt: run.attempt, durationMs: null, correlationId: run.correlationId, detail: { before: step.id, reason } },
      ];
      const writes = opening;
      if (writes) {
        await db.transaction(async (tx) => {
          await writes(tx);
          await appendTimeline(tx, run.orderId, interruption);
        });
      } else await appendTimeline(db, run.orderId, interruption);
      return { kind: 'stopped', step: step.id, outcome: 'interrupted' };
    }
    const started = performance.now();
    let outcome: StepOutcome;
    try {
      const mark = step.recover && !recorded && markedAhead !== step.id;
      if (mark || opening) {
        const writes = opening;
        opening = undefined;
        await db.transaction(async (tx) => {
          await writes?.(tx);
          if (mark) await markStarted(tx, identity.flow, identity.key, step.id, run.attempt);
        });
      }
      outcome = await inStepSpan(identity.flow, step, () => step.forward(state, run));
    } catch (error) {
      await recordFailure(db, run, step, error, elapsed(started));
      throw error;
    }
    const durationMs = elapsed(started);
    if (outcome.kind === 'done') {
      const result = outcome.result ?? {};
      await db.transaction(async (tx) => {
        if (!(await recordStep(tx, identity.flow, identity.key, step.id, result, run.attempt))) {
          // Another run of this flow recorded the step first; ours is a duplicate: undo our local effects.
          throw new SynclineError('flow.step_raced', `step ${step.id} of ${identity.flow} ${identity.key} was recorded by another run`, { retry: 'transient' });
        }
        await outcome.apply?.(tx);
        await appendTimeline(tx, run.orderId, [
          { system: step.system, action: step.id, outcome: 'succeeded', attempt: run.attempt, durationMs, correlationId: run.correlationId, detail: outcome.detail ?? result },
        ]);
        // The next step's started mark commits with this step: the same order of records, one commit fewer.
        // Not across a hand-off: the next part may wait long in its queue, and a cancel meanwhile
        // must not take a step that never began for one whose outcome is unknown.
        const next = steps[index + 1];
        const nextRunsHere = next !== undefined && (!options.part || options.part.has(next.id));
        const nextToDo = next !== undefined && records.get(next.id)?.status !== 'done';
        // The next step's question, asked here: a cancel that is open now stops the flow before it.
        checked = nextRunsHere && nextToDo && options.interrupted ? { reason: await options.interrupted(tx) } : undefined;
        markedAhead = nextRunsHere && !checked?.reason && next.recover && !records.has(next.id) ? next.id : undefined;
        if (markedAhead) await markStarted(tx, identity.flow, identity.key, markedAhead, run.attempt);
        if (!nextRunsHere && nextToDo && next !== undefined && options.part) await options.handOff?.(tx);
      });
      state.results[step.id] = result;
      continue;
    }
    await db.transaction(async (tx) => {
      await outcome.apply?.(tx);
      await appendTimeline(tx, run.orderId, [
        { system: step.system, action: step.id, outcome: outcome.outcome, attempt: run.attempt, durationMs, correlationId: run.correlationId, detail: outcome.detail },
      ]);
    });
    return { kind: 'stopped', step: step.id, outcome: outcome.outcome };
  }
  return { kind: 'completed' };
}

/**
 * Undoes every done step of a flow, last first; a step that started and never recorded
 * its outcome is looked up (`recover`) and undone when it took effect. A compensation that
 * fails throws (the job retries and continues with what is left); compensated steps are
 * marked so, with what their compensation reported, and so are never undone twice.
 * Returns what each compensation reported, those of earlier attempts included.
 */
export async function compensateFlow<S>(
  db: Database,
  identity: FlowIdentity,
  steps: readonly FlowStep<S>[],
  run: StepRun,
): Promise<{ step: string; detail: Record<string, unknown> }[]> {
  const records = new Map<string, StepRecord>((await readSteps(db, identity.flow, identity.key)).map((r) => [r.step, r]));
  const report: { step: string; detail: Record<string, unknown> }[] = [];
  for (const step of [...steps].reverse()) {
    const recorded = records.get(step.id);
    if (!recorded || !step.compensate) continue;
    // Undone by an earlier attempt of this compensation (its job was retried part-way): reported, not redone.
    if (recorded.status === 'compensated') {
      if (recorded.compensation) report.push({ step: step.id, detail: recorded.compensation });
      continue;
    }
    const unknownOutcome = recorded.status === 'started' && step.recover !== undefined;
    if (recorded.status !== 'done' && !unknownOutcome) continue;
    const started = performance.now();
    let detail: Record<string, unknown>;
    try {
      if (unknownOutcome) {
        // The call may have taken effect before it was cut off: look it up by its business key.
        const found = await step.recover!(run);
        detail = { unknownOutcome: true, ...(found ? (await inStepSpan(identity.flow, { id: `${step.id}.compensate`, system: step.system }, () => step.compensate!(found, run))) ?? {} : { found: false }) };
      } else {
        detail = (await inStepSpan(identity.flow, { id: `${step.id}.compensate`, system: step.system }, () => step.compensate!(recorded.result, run))) ?? {};
      }
    } catch (error) {
      await recordFailure(db, run, { id: `${step.id}.compensate`, system: step.system }, error, elapsed(started));
      throw error;
    }
    await db.transaction(async (tx) => {
      if (!(await markCompensated(tx, identity.flow, identity.key, step.id, detail))) return;
      await appendTimeline(tx, run.orderId, [
        { system: step.system, action: `${step.id}.compensate`, outcome: 'succeeded', attempt: run.attempt, durationMs: elapsed(started), correlationId: run.correlationId, detail },
      ]);
    });
    report.push({ step: step.id, detail });
  }
  return report;
}

/** Writes a failed attempt on the timeline (throttling and waiting for a breaker are not failures). */
async function recordFailure(db: Database, run: StepRun, step: { id: string; system: string }, error: unknown, durationMs: number): Promise<void> {
  const classified = classifyError(error);
  if (classified.retry === 'throttled' || classified.code === 'WORKER_STOPPING') return;
  await appendTimeline(db, run.orderId, [
    {
      system: step.system,
      action: step.id,
      outcome: 'failed',
      attempt: run.attempt,
      durationMs,
      correlationId: run.correlationId,
      detail: { code: classified.code, retry: classified.retry, message: classified.message },
    },
  ]).catch(() => {});
}

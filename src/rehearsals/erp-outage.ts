import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { peakLoad, type FlashSaleOptions } from './flash-sale.ts';
import { allocationInWindow, RELEASED, runRehearsal, type FinishedRun, type RehearsalContext, type ScenarioFindings } from './rehearsal-harness.ts';
import { percentile, type RehearsalReport, type Series } from './rehearsal-report.ts';

/**
 * The erp-outage rehearsal: the flash sale's load, and the ERP down (503, through its sandbox's
 * fault controls) for a part of the peak. Intake and allocation must not wait for the ERP: orders
 * are allocated during the outage as fast as before it, the back-office jobs queue up, and once
 * the ERP is back the backlog drains at its quota with every order posted exactly once, by the
 * ERP's own sales (docs/rehearsals.md).
 */

export interface ErpOutageOptions extends FlashSaleOptions {
  /** When the ERP goes down, in seconds after the peak began (default: a quarter of the peak). */
  outageStartSeconds?: number;
  /** How long the ERP stays down, in seconds (default: half of the peak). */
  outageSeconds?: number;
  /** How long Syncline's ERP breaker stays open before a probe, in seconds (default: the configured policy's). */
  erpBreakerCooldownSeconds?: number;
}

/** Runs the erp-outage rehearsal and writes report.json and report.html under a new folder; returns both. */
export function runErpOutage(base: Config, logger: Logger, options: ErpOutageOptions = {}): Promise<{ report: RehearsalReport; folder: string }> {
  // Stock for every order: each one released is one the ERP must receive exactly once.
  const load = peakLoad(options, { hotStock: 1_000_000 });
  const downAt = load.shoulderSeconds + (options.outageStartSeconds ?? load.peakSeconds / 4);
  const upAt = downAt + (options.outageSeconds ?? load.peakSeconds / 2);
  const outage: { down?: number; up?: number } = {};
  const configuredBreaker = base.targetPolicies.erp?.breaker as Record<string, unknown> | undefined;

  const onTick = async (t: number, { erp }: RehearsalContext) => {
    if (outage.down === undefined && t >= downAt) {
      await erp.call('PATCH', '/_sandbox/faults', { down: true, downMode: 'unavailable' });
      outage.down = t;
    } else if (outage.down !== undefined && outage.up === undefined && t >= upAt) {
      await erp.call('PATCH', '/_sandbox/faults', { down: false });
      outage.up = t;
    }
  };

  return runRehearsal(
    base,
    logger,
    {
      scenario: 'erp-outage',
      ...load,
      drainFrom: upAt,
      ...(options.erpBreakerCooldownSeconds ? { erpPolicy: { breaker: { ...configuredBreaker, cooldownMs: options.erpBreakerCooldownSeconds * 1000 } } } : {}),
      settings: { ...load.settings, outageStartSeconds: downAt - load.shoulderSeconds, outageSeconds: upAt - downAt, erpBreakerCooldownSeconds: options.erpBreakerCooldownSeconds ?? 'as configured' },
      onTick,
      describe: (t) => (outage.down !== undefined && outage.up === undefined ? `${load.phases.find((p) => t < p.until)?.name ?? 'drain'}, ERP down` : undefined),
      findings: async (_context, run) => findings(run, outage),
    },
    options,
  );
}

/** The outage's own checks: allocation kept its pace, the backlog grew, every released order posted once. */
function findings(run: FinishedRun, outage: { down?: number; up?: number }): ScenarioFindings {
  const down = outage.down ?? Infinity;
  const up = outage.up ?? Infinity;
  const during = (t: number) => t >= down && t < up;
  const accepted = run.submissions.filter((s) => s.id);
  // Full speed: within the absolute bound, or no slower than the orders outside the outage (a busy host slows both).
  const { during: inOutage, outside, p99During, p99Allowed, submittedInside } = allocationInWindow(run, during);

  const backlogAt = (t: number) => run.samples.reduce((last, s) => (s.t <= t ? s.erpBacklog : last), 0);
  const backlogDuring = run.samples.filter((s) => during(s.t)).map((s) => s.erpBacklog);
  const growth = Math.max(0, ...backlogDuring) - backlogAt(down);

  // Every released order posted once; no order posted more than once, released or not.
  const released = accepted.filter((s) => RELEASED.has(run.status.get(s.id!) ?? ''));
  const notPostedOnce =
    released.filter((s) => run.erpSalesByReference.get(s.id!) !== 1).length +
    accepted.filter((s) => !RELEASED.has(run.status.get(s.id!) ?? '') && (run.erpSalesByReference.get(s.id!) ?? 0) > 1).length;

  const lastSecond = Math.ceil(Math.max(0, ...run.samples.map((s) => s.t)));
  const erpDown: Series = Array.from({ length: lastSecond + 1 }, (_, t) => ({ t, value: during(t) || during(t + 0.999) ? 1 : 0 }));
  const outageHappened = outage.down !== undefined && outage.up !== undefined;
  return {
    checks: [
      { name: 'the ERP went down and came back', ok: outageHappened, value: outageHappened ? Number((up - down).toFixed(1)) : -1, expected: 'seconds down, during the peak' },
      { name: 'time to allocated p99 during the outage (ms)', ok: inOutage.length > 0 && p99During <= p99Allowed, value: inOutage.length > 0 ? p99During : -1, expected: `<= ${p99Allowed} (${run.p99Bound}, or 1.25 × the p99 outside the outage if higher), over orders submitted while the ERP was down` },
      { name: 'backlog grew during the outage', ok: growth > 0, value: growth, expected: '> 0 back-office jobs' },
      { name: 'released orders not posted exactly once', ok: released.length > 0 && notPostedOnce === 0, value: notPostedOnce, expected: `0 (of ${released.length} released, by the ERP's sales per reference)` },
    ],
    series: { erpDown },
    figures: {
      erpDownFromSecond: outage.down ?? null,
      erpUpAtSecond: outage.up ?? null,
      ordersSubmittedDuringOutage: submittedInside,
      timeToAllocatedDuringOutageMs: { p50: percentile(inOutage, 50), p99: p99During, count: inOutage.length },
      timeToAllocatedOutsideOutageMs: { p50: percentile(outside, 50), p99: percentile(outside, 99), count: outside.length },
      erpBacklogAtOutageStart: backlogAt(down),
      erpBacklogMaxDuringOutage: Math.max(0, ...backlogDuring),
      erpBacklogAtOutageEnd: backlogAt(up),
      releasedOrdersPostedOnce: released.length - released.filter((s) => run.erpSalesByReference.get(s.id!) !== 1).length,
    },
  };
}

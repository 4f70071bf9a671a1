import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import type { RehearsalReport } from './rehearsal-report.ts';
import { runRehearsal, type Phase, type RehearsalOptions } from './rehearsal-harness.ts';

/**
 * The flash-sale rehearsal: orders arrive at a normal rate, then at `multiplier` times that
 * for the peak, then at the normal rate again, across several channels, a share of them for a
 * few hot SKUs with limited stock, while the ERP serves only its quota (docs/rehearsals.md).
 */

/** Options of the flash-sale plan and of the scenarios that build on its load. */
export interface FlashSaleOptions extends RehearsalOptions {
  /** Length of the peak as run, in seconds (default: the 20-minute peak divided by timeFactor). */
  durationSeconds?: number;
  /** How much the peak is compressed: the 20-minute peak when no duration is given (default: 60, a 20 s peak); the given duration's otherwise (default: 1, as run). */
  timeFactor?: number;
  /** Orders per second at the normal rate (default: 2). */
  baseRate?: number;
  /** The peak's rate over the normal one (default: 8). */
  multiplier?: number;
  /** Channels the orders come from (default: shopify-us, shopify-ca, woocommerce-eu). */
  channels?: string[];
  /** Hot SKUs, each with `hotStock` units (default: 3 SKUs, 20 units each); half the orders want one. */
  hotSkus?: number;
  hotStock?: number;
}

const PEAK_MINUTES = 20;

/** The load of a flash sale: normal, peak, normal; with the settings that describe it. */
export function peakLoad(options: FlashSaleOptions, defaults: { hotStock: number }) {
  // A peak of a given duration is as long as it runs (time factor 1), unless a factor is given too.
  const timeFactor = options.timeFactor ?? (options.durationSeconds === undefined ? 60 : 1);
  const peakSeconds = options.durationSeconds ?? (PEAK_MINUTES * 60) / timeFactor;
  const shoulderSeconds = Math.max(2, Math.round(peakSeconds / 4));
  const baseRate = options.baseRate ?? 2;
  const multiplier = options.multiplier ?? 8;
  const phases: Phase[] = [
    { until: shoulderSeconds, rate: baseRate, name: 'normal' },
    { until: shoulderSeconds + peakSeconds, rate: baseRate * multiplier, name: 'peak' },
    { until: 2 * shoulderSeconds + peakSeconds, rate: baseRate, name: 'normal' },
  ];
  return {
    phases,
    shoulderSeconds,
    peakSeconds,
    channels: options.channels ?? ['shopify-us', 'shopify-ca', 'woocommerce-eu'],
    hotSkus: Array.from({ length: options.hotSkus ?? 3 }, (_, i) => `HOT-${i + 1}`),
    hotStock: options.hotStock ?? defaults.hotStock,
    settings: {
      peakSeconds,
      shoulderSeconds,
      timeFactor,
      // The peak the run stands for: as run times the compression.
      nominalPeakMinutes: (peakSeconds * timeFactor) / 60,
      baseRate,
      multiplier,
    },
  };
}

/** Runs the flash-sale rehearsal and writes report.json and report.html under a new folder; returns both. */
export function runFlashSale(base: Config, logger: Logger, options: FlashSaleOptions = {}): Promise<{ report: RehearsalReport; folder: string }> {
  const load = peakLoad(options, { hotStock: 20 });
  return runRehearsal(base, logger, { scenario: 'flash-sale', ...load }, options);
}

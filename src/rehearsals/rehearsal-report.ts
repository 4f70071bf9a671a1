import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A rehearsal's report: the figures as JSON (`report.json`), the same figures as one
 * self-contained HTML page (`report.html`: inline SVG charts, no external assets), and each
 * chart again as a standalone SVG file beside them (`chart-<name>.svg`, for docs to embed).
 *
 * Glossary:
 * - series: one value per second of the run, second 0 being the start of the load.
 * - check: an invariant the run must hold (oversold units 0, ...); the command fails when one does not.
 */

/** One value per second of the run. */
export type Series = { t: number; value: number }[];

export interface RehearsalCheck {
  name: string;
  ok: boolean;
  /** What was measured, and what it must be. */
  value: number;
  expected: string;
}

export interface RehearsalReport {
  scenario: string;
  startedAt: string;
  finishedAt: string;
  database: 'postgres' | 'pglite';
  settings: Record<string, unknown>;
  orders: { submitted: number; accepted: number; refused: number; released: number; backordered: number; onHold: number; other: number };
  /** Seconds from submission to `allocated`, from the order's timeline. */
  timeToAllocatedMs: { p50: number; p99: number; max: number; count: number };
  /** Seconds from the end of the peak until the ERP backlog was empty (null: not within the drain timeout). */
  drainedAfterSeconds: number | null;
  oversoldUnits: number;
  lostOrders: number;
  doubledOrders: number;
  quotaExceededSeconds: number;
  /** ERP requests served per second while the backlog drained, over the quota. */
  drainRatio: number;
  deadLetters: Record<string, number>;
  exceptions: Record<string, number>;
  series: {
    acceptedPerSecond: Series;
    erpBacklog: Series;
    erpRequestsPerSecond: Series;
    availabilityEventsPerSecond: Series;
    jobsQueued: { t: number; critical: number; normal: number; bulk: number }[];
    /** The rehearsal process, once a second: event-loop delay p99 (ms) and CPU (% of one core). */
    processLoad: { t: number; eventLoopDelayP99Ms: number; cpuPercent: number; hostCpuPercent: number | null; poolWaitingMax: number }[];
    /**
     * The outbox relay once a second: events not yet relayed, the age of the oldest (ms), and the
     * age of the oldest transaction still writing (ms), which the relay cannot pass.
     */
    relayLag: { t: number; behind: number; lagMs: number; oldestWriterMs: number }[];
    /** The scenario's own series by name (erp-outage: `erpDown`), each drawn as one more chart. */
    scenario?: Record<string, Series>;
  };
  /** The scenario's own figures (erp-outage: the orders submitted during the outage, ...). */
  figures?: Record<string, unknown>;
  checks: RehearsalCheck[];
  passed: boolean;
}

/** The p-th percentile (0–100) of the values, nearest rank; 0 for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

type ChartLine = { label: string; color: string; series: Series };
type ChartOptions = { limit?: { value: number; label: string }; unit?: string };

/** A line chart of one or more series as one standalone SVG document (white background, its title inside), with an optional horizontal limit line. */
export function lineChart(title: string, lines: ChartLine[], options: ChartOptions = {}): string {
  const width = 640;
  const height = 200;
  const pad = { left: 48, right: 12, top: 24, bottom: 28 };
  const all = lines.flatMap((l) => l.series);
  const maxT = Math.max(1, ...all.map((p) => p.t));
  const maxV = Math.max(1, options.limit?.value ?? 0, ...all.map((p) => p.value)) * 1.1;
  const x = (t: number) => pad.left + (t / maxT) * (width - pad.left - pad.right);
  const y = (v: number) => height - pad.bottom - (v / maxV) * (height - pad.top - pad.bottom);
  const paths = lines
    .map((l) => `<polyline fill="none" stroke="${l.color}" stroke-width="1.5" points="${l.series.map((p) => `${x(p.t).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ')}"/>`)
    .join('');
  const limit = options.limit
    ? `<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(options.limit.value)}" y2="${y(options.limit.value)}" stroke="#c00" stroke-dasharray="4 3"/>` +
      `<text x="${width - pad.right}" y="${y(options.limit.value) - 4}" text-anchor="end" font-size="10" fill="#c00">${escapeHtml(options.limit.label)}</text>`
    : '';
  const ticks = [0, 0.5, 1]
    .map((f) => `<text x="${pad.left - 6}" y="${y(maxV * f) + 3}" text-anchor="end" font-size="10">${Math.round(maxV * f)}</text>`)
    .join('');
  const legend = lines.map((l, i) => `<text x="${pad.left + i * 160}" y="14" font-size="11" fill="${l.color}">■ ${escapeHtml(l.label)}</text>`).join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(title)}">` +
    `<title>${escapeHtml(title)}</title><rect width="${width}" height="${height}" fill="#fff"/>` +
    `<line x1="${pad.left}" y1="${height - pad.bottom}" x2="${width - pad.right}" y2="${height - pad.bottom}" stroke="#888"/>` +
    `<line x1="${pad.left}" y1="${pad.top}" x2="${pad.left}" y2="${height - pad.bottom}" stroke="#888"/>` +
    `${ticks}<text x="${width - pad.right}" y="${height - 6}" text-anchor="end" font-size="10">${maxT} s</text>` +
    `<text x="${pad.left}" y="${height - 6}" font-size="10">0 s${options.unit ? ` · ${escapeHtml(options.unit)}` : ''}</text>` +
    `${legend}${limit}${paths}</svg>`
  );
}

/** One chart of a report: a file-name-safe name, its title, and the SVG. */
export interface Chart {
  name: string;
  title: string;
  svg: string;
}

/** Every chart of a report, in the order the page shows them: the common five, then the scenario's own series. */
export function reportCharts(report: RehearsalReport): Chart[] {
  const quota = Number(report.settings.erpQuotaPerSecond ?? 0);
  const s = report.series;
  const chart = (name: string, title: string, lines: ChartLine[], options?: ChartOptions): Chart => ({ name, title, svg: lineChart(title, lines, options) });
  return [
    chart('accepted-per-second', 'Orders accepted per second', [{ label: 'accepted/s', color: '#1f77b4', series: s.acceptedPerSecond }]),
    chart('erp-backlog', 'ERP backlog (back-office jobs queued)', [{ label: 'queued for the ERP', color: '#ff7f0e', series: s.erpBacklog }]),
    chart('erp-requests', 'ERP requests per second against its quota', [{ label: 'requests/s', color: '#2ca02c', series: s.erpRequestsPerSecond }], { limit: { value: quota, label: `quota ${quota}/s` } }),
    chart('availability-events', 'Availability published to channels per second', [{ label: 'inventory.availability.changed/s', color: '#9467bd', series: s.availabilityEventsPerSecond }]),
    chart('jobs-queued', 'Jobs queued per lane', [
      { label: 'critical', color: '#d62728', series: s.jobsQueued.map((j) => ({ t: j.t, value: j.critical })) },
      { label: 'normal', color: '#ff7f0e', series: s.jobsQueued.map((j) => ({ t: j.t, value: j.normal })) },
      { label: 'bulk', color: '#7f7f7f', series: s.jobsQueued.map((j) => ({ t: j.t, value: j.bulk })) },
    ]),
    chart('process-load', "The rehearsal process: event-loop delay p99 (ms) and CPU (% of one core)", [
      { label: 'event-loop delay p99 ms', color: '#8c564b', series: s.processLoad.map((p) => ({ t: p.t, value: p.eventLoopDelayP99Ms })) },
      { label: 'CPU %', color: '#e377c2', series: s.processLoad.map((p) => ({ t: p.t, value: p.cpuPercent })) },
      { label: 'host CPU % of all cores', color: '#7f7f7f', series: s.processLoad.flatMap((p) => (p.hostCpuPercent === null ? [] : [{ t: p.t, value: p.hostCpuPercent }])) },
    ]),
    chart('relay-lag', 'The outbox relay: age of the oldest event not yet relayed, and of the oldest transaction still writing (ms)', [
      { label: 'oldest unrelayed event ms', color: '#17becf', series: s.relayLag.map((r) => ({ t: r.t, value: r.lagMs })) },
      { label: 'oldest writing transaction ms', color: '#d62728', series: s.relayLag.map((r) => ({ t: r.t, value: r.oldestWriterMs })) },
    ]),
    chart('database-waits', 'Callers waiting for a database connection (most at once, per second)', [
      { label: 'waiting', color: '#bcbd22', series: s.processLoad.map((p) => ({ t: p.t, value: p.poolWaitingMax })) },
    ]),
    ...Object.entries(s.scenario ?? {}).map(([name, series]) =>
      chart(name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/[^a-z0-9-]/g, '-'), `${report.scenario}: ${name}`, [{ label: name, color: '#17becf', series }]),
    ),
  ];
}

/** Writes report.json, report.html and one chart-<name>.svg per chart into the folder; returns the chart files' names. */
export function writeReport(folder: string, report: RehearsalReport): string[] {
  writeFileSync(join(folder, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(folder, 'report.html'), renderHtml(report));
  return reportCharts(report).map((c) => {
    writeFileSync(join(folder, `chart-${c.name}.svg`), `<?xml version="1.0" encoding="UTF-8"?>\n${c.svg}\n`);
    return `chart-${c.name}.svg`;
  });
}

/** The report as one HTML page with its charts inline. */
export function renderHtml(report: RehearsalReport): string {
  const row = (k: string, v: unknown) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(typeof v === 'string' ? v : JSON.stringify(v))}</td></tr>`;
  const checks = report.checks
    .map((c) => `<tr class="${c.ok ? 'ok' : 'fail'}"><th>${escapeHtml(c.name)}</th><td>${c.value}</td><td>${escapeHtml(c.expected)}</td><td>${c.ok ? 'pass' : 'FAIL'}</td></tr>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rehearsal ${escapeHtml(report.scenario)} ${escapeHtml(report.startedAt)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}
tr.ok td:last-child{color:#070}tr.fail td:last-child{color:#c00;font-weight:bold}figure{margin:1em 0}figcaption{font-weight:bold}</style></head>
<body><h1>Rehearsal: ${escapeHtml(report.scenario)} — ${report.passed ? 'passed' : 'FAILED'}</h1>
<p>${escapeHtml(report.startedAt)} to ${escapeHtml(report.finishedAt)}, on ${report.database}.</p>
<h2>Checks</h2><table><tr><th>check</th><th>measured</th><th>expected</th><th></th></tr>${checks}</table>
<h2>Figures</h2><table>
${row('orders', report.orders)}
${row('time to allocated (ms)', report.timeToAllocatedMs)}
${row('drained after the peak (s)', report.drainedAfterSeconds ?? 'not within the drain timeout')}
${row('drain rate / ERP quota', report.drainRatio)}
${row('dead letters by code', report.deadLetters)}
${row('exceptions by reason', report.exceptions)}
${report.figures ? row('scenario figures', report.figures) : ''}
${row('settings', report.settings)}
</table>
<h2>Charts</h2>
${reportCharts(report).map((c) => `<figure><figcaption>${escapeHtml(c.title)}</figcaption>${c.svg}</figure>`).join('\n')}
</body></html>
`;
}

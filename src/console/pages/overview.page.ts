import { get } from '../api.ts';
import { h, show, table } from '../dom.ts';
import { bar, sparkline } from '../sparkline.ts';

interface Overview {
  orders: { total: number; byStatus: Array<{ status: string; count: number }>; holds: Array<{ reason: string; count: number }> };
  latencies: Array<{ kpi: string; p50: number | null; p95: number | null; count: number }>;
  oversell: { balances: number; units: number };
  exceptions: { open: number; byReason: Array<{ reason: string; target: string | null; count: number }> };
  queues: { lanes: Queue[]; targets: Queue[] };
  breakers: Array<{ target: string; state: string; rateLimitUsage: number | null; running: number; waiting: number }>;
}
interface Series {
  window: 'hour' | 'day';
  bucketSeconds: number;
  endsAt: string;
  series: Record<string, Array<number | null>>;
}
interface QuotaUse {
  name: string;
  target: string;
  windowSeconds: number;
  used: number;
  quota: number | null;
  usage: number | null;
  called: boolean;
}
interface Queue {
  key: string;
  waiting: number;
  running: number;
  due: number;
  oldestAgeSeconds: number;
}

const LATENCY_LABELS: Record<string, string> = {
  erp_posting: 'Order to ERP posting',
  allocation: 'Order to allocation',
  shipment_confirmation: 'Shipment confirmation lag',
  refund_completion: 'Refund completion',
};

const seconds = (value: number | null) => (value === null ? '—' : value < 10 ? `${value.toFixed(2)} s` : `${Math.round(value)} s`);
const tile = (label: string, value: string | number, note?: string, tone?: string, trend?: SVGSVGElement) =>
  h('div', { class: `tile${tone ? ` ${tone}` : ''}`, 'data-kpi': label }, h('span', { class: 'label' }, label), h('span', { class: 'value' }, value), trend ?? null, note ? h('span', { class: 'note' }, note) : null);

const WINDOWS = { hour: 'last hour', day: 'last day' } as const;

/** The sparkline of a series over the chosen window, labelled with what one bucket holds. */
const trendOf = (data: Series, name: string, what: string) => sparkline(data.series[name] ?? [], `${what} per ${data.bucketSeconds / 60} min, ${WINDOWS[data.window]}`);

/** KPI tiles with sparklines (last hour or day), ERP quota use, exceptions by reason, queue backlogs and breaker states. */
export async function overviewPage(target: HTMLElement, params: URLSearchParams): Promise<void> {
  const span = params.get('window') === 'day' ? 'day' : 'hour';
  const [data, series, quota] = await Promise.all([get<Overview>('/overview'), get<Series>(`/overview/series?window=${span}`), get<{ items: QuotaUse[] }>('/overview/erp-quota')]);
  const count = (status: string) => data.orders.byStatus.find((s) => s.status === status)?.count ?? 0;
  const held = data.orders.holds.reduce((n, h) => n + h.count, 0);
  const tiles = [
    tile('Orders', data.orders.total, 'received', undefined, trendOf(series, 'orders', 'orders received')),
    tile('Completed', count('completed'), undefined, undefined, trendOf(series, 'completed', 'orders completed')),
    tile('On hold or waiting', held, data.orders.holds.map((h) => `${h.reason} ${h.count}`).join(' · ') || undefined, held > 0 ? 'warn' : undefined),
    tile('Open exceptions', data.exceptions.open, 'new dead letters', data.exceptions.open > 0 ? 'bad' : 'good', trendOf(series, 'exceptions', 'new dead letters')),
    tile('Oversold balances', data.oversell.balances, data.oversell.balances ? `${data.oversell.units} units over` : undefined, data.oversell.balances ? 'bad' : 'good'),
    ...data.latencies.map((l) => tile(LATENCY_LABELS[l.kpi] ?? l.kpi, seconds(l.p95), `p95 over the last hour · p50 ${seconds(l.p50)} · ${l.count} orders`, undefined, trendOf(series, l.kpi, `p95 seconds`))),
  ];
  const queueColumns = {
    Waiting: (q: Queue) => q.waiting,
    Running: (q: Queue) => q.running,
    Due: (q: Queue) => q.due,
    'Oldest due': (q: Queue) => `${q.oldestAgeSeconds} s`,
  };
  const toggle = h(
    'p',
    { class: 'window-toggle', role: 'group', 'aria-label': 'Sparkline window' },
    'Sparklines: ',
    (Object.keys(WINDOWS) as Array<keyof typeof WINDOWS>).map((w) => h('a', { href: `#/?window=${w}`, id: `window-${w}`, class: w === span ? 'active' : undefined, 'aria-current': w === span ? 'true' : undefined }, WINDOWS[w])),
  );
  show(
    target,
    h('h1', {}, 'Overview'),
    toggle,
    h('section', { class: 'tiles' }, tiles),
    h('h2', {}, 'ERP quota use'),
    table(quota.items, {
      ERP: (q) => q.name,
      Target: (q) => h('span', { class: 'mono' }, q.target),
      Use: (q) => (q.quota === null ? h('span', { class: 'muted' }, q.called ? 'no quota set' : 'not called yet') : bar(q.used / q.quota, `${q.used} of ${q.quota} requests`, q.used >= q.quota ? 'bad' : q.used / q.quota >= 0.8 ? 'warn' : 'good')),
      'Requests this second': (q) => h('span', { class: 'quota-figure' }, q.quota === null ? `${q.used}` : `${q.used} / ${q.quota}`),
    }, 'No ERP is configured.'),
    h(
      'div',
      { class: 'columns' },
      h(
        'section',
        {},
        h('h2', {}, 'Exceptions by reason'),
        table(data.exceptions.byReason, {
          Reason: (r) => h('a', { href: `#/exceptions?reason=${encodeURIComponent(r.reason)}` }, r.reason),
          System: (r) => r.target ?? '—',
          Open: (r) => r.count,
        }, 'No open exceptions.'),
        h('h2', {}, 'Orders by status'),
        table(data.orders.byStatus.sort((a, b) => b.count - a.count), {
          Status: (s) => h('a', { href: `#/orders?status=${encodeURIComponent(s.status)}` }, s.status),
          Orders: (s) => s.count,
        }, 'No orders yet.'),
      ),
      h(
        'section',
        {},
        h('h2', {}, 'Queue backlog by lane'),
        table(data.queues.lanes, { Lane: (q) => q.key, ...queueColumns }),
        h('h2', {}, 'Queue backlog by target'),
        table(data.queues.targets, { Target: (q) => q.key, ...queueColumns }, 'No jobs queued for any target.'),
        h('h2', {}, 'Circuit breakers'),
        table(data.breakers, {
          Target: (b) => b.target,
          Breaker: (b) => h('span', { class: `badge breaker-${b.state}` }, b.state),
          'Rate-limit use': (b) => (b.rateLimitUsage === null ? '—' : `${Math.round(b.rateLimitUsage * 100)} %`),
          Running: (b) => b.running,
          Waiting: (b) => b.waiting,
        }, 'No target has been called yet.'),
      ),
    ),
  );
}

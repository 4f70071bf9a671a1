import { get } from '../api.ts';
import { h, show, table } from '../dom.ts';

interface Overview {
  orders: { total: number; byStatus: Array<{ status: string; count: number }>; holds: Array<{ reason: string; count: number }> };
  latencies: Array<{ kpi: string; p50: number | null; p95: number | null; count: number }>;
  oversell: { balances: number; units: number };
  exceptions: { open: number; byReason: Array<{ reason: string; target: string | null; count: number }> };
  queues: { lanes: Queue[]; targets: Queue[] };
  breakers: Array<{ target: string; state: string; rateLimitUsage: number | null; running: number; waiting: number }>;
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
const tile = (label: string, value: string | number, note?: string, tone?: string) =>
  h('div', { class: `tile${tone ? ` ${tone}` : ''}`, 'data-kpi': label }, h('span', { class: 'label' }, label), h('span', { class: 'value' }, value), note ? h('span', { class: 'note' }, note) : null);

/** KPI tiles, exceptions by reason, queue backlogs and breaker states. */
export async function overviewPage(target: HTMLElement): Promise<void> {
  const data = await get<Overview>('/overview');
  const count = (status: string) => data.orders.byStatus.find((s) => s.status === status)?.count ?? 0;
  const held = data.orders.holds.reduce((n, h) => n + h.count, 0);
  const tiles = [
    tile('Orders', data.orders.total),
    tile('Completed', count('completed')),
    tile('On hold or waiting', held, data.orders.holds.map((h) => `${h.reason} ${h.count}`).join(' · ') || undefined, held > 0 ? 'warn' : undefined),
    tile('Open exceptions', data.exceptions.open, undefined, data.exceptions.open > 0 ? 'bad' : 'good'),
    tile('Oversold balances', data.oversell.balances, data.oversell.balances ? `${data.oversell.units} units over` : undefined, data.oversell.balances ? 'bad' : 'good'),
    ...data.latencies.map((l) => tile(LATENCY_LABELS[l.kpi] ?? l.kpi, seconds(l.p95), `p95 over the last hour · p50 ${seconds(l.p50)} · ${l.count} orders`)),
  ];
  const queueColumns = {
    Waiting: (q: Queue) => q.waiting,
    Running: (q: Queue) => q.running,
    Due: (q: Queue) => q.due,
    'Oldest due': (q: Queue) => `${q.oldestAgeSeconds} s`,
  };
  show(
    target,
    h('h1', {}, 'Overview'),
    h('section', { class: 'tiles' }, tiles),
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

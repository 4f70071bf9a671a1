import { get } from '../api.ts';
import { h, show, table, when } from '../dom.ts';

interface Connection {
  id: string;
  connector: string;
  kind: string;
  source: string;
  health: string;
  options: Record<string, unknown>;
  lastInboundAt: string | null;
  lastOutboundAt: string | null;
  lastError: { code: string; message: string; at: string } | null;
  target: string;
  breaker: { state: string; blockedUntil: string | null; openedAt: string | null; consecutiveFailures: number };
  rateLimit: { perSecond: number | null; callsLastSecond: number; usage: number | null };
  inFlight: number;
  concurrencyCap: number | null;
  jobs: { running: number; waiting: number };
  webhookPath?: string;
}

const HEALTH_TONE: Record<string, string> = { ok: 'good', degraded: 'warn', waiting: 'warn', down: 'bad', uninstalled: 'bad' };

/** Every connection: health, last activity, rate-limit use, calls in flight, breaker and last error. */
export async function connectionsPage(target: HTMLElement): Promise<void> {
  const { items } = await get<{ items: Connection[] }>('/connections');
  const down = items.filter((c) => c.breaker.state !== 'closed').length;
  show(
    target,
    h('h1', {}, 'Connections'),
    h('p', { class: down ? 'error' : 'muted' }, down ? `${down} connection(s) with the breaker not closed.` : `${items.length} connections, every breaker closed.`),
    table(items, {
      Connection: (c) => h('div', {}, h('strong', {}, c.id), h('div', { class: 'detail' }, `${c.connector} · ${c.kind} · ${c.source}`)),
      Health: (c) => h('span', { class: `badge tone-${HEALTH_TONE[c.health] ?? 'none'}`, 'data-health': c.id }, c.health),
      Breaker: (c) =>
        h(
          'div',
          {},
          h('span', { class: `badge breaker-${c.breaker.state}`, 'data-breaker': c.id }, c.breaker.state),
          c.breaker.state !== 'closed' ? h('div', { class: 'detail' }, `since ${when(c.breaker.openedAt)}${c.breaker.blockedUntil ? ` · probe after ${when(c.breaker.blockedUntil)}` : ''}`) : null,
        ),
      'Rate-limit use': (c) =>
        c.rateLimit.perSecond === null ? h('span', { class: 'muted' }, 'no limit') : h('div', {}, h('meter', { min: 0, max: 1, value: c.rateLimit.usage ?? 0 }), h('div', { class: 'detail' }, `${c.rateLimit.callsLastSecond} of ${c.rateLimit.perSecond}/s`)),
      'In flight': (c) => (c.concurrencyCap ? `${c.inFlight} of ${c.concurrencyCap}` : c.inFlight),
      Waiting: (c) => c.jobs.waiting,
      'Last activity': (c) => h('div', {}, h('div', {}, `out ${when(c.lastOutboundAt)}`), c.kind === 'channel' ? h('div', { class: 'detail' }, `in ${when(c.lastInboundAt)}`) : null),
      'Last error': (c) => (c.lastError ? h('div', { class: 'last-error', 'data-last-error': c.id }, h('span', { class: 'mono' }, c.lastError.code), h('div', { class: 'detail' }, c.lastError.message), h('div', { class: 'detail' }, when(c.lastError.at))) : h('span', { class: 'muted' }, '—')),
    }, 'No connection is configured.'),
    h('h2', {}, 'Options'),
    h('p', { class: 'muted' }, 'Secret options are never sent to the console; they are left out below.'),
    table(items, {
      Connection: (c) => c.id,
      Target: (c) => h('span', { class: 'mono' }, c.target),
      Options: (c) => h('span', { class: 'mono' }, Object.entries(c.options).filter(([, v]) => v !== '********').map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join('  ') || '—'),
      Webhooks: (c) => (c.webhookPath ? h('span', { class: 'mono' }, c.webhookPath) : '—'),
    }),
  );
}

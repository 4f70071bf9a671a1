import { ApiProblem, canOperate, get, post } from '../api.ts';
import { confirmDialog, h, show, table, when } from '../dom.ts';

interface Order {
  id: string;
  channel: string;
  channelOrderId: string;
  status: string;
  currency: string;
  placedAt: string;
  updatedAt: string;
  correlationId?: string;
  customer: { email: string; name: string; phone?: string };
  shippingAddress: Record<string, string>;
  lines: Array<{ lineNumber?: number; sku: string; quantity: number; unitPrice: string; lineTotal?: string }>;
  payments: Array<{ method: string; amount: string; status: string }>;
  totals: Record<string, string>;
  hold?: { kind: string; reason?: string; [key: string]: unknown };
}
interface TimelineEntry {
  at: string;
  system: string;
  action: string;
  outcome: string;
  attempt: number;
  durationMs: number | null;
  correlationId: string;
  detail: Record<string, unknown> | null;
}

const detailText = (detail: Record<string, unknown> | null) => (detail ? Object.entries(detail).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' · ') : '');

/** One order: status, hold (and its release), customer, lines, payments and the timeline across systems. */
export async function orderPage(target: HTMLElement, _params: URLSearchParams, id?: string): Promise<void> {
  const { order, timeline } = await get<{ order: Order; timeline: TimelineEntry[] }>(`/orders/${encodeURIComponent(id ?? '')}`);
  const message = h('p', { class: 'notice', role: 'status', hidden: true });
  const release = async () => {
    if (!(await confirmDialog(`Release order ${order.channelOrderId} from its ${order.hold?.kind} hold? Its flow resumes at once.`, 'Release hold'))) return;
    try {
      await post(`/orders/${order.id}/hold/release`, {});
      location.hash = `#/orders/${order.id}?released=${Date.now()}`;
    } catch (error) {
      message.textContent = error instanceof ApiProblem ? error.message : String(error);
      message.hidden = false;
    }
  };
  const onHold = order.status === 'on_hold' && order.hold;
  show(
    target,
    h('p', {}, h('a', { href: '#/orders' }, '« Orders')),
    h('h1', {}, `Order ${order.channelOrderId} `, h('span', { class: `badge status-${order.status}`, id: 'order-status-badge' }, order.status)),
    message,
    order.hold
      ? h(
          'section',
          { class: 'hold' },
          h('h2', {}, `Held: ${order.hold.kind}`),
          h('p', {}, String(order.hold.reason ?? order.hold.detail ?? order.hold.message ?? '')),
          onHold && canOperate() ? h('button', { type: 'button', id: 'release-hold', onclick: () => void release() }, 'Release hold…') : null,
        )
      : null,
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Id'), h('dd', { class: 'mono' }, order.id),
      h('dt', {}, 'Channel'), h('dd', {}, order.channel),
      h('dt', {}, 'Placed'), h('dd', {}, when(order.placedAt)),
      h('dt', {}, 'Updated'), h('dd', {}, when(order.updatedAt)),
      h('dt', {}, 'Customer'), h('dd', {}, `${order.customer.name} `, h('span', { class: 'customer-email' }, order.customer.email)),
      h('dt', {}, 'Ship to'), h('dd', {}, [order.shippingAddress.name, order.shippingAddress.line1, order.shippingAddress.city, order.shippingAddress.postalCode, order.shippingAddress.country].filter(Boolean).join(', ')),
      h('dt', {}, 'Total'), h('dd', {}, `${order.totals.grandTotal} ${order.currency}`),
    ),
    h('h2', {}, 'Lines'),
    table(order.lines, { '#': (l) => l.lineNumber ?? '', SKU: (l) => l.sku, Quantity: (l) => l.quantity, 'Unit price': (l) => l.unitPrice, Total: (l) => l.lineTotal ?? '' }),
    h('h2', {}, 'Payments'),
    table(order.payments, { Method: (p) => p.method, Amount: (p) => p.amount, Status: (p) => p.status }, 'No payment.'),
    h('h2', {}, 'Timeline'),
    h(
      'div',
      { id: 'timeline' },
      table(timeline, {
        When: (e) => when(e.at),
        System: (e) => e.system,
        Action: (e) => h('span', { class: 'mono' }, e.action),
        Outcome: (e) => h('span', { class: `badge outcome-${e.outcome}` }, e.outcome),
        Attempt: (e) => e.attempt,
        Took: (e) => (e.durationMs === null ? '' : `${e.durationMs} ms`),
        Detail: (e) => h('span', { class: 'detail' }, detailText(e.detail)),
      }),
    ),
  );
}

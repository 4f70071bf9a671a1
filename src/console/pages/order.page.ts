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
interface Reservation {
  id: string;
  status: string;
  lines: Array<{ lineNumber: number; sku: string; quantity: number; allocations: Array<{ location: string; quantity: number; open: number; consumed: number }> }>;
}
interface Route {
  erp: string | null;
  shadow: string | null;
  erpTarget: string | null;
  locations: Array<{ location: string; kind: string; status: string; externalId: string | null; lines: Array<{ lineNumber: number; sku: string; quantity: number }> }>;
}
interface Shipment {
  id: string;
  locationCode: string;
  carrier: string | null;
  trackingNumbers: string[];
  lines: Array<{ lineNumber: number; sku?: string; quantity: number }>;
  shippedAt: string;
}
interface Invoice {
  erpId?: unknown;
  number?: string;
  state?: string;
  totalAmount?: string;
  currency?: string;
  invoiceDate?: string;
}
interface Return {
  id: string;
  status: string;
  locationCode: string;
  reason: string | null;
  refundAmount: string;
  lines: Array<{ lineNumber: number; sku: string; quantity: number; condition: string }>;
  createdAt: string;
  completedAt: string | null;
  exception: { code?: string; message?: string; deadLetterId?: string } | null;
}
interface LineState {
  lineNumber: number;
  shipped: number;
  cancelled: number;
  returned: number;
}
interface OrderDetail {
  order: Order;
  timeline: TimelineEntry[];
  reservations: Reservation[];
  route: Route;
  lineStates: LineState[];
  shipments: Shipment[];
  erpSale: { number?: string; erpId?: unknown; state?: string } | null;
  invoices: Invoice[];
  returns: Return[];
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
const lineList = (lines: Array<{ lineNumber?: number; sku?: string; quantity: number }>) => lines.map((l) => `${l.sku ?? `line ${l.lineNumber}`} × ${l.quantity}`).join(', ');

// Statuses a cancel can no longer stop (the server answers why, should the page be stale).
const NOT_CANCELLABLE = new Set(['shipped', 'completed', 'cancelled', 'payment_failed']);

/**
 * One order: status, hold, customer, lines, payments, reservations, route (locations and ERP),
 * shipments, ERP invoices, returns and the timeline across systems; for operators the actions
 * that apply (release a hold, retry an exception, cancel), each after a confirmation.
 */
export async function orderPage(target: HTMLElement, params: URLSearchParams, id?: string): Promise<void> {
  const data = await get<OrderDetail>(`/orders/${encodeURIComponent(id ?? '')}`);
  const { order, timeline } = data;
  const message = h('p', { class: 'notice', id: 'order-message', role: 'status', hidden: true });
  const say = (text: string, tone: 'ok' | 'refused') => {
    message.textContent = text;
    message.className = tone === 'refused' ? 'notice refused' : 'notice';
    message.setAttribute('role', tone === 'refused' ? 'alert' : 'status');
    message.hidden = false;
  };
  /** Confirms, calls the action, then reloads the page (or shows the server's refusal). */
  const act = async (question: string, confirmLabel: string, path: string, body: unknown, done: (answer: Record<string, unknown>) => string) => {
    if (!(await confirmDialog(question, confirmLabel))) return;
    try {
      const answer = await post<Record<string, unknown>>(`/orders/${order.id}/${path}`, body);
      await orderPage(target, params, order.id);
      const again = target.querySelector<HTMLElement>('#order-message');
      if (again) {
        again.textContent = done(answer);
        again.hidden = false;
      }
    } catch (error) {
      say(error instanceof ApiProblem ? error.message : String(error), 'refused');
    }
  };
  const hold = order.hold;
  const exception = hold?.kind === 'exception' || data.returns.some((r) => r.exception);
  const operate = canOperate();
  const actions = operate
    ? [
        order.status === 'on_hold' && hold && hold.kind !== 'exception' && hold.kind !== 'amendment'
          ? h('button', { type: 'button', id: 'release-hold', onclick: () => void act(`Release order ${order.channelOrderId} from its ${hold.kind} hold? Its flow resumes at once.`, 'Release hold', 'hold/release', {}, () => 'Hold released: the flow resumed.') }, 'Release hold…')
          : null,
        exception
          ? h('button', { type: 'button', id: 'retry-order', onclick: () => void act(`Retry order ${order.channelOrderId}? Its failed flow runs again from the step that failed (fix the cause first).`, 'Retry', 'retry', {}, (a) => `Retried: ${(a.replayed as unknown[]).length} dead letter(s) replayed; the order moves on when the flow succeeds.`) }, 'Retry…')
          : null,
        NOT_CANCELLABLE.has(order.status)
          ? null
          : h('button', { type: 'button', class: 'danger', id: 'cancel-order', onclick: () => void act(`Cancel order ${order.channelOrderId}? What was done is undone (reservations released, ERP order cancelled, payment refunded or voided); this cannot be reversed.`, 'Cancel order', 'cancel', {}, (a) => `Cancellation ${String(a.id)} requested: the order is cancelled as soon as its cancel flow has run.`) }, 'Cancel order…'),
      ].filter(Boolean)
    : [];
  const states = new Map(data.lineStates.map((l) => [l.lineNumber, l]));
  const reservationRows = data.reservations.flatMap((r) => r.lines.flatMap((l) => l.allocations.map((a) => ({ reservation: r, line: l, allocation: a }))));
  show(
    target,
    h('p', {}, h('a', { href: '#/orders' }, '« Orders')),
    h('h1', {}, `Order ${order.channelOrderId} `, h('span', { class: `badge status-${order.status}`, id: 'order-status-badge' }, order.status)),
    message,
    actions.length > 0 ? h('p', { class: 'actions', id: 'order-actions' }, actions) : null,
    hold
      ? h('section', { class: 'hold' }, h('h2', {}, `Held: ${hold.kind}`), h('p', {}, String(hold.reason ?? hold.detail ?? hold.message ?? '')))
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
    h(
      'div',
      { class: 'columns' },
      h(
        'section',
        {},
        h('h2', {}, 'Lines'),
        table(order.lines, {
          '#': (l) => l.lineNumber ?? '',
          SKU: (l) => l.sku,
          Quantity: (l) => l.quantity,
          'Unit price': (l) => l.unitPrice,
          Total: (l) => l.lineTotal ?? '',
          'Shipped · cancelled · returned': (l) => {
            const s = l.lineNumber === undefined ? undefined : states.get(l.lineNumber);
            return s ? `${s.shipped} · ${s.cancelled} · ${s.returned}` : '';
          },
        }),
        h('h2', {}, 'Payments'),
        table(order.payments, { Method: (p) => p.method, Amount: (p) => p.amount, Status: (p) => p.status }, 'No payment.'),
        h('h2', {}, 'Reservations'),
        h(
          'div',
          { id: 'reservations' },
          table(reservationRows, {
            SKU: (r) => r.line.sku,
            Location: (r) => r.allocation.location,
            Quantity: (r) => r.allocation.quantity,
            'Open · consumed': (r) => `${r.allocation.open} · ${r.allocation.consumed}`,
            Status: (r) => h('span', { class: `badge reservation-${r.reservation.status}` }, r.reservation.status),
          }, 'No reservation.'),
        ),
      ),
      h(
        'section',
        { id: 'route' },
        h('h2', {}, 'Route'),
        h(
          'dl',
          { class: 'route-facts' },
          h('dt', {}, 'ERP connection'), h('dd', { id: 'route-erp' }, data.route.erp ? `${data.route.erp} (target ${data.route.erpTarget})` : 'not routed yet'),
          data.route.shadow ? [h('dt', {}, 'Shadow ERP'), h('dd', {}, data.route.shadow)] : null,
          h('dt', {}, 'ERP order'), h('dd', {}, data.erpSale?.number ?? '—'),
        ),
        table(data.route.locations, {
          Location: (f) => f.location,
          Kind: (f) => f.kind,
          Lines: (f) => lineList(f.lines),
          Fulfilment: (f) => h('span', { class: `badge fulfilment-${f.status}` }, f.status),
          'WMS id': (f) => f.externalId ?? '—',
        }, 'No location chosen yet.'),
      ),
    ),
    h('h2', {}, 'Shipments'),
    h(
      'div',
      { id: 'shipments' },
      table(data.shipments, {
        Shipment: (s) => h('span', { class: 'mono' }, s.id),
        From: (s) => s.locationCode,
        Carrier: (s) => s.carrier ?? '—',
        Tracking: (s) => s.trackingNumbers.join(', ') || '—',
        Lines: (s) => lineList(s.lines),
        Shipped: (s) => when(s.shippedAt),
      }, 'Nothing shipped yet.'),
    ),
    h('h2', {}, 'ERP invoices'),
    h(
      'div',
      { id: 'invoices' },
      table(data.invoices, {
        Invoice: (i) => i.number ?? String(i.erpId ?? ''),
        State: (i) => i.state ?? '',
        Total: (i) => `${i.totalAmount ?? ''} ${i.currency ?? ''}`,
        Date: (i) => i.invoiceDate ?? '',
      }, 'No invoice yet.'),
    ),
    h('h2', {}, 'Returns'),
    h(
      'div',
      { id: 'returns' },
      table(data.returns, {
        Return: (r) => h('span', { class: 'mono' }, r.id),
        Status: (r) => h('span', { class: `badge return-${r.status}` }, r.exception ? `${r.status}, exception` : r.status),
        Lines: (r) => lineList(r.lines),
        At: (r) => r.locationCode,
        Refund: (r) => r.refundAmount,
        Requested: (r) => when(r.createdAt),
        Completed: (r) => when(r.completedAt),
      }, 'No return.'),
    ),
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

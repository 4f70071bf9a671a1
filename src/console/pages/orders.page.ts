import { get } from '../api.ts';
import { h, show, table, when } from '../dom.ts';

interface OrderRow {
  id: string;
  channel: string;
  channelOrderId: string;
  status: string;
  customerEmail: string;
  grandTotal: string;
  currency: string;
  placedAt: string;
  held: boolean;
}

export const ORDER_STATUSES = ['received', 'validated', 'on_hold', 'pending_allocation', 'allocated', 'released', 'partially_shipped', 'shipped', 'completed', 'cancelled'];

/** Order search: one box (order id, channel order id or customer e-mail), status, channel and days received; pages of 25 from the server. */
export async function ordersPage(target: HTMLElement, params: URLSearchParams): Promise<void> {
  const q = h('input', { type: 'search', name: 'q', id: 'order-search', placeholder: 'Order id, channel order id or customer e-mail', value: params.get('q') ?? '' });
  const status = h('select', { name: 'status', id: 'order-status' }, h('option', { value: '' }, 'Any status'), ORDER_STATUSES.map((s) => h('option', { value: s, selected: params.get('status') === s }, s)));
  const channel = h('input', { type: 'text', name: 'channel', id: 'order-channel', placeholder: 'Channel', value: params.get('channel') ?? '' });
  const from = h('input', { type: 'date', name: 'from', id: 'order-from', title: 'Received on or after (UTC)', value: params.get('from') ?? '' });
  const to = h('input', { type: 'date', name: 'to', id: 'order-to', title: 'Received on or before (UTC)', value: params.get('to') ?? '' });
  const form = h('form', { class: 'search' }, q, status, channel, from, to, h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (q.value.trim()) next.set('q', q.value.trim());
    if (status.value) next.set('status', status.value);
    if (channel.value.trim()) next.set('channel', channel.value.trim());
    if (from.value) next.set('from', from.value);
    if (to.value) next.set('to', to.value);
    location.hash = `#/orders?${next}`;
  });

  const query = new URLSearchParams();
  for (const key of ['q', 'status', 'channel', 'from', 'to', 'before']) {
    const value = params.get(key);
    if (value) query.set(key, value);
  }
  const page = await get<{ items: OrderRow[]; next: string | null }>(`/orders?${query}`);
  const more = new URLSearchParams(params);
  if (page.next) more.set('before', page.next);
  show(
    target,
    h('h1', {}, 'Orders'),
    form,
    table(page.items, {
      Order: (o) => h('a', { href: `#/orders/${o.id}`, class: 'mono' }, o.id),
      Channel: (o) => o.channel,
      'Channel order': (o) => o.channelOrderId,
      Customer: (o) => h('span', { class: 'customer-email' }, o.customerEmail),
      Status: (o) => h('span', { class: `badge status-${o.status}` }, o.status, o.held ? ' · held' : ''),
      Total: (o) => `${o.grandTotal} ${o.currency}`,
      Placed: (o) => when(o.placedAt),
    }, 'No order matches.'),
    h(
      'p',
      { class: 'pager' },
      params.get('before') ? h('a', { href: `#/orders?${new URLSearchParams([...params].filter(([k]) => k !== 'before'))}` }, '« Newest') : null,
      page.next ? h('a', { href: `#/orders?${more}`, id: 'next-page' }, 'Older »') : null,
    ),
  );
}

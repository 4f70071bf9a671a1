import { get } from '../api.ts';
import { h, show, table, when } from '../dom.ts';

interface LocationFigure {
  location: string;
  onHand: number;
  reserved: number;
  safetyStock: number;
  available: number;
  included: boolean;
  note?: string;
}
interface Availability {
  channel: string | null;
  available: number;
  onHand: number;
  reserved: number;
  safetyStock: number;
  locations: LocationFigure[];
  explanation: { pool: number; allocation: { rule: { mode: string }; source: string; remaining: number | null }; steps: string[] };
}
interface Reservation {
  id: string;
  reference: string;
  channel: string;
  createdAt: string;
  expiresAt: string | null;
  lines: Array<{ lineNumber: number; location: string; quantity: number; open: number }>;
}
interface Drift {
  snapshotId: string;
  source: string;
  takenAt: string;
  appliedAt: string | null;
  location: string;
  ours: number;
  theirs: number;
  difference: number;
  openReservations: number;
}
interface Report {
  id: string;
  source: string;
  takenAt: string;
  appliedAt: string | null;
  complete: boolean;
  summary: { lines: number; drifting: number; unitsOver: number; unitsShort: number };
}
interface Explorer {
  sku: string | null;
  availability: Availability[];
  reservations: { items: Reservation[]; next: string | null };
  drift: Drift[];
  reports: Report[];
}

const channelName = (channel: string | null) => channel ?? 'shared pool';
const signed = (n: number) => (n > 0 ? `+${n}` : String(n));

/** One channel's figure per location and the derivation in words. */
function channelCard(a: Availability): HTMLElement {
  return h(
    'section',
    { class: 'channel-card', 'data-channel': channelName(a.channel) },
    h('h3', {}, channelName(a.channel), ' ', h('span', { class: 'badge' }, `${a.available} available`)),
    table(a.locations, {
      Location: (l) => l.location,
      'On hand': (l) => l.onHand,
      Reserved: (l) => l.reserved,
      'Safety stock': (l) => l.safetyStock,
      Available: (l) => l.available,
      Counted: (l) => (l.included ? 'yes' : h('span', { class: 'muted' }, l.note ?? 'no')),
    }, 'No stock at any location.'),
    h('ol', { class: 'steps' }, a.explanation.steps.map((step) => h('li', {}, step))),
  );
}

/** Availability explorer: a SKU's availability per channel and location with its explanation, its active reservations and reconciliation drift. */
export async function inventoryPage(target: HTMLElement, params: URLSearchParams): Promise<void> {
  const sku = h('input', { type: 'search', name: 'sku', id: 'sku-search', placeholder: 'SKU, e.g. TEE-M', value: params.get('sku') ?? '' });
  const channel = h('input', { type: 'text', name: 'channel', id: 'sku-channel', placeholder: 'Also explain channel (optional)', value: params.get('channel') ?? '' });
  const form = h('form', { class: 'search' }, sku, channel, h('button', { type: 'submit' }, 'Explore'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (sku.value.trim()) next.set('sku', sku.value.trim());
    if (channel.value.trim()) next.set('channel', channel.value.trim());
    location.hash = `#/inventory?${next}`;
  });

  const query = new URLSearchParams();
  for (const key of ['sku', 'channel', 'before']) {
    const value = params.get(key);
    if (value) query.set(key, value);
  }
  const data = await get<Explorer>(`/inventory?${query}`);
  const more = new URLSearchParams(params);
  if (data.reservations.next) more.set('before', data.reservations.next);

  const reports = [
    h('h2', {}, 'Recent reconciliation reports'),
    table(data.reports, {
      Report: (r) => h('span', { class: 'mono' }, r.id),
      Source: (r) => r.source,
      Taken: (r) => when(r.takenAt),
      Lines: (r) => r.summary.lines,
      Drifting: (r) => h('span', { class: r.summary.drifting ? 'badge drift' : 'badge' }, r.summary.drifting),
      'Units over / short': (r) => `${r.summary.unitsOver} / ${r.summary.unitsShort}`,
      Applied: (r) => when(r.appliedAt),
    }, 'No reconciliation report yet (POST /v1/inventory/snapshots or syncline inventory reconcile).'),
  ];

  if (!data.sku) return show(target, h('h1', {}, 'Inventory'), form, h('p', { class: 'muted' }, 'Enter a SKU to see what each channel may sell, where it comes from and what holds it.'), reports);

  show(
    target,
    h('h1', {}, 'Inventory ', h('span', { class: 'mono', id: 'explored-sku' }, data.sku)),
    form,
    h('h2', {}, 'Availability by channel'),
    table(data.availability, {
      Channel: (a) => channelName(a.channel),
      Available: (a) => h('strong', { 'data-available': channelName(a.channel) }, a.available),
      'On hand': (a) => a.onHand,
      Reserved: (a) => a.reserved,
      'Safety stock': (a) => a.safetyStock,
      Pool: (a) => a.explanation.pool,
      Allocation: (a) => `${a.explanation.allocation.rule.mode} (${a.explanation.allocation.source})`,
    }),
    h('div', { class: 'channel-cards', id: 'availability' }, data.availability.map(channelCard)),
    h('h2', {}, 'Active reservations'),
    h(
      'div',
      { id: 'reservations' },
      table(data.reservations.items, {
        Reservation: (r) => h('span', { class: 'mono' }, r.id),
        Reference: (r) => (r.reference.startsWith('ord_') ? h('a', { href: `#/orders/${r.reference}` }, r.reference) : r.reference),
        Channel: (r) => r.channel,
        'Held (open of reserved) by location': (r) => h('div', {}, r.lines.map((l) => h('div', {}, `${l.location}: ${l.open} of ${l.quantity}`))),
        Created: (r) => when(r.createdAt),
        Expires: (r) => when(r.expiresAt),
      }, 'No active reservation holds this SKU.'),
    ),
    h('p', { class: 'pager' }, data.reservations.next ? h('a', { href: `#/inventory?${more}` }, 'Older »') : null),
    h('h2', {}, 'Drift of this SKU in reconciliation'),
    table(data.drift, {
      Report: (d) => h('span', { class: 'mono' }, d.snapshotId),
      Source: (d) => d.source,
      Taken: (d) => when(d.takenAt),
      Location: (d) => d.location,
      Ours: (d) => d.ours,
      Theirs: (d) => d.theirs,
      Difference: (d) => h('span', { class: 'badge drift' }, signed(d.difference)),
      'Reserved then': (d) => d.openReservations,
      Applied: (d) => when(d.appliedAt),
    }, 'No drift recorded for this SKU.'),
    reports,
  );
}

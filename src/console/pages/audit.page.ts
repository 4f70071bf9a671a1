import { get } from '../api.ts';
import { h, show, table, when } from '../dom.ts';

interface AuditEvent {
  id: string;
  occurredAt: string;
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  details: Record<string, unknown>;
  correlationId: string | null;
}

const FILTERS = ['action', 'actor', 'targetType', 'targetId'] as const;

/** Where a target of the trail is shown in the console, if anywhere. */
function targetLink(event: AuditEvent): HTMLElement | string {
  const label = `${event.targetType} ${event.targetId}`;
  if (event.targetType === 'dead_letter') return h('a', { href: `#/exceptions/${event.targetId}`, class: 'mono' }, label);
  if (event.targetType === 'order') return h('a', { href: `#/orders/${event.targetId}`, class: 'mono' }, label);
  return h('span', { class: 'mono' }, label);
}

/** The audit trail, newest first, searched by action, actor and target; 50 a page, paged by the server. */
export async function auditPage(target: HTMLElement, params: URLSearchParams): Promise<void> {
  const query = new URLSearchParams();
  for (const key of [...FILTERS, 'cursor']) {
    const value = params.get(key);
    if (value) query.set(key, value);
  }
  const page = await get<{ items: AuditEvent[]; next: string | null; actions: string[] }>(`/audit?${query}`);
  const action = h('select', { name: 'action', id: 'audit-action' }, h('option', { value: '' }, 'Any action'), page.actions.map((a) => h('option', { value: a, selected: params.get('action') === a }, a)));
  const actor = h('input', { type: 'search', name: 'actor', id: 'audit-actor', placeholder: 'Actor (console:usr_…, client:…, cli:…)', value: params.get('actor') ?? '' });
  const targetType = h('input', { type: 'text', name: 'targetType', id: 'audit-target-type', placeholder: 'Target type (order, dead_letter…)', value: params.get('targetType') ?? '' });
  const targetId = h('input', { type: 'search', name: 'targetId', id: 'audit-target-id', placeholder: 'Target id', value: params.get('targetId') ?? '' });
  const form = h('form', { class: 'search audit-search' }, action, actor, targetType, targetId, h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [key, input] of [['action', action], ['actor', actor], ['targetType', targetType], ['targetId', targetId]] as const) {
      if (input.value.trim()) next.set(key, input.value.trim());
    }
    location.hash = `#/audit?${next}`;
  });
  const more = new URLSearchParams(params);
  if (page.next) more.set('cursor', page.next);
  show(
    target,
    h('h1', {}, 'Audit trail'),
    form,
    h(
      'div',
      { id: 'audit-events' },
      table(page.items, {
        When: (e) => when(e.occurredAt),
        Actor: (e) => h('a', { href: `#/audit?actor=${encodeURIComponent(e.actor)}`, class: 'mono' }, e.actor),
        Action: (e) => h('span', { class: 'audit-action' }, e.action),
        Target: targetLink,
        Details: (e) => (Object.keys(e.details).length > 0 ? h('span', { class: 'detail' }, JSON.stringify(e.details)) : ''),
      }, 'No audit event matches.'),
    ),
    h(
      'p',
      { class: 'pager' },
      params.get('cursor') ? h('a', { href: `#/audit?${new URLSearchParams([...params].filter(([k]) => k !== 'cursor'))}` }, '« Newest') : null,
      page.next ? h('a', { href: `#/audit?${more}`, id: 'audit-next' }, 'Older »') : null,
    ),
  );
}

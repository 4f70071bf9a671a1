import { ApiProblem, canOperate, get, post } from '../api.ts';
import { confirmDialog, h, show, table, when } from '../dom.ts';

interface DeadLetter {
  id: string;
  status: string;
  type: string;
  target: string | null;
  errorCode: string;
  reason: string;
  remediation: string;
  attempts: number;
  maxAttempts: number;
  failedAt: string;
  correlationId: string;
  replayJobId: string | null;
  resolutionNote: string | null;
}
interface Detail extends DeadLetter {
  payload: unknown;
  excerpt: unknown;
  audit: Array<{ at: string; actor: string; action: string; detail: unknown }>;
}
interface ExceptionOrder {
  id: string;
  channel: string;
  channelOrderId: string;
  status: string;
  customerEmail: string;
  code: string;
  system: string;
  step: string | null;
  message: string;
  deadLetterId: string;
  statusKept: boolean;
  since: string;
}
interface Group {
  reason: string;
  target: string | null;
  deadLetters: number;
  orders: number;
}
interface Exceptions {
  groups: Group[];
  items: DeadLetter[];
  next: string | null;
  orders: { items: ExceptionOrder[]; next: string | null };
}

const filterLink = (reason: string | null, target: string | null) => {
  const query = new URLSearchParams();
  if (reason) query.set('reason', reason);
  if (target) query.set('target', target);
  return `#/exceptions?${query}`;
};

/** A message line that actions fill in (hidden until then). */
const notice = () => h('p', { class: 'notice', role: 'status', hidden: true });
function tell(line: HTMLElement, text: string, error = false): void {
  line.textContent = text;
  line.className = error ? 'notice error' : 'notice';
  line.hidden = false;
}

/**
 * Bulk replay of the letters matching the page's filter: the server pins them and answers their
 * count, the operator confirms that count, the replay takes exactly those (still open) letters.
 */
async function bulkReplay(reason: string | null, target: string | null, line: HTMLElement): Promise<void> {
  try {
    const preview = await post<{ previewId: string; count: number; more: boolean }>('/exceptions/replay-preview', { ...(reason ? { reason } : {}), ...(target ? { target } : {}) });
    if (preview.count === 0) return tell(line, 'No open dead letter matches: nothing to replay.');
    const what = [reason && `reason ${reason}`, target && `system ${target}`].filter(Boolean).join(', ');
    const more = preview.more ? ' More match than one bulk replay takes; the oldest are in this one.' : '';
    if (!(await confirmDialog(`Replay ${preview.count} dead letter${preview.count === 1 ? '' : 's'} (${what})? Each runs again as a new job under the current code and policy. Letters arriving after this preview are not included.${more}`, `Replay ${preview.count}`))) return;
    const done = await post<{ replayed: number; skipped: number }>('/exceptions/replay', { previewId: preview.previewId });
    location.hash = `${filterLink(reason, target)}&replayed=${done.replayed}&skipped=${done.skipped}`;
  } catch (error) {
    tell(line, error instanceof ApiProblem ? error.message : String(error), true);
  }
}

/** Open dead letters and orders in the exception state, grouped by reason and system, then a page of each for the chosen group. */
export async function exceptionsPage(target: HTMLElement, params: URLSearchParams): Promise<void> {
  const query = new URLSearchParams();
  for (const key of ['reason', 'target', 'before', 'ordersBefore']) {
    const value = params.get(key);
    if (value) query.set(key, value);
  }
  const data = await get<Exceptions>(`/exceptions?${query}`);
  const reason = params.get('reason');
  const system = params.get('target');
  const line = notice();
  if (params.has('replayed')) tell(line, `Replayed ${params.get('replayed')} dead letter(s)${Number(params.get('skipped')) > 0 ? `; ${params.get('skipped')} were no longer open` : ''}.`);
  const page = (key: string, value: string) => {
    const next = new URLSearchParams([...params].filter(([k]) => k !== 'replayed' && k !== 'skipped'));
    next.set(key, value);
    return `#/exceptions?${next}`;
  };
  const filtered = reason !== null || system !== null;
  const heading = filtered ? [reason && `reason ${reason}`, system && `system ${system}`].filter(Boolean).join(', ') : 'every reason';
  show(
    target,
    h('h1', {}, 'Exceptions'),
    line,
    h('h2', {}, 'Open, by reason and system'),
    table(data.groups, {
      Reason: (g) => h('a', { href: filterLink(g.reason, g.target), class: 'group-reason' }, g.reason),
      System: (g) => g.target ?? '—',
      'Dead letters': (g) => g.deadLetters,
      'Orders in exception': (g) => g.orders,
    }, 'No open exceptions.'),
    filtered ? h('p', {}, h('a', { href: '#/exceptions' }, 'Show every reason')) : null,
    filtered && canOperate() && data.items.length > 0
      ? h('p', { class: 'bulk' }, h('button', { type: 'button', id: 'bulk-replay', onclick: () => void bulkReplay(reason, system, line) }, 'Replay all matching…'))
      : null,
    h('h2', {}, `Open dead letters: ${heading}`),
    table(data.items, {
      'Dead letter': (d) => h('a', { href: `#/exceptions/${d.id}`, class: 'mono' }, d.id),
      Job: (d) => d.type,
      System: (d) => d.target ?? '—',
      Reason: (d) => h('span', {}, h('span', { class: 'mono' }, d.errorCode), h('div', { class: 'detail' }, d.reason)),
      Attempts: (d) => `${d.attempts}/${d.maxAttempts}`,
      Failed: (d) => when(d.failedAt),
    }, 'Nothing open here.'),
    h('p', { class: 'pager' }, data.next ? h('a', { href: page('before', data.next) }, 'Older »') : null),
    h('h2', {}, `Orders in the exception state: ${heading}`),
    h(
      'div',
      { id: 'exception-orders' },
      table(data.orders.items, {
        Order: (o) => h('a', { href: `#/orders/${o.id}`, class: 'mono' }, o.id),
        'Channel order': (o) => `${o.channel} ${o.channelOrderId}`,
        Customer: (o) => h('span', { class: 'customer-email' }, o.customerEmail),
        Status: (o) => h('span', { class: `badge status-${o.status}` }, o.status, o.statusKept ? ' · kept' : ''),
        Failed: (o) => h('span', {}, `${o.system} ${o.step ?? ''}`, h('div', { class: 'detail' }, `${o.code}: ${o.message}`)),
        // Its own query, so the letter's link in the table above stays the one link with that address.
        'Dead letter': (o) => (o.deadLetterId ? h('a', { href: `#/exceptions/${o.deadLetterId}?order=${o.id}`, class: 'mono' }, o.deadLetterId) : '—'),
        Since: (o) => when(o.since),
      }, 'No order in the exception state here.'),
    ),
    h('p', { class: 'pager' }, data.orders.next ? h('a', { href: page('ordersBefore', data.orders.next) }, 'Older orders »') : null),
  );
}

/** Asks for the reason of a discard in a modal dialog; resolves the reason, or undefined when cancelled. */
function discardDialog(message: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: 'confirm discard' });
    const reason = h('textarea', { id: 'discard-reason', rows: 3, maxlength: 1000, placeholder: 'Why this letter is not replayed (recorded and audited)' });
    const error = h('p', { class: 'error', role: 'alert', hidden: true }, 'A reason of at least 3 characters is required.');
    const close = (answer: string | undefined) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    const confirm = () => {
      const text = reason.value.trim();
      if (text.length < 3) {
        error.hidden = false;
        return;
      }
      close(text);
    };
    dialog.append(
      h('p', {}, message),
      h('label', { for: 'discard-reason' }, 'Reason'),
      reason,
      error,
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => close(undefined) }, 'Cancel'), h('button', { type: 'button', class: 'danger', id: 'discard-confirm', onclick: confirm }, 'Discard')),
    );
    dialog.addEventListener('cancel', () => close(undefined));
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** One dead letter: error, remediation hint, payload, audit trail; replay with a confirmation, discard with a reason. */
export async function exceptionPage(target: HTMLElement, _params: URLSearchParams, id?: string): Promise<void> {
  const letter = await get<Detail>(`/dead-letters/${encodeURIComponent(id ?? '')}`);
  const message = notice();
  const act = async (action: () => Promise<unknown>) => {
    try {
      await action();
      location.hash = `#/exceptions/${letter.id}?done=${Date.now()}`;
    } catch (error) {
      tell(message, error instanceof ApiProblem ? error.message : String(error), true);
    }
  };
  const replay = async () => {
    if (!(await confirmDialog(`Replay ${letter.type} for ${letter.target ?? 'no target'}? It runs again as a new job under the current code and policy.`, 'Replay'))) return;
    await act(() => post(`/dead-letters/${letter.id}/replay`, {}));
  };
  const discard = async () => {
    const reason = await discardDialog(`Discard ${letter.type} for ${letter.target ?? 'no target'}? It will not run again; the order, if any, stays where it is.`);
    if (reason !== undefined) await act(() => post(`/dead-letters/${letter.id}/discard`, { reason }));
  };
  const orderId = typeof (letter.payload as { orderId?: unknown } | null)?.orderId === 'string' ? (letter.payload as { orderId: string }).orderId : undefined;
  show(
    target,
    h('p', {}, h('a', { href: '#/exceptions' }, '« Exceptions')),
    h('h1', {}, `Dead letter `, h('span', { class: 'mono' }, letter.id), ' ', h('span', { class: `badge dl-${letter.status}`, id: 'dead-letter-status' }, letter.status)),
    message,
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Job'), h('dd', {}, letter.type),
      h('dt', {}, 'System'), h('dd', {}, letter.target ?? '—'),
      h('dt', {}, 'Error'), h('dd', {}, `${letter.errorCode}: ${letter.reason}`),
      h('dt', {}, 'What to do'), h('dd', { class: 'remediation' }, letter.remediation),
      h('dt', {}, 'Attempts'), h('dd', {}, `${letter.attempts} of ${letter.maxAttempts}`),
      h('dt', {}, 'Failed'), h('dd', {}, when(letter.failedAt)),
      h('dt', {}, 'Correlation'), h('dd', { class: 'mono' }, letter.correlationId),
      orderId ? [h('dt', {}, 'Order'), h('dd', {}, h('a', { href: `#/orders/${orderId}`, id: 'dead-letter-order' }, orderId))] : null,
      letter.replayJobId ? [h('dt', {}, 'Replayed as'), h('dd', {}, `job ${letter.replayJobId}`)] : null,
      letter.resolutionNote ? [h('dt', {}, 'Discarded because'), h('dd', { id: 'discard-note' }, letter.resolutionNote)] : null,
    ),
    letter.status === 'open' && canOperate()
      ? h('p', { class: 'actions' }, h('button', { type: 'button', id: 'replay', onclick: () => void replay() }, 'Replay…'), h('button', { type: 'button', class: 'danger', id: 'discard', onclick: () => void discard() }, 'Discard…'))
      : null,
    h('h2', {}, 'Payload'),
    h('pre', {}, JSON.stringify(letter.payload, null, 2)),
    h('h2', {}, 'Failure excerpt'),
    h('pre', {}, JSON.stringify(letter.excerpt, null, 2)),
    h('h2', {}, 'Audit trail'),
    table(letter.audit, { When: (a) => when(a.at), Who: (a) => a.actor, What: (a) => a.action, Detail: (a) => (a.detail ? h('span', { class: 'detail' }, JSON.stringify(a.detail)) : '') }, 'No action yet.'),
  );
}

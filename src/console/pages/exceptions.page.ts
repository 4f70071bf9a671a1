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
}
interface Detail extends DeadLetter {
  payload: unknown;
  excerpt: unknown;
  audit: Array<{ at: string; actor: string; action: string; detail: unknown }>;
}

/** Open dead letters grouped by reason and system, then a page of them (filtered by a reason when chosen). */
export async function exceptionsPage(target: HTMLElement, params: URLSearchParams): Promise<void> {
  const query = new URLSearchParams();
  for (const key of ['reason', 'target', 'before']) {
    const value = params.get(key);
    if (value) query.set(key, value);
  }
  const data = await get<{ groups: Array<{ reason: string; target: string | null; count: number }>; items: DeadLetter[]; next: string | null }>(`/exceptions?${query}`);
  const more = new URLSearchParams(params);
  if (data.next) more.set('before', data.next);
  show(
    target,
    h('h1', {}, 'Exceptions'),
    h('h2', {}, 'Open, by reason and system'),
    table(data.groups, {
      Reason: (g) => h('a', { href: `#/exceptions?reason=${encodeURIComponent(g.reason)}${g.target ? `&target=${encodeURIComponent(g.target)}` : ''}` }, g.reason),
      System: (g) => g.target ?? '—',
      Open: (g) => g.count,
    }, 'No open exceptions.'),
    h('h2', {}, params.get('reason') ? `Open dead letters: ${params.get('reason')}` : 'Open dead letters'),
    params.get('reason') ? h('p', {}, h('a', { href: '#/exceptions' }, 'Show every reason')) : null,
    table(data.items, {
      'Dead letter': (d) => h('a', { href: `#/exceptions/${d.id}`, class: 'mono' }, d.id),
      Job: (d) => d.type,
      System: (d) => d.target ?? '—',
      Reason: (d) => d.reason,
      Attempts: (d) => `${d.attempts}/${d.maxAttempts}`,
      Failed: (d) => when(d.failedAt),
    }, 'Nothing open here.'),
    h('p', { class: 'pager' }, data.next ? h('a', { href: `#/exceptions?${more}` }, 'Older »') : null),
  );
}

/** One dead letter: error, remediation hint, payload, audit trail; replay with a confirmation. */
export async function exceptionPage(target: HTMLElement, _params: URLSearchParams, id?: string): Promise<void> {
  const letter = await get<Detail>(`/dead-letters/${encodeURIComponent(id ?? '')}`);
  const message = h('p', { class: 'notice', role: 'status', hidden: true });
  const replay = async () => {
    if (!(await confirmDialog(`Replay ${letter.type} for ${letter.target ?? 'no target'}? It runs again as a new job under the current code and policy.`, 'Replay'))) return;
    try {
      await post(`/dead-letters/${letter.id}/replay`, {});
      location.hash = `#/exceptions/${letter.id}?replayed=${Date.now()}`;
    } catch (error) {
      message.textContent = error instanceof ApiProblem ? error.message : String(error);
      message.hidden = false;
    }
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
    ),
    letter.status === 'open' && canOperate() ? h('p', {}, h('button', { type: 'button', id: 'replay', onclick: () => void replay() }, 'Replay…')) : null,
    h('h2', {}, 'Payload'),
    h('pre', {}, JSON.stringify(letter.payload, null, 2)),
    h('h2', {}, 'Failure excerpt'),
    h('pre', {}, JSON.stringify(letter.excerpt, null, 2)),
    h('h2', {}, 'Audit trail'),
    table(letter.audit, { When: (a) => when(a.at), Who: (a) => a.actor, What: (a) => a.action }, 'No action yet.'),
  );
}

import { ApiProblem, get, post } from '../api.ts';
import { confirmDialog, fieldDialog, h, show, table, when } from '../dom.ts';

interface Client {
  clientId: string;
  name: string;
  scopes: string[];
  status: 'enabled' | 'disabled';
  rateLimit: number | null;
  createdAt: string;
  keySetAt: string;
  previousKeyValidUntil: string | null;
}
interface SigningKey {
  kid: string;
  configured: boolean;
  createdAt: string;
  retiredAt: string | null;
}
/** The one answer that holds a client secret (creation or rotation). */
interface WithSecret {
  client: Client;
  clientSecret: string;
}
/** A secret to show on this drawing of the page only: it lives in this object and the DOM, nowhere else. */
interface ShownOnce {
  client: Client;
  secret: string;
  rotated: boolean;
}

/** Grace choices offered for a rotation: the CLI's durations (default 24h, at most 30d; 0s ends the old secret at once). */
const GRACES: Array<[string, string]> = [
  ['24h', 'the old secret keeps working for 24 hours (default)'],
  ['1h', 'the old secret keeps working for 1 hour'],
  ['7d', 'the old secret keeps working for 7 days'],
  ['0s', 'the old secret stops working now'],
];

/** How long ago, roughly: "40 min", "5 h", "12 d". */
function age(iso: string): string {
  const minutes = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60_000));
  if (minutes < 90) return `${minutes} min`;
  if (minutes < 48 * 60) return `${Math.round(minutes / 60)} h`;
  return `${Math.round(minutes / 1440)} d`;
}

/** The panel that shows a new secret this once, with a copy button; "Done" redraws the page without it. */
function secretPanel(shown: ShownOnce, done: () => void): HTMLElement {
  const value = h('code', { id: 'client-secret', class: 'secret-value' }, shown.secret);
  const copied = h('span', { class: 'muted', role: 'status', id: 'secret-copied' });
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(shown.secret);
      copied.textContent = 'Copied.';
    } catch {
      // No clipboard permission (an insecure origin, a policy): select the text for a manual copy.
      getSelection()?.selectAllChildren(value);
      copied.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
    }
  };
  const grace = shown.rotated
    ? shown.client.previousKeyValidUntil
      ? `The previous secret keeps working until ${when(shown.client.previousKeyValidUntil)} UTC; move the client to the new one before then.`
      : 'The previous secret no longer works.'
    : null;
  return h(
    'section',
    { class: 'secret-once', id: 'secret-once', 'data-client': shown.client.clientId, role: 'alert' },
    h('h2', {}, shown.rotated ? `New secret of ${shown.client.name}` : `${shown.client.name} created`),
    h('p', {}, h('strong', {}, 'Copy the secret now: it will not be shown again. '), 'Syncline keeps only its hash; if it is lost, rotate the secret.'),
    h('dl', { class: 'facts' }, h('dt', {}, 'Client id'), h('dd', {}, h('code', { id: 'client-id-shown' }, shown.client.clientId)), h('dt', {}, 'Client secret'), h('dd', {}, value)),
    grace ? h('p', {}, grace) : null,
    h('p', { class: 'actions' }, h('button', { type: 'button', id: 'copy-secret', onclick: () => void copy() }, 'Copy secret'), h('button', { type: 'button', class: 'secondary', id: 'secret-done', onclick: done }, 'Done, I have stored it'), copied),
  );
}

/** API clients (admins only): create with scopes from the catalogue and a rate limit, rotate the secret, disable or enable; and the token signing keys. */
export async function clientsPage(target: HTMLElement): Promise<void> {
  const draw = async ({ notice, problem, shown }: { notice?: string; problem?: string; shown?: ShownOnce } = {}): Promise<void> => {
    const clients = await get<{ items: Client[]; signingKeys: SigningKey[]; scopeCatalogue: string[] }>('/admin/clients');
    /** Runs an action, then draws the page again with its outcome (and a secret to show once, if it made one). */
    const act = async <T>(action: () => Promise<T>, outcome: (answer: T) => { notice: string; shown?: ShownOnce }) => {
      let next: { notice?: string; problem?: string; shown?: ShownOnce };
      try {
        next = outcome(await action());
      } catch (error) {
        next = { problem: error instanceof ApiProblem ? error.message : String(error) };
      }
      await draw(next);
    };

    const name = h('input', { type: 'text', id: 'client-name', placeholder: 'Name (who uses it)', required: true, maxlength: 200, autocomplete: 'off' });
    const scopes = clients.scopeCatalogue.map((scope) => h('input', { type: 'checkbox', value: scope, 'data-scope': scope, id: `scope-${scope.replace(':', '-')}` }));
    const rateLimit = h('input', { type: 'number', id: 'client-rate-limit', min: 1, step: 1, placeholder: 'Rate limit (blank: the default)' });
    const form = h(
      'form',
      { class: 'add-client', id: 'add-client' },
      h('div', { class: 'search' }, name, rateLimit, h('button', { type: 'submit' }, 'Create client')),
      h('fieldset', { class: 'scope-choices' }, h('legend', {}, 'Scopes (admin implies every other)'), scopes.map((box) => h('label', {}, box, ' ', h('span', { class: 'mono' }, box.value)))),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const body = {
        name: name.value.trim(),
        scopes: scopes.filter((box) => box.checked).map((box) => box.value),
        ...(rateLimit.value.trim() ? { rateLimit: Number(rateLimit.value) } : {}),
      };
      void act(
        () => post<WithSecret>('/admin/clients', body),
        (made) => ({ notice: `Client ${made.client.name} created.`, shown: { client: made.client, secret: made.clientSecret, rotated: false } }),
      );
    });

    const rotateSecret = async (c: Client) => {
      const grace = h('select', { id: 'rotate-grace' }, GRACES.map(([value, label]) => h('option', { value, selected: value === '24h' }, label)));
      const chosen = await fieldDialog(`Give ${c.name} (${c.clientId}) a new secret? It is shown once, on this page.`, grace, 'Rotate secret');
      if (chosen === undefined) return;
      await act(
        () => post<WithSecret>(`/admin/clients/${encodeURIComponent(c.clientId)}/rotate-secret`, { grace: chosen }),
        (rotated) => ({ notice: `New secret for ${c.name}.`, shown: { client: rotated.client, secret: rotated.clientSecret, rotated: true } }),
      );
    };
    const toggle = async (c: Client) => {
      const disabling = c.status === 'enabled';
      const question = disabling ? `Disable ${c.name} (${c.clientId})? It gets no token, and the tokens it holds are refused at once.` : `Enable ${c.name} (${c.clientId}) again? Its unexpired tokens are accepted again.`;
      if (!(await confirmDialog(question, disabling ? 'Disable' : 'Enable'))) return;
      await act(() => post(`/admin/clients/${encodeURIComponent(c.clientId)}/${disabling ? 'disable' : 'enable'}`, {}), () => ({ notice: `${c.name} ${disabling ? 'disabled' : 'enabled'}.` }));
    };
    const rotateKey = async () => {
      if (!(await confirmDialog('Rotate the token signing key? New tokens are signed with a new key; tokens already issued keep working until they expire.', 'Rotate key'))) return;
      await act(() => post('/admin/signing-keys/rotate', {}), () => ({ notice: 'A new signing key signs from now on.' }));
    };

    show(
      target,
      h('h1', {}, 'API clients'),
      notice ? h('p', { class: 'notice', role: 'status', id: 'admin-notice' }, notice) : null,
      problem ? h('p', { class: 'error', role: 'alert', id: 'admin-error' }, problem) : null,
      shown ? secretPanel(shown, () => void draw()) : null,
      table(clients.items, {
        Client: (c) => h('span', { class: 'mono' }, c.clientId),
        Name: (c) => c.name,
        Scopes: (c) => h('div', {}, c.scopes.map((s) => h('span', { class: 'badge scope' }, s))),
        'Rate limit': (c) => (c.rateLimit === null ? h('span', { class: 'muted' }, 'default') : String(c.rateLimit)),
        Status: (c) => h('span', { class: `badge user-${c.status}`, 'data-client-status': c.clientId }, c.status),
        'Key age': (c) => h('span', { title: `set ${when(c.keySetAt)}` }, age(c.keySetAt)),
        'Previous key valid until': (c) => when(c.previousKeyValidUntil),
        Actions: (c) =>
          h(
            'div',
            { class: 'row-actions' },
            h('button', { type: 'button', class: 'secondary', 'data-rotate': c.clientId, onclick: () => void rotateSecret(c) }, 'Rotate secret…'),
            h('button', { type: 'button', class: 'secondary', 'data-toggle-client': c.clientId, onclick: () => void toggle(c) }, c.status === 'enabled' ? 'Disable…' : 'Enable…'),
          ),
      }, 'No API client.'),
      h('h2', {}, 'Create an API client'),
      h('p', { class: 'muted' }, 'The secret is generated by Syncline and shown once, on this page; Syncline stores only its hash. The same can be done with syncline clients or /v1/admin/clients.'),
      form,
      h('h2', {}, 'Token signing keys'),
      table(clients.signingKeys, {
        Key: (k) => h('span', { class: 'mono' }, k.kid),
        Age: (k) => age(k.createdAt),
        State: (k) => (k.retiredAt ? `retired ${when(k.retiredAt)}, verifies until its tokens expire` : 'signs'),
        Origin: (k) => (k.configured ? 'SYNCLINE_JWT_SECRET' : 'generated'),
      }),
      h('p', {}, h('button', { type: 'button', id: 'rotate-signing-key', onclick: () => void rotateKey() }, 'Rotate signing key…')),
    );
  };
  await draw();
}

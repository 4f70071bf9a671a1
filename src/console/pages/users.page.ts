import { ApiProblem, get, post, user } from '../api.ts';
import { confirmDialog, h, show, table, when } from '../dom.ts';

interface ConsoleUser {
  id: string;
  email: string;
  name: string;
  role: 'viewer' | 'operator' | 'admin';
  status: 'enabled' | 'disabled';
  createdAt: string;
}
interface Client {
  clientId: string;
  name: string;
  scopes: string[];
  status: string;
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

const ROLES = ['viewer', 'operator', 'admin'] as const;

/** How long ago, roughly: "40 min", "5 h", "12 d". */
function age(iso: string): string {
  const minutes = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60_000));
  if (minutes < 90) return `${minutes} min`;
  if (minutes < 48 * 60) return `${Math.round(minutes / 60)} h`;
  return `${Math.round(minutes / 1440)} d`;
}

/** Asks an admin for a new password in a modal dialog; resolves undefined when cancelled. */
function passwordDialog(email: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const input = h('input', { type: 'password', id: 'reset-password', autocomplete: 'new-password', minlength: 12, required: true });
    const form = h('form', { method: 'dialog' });
    const dialog = h('dialog', { class: 'confirm' }, form);
    const close = (answer: string | undefined) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    form.append(
      h('p', {}, `New password for ${email} (at least 12 characters). Their sessions end; tell them the password yourself.`),
      input,
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => close(undefined) }, 'Cancel'), h('button', { type: 'submit', class: 'danger' }, 'Set password')),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      close(input.value);
    });
    dialog.addEventListener('cancel', () => close(undefined));
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Console users (admins only): add, change role, disable or enable, set a password; and the API clients and signing keys, read only but for key rotation. */
export async function usersPage(target: HTMLElement): Promise<void> {
  const draw = async (notice?: string, problem?: string): Promise<void> => {
    const [users, clients] = await Promise.all([get<{ items: ConsoleUser[] }>('/admin/users'), get<{ items: Client[]; signingKeys: SigningKey[] }>('/admin/clients')]);
    const act = async (action: () => Promise<unknown>, done: string) => {
      try {
        await action();
        await draw(done);
      } catch (error) {
        await draw(undefined, error instanceof ApiProblem ? error.message : String(error));
      }
    };

    const email = h('input', { type: 'email', id: 'new-email', placeholder: 'E-mail address', required: true, autocomplete: 'off' });
    const name = h('input', { type: 'text', id: 'new-name', placeholder: 'Name' });
    const role = h('select', { id: 'new-role' }, ROLES.map((r) => h('option', { value: r, selected: r === 'viewer' }, r)));
    const password = h('input', { type: 'password', id: 'new-password', placeholder: 'Initial password (12+ characters)', autocomplete: 'new-password', minlength: 12, required: true });
    const form = h('form', { class: 'search add-user' }, email, name, role, password, h('button', { type: 'submit' }, 'Add user'));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const body = { email: email.value.trim(), role: role.value, password: password.value, ...(name.value.trim() ? { name: name.value.trim() } : {}) };
      void act(() => post('/admin/users', body), `${body.email} added as ${body.role}.`);
    });

    const me = user()?.email;
    const actions = (u: ConsoleUser) => {
      const select = h('select', { 'data-role-of': u.email, 'aria-label': `Role of ${u.email}` }, ROLES.map((r) => h('option', { value: r, selected: r === u.role }, r)));
      const changeRole = async () => {
        if (select.value === u.role) return;
        if (!(await confirmDialog(`Make ${u.email} ${select.value}? Their sessions end at once.`, 'Change role'))) return draw();
        await act(() => post(`/admin/users/${u.id}/role`, { role: select.value }), `${u.email} is now ${select.value}.`);
      };
      const toggle = async () => {
        const disabling = u.status === 'enabled';
        if (!(await confirmDialog(disabling ? `Disable ${u.email}? They are signed out and cannot sign in until enabled again.` : `Enable ${u.email} again?`, disabling ? 'Disable' : 'Enable'))) return;
        await act(() => post(`/admin/users/${u.id}/${disabling ? 'disable' : 'enable'}`, {}), `${u.email} ${disabling ? 'disabled' : 'enabled'}.`);
      };
      const reset = async () => {
        const chosen = await passwordDialog(u.email);
        if (chosen === undefined) return;
        await act(() => post(`/admin/users/${u.id}/password`, { password: chosen }), `New password set for ${u.email}; their sessions ended.`);
      };
      return h(
        'div',
        { class: 'row-actions' },
        select,
        h('button', { type: 'button', class: 'secondary', 'data-change-role': u.email, onclick: () => void changeRole() }, 'Change role'),
        h('button', { type: 'button', class: 'secondary', 'data-toggle': u.email, onclick: () => void toggle() }, u.status === 'enabled' ? 'Disable…' : 'Enable…'),
        h('button', { type: 'button', class: 'secondary', 'data-password': u.email, onclick: () => void reset() }, 'Set password…'),
      );
    };

    const rotate = async () => {
      if (!(await confirmDialog('Rotate the token signing key? New tokens are signed with a new key; tokens already issued keep working until they expire.', 'Rotate key'))) return;
      await act(() => post('/admin/signing-keys/rotate', {}), 'A new signing key signs from now on.');
    };

    show(
      target,
      h('h1', {}, 'Users and access'),
      notice ? h('p', { class: 'notice', role: 'status', id: 'admin-notice' }, notice) : null,
      problem ? h('p', { class: 'error', role: 'alert', id: 'admin-error' }, problem) : null,
      h('h2', {}, 'Console users'),
      table(users.items, {
        'E-mail': (u) => h('span', {}, u.email, u.email === me ? h('span', { class: 'muted' }, ' (you)') : null),
        Name: (u) => u.name,
        Role: (u) => h('span', { class: `badge role-${u.role}`, 'data-user-role': u.email }, u.role),
        Status: (u) => h('span', { class: `badge user-${u.status}`, 'data-user-status': u.email }, u.status),
        Added: (u) => when(u.createdAt),
        Actions: actions,
      }),
      h('h2', {}, 'Add a console user'),
      h('p', { class: 'muted' }, 'You choose the initial password and tell it to the person; Syncline stores only its hash and never shows it again.'),
      form,
      h('h2', {}, 'API clients'),
      h('p', { class: 'muted' }, 'Read only: clients are managed with syncline clients or /v1/admin/clients. A client secret is shown once where it is made, never here.'),
      table(clients.items, {
        Client: (c) => h('span', { class: 'mono' }, c.clientId),
        Name: (c) => c.name,
        Scopes: (c) => h('div', {}, c.scopes.map((s) => h('span', { class: 'badge scope' }, s))),
        Status: (c) => h('span', { class: `badge user-${c.status}` }, c.status),
        'Key age': (c) => h('span', { title: `set ${when(c.keySetAt)}` }, age(c.keySetAt)),
        'Previous key valid until': (c) => when(c.previousKeyValidUntil),
        Created: (c) => when(c.createdAt),
      }, 'No API client.'),
      h('h2', {}, 'Token signing keys'),
      table(clients.signingKeys, {
        Key: (k) => h('span', { class: 'mono' }, k.kid),
        Age: (k) => age(k.createdAt),
        State: (k) => (k.retiredAt ? `retired ${when(k.retiredAt)}, verifies until its tokens expire` : 'signs'),
        Origin: (k) => (k.configured ? 'SYNCLINE_JWT_SECRET' : 'generated'),
      }),
      h('p', {}, h('button', { type: 'button', id: 'rotate-signing-key', onclick: () => void rotate() }, 'Rotate signing key…')),
    );
  };
  await draw();
}

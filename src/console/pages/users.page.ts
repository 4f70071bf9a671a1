import { ApiProblem, get, post, user } from '../api.ts';
import { confirmDialog, fieldDialog, h, show, table, when } from '../dom.ts';

interface ConsoleUser {
  id: string;
  email: string;
  name: string;
  role: 'viewer' | 'operator' | 'admin';
  status: 'enabled' | 'disabled';
  createdAt: string;
}
const ROLES = ['viewer', 'operator', 'admin'] as const;

/** Asks an admin for a new password in a modal dialog; resolves undefined when cancelled. */
function passwordDialog(email: string): Promise<string | undefined> {
  const input = h('input', { type: 'password', id: 'reset-password', autocomplete: 'new-password', minlength: 12, required: true });
  return fieldDialog(`New password for ${email} (at least 12 characters). Their sessions end; tell them the password yourself.`, input, 'Set password');
}

/** Console users (admins only): add, change role, disable or enable, set a password. API clients and signing keys are on the Clients page. */
export async function usersPage(target: HTMLElement): Promise<void> {
  const draw = async (notice?: string, problem?: string): Promise<void> => {
    const users = await get<{ items: ConsoleUser[] }>('/admin/users');
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
      h('p', { class: 'muted' }, 'API clients and token signing keys: ', h('a', { href: '#/clients' }, 'Clients'), '.'),
    );
  };
  await draw();
}

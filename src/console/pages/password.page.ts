import { ApiProblem, changePassword, signOut, user } from '../api.ts';
import { h, show } from '../dom.ts';

/**
 * Choose your own password: the only page of a session whose password an admin chose (a new user,
 * or a reset), until it is replaced; the server refuses every other console route meanwhile.
 */
export async function passwordPage(target: HTMLElement, changed: () => void, signedOut: () => void): Promise<void> {
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const current = h('input', { type: 'password', id: 'current-password', autocomplete: 'current-password', required: true });
  const next = h('input', { type: 'password', id: 'new-password', autocomplete: 'new-password', minlength: 12, required: true });
  const again = h('input', { type: 'password', id: 'repeat-password', autocomplete: 'new-password', minlength: 12, required: true });
  const form = h(
    'form',
    { class: 'sign-in', id: 'password-change' },
    h('h1', {}, 'Choose your password'),
    h('p', { class: 'muted' }, `Signed in as ${user()?.email ?? ''}. An admin chose your current password; choose your own (at least 12 characters) before you go on.`),
    h('label', { for: 'current-password' }, 'Current password'),
    current,
    h('label', { for: 'new-password' }, 'New password'),
    next,
    h('label', { for: 'repeat-password' }, 'New password again'),
    again,
    error,
    h('p', { class: 'actions' }, h('button', { type: 'submit' }, 'Change password'), h('button', { type: 'button', class: 'secondary', id: 'password-sign-out', onclick: () => void signOut().then(signedOut) }, 'Sign out')),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    if (next.value !== again.value) {
      error.textContent = 'The two new passwords differ.';
      error.hidden = false;
      return;
    }
    try {
      await changePassword(current.value, next.value);
      changed();
    } catch (problem) {
      error.textContent = problem instanceof ApiProblem ? problem.message : 'Syncline could not be reached.';
      error.hidden = false;
    }
  });
  show(target, form);
  current.focus();
}

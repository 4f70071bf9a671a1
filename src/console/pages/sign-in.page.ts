import { ApiProblem, signIn } from '../api.ts';
import { h, show } from '../dom.ts';

/** The sign-in form. */
export async function signInPage(target: HTMLElement, signedIn: () => void): Promise<void> {
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const email = h('input', { type: 'email', name: 'email', id: 'email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', name: 'password', id: 'password', autocomplete: 'current-password', required: true });
  const form = h(
    'form',
    { class: 'sign-in' },
    h('h1', {}, 'Syncline console'),
    h('label', { for: 'email' }, 'E-mail'),
    email,
    h('label', { for: 'password' }, 'Password'),
    password,
    error,
    h('button', { type: 'submit' }, 'Sign in'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    try {
      await signIn(email.value, password.value);
      signedIn();
    } catch (problem) {
      error.textContent = problem instanceof ApiProblem ? problem.message : 'Syncline could not be reached.';
      error.hidden = false;
    }
  });
  show(target, form);
  email.focus();
}

import { ApiProblem, isAdmin, passwordChangeRequired, resume, signOut, user, whenSignedOut } from './api.ts';
import { h, show } from './dom.ts';
import { connectionsPage } from './pages/connections.page.ts';
import { auditPage } from './pages/audit.page.ts';
import { clientsPage } from './pages/clients.page.ts';
import { exceptionPage, exceptionsPage } from './pages/exceptions.page.ts';
import { inventoryPage } from './pages/inventory.page.ts';
import { orderPage } from './pages/order.page.ts';
import { ordersPage } from './pages/orders.page.ts';
import { overviewPage } from './pages/overview.page.ts';
import { passwordPage } from './pages/password.page.ts';
import { signInPage } from './pages/sign-in.page.ts';
import { usersPage } from './pages/users.page.ts';

/**
 * The operations console: pages are chosen by the URL fragment (#/orders?q=…), so the server
 * serves one page and its assets; each page renders into <main> from /console/api answers.
 */
const bar = document.getElementById('bar')!;
const page = document.getElementById('page')!;

export type Render = (target: HTMLElement, params: URLSearchParams, id?: string) => Promise<void>;

const ROUTES: Array<[RegExp, Render, string]> = [
  [/^\/?$/, overviewPage, 'Overview'],
  [/^\/overview$/, overviewPage, 'Overview'],
  [/^\/orders$/, ordersPage, 'Orders'],
  [/^\/orders\/([^/]+)$/, orderPage, 'Order'],
  [/^\/exceptions$/, exceptionsPage, 'Exceptions'],
  [/^\/exceptions\/([^/]+)$/, exceptionPage, 'Dead letter'],
  [/^\/inventory$/, inventoryPage, 'Inventory'],
  [/^\/connections$/, connectionsPage, 'Connections'],
  [/^\/users$/, usersPage, 'Users'],
  [/^\/clients$/, clientsPage, 'API clients'],
  [/^\/audit$/, auditPage, 'Audit trail'],
];

function navigation(): HTMLElement {
  const current = location.hash.slice(1).split('?')[0] || '/';
  const link = (href: string, label: string) => h('a', { href: `#${href}`, class: current === href || (href !== '/' && current.startsWith(href)) ? 'active' : undefined }, label);
  const me = user()!;
  return h(
    'nav',
    {},
    h('strong', { class: 'brand' }, 'Syncline'),
    link('/', 'Overview'),
    link('/orders', 'Orders'),
    link('/exceptions', 'Exceptions'),
    link('/inventory', 'Inventory'),
    link('/connections', 'Connections'),
    isAdmin() ? link('/users', 'Users') : null,
    isAdmin() ? link('/clients', 'Clients') : null,
    link('/audit', 'Audit'),
    h('span', { class: 'spacer' }),
    h('span', { class: 'who', 'data-role': me.role }, `${me.name} · ${me.role}`),
    h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        id: 'sign-out',
        onclick: async () => {
          await signOut();
          location.hash = '#/sign-in';
        },
      },
      'Sign out',
    ),
  );
}

async function render(): Promise<void> {
  const [path = '/', query = ''] = location.hash.slice(1).split('?');
  if (path === '/sign-in' || !user()) {
    bar.hidden = true;
    if (!user() && path !== '/sign-in') {
      location.hash = '#/sign-in';
      return;
    }
    document.title = 'Sign in · Syncline console';
    return signInPage(page, () => (location.hash = '#/'));
  }
  if (passwordChangeRequired()) {
    bar.hidden = true;
    document.title = 'Choose your password · Syncline console';
    return passwordPage(
      page,
      () => (location.hash === '#/' ? void render() : (location.hash = '#/')),
      () => (location.hash = '#/sign-in'),
    );
  }
  bar.hidden = false;
  show(bar, navigation());
  const route = ROUTES.find(([pattern]) => pattern.test(path));
  if (!route) return show(page, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the overview')));
  const [pattern, draw, title] = route;
  document.title = `${title} · Syncline console`;
  const id = pattern.exec(path)?.[1];
  try {
    await draw(page, new URLSearchParams(query), id && decodeURIComponent(id));
  } catch (error) {
    if (error instanceof ApiProblem && error.status === 401) return;
    show(page, h('h1', {}, title), h('p', { class: 'error', role: 'alert' }, error instanceof Error ? error.message : String(error)));
  }
}

whenSignedOut(() => (location.hash = '#/sign-in'));
window.addEventListener('hashchange', () => void render());
void resume().then(render, (error: unknown) => show(page, h('p', { class: 'error', role: 'alert' }, `The console cannot reach Syncline: ${String(error)}`)));

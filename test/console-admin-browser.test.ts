import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { chromiumUnavailable } from './support/chromium.ts';
import { addConsoleUsers, CONSOLE_PASSWORD, consolePage, launchConsoleBrowser, openConsole, shot, signInConsole } from './support/console-browser.ts';
import { flowApi, startFlowRig, type FlowRig } from './support/flows.ts';
import { waitFor } from './support/runtime.ts';
import { ADMIN_CLIENT } from './support/server.ts';

/**
 * The console's Inventory, Connections and Users pages in Debian's Chromium (playwright-core),
 * against Syncline on the real PostgreSQL with the sandboxes over HTTP. Screenshots go to
 * docs/console/ (inventory.png, connections.png, users.png; docs/console.md shows them).
 */
const unavailable = await chromiumUnavailable();
const ADMIN = 'ada.admin@example.com';
const OPERATOR = 'otto.operator@example.com';
const NEW_OPERATOR = 'nina.new@example.com';
const NINA_OWN_PASSWORD = 'nina chose this passphrase';
const SHOP_SECRET = `shpss_console_${randomUUID()}`;
const SKU = 'TEE-M';

describe('console inventory, connections and admin pages in Chromium', { skip: unavailable ?? false, timeout: 150_000 }, () => {
  let rig: FlowRig;
  let f: ReturnType<typeof flowApi>;
  let browser: Browser;
  let configDir: string;
  let reservationId: string;

  const signIn = (email: string) => signInConsole(browser, rig.baseUrl, email);
  const open = (page: Page, hash: string) => openConsole(page, rig.baseUrl, hash);
  const key = () => ({ 'idempotency-key': randomUUID() });
  /** Calls the console API from inside the signed-in page (its cookie, its CSRF token). */
  const consoleCall = (page: Page, method: string, path: string, body?: unknown) =>
    page.evaluate(
      async ({ method, path, body }) => {
        const session = (await (await fetch('/console/api/session')).json()) as { csrfToken: string };
        const answer = await fetch(`/console/api${path}`, {
          method,
          headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        return { status: answer.status, type: answer.headers.get('content-type') ?? '', text: await answer.text() };
      },
      { method, path, body },
    );

  before(async () => {
    // A channel connection with a secret the console must never send, and a fraud breaker that opens on the first failure.
    configDir = mkdtempSync(join(tmpdir(), 'syncline-console-admin-'));
    const configPath = join(configDir, 'syncline.yaml');
    writeFileSync(configPath, ['connections:', '  - id: shop-con', '    connector: shopify', '    options:', '      shopDomain: shop-con.myshopify.com', '      webhookSecret: ${CONSOLE_SHOP_SECRET}', ''].join('\n'));
    rig = await startFlowRig({
      env: {
        SYNCLINE_CONFIG: configPath,
        CONSOLE_SHOP_SECRET: SHOP_SECRET,
        SYNCLINE_TARGET_POLICIES: JSON.stringify({ fraud: { breaker: { failureThreshold: 1, cooldownMs: 600_000 } } }),
      },
    });
    f = flowApi(rig);
    const launched = launchConsoleBrowser();
    await f.location('WH-A', 'warehouse');
    await f.location('STORE-B', 'store');
    await f.stock([
      { type: 'receipt', sku: SKU, location: 'WH-A', quantity: 30 },
      { type: 'receipt', sku: SKU, location: 'STORE-B', quantity: 5 },
      // The sample order's other line, so that an order passes validation and reaches the fraud screen.
      { type: 'receipt', sku: 'MUG', location: 'STORE-B', quantity: 5 },
    ]);
    const policy = await f.api('PUT', '/v1/inventory/policies/channels/web', { allocation: { mode: 'shared' }, excludedLocations: ['STORE-B'] }, key());
    assert.ok(policy.status < 300, JSON.stringify(policy.body));
    const reserved = await f.api('POST', '/v1/inventory/reservations', { reference: 'cart-console-1', channel: 'web', lines: [{ sku: SKU, quantity: 3 }] }, key());
    assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
    reservationId = reserved.body.id;
    const snapshot = await f.api('POST', '/v1/inventory/snapshots', { source: 'erp', complete: false, apply: false, lines: [{ sku: SKU, location: 'WH-A', quantity: 28 }] }, key());
    assert.ok(snapshot.status === 201 || snapshot.status === 200, JSON.stringify(snapshot.body));
    await addConsoleUsers(rig.running!.db, [
      { email: ADMIN, role: 'admin', name: 'Ada' },
      { email: OPERATOR, role: 'operator', name: 'Otto' },
    ]);
    browser = await launched;
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await rig?.close();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  test('explore a SKU after a reservation: availability per channel and location with the explanation, the reservation, the drift', async () => {
    const { page, context } = await signIn(OPERATOR);
    try {
      await open(page, '/inventory');
      await page.locator('#sku-search').fill(SKU);
      await page.getByRole('button', { name: 'Explore' }).click();
      await page.locator('[data-available="web"]').waitFor();

      const web = (await f.api('GET', `/v1/inventory/availability?sku=${SKU}&channel=web`)).body;
      const pool = (await f.api('GET', `/v1/inventory/availability?sku=${SKU}`)).body;
      assert.equal(Number(await page.locator('[data-available="web"]').innerText()), web.available, 'the web figure is the inventory service’s');
      assert.equal(Number(await page.locator('[data-available="shared pool"]').innerText()), pool.available);
      assert.equal(web.available, 27, '30 at WH-A minus 3 reserved; STORE-B is excluded for web');

      const webCard = page.locator('section.channel-card[data-channel="web"]');
      const card = await webCard.innerText();
      assert.match(card, /WH-A/);
      assert.match(card, /STORE-B[\s\S]*excluded for web/, 'the excluded location is shown with its reason');
      assert.match(card, /Left out STORE-B/, 'the derivation in words');

      const reservations = await page.locator('#reservations').innerText();
      assert.match(reservations, new RegExp(reservationId));
      assert.match(reservations, /WH-A: 3 of 3/, 'held per location');
      assert.match(await page.locator('main').innerText(), /Drift of this SKU[\s\S]*WH-A\s+30\s+28\s+-2/, 'the drift line: ours 30, theirs 28');
      await shot(page, 'inventory');

      const bad = await consoleCall(page, 'GET', '/inventory?sku=' + encodeURIComponent('no spaces allowed'));
      assert.equal(bad.status, 400);
      assert.match(bad.type, /^application\/problem\+json/);
    } finally {
      await context.close();
    }
  });

  test('connections: a sandbox fault opens the fraud breaker and the page shows it; no secret reaches the browser', async () => {
    const fraud = sandboxAdmin(rig.sandboxes.urls.fraud);
    await fraud.setFaults({ down: true, downMode: 'unavailable' });
    try {
      await f.submit({ channelOrderId: `CON-FAULT-${Date.now()}` });
      await waitFor(
        'the fraud breaker to open',
        async () => ((await f.api('GET', '/v1/ops/targets')).body.items as Array<{ name: string; breaker: { state: string } }>).some((t) => t.name === 'fraud' && t.breaker.state === 'open'),
        30_000,
        100,
      );
    } finally {
      await fraud.clearFaults();
    }

    const { page, context } = await signIn(ADMIN);
    try {
      await open(page, '/connections');
      await page.locator('[data-breaker="fraud"]').waitFor();
      assert.equal(await page.locator('[data-breaker="fraud"]').innerText(), 'open');
      assert.equal(await page.locator('[data-health="fraud"]').innerText(), 'down');
      assert.match(await page.locator('[data-last-error="fraud"]').innerText(), /\S/, 'the last error is shown');
      assert.equal(await page.locator('[data-breaker="shop-con"]').innerText(), 'closed');
      await shot(page, 'connections');

      // Neither the page nor any console answer holds a configured secret, whatever the role.
      const secrets = [SHOP_SECRET, ADMIN_CLIENT.secret, rig.sandboxes.settings.wms.webhookSecret, rig.sandboxes.settings.payment.apiKey];
      const answers = [await page.content()];
      for (const path of ['/connections', '/overview', '/admin/clients', '/admin/users', `/inventory?sku=${SKU}`]) {
        const answer = await consoleCall(page, 'GET', path);
        assert.equal(answer.status, 200, `${path}: ${answer.text}`);
        answers.push(answer.text);
      }
      for (const text of answers) for (const secret of secrets) assert.ok(!text.includes(secret), 'a configured secret reached the browser');
      const erp = (JSON.parse(answers[1]!) as { items: Array<{ id: string; options: Record<string, unknown> }> }).items.find((c) => c.id === 'erp')!;
      assert.ok(!('password' in erp.options), 'the ERP password option is not sent, not even masked');
      assert.equal(erp.options.login, rig.sandboxes.settings.erp.login, 'options that are not secrets are shown');
    } finally {
      await context.close();
    }
  });

  test('an admin adds an operator who then signs in, changes a role, disables a user; the last admin cannot be demoted; all audited', async () => {
    const admin = await signIn(ADMIN);
    const { page } = admin;
    try {
      await open(page, '/users');
      await page.locator('#new-email').fill(NEW_OPERATOR);
      await page.locator('#new-name').fill('Nina');
      await page.locator('#new-role').selectOption('operator');
      await page.locator('#new-password').fill(CONSOLE_PASSWORD);
      await page.getByRole('button', { name: 'Add user' }).click();
      await page.locator('#admin-notice', { hasText: NEW_OPERATOR }).waitFor();
      assert.equal(await page.locator(`[data-user-role="${NEW_OPERATOR}"]`).innerText(), 'operator');

      // The new operator signs in with the password the admin chose, and must choose her own before anything else.
      const nina = await consolePage(browser);
      await nina.page.goto(`${rig.baseUrl}/console/`);
      await nina.page.locator('#email').fill(NEW_OPERATOR);
      await nina.page.locator('#password').fill(CONSOLE_PASSWORD);
      await nina.page.getByRole('button', { name: 'Sign in' }).click();
      await nina.page.locator('#password-change').waitFor();
      await shot(nina.page, 'password-change');
      assert.ok(await nina.page.locator('#bar').isHidden(), 'no navigation before the password is hers');
      const early = await consoleCall(nina.page, 'GET', '/orders');
      assert.equal(early.status, 403);
      assert.match(early.type, /^application\/problem\+json/);
      assert.equal(JSON.parse(early.text).type, '/problems/password-change-required');
      await nina.page.locator('#current-password').fill(CONSOLE_PASSWORD);
      await nina.page.locator('#new-password').fill(CONSOLE_PASSWORD);
      await nina.page.locator('#repeat-password').fill(CONSOLE_PASSWORD);
      await nina.page.getByRole('button', { name: 'Change password' }).click();
      await nina.page.locator('#password-change .error', { hasText: 'must differ' }).waitFor();
      await nina.page.locator('#new-password').fill(NINA_OWN_PASSWORD);
      await nina.page.locator('#repeat-password').fill(NINA_OWN_PASSWORD);
      await nina.page.getByRole('button', { name: 'Change password' }).click();
      await nina.page.locator('nav .who').waitFor();
      assert.match(await nina.page.locator('nav .who').innerText(), /operator/);
      assert.equal((await consoleCall(nina.page, 'GET', '/orders')).status, 200, 'the same session goes on with her own password');
      const old = await fetch(`${rig.baseUrl}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: NEW_OPERATOR, password: CONSOLE_PASSWORD }) });
      assert.equal(old.status, 401, 'the admin-chosen password no longer works');

      // Make Nina a viewer: her session ends at once.
      await page.locator(`select[data-role-of="${NEW_OPERATOR}"]`).selectOption('viewer');
      await page.locator(`button[data-change-role="${NEW_OPERATOR}"]`).click();
      await page.locator('dialog.confirm').getByRole('button', { name: 'Change role' }).click();
      await page.locator(`[data-user-role="${NEW_OPERATOR}"]`, { hasText: 'viewer' }).waitFor();
      assert.equal((await consoleCall(nina.page, 'GET', '/session')).status, 401, 'the role change ended her session');
      await nina.context.close();

      // The only admin cannot demote themselves: refused with a message, nothing changes.
      await page.locator(`select[data-role-of="${ADMIN}"]`).selectOption('operator');
      await page.locator(`button[data-change-role="${ADMIN}"]`).click();
      await page.locator('dialog.confirm').getByRole('button', { name: 'Change role' }).click();
      await page.locator('#admin-error', { hasText: 'last admin' }).waitFor();
      assert.equal(await page.locator(`[data-user-role="${ADMIN}"]`).innerText(), 'admin');
      const disableSelf = await consoleCall(page, 'POST', `/admin/users/${await userIdOf(page, ADMIN)}/disable`, {});
      assert.equal(disableSelf.status, 409);
      assert.equal(JSON.parse(disableSelf.text).type, '/problems/last-admin');

      // Disable Nina: she can no longer sign in; enable and set a new password through the API the page uses.
      await page.locator(`button[data-toggle="${NEW_OPERATOR}"]`).click();
      await page.locator('dialog.confirm').getByRole('button', { name: 'Disable' }).click();
      await page.locator(`[data-user-status="${NEW_OPERATOR}"]`, { hasText: 'disabled' }).waitFor();
      const refused = await fetch(`${rig.baseUrl}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: NEW_OPERATOR, password: CONSOLE_PASSWORD }) });
      assert.equal(refused.status, 401, 'a disabled user cannot sign in');
      await shot(page, 'users');
      const ninaId = await userIdOf(page, NEW_OPERATOR);
      assert.equal((await consoleCall(page, 'POST', `/admin/users/${ninaId}/enable`, {})).status, 200);
      const reset = await consoleCall(page, 'POST', `/admin/users/${ninaId}/password`, { password: 'a brand new passphrase' });
      assert.equal(reset.status, 204);
      assert.equal(reset.text, '', 'the password is never answered back');
      const signedIn = await fetch(`${rig.baseUrl}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: NEW_OPERATOR, password: 'a brand new passphrase' }) });
      assert.equal(signedIn.status, 201, 'enabled again, with the new password');
      assert.equal(((await signedIn.json()) as { passwordChangeRequired: boolean }).passwordChangeRequired, true, 'a reset password is temporary too');

      // Rotating the token signing key shows no secret; older tokens keep working (the rig's still does below).
      const rotated = await consoleCall(page, 'POST', '/admin/signing-keys/rotate', {});
      assert.equal(rotated.status, 201, rotated.text);
      assert.deepEqual(Object.keys(JSON.parse(rotated.text)).sort(), ['createdAt', 'kid']);
      const rotation = await f.api('GET', `/v1/admin/audit?action=signing_key.rotated&targetId=${JSON.parse(rotated.text).kid}`);
      assert.match(rotation.body.items[0]?.actor ?? '', /^console:usr_/);

      for (const action of ['console_user.created', 'console_user.password_changed', 'console_user.role_changed', 'console_user.disabled', 'console_user.enabled', 'console_user.password_reset']) {
        const audit = await f.api('GET', `/v1/admin/audit?action=${action}&targetId=${ninaId}`);
        assert.equal(audit.status, 200);
        assert.match(audit.body.items[0]?.actor ?? '', /^console:usr_/, `${action} audited as the console admin`);
        assert.ok(!JSON.stringify(audit.body).includes('a brand new passphrase'), 'no password in the audit');
      }
    } finally {
      await admin.context.close();
    }
  });

  test('an operator sees no Users link and every admin route answers 403 problem+json; a POST without the CSRF token is refused', async () => {
    const { page, context } = await signIn(OPERATOR);
    try {
      await open(page, '/');
      assert.equal(await page.locator('nav a[href="#/users"]').count(), 0, 'no Users link for an operator');
      await open(page, '/users');
      await page.locator('main .error[role="alert"]').waitFor();
      for (const [method, path, body] of [
        ['GET', '/admin/users', undefined],
        ['GET', '/admin/clients', undefined],
        ['POST', '/admin/users', { email: 'mallory@example.com', role: 'admin', password: 'mallory mallory mallory' }],
        ['POST', '/admin/signing-keys/rotate', {}],
      ] as const) {
        const answer = await consoleCall(page, method, path, body);
        assert.equal(answer.status, 403, `${method} ${path}`);
        assert.match(answer.type, /^application\/problem\+json/);
        assert.equal(JSON.parse(answer.text).type, '/problems/forbidden');
      }
      const users = (await f.api('GET', '/v1/admin/audit?action=console_user.created')).body.items as Array<{ actor: string }>;
      assert.ok(users.every((u) => !u.actor.includes('mallory')));

      // An admin's POST without the CSRF token is refused before anything happens.
      const admin = await signIn(ADMIN);
      const noToken = await admin.page.evaluate(async () => {
        const answer = await fetch('/console/api/admin/users', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'eve@example.com', role: 'admin', password: 'eve eve eve eve eve' }) });
        return { status: answer.status, body: (await answer.json()) as { type: string } };
      });
      assert.equal(noToken.status, 403);
      assert.equal(noToken.body.type, '/problems/csrf-token-invalid');
      const list = JSON.parse((await consoleCall(admin.page, 'GET', '/admin/users')).text) as { items: Array<{ email: string }> };
      assert.ok(!list.items.some((u) => u.email === 'eve@example.com' || u.email === 'mallory@example.com'), 'nobody was added');
      await admin.context.close();
    } finally {
      await context.close();
    }
  });
});

/** A console user's id, as the admin page's API lists it. */
async function userIdOf(page: Page, email: string): Promise<string> {
  const text = await page.evaluate(async () => (await fetch('/console/api/admin/users')).text());
  const user = (JSON.parse(text) as { items: Array<{ id: string; email: string }> }).items.find((u) => u.email === email);
  assert.ok(user, `${email} is listed`);
  return user.id;
}

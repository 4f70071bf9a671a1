import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumUnavailable } from './support/chromium.ts';
import { addConsoleUsers, launchConsoleBrowser, openConsole, shot, signInConsole } from './support/console-browser.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { fetchToken, startTestServer, type TestServer } from './support/server.ts';

/**
 * The console's Clients page in Debian's Chromium (playwright-core) against Syncline on the real
 * PostgreSQL (ADR 0037): an admin creates an API client, reads the secret shown once, and the
 * client gets a token from the real token endpoint and calls the API; rotation (the old secret
 * within and without the grace), disable (live token and new tokens refused) and enable. The
 * screenshot docs/console/clients.png is taken here.
 */
const unavailable = await chromiumUnavailable();
const ADMIN = 'ada.clients@example.com';
const OPERATOR = 'otto.clients@example.com';

describe('console API clients in Chromium', { skip: unavailable ?? false, timeout: 150_000 }, () => {
  let database: TestDatabase;
  let server: TestServer;
  let browser: Browser;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database.url);
    const launched = launchConsoleBrowser();
    await addConsoleUsers(server.running.db, [
      { email: ADMIN, role: 'admin', name: 'Ada' },
      { email: OPERATOR, role: 'operator', name: 'Otto' },
    ]);
    browser = await launched;
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await server?.close();
    await database?.drop();
  });

  const token = (id: string, secret: string) => fetchToken(server.baseUrl, { id, secret }).then(
    (value) => ({ ok: true as const, value }),
    (error: Error) => ({ ok: false as const, error: error.message }),
  );
  const orders = async (accessToken: string) => (await fetch(`${server.baseUrl}/v1/orders?limit=1`, { headers: { authorization: `Bearer ${accessToken}` } })).status;

  /** The secret the page shows once, and the client it belongs to. */
  async function shownSecret(page: Page, heading: RegExp): Promise<{ id: string; secret: string }> {
    const panel = page.locator('#secret-once');
    await panel.locator('h2', { hasText: heading }).waitFor();
    assert.match(await panel.innerText(), /it will not be shown again/);
    return { id: await panel.locator('#client-id-shown').innerText(), secret: await panel.locator('#client-secret').innerText() };
  }

  /** Nothing the browser keeps (URL, storage, cookies a script can read) holds the secret. */
  async function notKept(page: Page, secret: string): Promise<void> {
    // Evaluated in the page (a string: this file is compiled without the DOM's types).
    const kept = String(await page.evaluate(`[location.href, JSON.stringify({ ...localStorage }), JSON.stringify({ ...sessionStorage }), document.cookie, JSON.stringify(history.state)].join('\\n')`));
    assert.ok(!kept.includes(secret), 'the secret is not stored in the browser');
  }

  test('an admin creates a client, copies the secret shown once, and the client calls the API with it; rotation, disable and enable behave as the domain says', async () => {
    const { page, context } = await signInConsole(browser, server.baseUrl, ADMIN);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.baseUrl });
    try {
      await openConsole(page, server.baseUrl, '/clients');
      await page.locator('#client-name').fill('Storefront');
      await page.locator('input[data-scope="orders:read"]').check();
      await page.locator('input[data-scope="inventory:read"]').check();
      await page.locator('#client-rate-limit').fill('600');
      await page.getByRole('button', { name: 'Create client' }).click();
      const created = await shownSecret(page, /Storefront created/);
      assert.match(created.id, /^cli_/);
      assert.match(created.secret, /^[A-Za-z0-9_-]{40,}$/);
      await page.locator('#copy-secret').click();
      await page.locator('#secret-copied', { hasText: 'Copied.' }).waitFor();
      assert.equal(await page.evaluate('navigator.clipboard.readText()'), created.secret, 'the copy button copies the secret');
      await notKept(page, created.secret);
      const row = page.locator('tr', { has: page.locator(`[data-client-status="${created.id}"]`) });
      assert.match(await row.innerText(), /orders:read[\s\S]*inventory:read[\s\S]*600[\s\S]*enabled/);
      await shot(page, 'clients');

      // The real token endpoint, then an API call within the client's scopes.
      const first = await token(created.id, created.secret);
      assert.ok(first.ok, !first.ok ? first.error : '');
      assert.equal(await orders(first.value), 200);

      // Once: "Done" removes it, and a fresh load of the page does not have it.
      await page.locator('#secret-done').click();
      await page.locator('#secret-once').waitFor({ state: 'detached' });
      await openConsole(page, server.baseUrl, '/clients');
      await page.locator(`[data-client-status="${created.id}"]`).waitFor();
      assert.ok(!(await page.content()).includes(created.secret), 'not shown again');

      // Rotate with the default grace (24 h): confirmation first, then the new secret once; both work.
      await page.locator(`button[data-rotate="${created.id}"]`).click();
      const dialog = page.locator('dialog.confirm');
      assert.equal(await dialog.locator('select').inputValue(), '24h');
      await dialog.getByRole('button', { name: 'Rotate secret' }).click();
      const rotated = await shownSecret(page, /New secret of Storefront/);
      assert.equal(rotated.id, created.id);
      assert.notEqual(rotated.secret, created.secret);
      assert.match(await page.locator('#secret-once').innerText(), /previous secret keeps working until/);
      assert.ok((await token(created.id, rotated.secret)).ok, 'the new secret works');
      assert.ok((await token(created.id, created.secret)).ok, 'the old secret works within the grace');
      await notKept(page, rotated.secret);

      // Rotate again and end the grace now: the secret before is refused at once.
      await page.locator(`button[data-rotate="${created.id}"]`).click();
      await dialog.locator('select').selectOption('0s');
      await dialog.getByRole('button', { name: 'Rotate secret' }).click();
      await page.locator('#secret-once', { hasText: 'previous secret no longer works' }).waitFor();
      const third = await shownSecret(page, /New secret of Storefront/);
      assert.notEqual(third.secret, rotated.secret);
      assert.ok((await token(created.id, third.secret)).ok, 'the newest secret works');
      const before = await token(created.id, rotated.secret);
      assert.ok(!before.ok && /401/.test(before.error), 'no grace: the previous secret is refused');

      // Disable, after a confirmation: the live token is refused and no new token is issued.
      const live = await token(created.id, third.secret);
      assert.ok(live.ok);
      await page.locator(`button[data-toggle-client="${created.id}"]`).click();
      await dialog.getByRole('button', { name: 'Disable' }).click();
      await page.locator(`[data-client-status="${created.id}"]`, { hasText: 'disabled' }).waitFor();
      assert.equal(await orders(live.value), 401, 'the token issued before is refused');
      const refused = await token(created.id, third.secret);
      assert.ok(!refused.ok && /invalid_client/.test(refused.error), 'no token for a disabled client');

      // Enable again: tokens again.
      await page.locator(`button[data-toggle-client="${created.id}"]`).click();
      await dialog.getByRole('button', { name: 'Enable' }).click();
      await page.locator(`[data-client-status="${created.id}"]`, { hasText: 'enabled' }).waitFor();
      const again = await token(created.id, third.secret);
      assert.ok(again.ok, !again.ok ? again.error : '');
      assert.equal(await orders(again.value), 200);

      // The audit page shows every action, by the console admin, and none of the secrets.
      await openConsole(page, server.baseUrl, `/audit?targetId=${created.id}`);
      await page.locator('#audit-events td .audit-action').first().waitFor();
      const trail = await page.locator('#audit-events').innerText();
      for (const action of ['client.created', 'client.secret_rotated', 'client.disabled', 'client.enabled']) assert.match(trail, new RegExp(action.replace('.', '\\.')), action);
      assert.match(trail, /console:usr_/);
      for (const secret of [created.secret, rotated.secret, third.secret]) assert.ok(!trail.includes(secret));
    } finally {
      await context.close();
    }
  });

  test('a refused creation shows the problem and no secret; an operator has no Clients link and no access', async () => {
    const admin = await signInConsole(browser, server.baseUrl, ADMIN);
    try {
      await openConsole(admin.page, server.baseUrl, '/clients');
      await admin.page.locator('#client-name').fill('No scopes');
      await admin.page.getByRole('button', { name: 'Create client' }).click();
      await admin.page.locator('#admin-error').waitFor();
      assert.match(await admin.page.locator('#admin-error').innerText(), /failed validation/);
      assert.equal(await admin.page.locator('#secret-once').count(), 0);
    } finally {
      await admin.context.close();
    }
    const { page, context } = await signInConsole(browser, server.baseUrl, OPERATOR);
    try {
      await openConsole(page, server.baseUrl, '/');
      assert.equal(await page.locator('nav a[href="#/clients"]').count(), 0, 'no Clients link for an operator');
      await openConsole(page, server.baseUrl, '/clients');
      await page.locator('main .error[role="alert"]', { hasText: 'admin role' }).waitFor();
    } finally {
      await context.close();
    }
  });
});

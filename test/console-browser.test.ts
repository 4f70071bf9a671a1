import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { chromiumUnavailable } from './support/chromium.ts';
import { addConsoleUsers, consolePage, launchConsoleBrowser, openConsole, shot, signInConsole } from './support/console-browser.ts';
import { flowApi, startFlowRig, type FlowRig } from './support/flows.ts';
import { sampleOrder } from './support/orders.ts';

/**
 * The operations console in Debian's Chromium (playwright-core), against Syncline on the real
 * PostgreSQL with the sandboxes over HTTP. Each page is saved as a screenshot under
 * docs/console/ (docs/console.md shows them).
 */
const unavailable = await chromiumUnavailable();
const OPERATOR = 'olga.operator@example.com';
const VIEWER = 'vic.viewer@example.com';
const CUSTOMER = 'ada@example.com';

describe('operations console in Chromium', { skip: unavailable ?? false, timeout: 180_000 }, () => {
  let rig: FlowRig;
  let f: ReturnType<typeof flowApi>;
  let browser: Browser;
  let operator: { context: BrowserContext; page: Page };
  // Orders the tests work on, prepared together in before() so that their flows run side by side.
  let searched: { orderId: string; channelOrderId: string };
  let replayable: { orderId: string; deadLetterId: string };
  let viewed: { orderId: string; deadLetterId: string };
  let csrfTarget: { orderId: string; deadLetterId: string };
  let held: { orderId: string };
  const erp = () => sandboxAdmin(rig.sandboxes.urls.erp);

  /** An order the ERP rejects (its SKU is unknown there): on hold, kind exception, with an open dead letter. */
  async function rejectedOrder(sku: string, channelOrderId: string): Promise<{ orderId: string; deadLetterId: string }> {
    const orderId = await f.submit({ channelOrderId, lines: [{ sku, quantity: 1, unitPrice: '12.00' }], payments: [] });
    await f.waitForStatus(orderId, 'on_hold');
    const hold = (await f.api('GET', `/v1/orders/${orderId}`)).body.hold;
    assert.equal(hold.kind, 'exception', JSON.stringify(hold));
    return { orderId, deadLetterId: hold.deadLetterId as string };
  }

  const signIn = (email: string) => signInConsole(browser, rig.baseUrl, email);
  const open = (page: Page, hash: string) => openConsole(page, rig.baseUrl, hash);
  const tileValue = async (page: Page, label: string) => Number(await page.locator(`.tile[data-kpi="${label}"] .value`).innerText());

  before(async () => {
    rig = await startFlowRig();
    f = flowApi(rig);
    await f.location('WH-CON', 'warehouse');
    await f.stock(['TEE-M', 'MUG', 'NEW-C1', 'NEW-C2'].map((sku) => ({ type: 'receipt' as const, sku, location: 'WH-CON', quantity: 20 })));
    await addConsoleUsers(rig.running!.db, [
      { email: OPERATOR, role: 'operator', name: 'Olga' },
      { email: VIEWER, role: 'viewer', name: 'Vic' },
    ]);
    const stamp = Date.now();
    const launched = launchConsoleBrowser();
    [searched, replayable, viewed, csrfTarget, held] = await Promise.all([
      (async () => {
        const channelOrderId = `CON-${stamp}`;
        const orderId = await f.submit({ channelOrderId });
        await f.waitForStatus(orderId, 'released');
        return { orderId, channelOrderId };
      })(),
      rejectedOrder('NEW-C1', `CON-DL-${stamp}`),
      rejectedOrder('NEW-C2', `CON-VIEW-${stamp}`),
      rejectedOrder('NEW-C2', `CON-CSRF-${stamp}`),
      (async () => {
        // A US address without its region is held for validation.
        const { region: _region, ...address } = sampleOrder().shippingAddress as Record<string, string>;
        const orderId = await f.submit({ channelOrderId: `CON-HOLD-${stamp}`, shippingAddress: address });
        await f.waitForStatus(orderId, 'on_hold');
        return { orderId };
      })(),
    ]);
    browser = await launched;
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await rig?.close();
  });

  test('an operator signs in, finds an order by channel order id and reads its timeline', async () => {
    const { context, page } = await consolePage(browser);
    await page.goto(`${rig.baseUrl}/console/`);
    await page.locator('#email').waitFor();
    await shot(page, 'sign-in');
    // A wrong password is refused with a message; the page stays on sign-in.
    await page.locator('#email').fill(OPERATOR);
    await page.locator('#password').fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'wrong' }).waitFor();
    await context.close();

    operator = await signIn(OPERATOR);
    const { page: p } = operator;
    const { orderId, channelOrderId } = searched;

    await open(p, '/orders');
    await p.locator('#order-search').fill(channelOrderId);
    await p.getByRole('button', { name: 'Search' }).click();
    // The unfiltered list shown before the search holds the order too: wait for the search's own answer.
    await p.waitForURL(/#\/orders\?q=/);
    await p.waitForFunction("document.querySelectorAll('tbody tr').length === 1", undefined, { timeout: 15_000 });
    await p.locator(`a[href="#/orders/${orderId}"]`).waitFor();
    assert.equal(await p.locator('tbody tr').count(), 1, 'the search finds exactly that order');
    await shot(p, 'orders');
    await p.locator(`a[href="#/orders/${orderId}"]`).click();
    await p.locator('#timeline').waitFor();
    const timeline = await p.locator('#timeline').innerText();
    for (const action of ['order.received', 'fraud.screen', 'payment.authorize', 'erp.post', 'wms.fulfil']) assert.match(timeline, new RegExp(action.replace('.', '\\.')), `${action} on the timeline`);
    assert.equal(await p.locator('#order-status-badge').innerText(), 'released');
    assert.match(await p.locator('dl.facts').innerText(), new RegExp(CUSTOMER), 'an operator sees the customer e-mail');
    await shot(p, 'order');
  });

  test('replay a dead letter from Exceptions (with a confirmation), then the order completes; the overview tile moves', async () => {
    const { page } = operator;
    const { orderId, deadLetterId } = replayable;
    await open(page, '/');
    await page.locator('.tile[data-kpi="Completed"]').waitFor();
    const completedBefore = await tileValue(page, 'Completed');
    assert.ok((await tileValue(page, 'Open exceptions')) >= 1);
    await shot(page, 'overview');

    await open(page, '/exceptions');
    await page.locator('a', { hasText: 'erp.unknown_product' }).first().click();
    await page.locator(`a[href="#/exceptions/${deadLetterId}"]`).click();
    await page.locator('#replay').waitFor();
    assert.match(await page.locator('.remediation').innerText(), /\S/, 'a remediation hint is shown');
    await shot(page, 'dead-letter');

    // The operator fixes the cause (the product now exists in the ERP), then replays.
    await erp().call('PUT', '/_sandbox/products', [{ code: 'NEW-C1', name: 'New C1', listPrice: '12.00', quantity: 50 }]);
    await page.locator('#replay').click();
    // Cancelling the confirmation does nothing.
    await page.locator('dialog.confirm').getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await page.locator('#dead-letter-status').innerText(), 'open');
    await page.locator('#replay').click();
    await page.locator('dialog.confirm').getByRole('button', { name: 'Replay' }).click();
    await page.locator('#dead-letter-status', { hasText: 'replayed' }).waitFor();

    await f.waitForStatus(orderId, 'released');
    const [fulfilment] = await f.fulfilments(orderId);
    await f.ship(fulfilment.id);
    await f.waitForStatus(orderId, 'completed');
    await page.locator('#dead-letter-order').click();
    await page.locator('#order-status-badge', { hasText: 'completed' }).waitFor();

    await open(page, '/');
    await page.locator('.tile[data-kpi="Completed"]').waitFor();
    assert.equal(await tileValue(page, 'Completed'), completedBefore + 1, 'the Completed tile counts the replayed order');
  });

  test('release a held order (validation hold) with a confirmation', async () => {
    const { page } = operator;
    const { orderId } = held;

    await open(page, `/orders?status=on_hold`);
    await page.locator(`a[href="#/orders/${orderId}"]`).click();
    await page.locator('#release-hold').waitFor();
    assert.match(await page.locator('section.hold h2').innerText(), /validation/);
    await shot(page, 'order-on-hold');
    await page.locator('#release-hold').click();
    await page.locator('dialog.confirm').getByRole('button', { name: 'Release hold' }).click();
    await page.locator('#release-hold').waitFor({ state: 'detached' });
    await f.waitForStatus(orderId, 'released');

    const audit = await f.api('GET', `/v1/admin/audit?action=order.hold_released&targetId=${orderId}`);
    assert.equal(audit.status, 200, JSON.stringify(audit.body));
    assert.match(audit.body.items[0]?.actor ?? '', /^console:usr_/, 'audited as the console user');
  });

  test('a viewer sees masked e-mails and cannot replay: no button, and the API answers 403 problem+json', async () => {
    const { deadLetterId, orderId } = viewed;
    const viewer = await signIn(VIEWER);
    const { page } = viewer;
    try {
      await open(page, `/orders/${orderId}`);
      await page.locator('#timeline').waitFor();
      const email = await page.locator('dl.facts .customer-email').innerText();
      assert.equal(email, 'a***@e***.com');
      await shot(page, 'order-viewer-masked');
      await open(page, '/orders');
      await page.locator('tbody tr').first().waitFor();
      await open(page, `/exceptions/${deadLetterId}`);
      await page.locator('#dead-letter-status').waitFor();
      assert.equal(await page.locator('#replay').count(), 0, 'no replay button for a viewer');
      assert.doesNotMatch(await page.content(), new RegExp(CUSTOMER), 'the unmasked e-mail is not in the page');

      const answers = await page.evaluate(
        async ({ orderId, deadLetterId }) => {
          const session = (await (await fetch('/console/api/session')).json()) as { csrfToken: string };
          const raw = await (await fetch(`/console/api/orders/${orderId}`)).text();
          const list = await (await fetch('/console/api/orders?limit=100')).text();
          const replay = await fetch(`/console/api/dead-letters/${deadLetterId}/replay`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken }, body: '{}' });
          return { raw: raw + list, status: replay.status, type: replay.headers.get('content-type'), body: (await replay.json()) as { type: string } };
        },
        { orderId, deadLetterId },
      );
      assert.doesNotMatch(answers.raw, new RegExp(CUSTOMER), 'the server never sends a viewer the unmasked e-mail');
      assert.doesNotMatch(answers.raw, /Lovelace|1 Main St|555 0100/, 'nor the name, street or phone');
      assert.equal(answers.status, 403);
      assert.match(answers.type ?? '', /^application\/problem\+json/);
      assert.equal(answers.body.type, '/problems/forbidden');
      assert.equal((await f.api('GET', `/v1/ops/dead-letters/${deadLetterId}`)).body.status, 'open', 'nothing was replayed');
    } finally {
      await viewer.context.close();
    }
  });

  test('CSRF: a state-changing request without the session token, or from another origin, is refused; sign-out ends the session', async () => {
    const { deadLetterId } = csrfTarget;
    const { page, context } = operator;
    const withoutToken = await page.evaluate(async (id) => {
      const answer = await fetch(`/console/api/dead-letters/${id}/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      return { status: answer.status, body: (await answer.json()) as { type: string } };
    }, deadLetterId);
    assert.equal(withoutToken.status, 403);
    assert.equal(withoutToken.body.type, '/problems/csrf-token-invalid');

    const cookie = (await context.cookies()).find((c) => c.name === 'syncline_console');
    assert.ok(cookie, 'the session cookie is set');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    const session = await page.evaluate(async () => (await (await fetch('/console/api/session')).json()) as { csrfToken: string });
    const forged = await fetch(`${rig.baseUrl}/console/api/dead-letters/${deadLetterId}/replay`, {
      method: 'POST',
      headers: { cookie: `syncline_console=${cookie.value}`, 'x-csrf-token': session.csrfToken, origin: 'https://evil.example', 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(forged.status, 403);
    assert.equal(((await forged.json()) as { type: string }).type, '/problems/csrf-token-invalid');
    assert.equal((await f.api('GET', `/v1/ops/dead-letters/${deadLetterId}`)).body.status, 'open', 'nothing was replayed');

    await open(page, '/exceptions');
    await shot(page, 'exceptions');
    const csp = (await fetch(`${rig.baseUrl}/console/`)).headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);

    await page.locator('#sign-out').click();
    await page.locator('#email').waitFor();
    const after = await fetch(`${rig.baseUrl}/console/api/session`, { headers: { cookie: `syncline_console=${cookie.value}` } });
    assert.equal(after.status, 401, 'the old cookie no longer opens a session');
    await context.close();
  });
});

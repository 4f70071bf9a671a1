import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CONSOLE_DIST } from '../../src/api/routes/console/console-static.ts';
import { addConsoleUser, type ConsoleRole } from '../../src/domain/console-users/console-user.service.ts';
import type { Database } from '../../src/store/database.ts';
import { CHROMIUM } from './chromium.ts';

/**
 * What every console browser test needs: Debian's Chromium, console users, a signed-in page, a fresh
 * load of a console route and a screenshot under docs/console/ (docs/console.md shows them).
 */

/** Every wait in a page (default: 15000 ms): nothing in a browser test waits without a limit. */
export const WAIT_MS = 15_000;
export const CONSOLE_PASSWORD = 'correct horse battery staple';
const SHOTS = fileURLToPath(new URL('../../docs/console/', import.meta.url));

/** Checks the console is built and launches Chromium headless. */
export async function launchConsoleBrowser(): Promise<Browser> {
  assert.ok(existsSync(join(CONSOLE_DIST, 'index.html')), `the console is not built (${CONSOLE_DIST}): npm ci runs the build (root prepare script), or run npm run build:console`);
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, headless: true, timeout: 30_000, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** Adds console users with the test password. */
export async function addConsoleUsers(db: Database, users: Array<{ email: string; role: ConsoleRole; name: string }>): Promise<void> {
  const cli = { actor: 'test:console-browser', correlationId: null };
  for (const user of users) {
    const added = await addConsoleUser(db, cli, { ...user, password: CONSOLE_PASSWORD });
    assert.equal(added.kind, 'created');
  }
}

/** A new browser context at a laptop's size with its page, every wait bounded by WAIT_MS. */
export async function consolePage(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 820 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.setDefaultNavigationTimeout(WAIT_MS);
  return { context, page };
}

/** Signs in through the sign-in page and waits for the navigation bar. */
export async function signInConsole(browser: Browser, baseUrl: string, email: string): Promise<{ context: BrowserContext; page: Page }> {
  const session = await consolePage(browser);
  const { page } = session;
  await page.goto(`${baseUrl}/console/`);
  await page.locator('#email').fill(email);
  await page.locator('#password').fill(CONSOLE_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('nav .who').waitFor();
  return session;
}

let loads = 0;
/** A fresh load of a console route each time (the query differs), so a page never shows what an earlier visit fetched. */
export async function openConsole(page: Page, baseUrl: string, hash: string): Promise<void> {
  await page.goto(`${baseUrl}/console/?load=${++loads}#${hash}`);
  await page.locator('main h1').first().waitFor();
}

/** Saves a full-page screenshot as docs/console/<name>.png. */
export function shot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true, timeout: WAIT_MS });
}

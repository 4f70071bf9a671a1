import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { unavailableUnlessRequired } from './installed.ts';

/**
 * Debian's Chromium for the console's browser tests (playwright-core drives it; Playwright's own
 * browser download cannot work here).
 *
 * Glossary
 *   install    `apt-get install chromium`, done once per machine when /usr/bin/chromium is missing
 *   required   in CI (CI=true, or SYNCLINE_REQUIRE_CHROMIUM=1 as .ci/run sets) a Chromium that
 *              cannot be installed fails the test file; elsewhere `chromiumUnavailable()` names
 *              the reason and the browser tests skip with it, loudly.
 */
export const CHROMIUM = '/usr/bin/chromium';

/** apt-get update and install, each (default: 600000 ms). */
const INSTALL_TIMEOUT_MS = 600_000;

/** True when the browser tests must run (CI): nothing may skip them. */
export function chromiumRequired(): boolean {
  return process.env.CI === 'true' || process.env.SYNCLINE_REQUIRE_CHROMIUM === '1';
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: INSTALL_TIMEOUT_MS, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 16 * 1024 * 1024 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${String(stderr).slice(-2000)}`));
      else resolve();
    });
  });
}

let installed: Promise<void> | undefined;

/** Installs Debian's chromium package when the browser is missing (as root, with apt-get). */
export function ensureChromiumInstalled(): Promise<void> {
  installed ??= (async () => {
    if (existsSync(CHROMIUM)) return;
    if (process.getuid?.() !== 0) throw new Error(`${CHROMIUM} is missing and this process is not root: cannot apt-get install chromium`);
    if (!existsSync('/usr/bin/apt-get')) throw new Error(`${CHROMIUM} is missing and there is no apt-get on this machine`);
    const lock = ['-o', 'DPkg::Lock::Timeout=300'];
    await run('apt-get', ['update', '-qq', ...lock]);
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...lock, 'chromium']);
    if (!existsSync(CHROMIUM)) throw new Error(`apt-get install chromium left ${CHROMIUM} missing`);
  })();
  return installed;
}

/**
 * Why the browser tests cannot run here, or undefined when they can (installing Chromium first
 * if needed). In CI this throws instead: there a missing browser is a failure.
 */
export function chromiumUnavailable(): Promise<string | undefined> {
  return unavailableUnlessRequired('console browser tests', chromiumRequired(), ensureChromiumInstalled);
}

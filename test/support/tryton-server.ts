import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unavailableUnlessRequired } from './installed.ts';

/**
 * A real Tryton 6.0 server for the tests (facts: /work/shared/reference/tryton/README.md).
 *
 * Glossary
 *   install    Debian's tryton packages (apt-get), done once per machine when missing
 *   template   a database initialised, activated and seeded once, kept as a SQLite file under
 *              os.tmpdir() and keyed by the seed script, the server version and the year
 *              (the fiscal year is seeded for today): test files of a run, and later runs, copy it
 *   server     one trytond per test file, on a free port, with its own var folder and a copy
 *              of the template; stop() ends the process and removes the folder
 *
 * In CI (CI=true, or SYNCLINE_REQUIRE_TRYTON=1 as .ci/run sets) a server that cannot be installed
 * or started fails the test file; elsewhere `trytonUnavailable()` names the reason and the
 * real-server tests skip with it, loudly.
 */

export const TRYTON_PACKAGES = [
  'tryton-server',
  'tryton-proteus',
  'tryton-modules-company',
  'tryton-modules-party',
  'tryton-modules-currency',
  'tryton-modules-country',
  'tryton-modules-product',
  'tryton-modules-stock',
  'tryton-modules-account',
  'tryton-modules-account-product',
  'tryton-modules-account-invoice',
  'tryton-modules-account-invoice-stock',
  'tryton-modules-sale',
  'tryton-modules-sale-stock-quantity',
];
const MODULES = ['sale', 'stock', 'account_invoice', 'account_invoice_stock', 'sale_stock_quantity'];
const TRYTOND = '/usr/bin/trytond';
const TRYTOND_ADMIN = '/usr/bin/trytond-admin';
// `python3` on PATH may be a shim without trytond; Debian's modules live in the system python.
const PYTHON = '/usr/bin/python3';
const SEED_SCRIPT = new URL('./tryton-seed.py', import.meta.url).pathname;
const DATABASE = 'syncline';
const ADMIN_PASSWORD = 'admin';

/** apt-get update + install, each (600000 ms); each step of building the template (600000 ms); waiting for another file's build (900000 ms). */
const INSTALL_TIMEOUT_MS = 600_000;
const TEMPLATE_STEP_TIMEOUT_MS = 600_000;
const TEMPLATE_TIMEOUT_MS = 900_000;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** True when the real-server tests must run (CI): nothing may skip them. */
export function trytonRequired(): boolean {
  return process.env.CI === 'true' || process.env.SYNCLINE_REQUIRE_TRYTON === '1';
}

/** The ids the seed created (see tryton-seed.py). */
export interface TrytonSeed {
  company: number;
  currency: number;
  warehouse: number;
  storage: number;
  customerLocation: number;
  tax: number;
  paymentTerms: { direct: number; net30: number };
  products: Record<string, number>;
  customer: number;
}

export interface RunningTryton {
  url: string;
  database: string;
  login: string;
  password: string;
  seed: TrytonSeed;
  /** The server's output so far (for failure messages). */
  log(): string;
  /** Kills trytond at once (SIGKILL), as a crash would: requests under way get no answer. Its database stays. */
  kill(): Promise<void>;
  /** Starts trytond again on the same database and port (after kill()); resolves once it answers. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** The SYNCLINE_ERP_* variables that make a running server Syncline's ERP. */
export function trytonErpEnvironment(server: RunningTryton): Record<string, string> {
  return { SYNCLINE_ERP_URL: server.url, SYNCLINE_ERP_DATABASE: server.database, SYNCLINE_ERP_LOGIN: server.login, SYNCLINE_ERP_PASSWORD: server.password };
}

/** Runs a program with a deadline; rejects with its output on failure. */
function run(file: string, args: string[], options: { timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 32 * 1024 * 1024, env: { ...process.env, ...options.env }, cwd: options.cwd },
      (error, stdout, stderr) => {
        if (error?.killed) reject(new Error(`${file} ${args.join(' ')} did not finish within ${options.timeoutMs} ms\n${stderr.slice(-3000)}`));
        else if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stderr.slice(-3000)}`));
        else resolve(stdout);
      },
    );
  });
}

function missingPackages(): Promise<string[]> {
  return new Promise((resolve) => {
    execFile('dpkg-query', ['-W', '-f=${Package} ${db:Status-Abbrev}\n', ...TRYTON_PACKAGES], { timeout: 30_000 }, (_error, stdout) => {
      const installed = new Set(
        String(stdout ?? '')
          .split('\n')
          .filter((line) => /\sii\s*$/.test(line))
          .map((line) => line.split(' ')[0]),
      );
      resolve(TRYTON_PACKAGES.filter((name) => !installed.has(name)));
    });
  });
}

let installed: Promise<void> | undefined;

/** Installs Debian's Tryton packages when any is missing (as root, with apt-get). */
export function ensureTrytonInstalled(): Promise<void> {
  installed ??= (async () => {
    const missing = await missingPackages();
    if (!missing.length) return;
    if (process.getuid?.() !== 0) throw new Error(`Tryton packages missing (${missing.join(', ')}) and this process is not root: cannot apt-get install them`);
    if (!existsSync('/usr/bin/apt-get')) throw new Error(`Tryton packages missing (${missing.join(', ')}) and there is no apt-get on this machine`);
    const env = { DEBIAN_FRONTEND: 'noninteractive' };
    const lock = ['-o', 'DPkg::Lock::Timeout=300'];
    await run('apt-get', ['update', '-qq', ...lock], { timeoutMs: INSTALL_TIMEOUT_MS, env });
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...lock, ...TRYTON_PACKAGES], { timeoutMs: INSTALL_TIMEOUT_MS, env });
    const still = await missingPackages();
    if (still.length) throw new Error(`apt-get install left Tryton packages missing: ${still.join(', ')}`);
  })();
  return installed;
}

/**
 * Why the real-server tests cannot run here, or undefined when they can (installing Tryton
 * first if needed). In CI this throws instead: there a missing Tryton is a failure.
 */
export function trytonUnavailable(): Promise<string | undefined> {
  return unavailableUnlessRequired('real Tryton tests', trytonRequired(), ensureTrytonInstalled);
}

function configText(varDir: string, port: number): string {
  return [
    '[database]',
    'uri = sqlite://',
    `path = ${join(varDir, 'db')}`,
    'list = True',
    '[web]',
    `listen = 127.0.0.1:${port}`,
    '[session]',
    'timeout = 3600',
    // confirm then runs process in the same request, as recorded.
    '[queue]',
    'worker = False',
    '',
  ].join('\n');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function templateKey(version: string): string {
  const hash = createHash('sha256').update(readFileSync(SEED_SCRIPT)).update(version).update(MODULES.join(',')).update(String(new Date().getUTCFullYear()));
  return hash.digest('hex').slice(0, 12);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Templates of other seeds or years, unused for a day, are removed when a new one is built. */
function removeOldTemplates(keep: string): void {
  for (const name of readdirSync(tmpdir())) {
    const path = join(tmpdir(), name);
    if (!name.startsWith('syncline-tryton-template-') || path === keep || name.endsWith('.lock')) continue;
    if (Date.now() - statSync(path).mtimeMs > 86_400_000) rmSync(path, { recursive: true, force: true });
  }
}

/** Builds the seeded template once; parallel test files wait for the builder (a lock folder holding its pid). */
async function ensureTemplate(): Promise<{ file: string; seed: TrytonSeed }> {
  const version = (await run(TRYTOND, ['--version'], { timeoutMs: 30_000 })).trim();
  const dir = join(tmpdir(), `syncline-tryton-template-${templateKey(version)}`);
  const file = join(dir, `${DATABASE}.sqlite`);
  const seedFile = join(dir, 'seed.json');
  const lock = `${dir}.lock`;
  const deadline = Date.now() + TEMPLATE_TIMEOUT_MS;
  for (;;) {
    if (existsSync(seedFile)) return { file, seed: JSON.parse(readFileSync(seedFile, 'utf8')) as TrytonSeed };
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      // Another test file is building it; take over if that process died.
      const owner = Number(existsSync(join(lock, 'pid')) ? readFileSync(join(lock, 'pid'), 'utf8') : 0);
      if (owner && !pidAlive(owner)) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for the Tryton template being built in ${lock}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    if (existsSync(seedFile)) return { file, seed: JSON.parse(readFileSync(seedFile, 'utf8')) as TrytonSeed };
    const building = mkdtempSync(join(tmpdir(), 'syncline-tryton-building-'));
    try {
      const conf = join(building, 'trytond.conf');
      mkdirSync(join(building, 'db'));
      writeFileSync(conf, configText(building, 0));
      // The SQLite backend refuses a database file that does not exist.
      writeFileSync(join(building, 'db', `${DATABASE}.sqlite`), '');
      writeFileSync(join(building, 'admin.pass'), `${ADMIN_PASSWORD}\n`);
      const options = { timeoutMs: TEMPLATE_STEP_TIMEOUT_MS, cwd: building };
      await run(TRYTOND_ADMIN, ['-c', conf, '-d', DATABASE, '--all', '--email', 'admin@example.com'], { ...options, env: { TRYTONPASSFILE: join(building, 'admin.pass') } });
      await run(TRYTOND_ADMIN, ['-c', conf, '-d', DATABASE, '-u', ...MODULES, '--activate-dependencies'], options);
      const seedLine = (await run(PYTHON, [SEED_SCRIPT, conf, DATABASE], options)).trim().split('\n').pop()!;
      const seed = JSON.parse(seedLine) as TrytonSeed;
      writeFileSync(join(building, 'seed.json'), JSON.stringify(seed));
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir);
      renameSync(join(building, 'db', `${DATABASE}.sqlite`), file);
      // seed.json last: its presence says the template is complete.
      renameSync(join(building, 'seed.json'), seedFile);
      removeOldTemplates(dir);
      return { file, seed };
    } finally {
      rmSync(building, { recursive: true, force: true });
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function rpcVersion(url: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 1, method: 'common.server.version', params: [] }),
      signal: AbortSignal.timeout(1000),
    });
    if (!response.ok) return undefined;
    return ((await response.json()) as { result?: string }).result;
  } catch {
    return undefined;
  }
}

/** One trytond process on a var folder's config; `answering` resolves once it serves JSON-RPC (or it exited). */
function spawnTrytond(conf: string, varDir: string, url: string, keep: (chunk: Buffer) => void) {
  const child = spawn(TRYTOND, ['-c', conf], { cwd: varDir, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let gone = false;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => {
    gone = true;
    running.delete(child);
  });
  const answering = (async () => {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let version: string | undefined;
    while (!gone && Date.now() < deadline && !(version = await rpcVersion(url))) await new Promise((resolve) => setTimeout(resolve, 100));
    return version;
  })();
  return { child, exited, answering, isGone: () => gone };
}

/** Starts trytond on a copy of the seeded template; the caller must stop() it. */
export async function startTryton(): Promise<RunningTryton> {
  await ensureTrytonInstalled();
  const template = await ensureTemplate();
  for (let attempt = 1; ; attempt++) {
    const varDir = mkdtempSync(join(tmpdir(), 'syncline-tryton-run-'));
    mkdirSync(join(varDir, 'db'));
    copyFileSync(template.file, join(varDir, 'db', `${DATABASE}.sqlite`));
    const port = await freePort();
    const conf = join(varDir, 'trytond.conf');
    writeFileSync(conf, configText(varDir, port));
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-20_000));
    const url = `http://127.0.0.1:${port}`;
    let current = spawnTrytond(conf, varDir, url, keep);
    const end = async (signal: NodeJS.Signals) => {
      if (current.isGone()) return;
      current.child.kill(signal);
      const timer = setTimeout(() => current.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await current.exited;
      clearTimeout(timer);
    };
    const stop = async () => {
      await end('SIGTERM');
      rmSync(varDir, { recursive: true, force: true });
    };
    const restart = async () => {
      await end('SIGKILL');
      current = spawnTrytond(conf, varDir, url, keep);
      if (!(await current.answering)) throw new Error(`trytond did not answer again within ${START_TIMEOUT_MS} ms:\n${output.slice(-3000)}`);
    };
    if (await current.answering) {
      return { url, database: DATABASE, login: 'admin', password: ADMIN_PASSWORD, seed: template.seed, log: () => output, kill: () => end('SIGKILL'), restart, stop };
    }
    await stop();
    // Another process may have taken the port between choosing and binding it.
    if (attempt < 3 && /Address already in use/i.test(output)) continue;
    throw new Error(`trytond did not answer common.server.version within ${START_TIMEOUT_MS} ms:\n${output.slice(-3000)}`);
  }
}

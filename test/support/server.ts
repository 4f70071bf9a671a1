import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../../src/config/config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startSyncline, type RunningSyncline } from '../../src/syncline.ts';
import { TEST_CUSTOMER_KEYS } from './postgres.ts';

export const ADMIN_CLIENT = { id: 'test-admin', secret: 'test-admin-secret-0123456789' };
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** Environment for a Syncline under test on the given database (port 0 picks a free port). */
export function testEnvironment(databaseUrl: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    SYNCLINE_DATA_DIR: mkdtempSync(join(tmpdir(), 'syncline-test-')),
    SYNCLINE_BOOTSTRAP_CLIENT_ID: ADMIN_CLIENT.id,
    SYNCLINE_BOOTSTRAP_CLIENT_SECRET: ADMIN_CLIENT.secret,
    PORT: '0',
    LOG_LEVEL: 'warn',
    // `start` would run sandboxes on fixed ports; tests bring their own (test/support/flows.ts).
    SYNCLINE_SANDBOXES: 'off',
    // No scheduled catalogue sync: the catalogue check applies only where a test loads a catalogue (docs/products.md).
    SYNCLINE_PRODUCT_SYNC_SECONDS: '0',
    // The keys of the test process (test/support/postgres.ts), so servers and tests read each other's customers.
    ...TEST_CUSTOMER_KEYS,
    ...extra,
  };
}

export interface TestServer {
  baseUrl: string;
  running: RunningSyncline;
  config: Config;
  /** An access token for the bootstrap admin client, optionally narrowed to scopes. */
  token(scopes?: string): Promise<string>;
  close(): Promise<void>;
}

/** Fetches an access token with the client credentials grant. */
export async function fetchToken(baseUrl: string, client = ADMIN_CLIENT, scopes?: string): Promise<string> {
  const body = new URLSearchParams({ grant_type: 'client_credentials', ...(scopes ? { scope: scopes } : {}) });
  const response = await fetch(`${baseUrl}/oauth/token`, {
    method: 'POST',
    headers: { Authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}` },
    body,
  });
  if (response.status !== 200) throw new Error(`token request failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** Starts Syncline in this process on a free port. */
export async function startTestServer(databaseUrl: string | undefined, extra: Record<string, string> = {}): Promise<TestServer> {
  const config = loadConfig(testEnvironment(databaseUrl, extra));
  const running = await startSyncline(config, createLogger(config.logLevel), { api: true });
  const baseUrl = running.url!;
  return {
    baseUrl,
    running,
    config,
    token: (scopes) => fetchToken(baseUrl, ADMIN_CLIENT, scopes),
    close: () => running.close(),
  };
}

export interface ChildServer {
  child: ChildProcess;
  baseUrl: string;
  output(): string;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
}

/** A TCP port that was free a moment ago. */
async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Starts `syncline <command>` as a separate process and waits until it listens.
 * By default it logs at info and the URL is read from its log. With `quiet`, the
 * caller's LOG_LEVEL is kept (benchmarks: no per-request log lines), the port is
 * chosen here and readiness is polled on /healthz.
 */
export async function spawnSyncline(args: string[], env: Record<string, string>, options: { quiet?: boolean; startTimeoutMs?: number } = {}): Promise<ChildServer> {
  const port = options.quiet ? String(await freePort()) : env.PORT;
  const childEnv = { ...process.env, ...env, ...(port ? { PORT: port } : {}), LOG_LEVEL: options.quiet ? (env.LOG_LEVEL ?? 'warn') : 'info' };
  const child = spawn(process.execPath, [MAIN, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Never leave a half-started server behind: it would outlive the test run.
      child.kill('SIGKILL');
      reject(new Error(`syncline did not start in time:\n${output}`));
    }, options.startTimeoutMs ?? 30_000);
    let found = false;
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)"/.exec(output);
      if (match && !found) {
        found = true;
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    if (options.quiet) {
      const url = `http://127.0.0.1:${port}`;
      const poll = async () => {
        for (let attempt = 0; attempt < 300 && !found && child.exitCode === null; attempt++) {
          try {
            if ((await fetch(`${url}/healthz`)).ok) {
              found = true;
              clearTimeout(timer);
              resolve(url);
              return;
            }
          } catch {
            // not listening yet
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      void poll();
    }
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`syncline exited with ${code} before listening:\n${output}`));
    });
  });
  return { child, baseUrl, output: () => output, exited };
}

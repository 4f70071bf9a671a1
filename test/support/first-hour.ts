import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchToken, spawnSyncline, type ChildServer } from './server.ts';

/** A `syncline start` child on a fresh embedded data folder, with its sandboxes on free ports. */
export interface EmbeddedSyncline extends ChildServer {
  dataDir: string;
  env: Record<string, string>;
  /** The sandbox URLs the listening line names. */
  sandboxes: Record<string, string>;
  /** A token of the bootstrap admin client read from bootstrap-client.json. */
  token(scopes?: string): Promise<string>;
  /** Sends SIGTERM and resolves with the exit code and the milliseconds it took. */
  terminate(): Promise<{ code: number | null; ms: number }>;
}

/** Starts `node src/cli/main.ts start` as a new user would, on PGlite in a fresh folder. */
export async function startEmbedded(extra: Record<string, string> = {}): Promise<EmbeddedSyncline> {
  const dataDir = mkdtempSync(join(tmpdir(), 'syncline-first-hour-'));
  // DATABASE_URL empty: embedded PGlite even when the caller's environment names a server.
  const env = { DATABASE_URL: '', SYNCLINE_DATA_DIR: dataDir, PORT: '0', SYNCLINE_SANDBOXES: 'on', SYNCLINE_SANDBOX_BASE_PORT: '0', ...extra };
  // A loaded machine starts PGlite slowly; the deadline is generous, never absent.
  const child = await spawnSyncline(['start'], env, { startTimeoutMs: 120_000 });
  const listening = child
    .output()
    .split('\n')
    .map((line) => {
      try {
        return JSON.parse(line) as { msg?: string; sandboxes?: Record<string, string> };
      } catch {
        return {};
      }
    })
    .find((entry) => entry.msg === 'syncline is listening');
  return {
    ...child,
    dataDir,
    env,
    sandboxes: listening?.sandboxes ?? {},
    token(scopes) {
      const file = JSON.parse(readFileSync(join(dataDir, 'bootstrap-client.json'), 'utf8')) as { clientId: string; clientSecret: string };
      return fetchToken(child.baseUrl, { id: file.clientId, secret: file.clientSecret }, scopes);
    },
    async terminate() {
      const started = Date.now();
      if (child.child.exitCode === null) child.child.kill('SIGTERM');
      const code = await child.exited;
      return { code, ms: Date.now() - started };
    },
  };
}

/** The README's quick start: its token scopes and the JSON bodies of its requests, in order. */
export function readmeQuickStart(): { scopes: string; bodies: Record<string, unknown>[] } {
  const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
  const start = readme.indexOf('### Take a first order to `completed`');
  if (start < 0) throw new Error('README.md has no "Take a first order to `completed`" section');
  // Up to the next heading: the sections after it (a storefront's order...) have requests of their own.
  const end = start + 1 + readme.slice(start + 1).search(/\n##+ /);
  const section = readme.slice(start, end);
  const scopes = /-d 'scope=([^']+)'/.exec(section)?.[1];
  if (!scopes) throw new Error('the quick start asks for no token scopes');
  const bodies = [...section.matchAll(/-d '(\{[\s\S]*?\})'/g)].map((match) => JSON.parse(match[1]!) as Record<string, unknown>);
  return { scopes, bodies };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
export const TEST_HANDLERS = fileURLToPath(new URL('./runtime-handlers.ts', import.meta.url));

export interface WorkerProcess {
  child: ChildProcess;
  workerId: string;
  output(): string;
  exited: Promise<number | null>;
}

/** Starts `syncline <command>` (default: worker) and waits for its "worker ready" log line. */
export async function spawnWorker(env: Record<string, string>, command = 'worker'): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [MAIN, command], {
    env: { PATH: process.env.PATH ?? '', SYNCLINE_HANDLER_MODULES: TEST_HANDLERS, ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const workerId = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start in time:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"worker":"([^"]+)"[^\n]*"msg":"worker ready"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} before it was ready:\n${output}`));
    });
  });
  return { child, workerId, output: () => output, exited };
}

/** Polls `check` until it returns true or the time runs out (then throws with `what`). */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

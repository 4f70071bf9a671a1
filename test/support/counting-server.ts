import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small HTTP target for runtime tests: records the arrival time of every request and
 * answers with whatever status the test currently wants.
 */
export interface CountingServer {
  url: string;
  arrivals: number[];
  /** The status to answer with from now on (default 200). */
  respondWith(status: number, headers?: Record<string, string>): void;
  /** Most requests that arrived within any window of `ms` (sliding over every arrival). */
  maxInAnyWindow(ms: number): number;
  close(): Promise<void>;
}

export async function startCountingServer(): Promise<CountingServer> {
  const arrivals: number[] = [];
  let status = 200;
  let headers: Record<string, string> = {};
  const server: Server = createServer((request, response) => {
    arrivals.push(performance.timeOrigin + performance.now());
    request.resume();
    request.on('end', () => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(status < 400 ? '{"ok":true}' : '{"error":"unavailable"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    arrivals,
    respondWith(next, nextHeaders = {}) {
      status = next;
      headers = nextHeaders;
    },
    maxInAnyWindow(ms) {
      const sorted = [...arrivals].sort((a, b) => a - b);
      let max = 0;
      for (let i = 0, j = 0; i < sorted.length; i++) {
        while (sorted[i]! - sorted[j]! >= ms) j++;
        max = Math.max(max, i - j + 1);
      }
      return max;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

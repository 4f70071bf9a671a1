import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP receiver for webhook deliveries, and a Standard Webhooks verifier written
 * from the specification (https://www.standardwebhooks.com), independent of Syncline's signer.
 */

export interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  event: { id: string; type: string; subject: string; data: any };
}

/** How the receiver answers: 200 and record; an error status without recording; or never. */
export type ReceiverMode = { status: number } | 'hang';

export interface WebhookReceiver {
  url: string;
  /** Deliveries answered with a 2xx, in arrival order. */
  received: Delivery[];
  /** Every request, whatever it was answered. */
  requests: number;
  /** Most requests open at once. */
  maxInFlight: number;
  /** Arrival times (ms) of the deliveries answered with a 2xx. */
  arrivals: number[];
  mode: ReceiverMode;
  close(): Promise<void>;
}

/** Starts a receiver on a free loopback port. */
export async function startWebhookReceiver(mode: ReceiverMode = { status: 200 }): Promise<WebhookReceiver> {
  const hanging = new Set<() => void>();
  const receiver: WebhookReceiver = { url: '', received: [], requests: 0, maxInFlight: 0, arrivals: [], mode, close: async () => {} };
  let inFlight = 0;
  const server: Server = createServer((request, response) => {
    inFlight += 1;
    receiver.maxInFlight = Math.max(receiver.maxInFlight, inFlight);
    response.on('close', () => (inFlight -= 1));
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      receiver.requests += 1;
      const current = receiver.mode;
      if (current === 'hang') {
        hanging.add(() => response.destroy());
        return;
      }
      const body = Buffer.concat(chunks).toString('utf8');
      if (current.status >= 200 && current.status < 300) {
        receiver.received.push({ headers: request.headers, body, event: JSON.parse(body) });
        receiver.arrivals.push(Date.now());
      }
      response.writeHead(current.status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  receiver.close = async () => {
    for (const end of hanging) end();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return receiver;
}

/**
 * Verifies a delivery per Standard Webhooks: the three headers present, the timestamp within
 * tolerance, and at least one `v1,` signature equal (constant time) to base64
 * HMAC-SHA256(base64-decoded secret after whsec_, `${id}.${timestamp}.${body}`).
 */
export function verifyStandardWebhook(secret: string, headers: IncomingHttpHeaders, body: string, toleranceSeconds = 300): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  if (!secret.startsWith('whsec_')) return false;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(' ').some((entry) => {
    const [version, value] = entry.split(',', 2);
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

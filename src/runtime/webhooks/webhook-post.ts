import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { addressRefusal, type WebhookNetworks } from '../../domain/subscriptions/webhook-address.ts';
import { TargetError } from '../targets/target-errors.ts';

/** What a subscriber answered. */
export interface WebhookAnswer {
  status: number;
  retryAfter: string | undefined;
}

/**
 * A DNS lookup that refuses addresses the setting does not allow, so the address checked
 * is the one connected to (a name re-pointed inward after subscribing is refused).
 */
function guardedLookup(networks: WebhookNetworks): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const refused = addresses.map((a) => addressRefusal(a.address, networks)).find(Boolean);
      if (refused) return callback(Object.assign(new Error(`${hostname}: ${refused}`), { code: 'WEBHOOK_ADDRESS_REFUSED' }), '', 0);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/**
 * POSTs one delivery. Redirects are not followed (a 3xx is a failed attempt); the answer's
 * body is read and dropped. Network failures and refused addresses throw.
 */
export function postWebhook(url: string, headers: Record<string, string>, body: string, networks: WebhookNetworks, signal: AbortSignal): Promise<WebhookAnswer> {
  const target = new URL(url);
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  // A literal address is connected to without a lookup: check it here.
  const literalRefusal = isIP(host) ? addressRefusal(host, networks) : undefined;
  if (literalRefusal) {
    return Promise.reject(new TargetError('WEBHOOK_ADDRESS_REFUSED', `${host}: ${literalRefusal}`, { retry: 'transient' }));
  }
  const client = target.protocol === 'https:' ? https : http;
  return new Promise<WebhookAnswer>((resolve, reject) => {
    const request = client.request(
      target,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, signal, lookup: guardedLookup(networks), agent: false },
      (response) => {
        response.on('error', reject);
        response.on('end', () => resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] }));
        response.resume();
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

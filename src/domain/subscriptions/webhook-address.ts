import { BlockList, isIP } from 'node:net';

/**
 * Where a webhook subscription may send events, against server-side request forgery:
 * a subscriber's URL must not reach Syncline's own network (a database, a cloud metadata
 * service at 169.254.169.254, an admin port).
 *
 * Glossary:
 * - networks: the deployment's setting (SYNCLINE_WEBHOOK_NETWORKS). `public`: public
 *   addresses over https only. `loopback` (default): that, plus this machine's loopback
 *   over http or https, for a receiver beside Syncline. `any`: private and link-local
 *   addresses and plain http anywhere, for receivers inside a private network.
 * - refused address: loopback (unless allowed), private (10/8, 172.16/12, 192.168/16,
 *   fc00::/7, 100.64/10), link-local (169.254/16, fe80::/10), unspecified, multicast,
 *   reserved and documentation ranges. Checked on the URL's literal address, on every
 *   address its name resolves to when subscribing, and again at each delivery on the
 *   address actually connected to (so a name that later resolves inward is refused).
 */
export type WebhookNetworks = 'public' | 'loopback' | 'any';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

const INTERNAL = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 3],
] as const) {
  INTERNAL.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
  ['64:ff9b::', 96],
] as const) {
  INTERNAL.addSubnet(net, prefix, 'ipv6');
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:10.0.0.1), else the address itself. */
function unmapped(address: string): string {
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return match ? match[1]! : address;
}

/** Why an address may not receive webhooks under the setting; undefined when it may. */
export function addressRefusal(address: string, networks: WebhookNetworks): string | undefined {
  const ip = unmapped(address);
  const family = isIP(ip);
  if (family === 0) return `${address} is not an IP address`;
  if (networks === 'any') return undefined;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (LOOPBACK.check(ip, type)) return networks === 'loopback' ? undefined : `${address} is a loopback address`;
  if (INTERNAL.check(ip, type)) return `${address} is a private, link-local or reserved address`;
  return undefined;
}

/** True when the address is loopback (plain http is allowed to it under `loopback`). */
export function isLoopback(address: string): boolean {
  const ip = unmapped(address);
  const family = isIP(ip);
  return family !== 0 && LOOPBACK.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/** Resolves a host name to every address it has (node:dns lookup with all: true in production). */
export type ResolveAll = (host: string) => Promise<string[]>;

/**
 * Checks a subscription URL: absolute http(s), no credentials or fragment, and a host whose
 * every address is allowed. Returns the reason it is refused, or undefined.
 */
export async function webhookUrlRefusal(text: string, networks: WebhookNetworks, resolveAll: ResolveAll): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an https URL';
  if (url.username || url.password) return 'must not carry credentials (user:password@)';
  if (url.hash) return 'must not have a fragment';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = await resolveAll(host);
    } catch {
      return `host ${host} does not resolve`;
    }
    if (addresses.length === 0) return `host ${host} does not resolve`;
  }
  for (const address of addresses) {
    const refusal = addressRefusal(address, networks);
    if (refusal) return `must not point to ${refusal}${host === address ? '' : ` (${host})`}; see SYNCLINE_WEBHOOK_NETWORKS`;
  }
  if (url.protocol === 'http:' && networks !== 'any' && !addresses.every(isLoopback)) return 'must use https (plain http only to loopback)';
  return undefined;
}

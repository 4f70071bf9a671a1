import { getRandomValues } from 'node:crypto';
import { encodeTime, monotonicFactory } from 'ulid';

/** Id prefixes of canonical entities: the prefix tells what an id names. */
export const ID_PREFIX = {
  order: 'ord',
  customer: 'cus',
  event: 'evt',
  client: 'cli',
  reservation: 'res',
  location: 'loc',
  snapshot: 'snp',
  movementRequest: 'mvr',
  shipment: 'shp',
  return: 'ret',
  cancellation: 'can',
  amendment: 'amd',
  job: 'job',
  deadLetter: 'dlq',
  auditEvent: 'aud',
  subscription: 'sub',
  consoleUser: 'usr',
  customerRecord: 'csr',
  customerMerge: 'cmg',
  stewardship: 'stw',
  consent: 'cns',
  dataRequest: 'dsr',
} as const;

export type IdKind = keyof typeof ID_PREFIX;

// ulid's default generator asks the OS for one random byte per character; drawing
// from a pool refilled 4 KiB at a time keeps id generation off the intake profile.
const pool = new Uint32Array(1024);
let next = pool.length;
function pooledRandom(): number {
  if (next === pool.length) {
    getRandomValues(pool);
    next = 0;
  }
  return pool[next++]! / 2 ** 32;
}

const nextUlid = monotonicFactory(pooledRandom);

/** A new, time-ordered id such as `ord_01JD…`. */
export function newId(kind: IdKind): string {
  return `${ID_PREFIX[kind]}_${nextUlid().toLowerCase()}`;
}

/**
 * The smallest id of a kind made at `time` or later: ids sort by when they were made, so a time
 * range is a range of ids (`id >= idBoundary(kind, from) AND id < idBoundary(kind, to)`), read
 * from the primary key with no index on a timestamp.
 */
export function idBoundary(kind: IdKind, time: Date): string {
  return `${ID_PREFIX[kind]}_${encodeTime(time.getTime(), 10).toLowerCase()}${'0'.repeat(16)}`;
}

/** True when value looks like an id of the given kind. */
export function isId(kind: IdKind, value: string): boolean {
  return new RegExp(`^${ID_PREFIX[kind]}_[0-9a-hjkmnp-tv-z]{26}$`).test(value);
}

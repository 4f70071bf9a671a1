import type { CallContext } from '../../kit/http-client.ts';
import { TrytonDateTime } from '../tryton-wire.ts';
import type { TrytonRpc } from './json-rpc.ts';

/** Reads shared by the pulls of Tryton's records (products, parties): related rows by id, and modification stamps. */

export type Row = Record<string, unknown> & { id: number };

/** A record's create_date and write_date, as microseconds (a never-written record has no write_date). */
export const stampOf = (row: Row | undefined): bigint[] =>
  row ? [row.write_date, row.create_date].filter((v): v is TrytonDateTime => v instanceof TrytonDateTime).map((v) => v.micros) : [];

/** The latest of stamps as ISO 8601 UTC; null when there are none. */
export function latestStamp(stamps: readonly bigint[]): string | null {
  const latest = stamps.reduce<bigint | null>((max, s) => (max === null || s > max ? s : max), null);
  return latest === null ? null : new TrytonDateTime(latest).toIso();
}

/** Rows of `model` by id (inactive ones too), in one call; nothing to read: no call. */
export async function readMany(rpc: TrytonRpc, model: string, ids: number[], fields: string[], context: CallContext): Promise<Map<number, Row>> {
  const unique = [...new Set(ids)];
  if (!unique.length) return new Map();
  const rows = await rpc.call<Row[]>(`model.${model}.read`, [unique, fields], context, { active_test: false });
  return new Map(rows.map((r) => [r.id, r]));
}

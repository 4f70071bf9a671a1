import type { Queryable } from '../database.ts';

/**
 * The erasure's sweep of the whole schema (ADR 0039): every text, json and text-array column
 * of every table is a place an order's or a customer's personal data may have been copied to
 * (event payloads, job payloads, dead letters, channel webhook bodies, shadow reports, stored
 * idempotent results, audit details ...). The columns are read from the catalogue at run time,
 * so a table added later is swept without a change here.
 *
 * Left out: credentials and the console's own users (operators, not customers), and the
 * customer tables whose personal columns the customer store erases itself.
 */
const NOT_SWEPT = new Set([
  'syncline_migration',
  'api_client',
  'api_signing_key',
  'api_token_revocation',
  'api_rate_count',
  'system_secret',
  'console_user',
  'console_session',
  'customer',
  'customer_source_record',
  'customer_source_history',
  'customer_match_key',
]);

export interface SweptTable {
  table: string;
  columns: { name: string; type: 'text' | 'json' | 'array' }[];
  /** Columns naming an order, a customer or a customer record (order_id, customer_id, an event's subject ...). */
  linkColumns: string[];
}

// Columns that name an order, a customer or a customer record by its id.
const LINK_COLUMN = /^(order_id|customer_id|survivor_id|merged_id|customer_a|customer_b|record_id|record_a|record_b|target_id|subject)$/;

/** The tables and columns the sweep reads: text, varchar, json, jsonb and text[] columns of the public schema. */
export async function sweptTables(db: Queryable): Promise<SweptTable[]> {
  const { rows } = await db.query<{ table_name: string; column_name: string; data_type: string; udt_name: string }>(
    `SELECT c.table_name, c.column_name, c.data_type, c.udt_name
       FROM information_schema.columns c JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
        AND (c.data_type IN ('text', 'character varying', 'json', 'jsonb') OR c.udt_name IN ('_text', '_varchar'))
      ORDER BY c.table_name, c.ordinal_position`,
  );
  const tables = new Map<string, SweptTable>();
  for (const row of rows) {
    if (NOT_SWEPT.has(row.table_name)) continue;
    const table = tables.get(row.table_name) ?? { table: row.table_name, columns: [], linkColumns: [] };
    const type = row.data_type === 'json' || row.data_type === 'jsonb' ? 'json' : row.data_type === 'ARRAY' ? 'array' : 'text';
    table.columns.push({ name: row.column_name, type });
    if (type === 'text' && LINK_COLUMN.test(row.column_name)) table.linkColumns.push(row.column_name);
    tables.set(row.table_name, table);
  }
  return [...tables.values()];
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
/** A LIKE pattern matching the value anywhere. */
export const containing = (value: string) => `%${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * Rewrites the rows of one table that hold one of the patterns (case-insensitive) in any swept
 * column, or that name one of the ids (an order, a customer, a record) in a link column:
 * rewrite gets each column's value and the ids the row names, and returns the new value;
 * unchanged rows are not written. Returns how many rows changed.
 */
export async function sweepTable(
  tx: Queryable,
  table: SweptTable,
  patterns: readonly string[],
  ids: readonly string[],
  rewrite: (value: unknown, named: readonly string[]) => unknown,
): Promise<number> {
  const matches = table.columns.map((c) => `${ident(c.name)}::text ILIKE ANY($1::text[])`);
  const links = table.linkColumns.map((c) => `${ident(c)} = ANY($2::text[])`);
  const named = table.linkColumns.length > 0 ? `ARRAY[${table.linkColumns.map(ident).join(', ')}]` : `'{}'::text[]`;
  const { rows } = await tx.query<Record<string, unknown>>(
    `SELECT ctid::text AS row_ctid, ${named} AS row_named, ${table.columns.map((c) => ident(c.name)).join(', ')}
       FROM ${ident(table.table)} WHERE ${[...matches, ...links].join(' OR ')}`,
    links.length > 0 ? [patterns, ids] : [patterns],
  );
  let changed = 0;
  for (const row of rows) {
    const sets: string[] = [];
    const values: unknown[] = [row.row_ctid];
    const rowIds = (row.row_named as (string | null)[]).filter((id): id is string => id !== null && ids.includes(id));
    for (const column of table.columns) {
      const before = row[column.name];
      if (before === null || before === undefined) continue;
      const after = rewrite(before, rowIds);
      if (JSON.stringify(after) === JSON.stringify(before)) continue;
      values.push(column.type === 'json' ? JSON.stringify(after) : after);
      sets.push(`${ident(column.name)} = $${values.length}`);
    }
    if (sets.length === 0) continue;
    await tx.query(`UPDATE ${ident(table.table)} SET ${sets.join(', ')} WHERE ctid = $1::tid`, values);
    changed++;
  }
  return changed;
}

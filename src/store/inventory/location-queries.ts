import type { Queryable } from '../database.ts';
import type { Location, LocationInput } from '../../model/inventory.ts';

interface LocationRow {
  id: string;
  code: string;
  name: string;
  kind: Location['kind'];
  created_at: Date | string;
}

const toLocation = (row: LocationRow): Location => ({
  id: row.id,
  code: row.code,
  name: row.name,
  kind: row.kind,
  createdAt: new Date(row.created_at).toISOString(),
});

/** Inserts a location; returns undefined when its code is taken. */
export async function insertLocation(tx: Queryable, id: string, input: LocationInput): Promise<Location | undefined> {
  const result = await tx.query<LocationRow>(
    `INSERT INTO inventory_location (id, code, name, kind) VALUES ($1, $2, $3, $4)
     ON CONFLICT (code) DO NOTHING RETURNING id, code, name, kind, created_at`,
    [id, input.code, input.name, input.kind],
  );
  return result.rows[0] ? toLocation(result.rows[0]) : undefined;
}

export async function listLocations(db: Queryable): Promise<Location[]> {
  const result = await db.query<LocationRow>('SELECT id, code, name, kind, created_at FROM inventory_location ORDER BY code');
  return result.rows.map(toLocation);
}

/** Looks up locations by id or code; the map is keyed by the reference as given. */
export async function resolveLocations(db: Queryable, refs: readonly string[]): Promise<Map<string, Location>> {
  const unique = [...new Set(refs)];
  if (unique.length === 0) return new Map();
  const result = await db.query<LocationRow>(
    'SELECT id, code, name, kind, created_at FROM inventory_location WHERE id = ANY($1::text[]) OR code = ANY($1::text[])',
    [unique],
  );
  const found = new Map<string, Location>();
  for (const row of result.rows) {
    const location = toLocation(row);
    found.set(row.id, location);
    found.set(row.code, location);
  }
  return new Map(unique.filter((ref) => found.has(ref)).map((ref) => [ref, found.get(ref)!]));
}

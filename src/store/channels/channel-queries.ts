import type { Queryable } from '../database.ts';

/** Connection state, webhook deliveries and listings of channel connections (migrations 0018, 0019). */

export interface ConnectionStateRow {
  id: string;
  connector: string;
  uninstalled_at: Date | string | null;
  last_inbound_at: Date | string | null;
  last_outbound_at: Date | string | null;
  last_outbound_error: { code: string; message: string; at: string } | null;
  reconcile_cursor: string | null;
  reconciled_at: Date | string | null;
  created_at: Date | string;
}

/** Creates the state rows of connections not seen before (done at start-up). */
export async function ensureConnectionStates(db: Queryable, connections: readonly { id: string; connector: string }[]): Promise<void> {
  if (connections.length === 0) return;
  await db.query(
    `INSERT INTO channel_connection (id, connector) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (id) DO NOTHING`,
    [connections.map((c) => c.id), connections.map((c) => c.connector)],
  );
}

/**
 * The state columns, with the last inbound time read from the newest delivery (index
 * channel_delivery_received) instead of written on every delivery: an UPDATE of the connection's
 * one row in each webhook's transaction made all deliveries of a connection wait for each other's commit.
 */
const STATE_COLUMNS = `c.id, c.connector, c.uninstalled_at,
  (SELECT max(d.received_at) FROM channel_delivery d WHERE d.connection_id = c.id) AS last_inbound_at,
  c.last_outbound_at, c.last_outbound_error, c.reconcile_cursor, c.reconciled_at, c.created_at`;

export async function readConnectionStates(db: Queryable): Promise<ConnectionStateRow[]> {
  return (await db.query<ConnectionStateRow>(`SELECT ${STATE_COLUMNS} FROM channel_connection c ORDER BY c.id`)).rows;
}

export async function readConnectionState(db: Queryable, id: string): Promise<ConnectionStateRow | undefined> {
  return (await db.query<ConnectionStateRow>(`SELECT ${STATE_COLUMNS} FROM channel_connection c WHERE c.id = $1`, [id])).rows[0];
}

/** Marks the connection uninstalled (outbound stops); true when it was installed until now. */
export async function markUninstalled(db: Queryable, id: string): Promise<boolean> {
  const result = await db.query('UPDATE channel_connection SET uninstalled_at = now() WHERE id = $1 AND uninstalled_at IS NULL', [id]);
  return (result.rowCount ?? 0) > 0;
}

/** Records an outbound call's outcome: the time, and the failure (code and message) or none. */
export async function recordOutbound(db: Queryable, id: string, failure: { code: string; message: string } | null): Promise<void> {
  await db.query(
    `UPDATE channel_connection SET last_outbound_at = now(), last_outbound_error = $2::jsonb WHERE id = $1`,
    [id, failure ? JSON.stringify({ ...failure, at: new Date().toISOString() }) : null],
  );
}

export async function saveReconcileCursor(db: Queryable, id: string, cursor: string): Promise<void> {
  await db.query('UPDATE channel_connection SET reconcile_cursor = $2, reconciled_at = now() WHERE id = $1', [id, cursor]);
}

export interface NewDelivery {
  connectionId: string;
  deliveryId: string;
  topic: string;
  triggeredAt: string | undefined;
  payload: unknown;
}

/**
 * Stores deliveries, each once: returns the keys (`connectionId` + "\n" + `deliveryId`) of those
 * newly stored; one the channel sent before is not stored again. One statement for the whole
 * batch (the webhook route groups concurrent deliveries into one commit). The connection's last
 * inbound activity is the newest delivery's received_at (readConnectionState), so concurrent
 * deliveries share no row.
 */
export async function insertDeliveries(tx: Queryable, deliveries: readonly NewDelivery[]): Promise<Set<string>> {
  const rows = deliveries.map((d) => ({ connection_id: d.connectionId, delivery_id: d.deliveryId, topic: d.topic, triggered_at: d.triggeredAt ?? null, payload: d.payload ?? null }));
  const result = await tx.query<{ connection_id: string; delivery_id: string }>(
    `INSERT INTO channel_delivery (connection_id, delivery_id, topic, triggered_at, payload)
     SELECT x.connection_id, x.delivery_id, x.topic, x.triggered_at, coalesce(x.payload, 'null'::jsonb)
       FROM jsonb_to_recordset($1::jsonb) AS x(connection_id text, delivery_id text, topic text, triggered_at timestamptz, payload jsonb)
     ON CONFLICT (connection_id, delivery_id) DO NOTHING
     RETURNING connection_id, delivery_id`,
    [JSON.stringify(rows)],
    { prepare: true },
  );
  return new Set(result.rows.map((r) => deliveryKey(r.connection_id, r.delivery_id)));
}

/** The key insertDeliveries returns for a delivery. */
export const deliveryKey = (connectionId: string, deliveryId: string) => `${connectionId}\n${deliveryId}`;

/** Which of these delivery ids the connection has not stored yet. */
export async function unstoredDeliveries(db: Queryable, connectionId: string, deliveryIds: readonly string[]): Promise<string[]> {
  if (deliveryIds.length === 0) return [];
  const { rows } = await db.query<{ delivery_id: string }>('SELECT delivery_id FROM channel_delivery WHERE connection_id = $1 AND delivery_id = ANY($2::text[])', [connectionId, deliveryIds]);
  const stored = new Set(rows.map((r) => r.delivery_id));
  return deliveryIds.filter((id) => !stored.has(id));
}

export type DeliveryStatus = 'received' | 'applied' | 'unsupported' | 'failed';

export async function finishDelivery(db: Queryable, connectionId: string, deliveryId: string, status: DeliveryStatus, result: Record<string, unknown>): Promise<void> {
  await db.query(
    `UPDATE channel_delivery SET status = $3, result = $4::jsonb, processed_at = now() WHERE connection_id = $1 AND delivery_id = $2`,
    [connectionId, deliveryId, status, JSON.stringify(result)],
  );
}

export interface DeliveryRow {
  connection_id: string;
  delivery_id: string;
  topic: string;
  status: DeliveryStatus;
  result: Record<string, unknown> | null;
  received_at: Date | string;
}

export async function readDeliveries(db: Queryable, connectionId: string, limit = 100): Promise<DeliveryRow[]> {
  return (
    await db.query<DeliveryRow>(
      `SELECT connection_id, delivery_id, topic, status, result, received_at FROM channel_delivery WHERE connection_id = $1 ORDER BY id DESC LIMIT $2`,
      [connectionId, limit],
    )
  ).rows;
}

export interface ListingRow {
  connection_id: string;
  sku: string;
  product_id: string;
  variant_id: string | null;
  inventory_item_id: string | null;
  location_ids: string[];
  source: 'discovered' | 'order';
}

export interface ListingInput {
  sku: string;
  productId: string;
  variantId?: string | undefined;
  inventoryItemId?: string | undefined;
  locationIds?: readonly string[] | undefined;
}

/**
 * Writes listings. `discovered` (from the channel, by SKU) replaces what is known; `order`
 * (from an order line) only fills in a SKU not yet listed, so it never erases an inventory item.
 */
export async function upsertListings(db: Queryable, connectionId: string, listings: readonly ListingInput[], source: 'discovered' | 'order'): Promise<void> {
  // One row per SKU (an order may sell a SKU on two lines): the last one wins.
  const bySku = [...new Map(listings.map((l) => [l.sku, l])).values()];
  if (bySku.length === 0) return;
  await db.query(
    `INSERT INTO channel_listing (connection_id, sku, product_id, variant_id, inventory_item_id, location_ids, source)
     SELECT $1, l.sku, l.product_id, l.variant_id, l.inventory_item_id, coalesce(l.location_ids, '{}'), $3
       FROM jsonb_to_recordset($2::jsonb) AS l(sku text, product_id text, variant_id text, inventory_item_id text, location_ids text[])
     ON CONFLICT (connection_id, sku) DO UPDATE
       SET product_id = EXCLUDED.product_id, variant_id = EXCLUDED.variant_id, inventory_item_id = EXCLUDED.inventory_item_id,
           location_ids = EXCLUDED.location_ids, source = EXCLUDED.source, updated_at = now()
       WHERE $3 = 'discovered'`,
    [
      connectionId,
      JSON.stringify(
        bySku.map((l) => ({ sku: l.sku, product_id: l.productId, variant_id: l.variantId ?? null, inventory_item_id: l.inventoryItemId ?? null, location_ids: l.locationIds ?? [] })),
      ),
      source,
    ],
  );
}

export async function readListings(db: Queryable, connectionId: string, skus?: readonly string[]): Promise<ListingRow[]> {
  return (
    await db.query<ListingRow>(
      `SELECT * FROM channel_listing WHERE connection_id = $1 AND ($2::text[] IS NULL OR sku = ANY($2::text[])) ORDER BY sku`,
      [connectionId, skus ?? null],
    )
  ).rows;
}

/** How many listings each connection has. */
export async function countListings(db: Queryable): Promise<Map<string, number>> {
  const rows = (await db.query<{ connection_id: string; n: number }>('SELECT connection_id, count(*)::integer AS n FROM channel_listing GROUP BY connection_id')).rows;
  return new Map(rows.map((r) => [r.connection_id, r.n]));
}

/** Every SKU Syncline knows (inventory), for listing discovery. */
export async function knownSkus(db: Queryable): Promise<string[]> {
  return (await db.query<{ sku: string }>('SELECT DISTINCT sku FROM inventory_balance ORDER BY sku')).rows.map((r) => r.sku);
}

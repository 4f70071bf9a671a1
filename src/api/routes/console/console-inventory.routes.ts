import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { isId } from '../../../model/ids.ts';
import { ChannelSlug } from '../../../model/order.ts';
import { Sku } from '../../../model/sku.ts';
import type { ApiContext } from '../../api-context.ts';
import { parseQuery } from '../../validation.ts';
import { forBrowser } from './console-masking.ts';
import { masksPersonalData, requireConsole } from './console-session.ts';

/**
 * The console's inventory explorer (docs/console.md): one SKU's availability with its explanation
 * for the shared pool and each channel (the same derivation as GET /v1/inventory/availability),
 * its active reservations (paged), its drift in recent reconciliation reports, and the recent
 * reports overall. Every figure comes from the inventory service; nothing is computed here.
 */

const hidden = { hide: true };
/** Channels explained at most per answer (default: 20): a policy per channel is few, not thousands. */
const MAX_CHANNELS = 20;
const SKU_DRIFT_LINES = 20;
const RECENT_REPORTS = 10;

const InventoryQuery = z.strictObject({
  sku: Sku.optional(),
  channel: ChannelSlug.optional().meta({ description: 'Also explain this channel (channels with a policy, a connection or a reservation of the SKU are explained anyway).' }),
  before: z.string().refine((v) => isId('reservation', v), 'must be a reservation id').optional(),
  limit: z.coerce.number().int().min(1).max(100).default(25),
});

/** GET /console/api/inventory (viewer and up). */
export async function consoleInventoryRoutes(app: FastifyInstance, { db, config, inventory }: ApiContext): Promise<void> {
  const viewer = requireConsole(db, config.consoleIdleSeconds, 'viewer');

  app.get('/console/api/inventory', { schema: hidden, preHandler: viewer }, async (request) => {
    const { sku, channel, before, limit } = parseQuery(InventoryQuery, request.query);
    const reports = await inventory.listSnapshots({ limit: RECENT_REPORTS });
    if (!sku) return forBrowser({ sku: null, availability: [], reservations: { items: [], next: null }, drift: [], reports }, masksPersonalData(request));
    const [reservations, drift, policies] = await Promise.all([inventory.openReservationsOfSku(sku, { before, limit }), inventory.driftOfSku(sku, SKU_DRIFT_LINES), inventory.getPolicies()]);
    const channels = [
      ...new Set([
        ...(channel ? [channel] : []),
        ...policies.channels.map((c) => c.channel),
        ...config.connections.connections.filter((c) => c.kind === 'channel').map((c) => c.id),
        ...reservations.map((r) => r.channel),
      ]),
    ].slice(0, MAX_CHANNELS);
    const availability = await inventory.explainAcrossChannels(sku, channels);
    return forBrowser(
      { sku, availability, reservations: { items: reservations, next: reservations.length === limit ? reservations.at(-1)!.id : null }, drift, reports },
      masksPersonalData(request),
    );
  });
}

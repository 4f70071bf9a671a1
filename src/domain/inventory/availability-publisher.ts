import type { Database } from '../../store/database.ts';
import {
  lockSkusForPublishing,
  readPublished,
  takeAvailabilityChanges,
  writePublished,
  type PublishedFigure,
} from '../../store/inventory/availability-queries.ts';
import { listPolicyChannels } from '../../store/inventory/stock-queries.ts';
import { appendEvents, type NewEvent } from '../../runtime/outbox/outbox.ts';
import { EVENT_TYPES } from '../../model/cloud-event.ts';
import type { EventData } from '../../model/events.ts';
import { newId } from '../../model/ids.ts';
import { evaluate } from './availability.ts';
import { INVENTORY_SOURCE } from './reservation-batch.ts';
import { StockView } from './stock-view.ts';

/** The channel name under which the shared pool (no channel policy) is published. */
export const SHARED_CHANNEL = '*';

/**
 * Publishes `inventory.availability.changed` per SKU and channel, coalesced:
 * writers only append a change marker; each round takes the markers that
 * accumulated, recomputes the figures once per SKU and announces those that
 * differ from the last announced figure. A burst of changes inside one round
 * becomes at most one event per SKU and channel, and because every change
 * leaves a marker that a later round takes, the last event is the true figure.
 * Safe with several processes: markers are taken with SKIP LOCKED and
 * publishing a SKU is serialised by an advisory lock.
 */
export class AvailabilityPublisher {
  readonly #db: Database;
  readonly #batchSize: number;

  constructor(db: Database, options: { batchSize?: number } = {}) {
    this.#db = db;
    this.#batchSize = options.batchSize ?? 1000;
  }

  /** One round; returns how many markers' SKUs were looked at (0 when nothing had changed). */
  async publishOnce(): Promise<{ skus: number; events: number }> {
    return this.#db.transaction(async (tx) => {
      const skus = await takeAvailabilityChanges(tx, this.#batchSize);
      if (skus.length === 0) return { skus: 0, events: 0 };
      await lockSkusForPublishing(tx, skus);
      const channels = await listPolicyChannels(tx);
      const view = await StockView.load(tx, skus, channels, { lock: false });
      const before = await readPublished(tx, skus);
      const figures: PublishedFigure[] = [];
      const events: NewEvent[] = [];
      const now = new Date().toISOString();
      for (const sku of skus) {
        for (const channel of [SHARED_CHANNEL, ...channels]) {
          const input = view.input(sku, channel === SHARED_CHANNEL ? null : channel);
          const { available } = evaluate(input);
          const included = input.positions.filter((p) => !input.rules.excludedLocationIds.has(p.locationId));
          const figure = {
            sku,
            channel,
            available,
            onHand: included.reduce((n, p) => n + p.onHand, 0),
            reserved: included.reduce((n, p) => n + p.reserved, 0),
          };
          const previous = before.get(`${sku}\n${channel}`);
          if (previous && previous.available === figure.available && previous.onHand === figure.onHand && previous.reserved === figure.reserved) continue;
          if (!previous && figure.available === 0 && figure.onHand === 0 && figure.reserved === 0) continue;
          figures.push(figure);
          events.push({
            id: newId('event'),
            type: EVENT_TYPES.inventoryAvailabilityChanged,
            source: INVENTORY_SOURCE,
            subject: sku,
            time: now,
            correlationId: `availability-${now}`,
            data: {
              sku,
              channel: channel === SHARED_CHANNEL ? null : channel,
              available: figure.available,
              previousAvailable: previous?.available ?? null,
              onHand: figure.onHand,
              reserved: figure.reserved,
            } satisfies EventData<'inventory.availability.changed'>,
          });
        }
      }
      await writePublished(tx, figures);
      await appendEvents(tx, events);
      return { skus: skus.length, events: events.length };
    });
  }

  /** Rounds until nothing is left or `maxRounds` is reached (one background tick). */
  async drain(maxRounds = 20): Promise<number> {
    let events = 0;
    for (let round = 0; round < maxRounds; round += 1) {
      const outcome = await this.publishOnce();
      events += outcome.events;
      if (outcome.skus === 0) break;
    }
    return events;
  }
}

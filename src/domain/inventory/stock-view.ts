import type { Queryable } from '../../store/database.ts';
import type { BalanceRow, PolicyRows } from '../../store/inventory/stock-queries.ts';
import { readBalances, readChannelReserved, readPolicies } from '../../store/inventory/stock-queries.ts';
import type { AvailabilityInput, ChannelRules, StockPosition } from './availability.ts';
import { SHARED } from './availability.ts';

/**
 * A working copy of the stock of some SKUs together with the policies that
 * apply: built from locked rows by writers (who then change it in memory and
 * write the changed rows back) and from plain reads by the availability API.
 */
export class StockView {
  readonly #positions = new Map<string, StockPosition[]>();
  readonly #policies: PolicyRows;
  readonly #channelReserved: Map<string, number>;
  readonly #dirty = new Set<string>();

  constructor(balances: readonly BalanceRow[], policies: PolicyRows, channelReserved: Map<string, number>) {
    this.#policies = policies;
    this.#channelReserved = channelReserved;
    for (const b of balances) {
      const list = this.#positions.get(b.sku) ?? [];
      list.push({ locationId: b.locationId, code: b.code, kind: b.kind, onHand: b.onHand, reserved: b.reserved, safetyStock: policies.safety.get(b.sku)?.get(b.locationId) ?? 0 });
      this.#positions.set(b.sku, list);
    }
  }

  /**
   * Loads the view. lock: balance rows are locked FOR UPDATE (writers). Channel
   * reservations are read only for pairs whose allocation needs them.
   */
  static async load(q: Queryable, skus: readonly string[], channels: readonly string[], options: { lock: boolean }): Promise<StockView> {
    // Policies first: they are not locked, so reading them before the balance
    // locks keeps the time those locks are held short.
    const policies = await readPolicies(q, skus, channels);
    const balances = await readBalances(q, skus, options);
    const pairs: { channel: string; sku: string }[] = [];
    for (const channel of new Set(channels)) {
      for (const sku of new Set(skus)) {
        if (rulesFor(policies, sku, channel).allocation.mode !== 'shared') pairs.push({ channel, sku });
      }
    }
    return new StockView(balances, policies, await readChannelReserved(q, pairs));
  }

  rules(sku: string, channel: string | null): ChannelRules {
    return channel === null ? SHARED : rulesFor(this.#policies, sku, channel);
  }

  input(sku: string, channel: string | null): AvailabilityInput {
    return {
      sku,
      positions: this.#positions.get(sku) ?? [],
      skuSafetyStock: this.#policies.safety.get(sku)?.get('') ?? 0,
      rules: this.rules(sku, channel),
      channelReserved: channel === null ? 0 : (this.#channelReserved.get(`${channel}\n${sku}`) ?? 0),
    };
  }

  /** A deep copy, to try a change and keep it only if it all works out. */
  clone(): StockView {
    const copy = new StockView([], this.#policies, new Map(this.#channelReserved));
    for (const [sku, list] of this.#positions) copy.#positions.set(sku, list.map((p) => ({ ...p })));
    for (const key of this.#dirty) copy.#dirty.add(key);
    return copy;
  }

  /** Holds units at a location for a channel. */
  reserve(sku: string, locationId: string, channel: string, quantity: number): void {
    const position = this.#position(sku, locationId);
    position.reserved += quantity;
    this.#channelReserved.set(`${channel}\n${sku}`, (this.#channelReserved.get(`${channel}\n${sku}`) ?? 0) + quantity);
    this.#dirty.add(`${sku}\n${locationId}`);
  }

  position(sku: string, locationId: string): StockPosition | undefined {
    return this.#positions.get(sku)?.find((p) => p.locationId === locationId);
  }

  #position(sku: string, locationId: string): StockPosition {
    const found = this.position(sku, locationId);
    if (!found) throw new Error(`no balance row for ${sku} at ${locationId} in this view`);
    return found;
  }

  /** Balance rows changed through this view, for writing back. */
  changedBalances(): { sku: string; locationId: string; onHand: number; reserved: number }[] {
    return [...this.#dirty].sort().map((key) => {
      const [sku, locationId] = key.split('\n') as [string, string];
      const p = this.#position(sku, locationId);
      return { sku, locationId, onHand: p.onHand, reserved: p.reserved };
    });
  }

  changedSkus(): string[] {
    return [...new Set([...this.#dirty].map((key) => key.split('\n')[0]!))];
  }
}

/** The channel rules for a SKU: a per-SKU allocation beats the channel default beats the shared pool. */
export function rulesFor(policies: PolicyRows, sku: string, channel: string): ChannelRules {
  const policy = policies.channels.get(channel);
  const skuAllocation = policies.skuAllocations.get(`${channel}\n${sku}`);
  return {
    channel,
    excludedLocationIds: new Set(policy?.excludedLocationIds ?? []),
    allocation: skuAllocation ?? policy?.allocation ?? { mode: 'shared' },
    allocationSource: skuAllocation ? 'sku' : policy ? 'channel' : 'default',
  };
}

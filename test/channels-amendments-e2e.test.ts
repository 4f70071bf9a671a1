import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import type { RunningShopifySandbox } from '../src/connectors/shopify/sandbox/shopify.sandbox.ts';
import type { RunningWooSandbox } from '../src/connectors/woocommerce/sandbox/woocommerce.sandbox.ts';
import type { WireOrder } from '../src/connectors/woocommerce/woocommerce-wire.ts';
import { TARGET_CHANNEL } from '../src/store/runtime/target-queries.ts';
import { startChannelRig, type ChannelRig } from './support/channel-rig.ts';
import { postDelivery, shopifyDelivery, type ConnectionsRig } from './support/connections.ts';
import type { flowApi } from './support/flows.ts';
import { waitFor } from './support/runtime.ts';

/**
 * Channel order updates before and after release (docs/adr/0023), end to end over HTTP on the
 * real PostgreSQL: the Shopify and WooCommerce sandboxes send signed orders/updated and
 * order.updated webhooks; the five system sandboxes run the order flows.
 */

const SHOP = 'acme-us.myshopify.com';
const SHOPIFY = 'acme-us';
const WOO = 'woo-shop';
const address = { firstName: 'Ada', lastName: 'Lovelace', address1: '12 Analytical Row', city: 'Louisville', province: 'Kentucky', provinceCode: 'KY', zip: '40202', countryCode: 'US' };

describe('channel order updates before and after release', () => {
  let channels: ChannelRig;
  let shop: RunningShopifySandbox;
  let woo: RunningWooSandbox;
  let rig: ConnectionsRig;
  let f: ReturnType<typeof flowApi>;
  const shopAdmin = () => sandboxAdmin(shop.url);

  const placeInShopify = async (lines: { sku: string; quantity: number }[], extra: Record<string, unknown> = {}) => {
    const created = await shopAdmin().call<{ order: { id: string } }>('POST', '/_sandbox/orders', { email: 'ada@example.com', shippingAddress: address, lines, shippingPrice: '5.00', taxesIncluded: true, tax: '2.00', ...extra });
    return created.order.id;
  };
  const editInShopify = (channelOrderId: string, edit: Record<string, unknown>) => shopAdmin().call<{ webhookId: string }>('POST', `/_sandbox/orders/${channelOrderId}/touch`, edit);
  const synced = (connection: string, channelOrderId: string | number) => channels.syncedOrder(connection, channelOrderId);
  const order = async (id: string) => (await f.api('GET', `/v1/orders/${id}`)).body;
  const amendments = async (id: string) => (await f.api('GET', `/v1/orders/${id}/amendments`)).body.items as any[];
  const events = async (id: string, type: string) => ((await f.api('GET', '/v1/events?limit=1000')).body.events as any[]).filter((e) => e.type === type && e.subject === id);
  const waitForAmendment = (id: string, status: string, count = 1) =>
    waitFor(`${count} amendment(s) of ${id} ${status}`, async () => (await amendments(id)).filter((a) => a.status === status).length >= count, 30_000, 100).catch(async (error: Error) => {
      const deliveries = (await rig.database.db.query("SELECT connection_id, delivery_id, topic, status, result FROM channel_delivery WHERE connection_id = $1 ORDER BY id DESC LIMIT 5", [WOO])).rows;
      const hooks = await sandboxAdmin(woo.url).call<any>('GET', '/_sandbox/webhooks');
      throw new Error(`${error.message}; amendments: ${JSON.stringify(await amendments(id))}; deliveries: ${JSON.stringify(deliveries)}; woo hooks: ${JSON.stringify(hooks).slice(-1500)}`);
    });
  // The ERP's breaker held open, as during an ERP outage: allocated orders wait for their back-office part.
  const erpBreaker = async (open: boolean) => {
    await rig.database.db.query(
      open
        ? "INSERT INTO runtime_target (name, breaker_state, blocked_until, opened_at) VALUES ('erp', 'open', now() + interval '1 hour', now()) ON CONFLICT (name) DO UPDATE SET breaker_state = 'open', blocked_until = now() + interval '1 hour', opened_at = now()"
        : "UPDATE runtime_target SET breaker_state = 'closed', blocked_until = NULL, opened_at = NULL, consecutive_failures = 0 WHERE name = 'erp'",
    );
    // As a recorded failure does (ADR 34): the workers stop taking the ERP for healthy and ask PostgreSQL before each call.
    if (open) await rig.database.db.query(`SELECT pg_notify('${TARGET_CHANNEL}', 'erp')`);
  };
  const reservedOf = async (id: string) =>
    ((await f.api('GET', `/v1/inventory/reservations?reference=${id}`)).body.data as any[]).filter((r) => r.status === 'active').flatMap((r) => r.lines.map((l: any) => [l.sku, l.quantity]));
  const wmsLines = async (id: string) => (await f.fulfilments(id)).flatMap((x) => x.lines.map((l: any) => [l.sku, l.quantity]));

  before(async () => {
    channels = await startChannelRig({
      skus: ['TEE-M', 'MUG', 'CAP', 'HAT'],
      stock: 20,
      shopify: [{ connection: SHOPIFY, shopDomain: SHOP, products: ['TEE-M', 'MUG', 'CAP', 'HAT'].map((sku) => ({ sku, price: '10.00', available: 1000 })), yaml: ['reconcile: { everySeconds: 10 }'] }],
      woocommerce: [{ connection: WOO, products: [{ sku: 'HAT', name: 'Hat', price: '10.00', stock: 50 }], yaml: ['reconcile: { everySeconds: 10 }'] }],
    });
    ({ rig, f } = channels);
    shop = channels.shops.get(SHOPIFY)!;
    woo = channels.woos.get(WOO)!;
  });
  after(() => channels?.close());

  test('Shopify: unpaid, a new address is applied at once; paid (reported twice) releases the hold once', async () => {
    const channelOrderId = await placeInShopify([{ sku: 'TEE-M', quantity: 1 }], { financialStatus: 'pending' });
    const id = await synced(SHOPIFY, channelOrderId);
    await f.waitForStatus(id, 'on_hold');
    assert.equal((await order(id)).hold.kind, 'validation');

    await editInShopify(channelOrderId, { shippingAddress: { address1: '99 Difference Engine Lane', zip: '40203' } });
    await waitForAmendment(id, 'applied');
    const moved = await order(id);
    assert.deepEqual([moved.shippingAddress.line1, moved.shippingAddress.postalCode], ['99 Difference Engine Lane', '40203']);
    await f.waitForStatus(id, 'on_hold');
    assert.equal((await order(id)).hold.kind, 'validation', 'still unpaid: validation holds it again');
    const [applied] = await events(id, 'order.amended');
    assert.deepEqual(applied.data.changes.fields, ['shippingAddress']);
    assert.ok(!JSON.stringify(applied.data).includes('Difference Engine'), 'the event names the field, not the address');

    // Paid: the update comes twice (two deliveries), and the reconciliation poll sees the order too.
    await editInShopify(channelOrderId, { financialStatus: 'paid' });
    await editInShopify(channelOrderId, { financialStatus: 'paid' });
    await f.waitForStatus(id, 'released');
    await waitFor('both paid deliveries taken in', async () => (await amendments(id)).filter((a) => a.status !== 'pending').length >= 3, 30_000, 100);
    const paid = (await f.timeline(id)).filter((e) => e.action === 'order.amended' && e.detail.changes.paid === true);
    assert.deepEqual(paid.map((e) => e.detail.resumed), [true], 'paid once: the hold was released once');
    assert.equal((await events(id, 'order.released')).length, 1);
    assert.ok((await amendments(id)).slice(2).every((a) => a.status === 'unchanged' || a.status === 'pending'), 'the second paid update changed nothing');
  });

  test('Shopify: a quantity increase the stock covers, while the ERP is out, is applied; the reservation, the ERP and the WMS get 3', async () => {
    await erpBreaker(true);
    try {
      const channelOrderId = await placeInShopify([{ sku: 'TEE-M', quantity: 2 }]);
      const id = await synced(SHOPIFY, channelOrderId);
      await f.waitForStatus(id, 'allocated');
      const before = (await f.api('GET', `/v1/inventory/availability?sku=TEE-M&channel=${SHOPIFY}`)).body.available;
      await editInShopify(channelOrderId, { lines: [{ sku: 'TEE-M', quantity: 3 }] });
      await waitFor('the change stored', async () => (await amendments(id)).length >= 1, 30_000, 100);
      assert.equal((await order(id)).status, 'allocated');
      await erpBreaker(false);
      await f.waitForStatus(id, 'released');
      assert.ok((await amendments(id)).some((a) => a.status === 'applied' && a.changes.lines.length === 1));
      assert.deepEqual((await order(id)).lines.map((l: any) => [l.sku, l.quantity]), [['TEE-M', 3]]);
      assert.deepEqual(await reservedOf(id), [['TEE-M', 3]]);
      assert.equal((await f.api('GET', `/v1/inventory/availability?sku=TEE-M&channel=${SHOPIFY}`)).body.available, before - 1, 'one more unit held, none oversold');
      assert.deepEqual(await wmsLines(id), [['TEE-M', 3]]);
      const feed = ((await f.api('GET', '/v1/events?limit=1000')).body.events as any[]).filter((e) => e.subject === id).map((e) => e.type);
      assert.ok(feed.indexOf('order.amended') >= 0 && feed.indexOf('order.amended') < feed.indexOf('order.released'), feed.join(', '));
      const erp = await f.erpState();
      assert.ok(JSON.stringify(erp).includes(id), 'the ERP has the order');
    } finally {
      await erpBreaker(false);
    }
  });

  test('Shopify: a quantity increase the stock does not cover is held for review; apply is refused until stock arrives, then applied; another is rejected', async () => {
    await erpBreaker(true);
    let short: string;
    let kept: string;
    let shortChannelId: string;
    let keptChannelId: string;
    try {
      shortChannelId = await placeInShopify([{ sku: 'MUG', quantity: 1 }]);
      keptChannelId = await placeInShopify([{ sku: 'CAP', quantity: 1 }]);
      short = await synced(SHOPIFY, shortChannelId);
      kept = await synced(SHOPIFY, keptChannelId);
      await f.waitForStatus(short, 'allocated');
      await f.waitForStatus(kept, 'allocated');
      await editInShopify(shortChannelId, { lines: [{ sku: 'MUG', quantity: 60 }] });
      await editInShopify(keptChannelId, { lines: [{ sku: 'CAP', quantity: 60 }] });
      await waitFor('both changes stored', async () => (await amendments(short)).length >= 1 && (await amendments(kept)).length >= 1, 30_000, 100);
    } finally {
      await erpBreaker(false);
    }
    await f.waitForStatus(short, 'on_hold');
    await f.waitForStatus(kept, 'on_hold');
    const held = await order(short);
    assert.equal(held.hold.kind, 'amendment');
    assert.equal(held.hold.code, 'order.amendment_stock_short');
    assert.equal(held.hold.resumeStatus, 'allocated');
    assert.deepEqual(held.lines.map((l: any) => l.quantity), [1], 'the order keeps its lines while the change waits');
    assert.deepEqual(await reservedOf(short), [['MUG', 1]]);
    // The reconciliation poll may bring the same version again: it changes nothing, one change stays held.
    const amendment = (await amendments(short)).find((a) => a.status === 'held');
    assert.ok(amendment, JSON.stringify(await amendments(short)));
    assert.deepEqual(amendment.changes.lines.map((l: any) => [l.sku, l.from, l.to]), [['MUG', 1, 60]]);

    // Bad input and refusals are problems, never 500s.
    const refused = await f.api('POST', `/v1/orders/${short}/amendments/${amendment.id}/apply`, {});
    assert.equal(refused.status, 409);
    assert.equal(refused.body.type, '/problems/amendment-not-applicable');
    assert.equal(refused.body.code, 'order.amendment_stock_short');
    assert.equal((await f.api('POST', `/v1/orders/${short}/amendments/${amendment.id}/apply`, { note: 5 })).status, 422);
    assert.equal((await f.api('POST', `/v1/orders/${short}/amendments/amd_nope/apply`, {})).status, 404);
    const plainRelease = await f.api('POST', `/v1/orders/${short}/hold/release`, {});
    assert.deepEqual([plainRelease.status, plainRelease.body.type, plainRelease.body.amendmentId], [409, '/problems/order-held-for-amendment', amendment.id]);
    const readOnly = await fetch(`${rig.baseUrl}/v1/orders/${short}/amendments/${amendment.id}/apply`, { method: 'POST' });
    assert.equal(readOnly.status, 401);

    await f.stock([{ type: 'receipt', sku: 'MUG', location: 'WH-EAST', quantity: 50 }]);
    const applied = await f.api('POST', `/v1/orders/${short}/amendments/${amendment.id}/apply`, { note: 'stock arrived' });
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    assert.deepEqual([applied.body.amendment.status, applied.body.resumed], ['applied', true]);
    await f.waitForStatus(short, 'released');
    assert.deepEqual((await order(short)).lines.map((l: any) => l.quantity), [60]);
    assert.deepEqual(await wmsLines(short), [['MUG', 60]]);
    const again = await f.api('POST', `/v1/orders/${short}/amendments/${amendment.id}/reject`, {});
    assert.equal(again.status, 409);
    assert.equal(again.body.type, '/problems/amendment-not-held');

    const keptAmendment = (await amendments(kept)).find((a) => a.status === 'held');
    const rejected = await f.api('POST', `/v1/orders/${kept}/amendments/${keptAmendment!.id}/reject`, { note: 'customer keeps one' });
    assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
    // The rejected version again (a late webhook retry, or the reconciliation poll reading it): nothing new, no second hold.
    const unchanged = async () => (await amendments(kept)).filter((a) => a.status === 'unchanged').length;
    const unchangedBefore = await unchanged();
    const sameVersion = (await shopAdmin().call<{ order: unknown }>('GET', `/_sandbox/orders/${keptChannelId}`)).order;
    const secret = channels.secrets.get(SHOPIFY)!.webhookSecret;
    const redelivered = await postDelivery(rig.baseUrl, 'shopify', SHOPIFY, shopifyDelivery({ secret, shopDomain: SHOP, topic: 'orders/updated', payload: sameVersion }));
    assert.equal(redelivered.status, 200, JSON.stringify(redelivered.body));
    await waitFor('the rejected version, sent again, taken in as unchanged', async () => (await unchanged()) > unchangedBefore, 30_000, 100);
    assert.equal((await amendments(kept)).filter((a) => a.status === 'held').length, 0, 'not held again');
    await f.waitForStatus(kept, 'released');
    assert.deepEqual((await order(kept)).lines.map((l: any) => l.quantity), [1]);
    assert.deepEqual(await wmsLines(kept), [['CAP', 1]]);
  });

  test('Shopify: a change after release is reported, the order unchanged', async () => {
    const channelOrderId = await placeInShopify([{ sku: 'HAT', quantity: 1 }]);
    const id = await synced(SHOPIFY, channelOrderId);
    await f.waitForStatus(id, 'released');
    await editInShopify(channelOrderId, { shippingAddress: { address1: '1 Late Street' }, lines: [{ sku: 'HAT', quantity: 2 }] });
    await waitForAmendment(id, 'reported');
    const now = await order(id);
    assert.equal(now.shippingAddress.line1, '12 Analytical Row');
    assert.deepEqual(now.lines.map((l: any) => l.quantity), [1]);
    const [reported] = await events(id, 'order.channel_update_after_release');
    assert.equal(reported.data.status, 'released');
    // The total moved with the quantity, and the channel's payment with it.
    assert.deepEqual(reported.data.changes.fields, ['shippingAddress', 'payments']);
    assert.deepEqual(reported.data.changes.lines.map((l: any) => [l.sku, l.from, l.to]), [['HAT', 1, 2]]);
    assert.ok((await f.timeline(id)).some((e) => e.action === 'channel.order.changed' && e.outcome === 'skipped'));
  });

  test('WooCommerce: an unpaid order gets its new address at once, and is released once when paid', async () => {
    const store = sandboxAdmin(woo.url);
    const created = await store.call<{ order: WireOrder }>('POST', '/_sandbox/orders', {
      lines: [{ sku: 'HAT', quantity: 1 }],
      status: 'on-hold',
      paid: false,
      shippingTotal: '0.00',
      shipping: { first_name: 'Ada', last_name: 'Lovelace', address_1: '12 Analytical Row', city: 'Louisville', state: 'KY', postcode: '40202', country: 'US' },
    });
    const id = await synced(WOO, created.order.id);
    await f.waitForStatus(id, 'on_hold');
    // WooCommerce's delivery id is the same for deliveries of one webhook within a second: move the store's clock on.
    const later = () => store.call('POST', '/_sandbox/clock', { advanceMs: 1500 });
    await later();
    await store.call('POST', `/_sandbox/orders/${created.order.id}`, { shipping: { address_1: '7 Babbage Close' } });
    await waitForAmendment(id, 'applied');
    assert.equal((await order(id)).shippingAddress.line1, '7 Babbage Close');
    await later();
    await store.call('POST', `/_sandbox/orders/${created.order.id}`, { status: 'processing' });
    await later();
    await store.call('POST', `/_sandbox/orders/${created.order.id}`, { status: 'processing' });
    await f.waitForStatus(id, 'released');
    await waitFor('every update taken in', async () => (await amendments(id)).filter((a) => a.status !== 'pending').length >= 3, 30_000, 100);
    assert.deepEqual((await f.timeline(id)).filter((e) => e.action === 'order.amended' && e.detail.changes.paid === true).map((e) => e.detail.resumed), [true]);
    assert.equal((await events(id, 'order.released')).length, 1);
  });
});

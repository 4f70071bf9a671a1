import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { CustomerService } from '../src/domain/customers/customer.service.ts';
import { EVENT_PAYLOADS } from '../src/model/events.ts';
import { startChannelRig, type ChannelRig } from './support/channel-rig.ts';
import { sampleOrder, submitOrder } from './support/orders.ts';
import { waitFor } from './support/runtime.ts';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.ts';

/**
 * Erase leaves no personal data in Syncline's tables or logs (issue 14, ADR 0039). A shopper
 * orders twice: once through the order intake API (with an Idempotency-Key) and once in a
 * Shopify store (its webhook body is stored as a channel delivery); both orders are released
 * through the flows, a webhook subscriber receives their events, one order is cancelled with an
 * Idempotency-Key, and consent is recorded. After the erase, every text, json and array column
 * of every table in the database, and every log line the process wrote, is searched for the
 * shopper's e-mail, phone, names and street: nothing. The finance fields of the orders stay.
 */

const EMAIL = 'zephyrine.quillfeather@example.org';
const PHONE = '+1 415 555 0187';
const PHONE_DIGITS = '4155550187';
const GIVEN = 'Zephyrine';
const FAMILY = 'Quillfeather';
const STREET = '88 Wisteria Crescent';
const SEARCHED = [EMAIL, PHONE, PHONE_DIGITS, GIVEN, FAMILY, `${GIVEN} ${FAMILY}`, STREET, 'Wisteria'];

describe('erase, end to end', () => {
  let channels: ChannelRig;
  let receiver: WebhookReceiver;
  let customers: CustomerService;
  const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => channels.f.api(method, path, body, headers);

  before(async () => {
    receiver = await startWebhookReceiver();
    channels = await startChannelRig({
      skus: ['TEE-M', 'MUG'],
      stock: 50,
      shopify: [{ connection: 'acme-us', shopDomain: 'acme-us.myshopify.com', products: [{ sku: 'TEE-M', price: '19.99', available: 20 }, { sku: 'MUG', price: '8.50', available: 20 }] }],
    });
    customers = new CustomerService(channels.rig.database.db);
  });
  after(async () => {
    await channels?.close();
    await receiver?.close();
  });

  /** Every text, json and array column of every table holding one of the values: `table.column: value`. */
  async function personalDataLeft(): Promise<string[]> {
    const db = channels.rig.database.db;
    const { rows: columns } = await db.query<{ table_name: string; column_name: string }>(
      `SELECT c.table_name, c.column_name FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND (c.data_type IN ('text', 'character varying', 'json', 'jsonb') OR c.data_type = 'ARRAY')`,
    );
    assert.ok(columns.length > 100, 'the whole schema is searched');
    const found: string[] = [];
    for (const { table_name, column_name } of columns) {
      const { rows } = await db.query<{ hit: string }>(
        `SELECT v AS hit FROM unnest($1::text[]) AS v WHERE EXISTS (SELECT 1 FROM "${table_name}" WHERE "${column_name}"::text ILIKE '%' || v || '%')`,
        [SEARCHED],
      );
      for (const row of rows) found.push(`${table_name}.${column_name}: ${row.hit}`);
    }
    return found;
  }

  test('after an erase, no table and no log line holds the e-mail, phone, names or street; finance fields stay', async () => {
    const subscribed = await api('POST', '/v1/subscriptions', { url: receiver.url, types: ['order.*', 'customer.*'] }, { 'idempotency-key': randomUUID() });
    assert.equal(subscribed.status, 201, JSON.stringify(subscribed.body));

    const shippingAddress = { name: `${GIVEN} ${FAMILY}`, line1: STREET, city: 'Springfield', region: 'IL', postalCode: '62701', country: 'US', phone: PHONE };
    const submitted = await submitOrder(channels.rig.baseUrl, channels.rig.token, sampleOrder({ channel: 'web', customer: { email: EMAIL, name: `${GIVEN} ${FAMILY}`, phone: PHONE }, shippingAddress }));
    assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
    const apiOrder = submitted.body.id as string;
    const placed = await sandboxAdmin(channels.shops.get('acme-us')!.url).call<{ order: { id: string } }>('POST', '/_sandbox/orders', {
      email: EMAIL,
      firstName: GIVEN,
      lastName: FAMILY,
      phone: PHONE,
      shippingAddress: { firstName: GIVEN, lastName: FAMILY, address1: STREET, city: 'Springfield', province: 'Illinois', provinceCode: 'IL', zip: '62701', countryCode: 'US', phone: PHONE },
      lines: [{ sku: 'MUG', quantity: 2 }],
      shippingPrice: '5.00',
      tax: '2.20',
    });
    const shopOrder = await channels.syncedOrder('acme-us', placed.order.id);
    for (const id of [apiOrder, shopOrder]) await channels.f.waitForStatus(id, 'released');
    let owners: string[] = [];
    await waitFor('both orders resolved to a customer', async () => {
      owners = (await Promise.all([apiOrder, shopOrder].map((id) => customers.customerOfOrder(id)))).filter((o) => o !== undefined).map((o) => o.customerId);
      return owners.length === 2;
    }, 30_000, 100);
    assert.equal(owners[0], owners[1], 'one shopper, one customer');
    const customerId = owners[0]!;
    const cancelKey = randomUUID();
    const cancel = await api('POST', `/v1/orders/${apiOrder}/cancel`, { reason: 'changed mind' }, { 'idempotency-key': cancelKey });
    assert.equal(cancel.status, 202, JSON.stringify(cancel.body));
    await channels.f.waitForStatus(apiOrder, 'cancelled');
    assert.equal((await api('POST', `/v1/customers/${customerId}/consents`, { purpose: 'email_marketing', status: 'granted', source: { system: 'channel', connection: 'acme-us' }, at: '2026-11-20T10:00:00Z', proof: `checkbox at checkout by ${EMAIL}` })).status, 201);
    await waitFor('the subscriber got the orders’ events', async () => receiver.received.filter((d) => d.event.type === 'order.released').length >= 2, 30_000, 100);
    const exported = await api('POST', `/v1/customers/${customerId}/data-requests`, { type: 'export' });
    assert.equal(exported.status, 201);
    const before = await personalDataLeft();
    for (const place of ['sales_order.document', 'channel_delivery.payload', 'customer_data_request.document']) {
      assert.ok(before.some((hit) => hit.startsWith(`${place}:`)), `before the erase, ${place} holds personal data (${before.join(', ')})`);
    }
    // The customer tables hold it encrypted and as blind indexes (docs/customers.md, encryption at rest): never in clear, even before the erase.
    for (const table of ['customer.', 'customer_source_record.', 'customer_source_history.', 'customer_match_key.']) {
      assert.ok(!before.some((hit) => hit.startsWith(table)), `before the erase, ${table} holds personal data in clear (${before.join(', ')})`);
    }
    const financeBefore = (await api('GET', `/v1/orders/${shopOrder}`)).body;
    const bystander = { email: 'someone.else@example.net', name: 'Ada Lovelace', phone: '+1 555 0100' };
    const other = await submitOrder(channels.rig.baseUrl, channels.rig.token, sampleOrder({ channel: 'web', customer: bystander }));
    assert.equal(other.status, 201);

    // Erase through the id of either customer the orders resolved to: the whole identity goes.
    const erased = await api('POST', `/v1/customers/${customerId}/data-requests`, { type: 'erase' });
    assert.equal(erased.status, 201, JSON.stringify(erased.body));
    assert.equal(erased.body.customerId, customerId);
    assert.deepEqual(erased.body.systems.map((s: { system: string; connection: string }) => `${s.system}/${s.connection}`).sort(), ['channel/acme-us', 'channel/web']);
    assert.ok(erased.body.systems.every((s: { sourceId: string }) => !s.sourceId.includes('@')), 'no e-mail as a guest id in the request');

    const left = await personalDataLeft();
    assert.deepEqual(left, [], `personal data left after the erase: ${left.join('; ')}`);
    const logs = channels.rig.logs.join('');
    assert.ok(logs.length > 1000, 'the process logged');
    for (const value of SEARCHED) assert.ok(!logs.toLowerCase().includes(value.toLowerCase()), `the log holds ${value}`);

    // Finance keeps amounts, taxes, lines, dates and ids.
    const after = (await api('GET', `/v1/orders/${shopOrder}`)).body;
    for (const field of ['id', 'channel', 'channelOrderId', 'currency', 'placedAt', 'lines', 'payments', 'taxTotal', 'shippingTotal', 'grandTotal', 'subtotal'] as const) {
      assert.deepEqual(after[field], financeBefore[field], field);
    }
    assert.equal(after.shippingAddress.country, 'US');
    assert.equal(after.shippingAddress.postalCode, '62701', 'the tax jurisdiction stays');
    assert.match(after.customer.email, /^erased\+ord_[0-9a-z]+@erased\.invalid$/);

    assert.deepEqual((await api('GET', `/v1/orders/${other.body.id}`)).body.customer, bystander, "another shopper's order is untouched");

    // The event: system ids only, in the contract shape.
    const { rows: published } = await channels.rig.database.db.query<{ data: Record<string, unknown> }>(`SELECT data FROM outbox_event WHERE type = 'customer.erasure_requested' AND subject = $1`, [customerId]);
    assert.equal(published.length, 1);
    EVENT_PAYLOADS['customer.erasure_requested'].parse(published[0]!.data);
    assert.deepEqual(Object.keys(published[0]!.data).sort(), ['customerId', 'records', 'requestId']);
    assert.equal(published[0]!.data.requestId, erased.body.id);

    // Erasing again answers with the first request and changes nothing.
    const again = await api('POST', `/v1/customers/${customerId}/data-requests`, { type: 'erase' });
    assert.equal(again.status, 200);
    assert.equal(again.body.id, erased.body.id);
    assert.equal((await api('GET', `/v1/customer-data-requests/${exported.body.id}`)).body.status, 'expired', 'the earlier export lost its document');
    const shown = (await api('GET', `/v1/customers/${customerId}`)).body;
    assert.deepEqual(shown.golden, {});
    assert.deepEqual([shown.emails, shown.phones, shown.addresses], [[], [], []]);
    assert.equal((await api('GET', `/v1/customers?email=${encodeURIComponent(EMAIL)}`)).body.data.length, 0, 'nobody is found by the erased e-mail');
    const consents = (await api('GET', `/v1/customers/${customerId}/consents`)).body;
    assert.equal(consents.history.length, 1, 'what was consented to, and when, stays');
    assert.equal(consents.history[0].proof, null);
  });
});

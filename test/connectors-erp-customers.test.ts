import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ErpConnector } from '../src/connectors/kit/contracts.ts';
import { createTrytonClient, type TrytonClient } from '../src/connectors/tryton/outbound/tryton.client.ts';
import { startTrytonSandbox, type RunningTrytonSandbox } from '../src/connectors/tryton/sandbox/tryton.sandbox.ts';
import { createBusinessCentralClient, type BusinessCentralClient } from '../src/connectors/business-central/outbound/business-central.client.ts';
import { startBusinessCentralSandbox, type RunningBusinessCentralSandbox } from '../src/connectors/business-central/sandbox/business-central.sandbox.ts';
import { startTryton, trytonUnavailable, type RunningTryton } from './support/tryton-server.ts';

/**
 * The ERP side of customer propagation (ADR 0038): deactivating the customer a merge took
 * away (and activating it again on unmerge), and erasing a customer's personal data, against
 * the Tryton sandbox, a real Tryton 6.0 and the Business Central sandbox.
 */

// A real Tryton 6.0 (Debian's packages, installed when missing): in CI this never skips.
const unavailable = await trytonUnavailable();

interface Subject {
  erp: ErpConnector;
  /** Creates a customer with an e-mail, a phone-free address; returns its ERP id. */
  newCustomer(name: string, email: string): Promise<string>;
  /** The customer as the ERP holds it now. */
  read(id: string): Promise<{ active: boolean; name: string; emails: string[] }>;
  unknownId: string;
}

function erpCustomerContract(label: string, subject: () => Subject): void {
  test(`${label}: a merge deactivates the customer, an unmerge activates it again; repeats change nothing; an unknown id is not-found`, async () => {
    const s = subject();
    const id = await s.newCustomer('Ada Lovelace', 'ada.contract@example.com');
    assert.equal(await s.erp.setCustomerActive!(id, false), 'changed');
    assert.equal((await s.read(id)).active, false);
    assert.equal(await s.erp.setCustomerActive!(id, false), 'unchanged');
    assert.equal(await s.erp.setCustomerActive!(id, true), 'changed');
    assert.equal((await s.read(id)).active, true);
    assert.equal(await s.erp.setCustomerActive!(s.unknownId, false), 'not-found');
  });

  test(`${label}: an erasure pseudonymises the name, removes the e-mail and deactivates the customer`, async () => {
    const s = subject();
    const id = await s.newCustomer('Grace Hopper', 'grace.contract@example.com');
    assert.deepEqual((await s.read(id)).emails, ['grace.contract@example.com']);
    assert.equal(await s.erp.eraseCustomer!(id), 'erased');
    const erased = await s.read(id);
    assert.match(erased.name, /^Erased /);
    assert.doesNotMatch(erased.name, /Grace|Hopper/);
    assert.deepEqual(erased.emails, []);
    assert.equal(erased.active, false);
    assert.equal(await s.erp.eraseCustomer!(s.unknownId), 'not-found');
  });
}

function trytonSubject(client: TrytonClient): Subject {
  return {
    erp: client,
    unknownId: '987654',
    async newCustomer(name, email) {
      const [id] = await client.rpc.call<number[]>('model.party.party.create', [[{ name, contact_mechanisms: [['create', [{ type: 'email', value: email }]]], addresses: [['create', [{ street: '12 Main Street', city: 'Springfield', postal_code: '62701' }]]] }]]);
      return String(id);
    },
    async read(id) {
      const [party] = await client.rpc.call<Record<string, unknown>[]>('model.party.party.search_read', [[['id', '=', Number(id)]], 0, 1, null, ['active', 'name']], {}, { active_test: false });
      const mechanisms = await client.rpc.call<Record<string, unknown>[]>('model.party.contact_mechanism.search_read', [[['party', '=', Number(id)], ['type', '=', 'email']], 0, null, null, ['value']], {}, { active_test: false });
      return { active: Boolean(party!.active), name: String(party!.name), emails: mechanisms.map((m) => String(m.value)) };
    },
  };
}

describe('ERP customer propagation: Tryton sandbox', () => {
  let sandbox: RunningTrytonSandbox;
  let client: TrytonClient;
  before(async () => {
    sandbox = await startTrytonSandbox();
    client = createTrytonClient({ url: sandbox.url, database: 'syncline', login: 'admin', password: 'admin' });
  });
  after(async () => sandbox?.close());
  erpCustomerContract('tryton sandbox', () => trytonSubject(client));
});

describe('ERP customer propagation: a real Tryton 6.0', { skip: unavailable ?? false }, () => {
  let server: RunningTryton;
  let client: TrytonClient;
  before(async () => {
    server = await startTryton();
    client = createTrytonClient({ url: server.url, database: server.database, login: server.login, password: server.password });
  });
  after(async () => server?.stop());
  erpCustomerContract('tryton 6.0', () => trytonSubject(client));
});

describe('ERP customer propagation: Business Central sandbox', () => {
  let sandbox: RunningBusinessCentralSandbox;
  let client: BusinessCentralClient;
  before(async () => {
    sandbox = await startBusinessCentralSandbox();
    client = createBusinessCentralClient({ tenantId: sandbox.tenantId, environment: sandbox.environment, companyId: sandbox.companyId, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, baseUrl: sandbox.url, tokenUrl: sandbox.tokenUrl, timeoutMs: 5000 });
  });
  after(async () => sandbox?.close());
  erpCustomerContract('business central sandbox', () => ({
    erp: client,
    unknownId: '00000000-0000-4000-8000-000000000042',
    async newCustomer(name, email) {
      return (await client.odata.create<{ id: string; number: string; displayName: string; email: string }>('customers', { displayName: name, email, addressLine1: '12 Main Street', city: 'Springfield', postalCode: '62701' })).id;
    },
    async read(id) {
      const customer = (await client.odata.get<{ id: string; number: string; displayName: string; email: string; blocked?: string }>(`customers(${id})`))!;
      return { active: customer.blocked === ' ', name: customer.displayName, emails: customer.email ? [customer.email] : [] };
    },
  }));
  test('business central sandbox: a customer PATCH needs If-Match and refuses a blocked value BC does not have', async () => {
    const created = await client.odata.create<{ id: string; '@odata.etag': string }>('customers', { displayName: 'Lin Chen' });
    const token = await (await fetch(sandbox.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', client_id: sandbox.clientId, client_secret: sandbox.clientSecret, scope: 'https://api.businesscentral.dynamics.com/.default' }) })).json() as { access_token: string };
    const url = `${sandbox.url}/v2.0/${sandbox.tenantId}/${sandbox.environment}/api/v2.0/companies(${sandbox.companyId})/customers(${created.id})`;
    const patch = (body: unknown, ifMatch?: string) => fetch(url, { method: 'PATCH', headers: { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json', ...(ifMatch ? { 'if-match': ifMatch } : {}) }, body: JSON.stringify(body) });
    assert.equal((await patch({ blocked: 'All' })).status, 428);
    assert.equal((await patch({ blocked: 'Yes' }, created['@odata.etag'])).status, 400);
    assert.equal((await patch({ blocked: 'Invoice' }, created['@odata.etag'])).status, 200);
  });
});

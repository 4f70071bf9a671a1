import { SynclineError } from '../../../domain/errors.ts';
import type { CallContext, CrmConnector, CrmContact } from '../../kit/contracts.ts';
import { createHttpClient, type HttpClient } from '../../kit/http-client.ts';
import { HUBSPOT_CONTACT_PROPERTIES, subscriptionIdsFor, type HubspotSettings } from '../hubspot-wire.ts';

/** The HubSpot CRM connector (CRM v3 contacts, communication preferences v3); sources in ../README.md. */
export class HubspotClient implements CrmConnector {
  readonly system = 'hubspot';
  readonly http: HttpClient;
  readonly #subscriptions: HubspotSettings['subscriptions'];

  constructor(settings: HubspotSettings) {
    this.http = createHttpClient({ system: 'hubspot', baseUrl: settings.url, timeoutMs: settings.timeoutMs ?? 10_000, headers: { authorization: `Bearer ${settings.accessToken}` } });
    this.#subscriptions = settings.subscriptions;
  }

  async listContacts(page: { after?: string; limit: number }, context: CallContext = {}): Promise<{ contacts: CrmContact[]; next?: string }> {
    const query = new URLSearchParams({ limit: String(page.limit), properties: HUBSPOT_CONTACT_PROPERTIES.join(',') });
    if (page.after) query.set('after', page.after);
    type Page = { results: { id: string; properties: Record<string, string | null>; updatedAt: string }[]; paging?: { next?: { after: string } } };
    const response = await this.http.request<Page>({ method: 'GET', path: `/crm/v3/objects/contacts?${query}` }, context);
    const body = response.body;
    if (!Array.isArray(body?.results)) throw new SynclineError('connector.bad_response', 'hubspot answered a contact list without results', { retry: 'transient', details: { system: 'hubspot' } });
    return { contacts: body.results.map(toContact), ...(body.paging?.next?.after ? { next: body.paging.next.after } : {}) };
  }

  async mergeContacts(primaryId: string, mergedId: string, context: CallContext = {}): Promise<'merged' | 'unchanged' | 'not-found'> {
    // A merged id answers with the contact it went into: a repeat finds the merge done.
    const [primary, merged] = await Promise.all([this.#resolve(primaryId, context), this.#resolve(mergedId, context)]);
    if (!primary || !merged) return 'not-found';
    if (primary === merged) return 'unchanged';
    await this.http.request({ method: 'POST', path: '/crm/v3/objects/contacts/merge', body: { primaryObjectId: primary, objectIdToMerge: merged } }, context);
    return 'merged';
  }

  async eraseContact(contactId: string, context: CallContext = {}): Promise<'erased' | 'not-found'> {
    const response = await this.http.request({ method: 'POST', path: '/crm/v3/objects/contacts/gdpr-delete', body: { objectId: contactId }, accept: [404] }, context);
    return response.status === 404 ? 'not-found' : 'erased';
  }

  async setConsent(contactId: string, consent: { purpose: string; channel: string | null; status: 'granted' | 'withdrawn'; proof: string | null }, context: CallContext = {}): Promise<'changed' | 'unchanged' | 'refused' | 'not-found' | 'not-mapped'> {
    const ids = subscriptionIdsFor(this.#subscriptions, consent.purpose, consent.channel);
    if (ids.length === 0) return 'not-mapped';
    const response = await this.http.request<{ properties: Record<string, string | null> }>({ method: 'GET', path: `/crm/v3/objects/contacts/${encodeURIComponent(contactId)}?properties=email`, accept: [404] }, context);
    const email = response.status === 404 ? null : response.body.properties.email;
    if (!email) return 'not-found';
    type Statuses = { subscriptionStatuses: { id: string; status: 'SUBSCRIBED' | 'NOT_SUBSCRIBED' }[] };
    const current = (await this.http.request<Statuses>({ method: 'GET', path: `/communication-preferences/v3/status/email/${encodeURIComponent(email)}` }, context)).body;
    const wanted = consent.status === 'granted' ? 'SUBSCRIBED' : 'NOT_SUBSCRIBED';
    let outcome: 'changed' | 'unchanged' | 'refused' = 'unchanged';
    for (const id of ids) {
      const status = current.subscriptionStatuses.find((s) => s.id === id)?.status;
      if (status === wanted) continue;
      // The v3 API never re-subscribes a contact who opted out: the CRM's own preference centre must.
      if (wanted === 'SUBSCRIBED' && status === 'NOT_SUBSCRIBED' && outcome === 'unchanged') {
        outcome = 'refused';
        continue;
      }
      await this.http.request(
        {
          method: 'POST',
          path: `/communication-preferences/v3/${wanted === 'SUBSCRIBED' ? 'subscribe' : 'unsubscribe'}`,
          body: { emailAddress: email, subscriptionId: id, legalBasis: 'CONSENT_WITH_NOTICE', legalBasisExplanation: consent.proof ?? 'Recorded by Syncline' },
        },
        context,
      );
      outcome = 'changed';
    }
    return outcome;
  }

  async #resolve(id: string, context: CallContext): Promise<string | undefined> {
    const response = await this.http.request<{ id: string }>({ method: 'GET', path: `/crm/v3/objects/contacts/${encodeURIComponent(id)}?properties=email`, accept: [404] }, context);
    return response.status === 404 ? undefined : response.body.id;
  }
}

function toContact(row: { id: string; properties: Record<string, string | null>; updatedAt: string }): CrmContact {
  const p = row.properties;
  const text = (name: string) => (p[name] && p[name]!.trim() !== '' ? p[name]!.trim() : null);
  const line1 = text('address');
  const city = text('city');
  const postalCode = text('zip');
  const country = text('country');
  const engagement = Object.fromEntries(
    [
      ['lifecycleStage', text('lifecyclestage')],
      ['preferredChannel', text('hs_preferred_channel')],
    ].filter((e): e is [string, string] => e[1] !== null),
  );
  return {
    id: row.id,
    email: text('email'),
    givenName: text('firstname'),
    familyName: text('lastname'),
    phone: text('phone') ?? text('mobilephone'),
    address: line1 && city && postalCode && country && /^[A-Z]{2}$/.test(country) ? { line1, city, postalCode, country, ...(text('state') ? { region: text('state')! } : {}) } : null,
    erpAccount: text('erp_account'),
    engagement,
    updatedAt: row.updatedAt,
  };
}

/** A HubSpot connector. */
export function createHubspotClient(settings: HubspotSettings): HubspotClient {
  return new HubspotClient(settings);
}

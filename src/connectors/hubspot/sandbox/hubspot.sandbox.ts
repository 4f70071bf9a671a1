import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { createSandboxApp, listenSandbox, type RunningSandbox, type SandboxListenOptions } from '../../kit/sandbox-app.ts';

/**
 * A HubSpot CRM emulator: the CRM v3 contacts API (create, read, update, archive, list, search,
 * merge, GDPR delete) and the communication preferences v3 API (subscription statuses), with
 * HubSpot's bearer-token auth, error bodies and rate-limit headers. Sources in ../README.md.
 */

/** The private app token the sandbox accepts by default. */
export const SANDBOX_HUBSPOT_TOKEN = 'pat-na1-syncline-sandbox';

/** The subscription types the sandbox's portal defines (communication preferences definitions). */
export const HUBSPOT_SUBSCRIPTIONS = [
  { id: '101', name: 'Marketing Information', description: 'Marketing offers and updates.', purpose: 'Marketing', communicationMethod: 'Email' },
  { id: '102', name: 'SMS Marketing', description: 'Offers by text message.', purpose: 'Marketing', communicationMethod: 'SMS' },
  { id: '103', name: 'Personalised Recommendations', description: 'Recommendations from your purchase profile.', purpose: 'Profiling', communicationMethod: 'Email' },
] as const;

export interface HubspotContact {
  id: string;
  properties: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
}

export interface RunningHubspotSandbox extends RunningSandbox {
  /** Live contacts by id (archived and merged-away ones are gone from here). */
  contacts: Map<string, HubspotContact>;
  /** A contact merged into another: the merged id → the id it lives on as. */
  mergedInto: Map<string, string>;
  /** Ids and e-mails removed by GDPR delete (e-mails are blocklisted). */
  gdprDeleted: Set<string>;
  /** Subscription status by e-mail then subscription id. */
  subscriptions: Map<string, Map<string, { status: 'SUBSCRIBED' | 'NOT_SUBSCRIBED'; legalBasis: string | null; legalBasisExplanation: string | null }>>;
  /** Adds a contact straight into the portal (as if created in HubSpot's own UI). */
  seedContact(properties: Record<string, string>): HubspotContact;
}

export interface HubspotSandboxOptions extends SandboxListenOptions {
  /** (default: SANDBOX_HUBSPOT_TOKEN) */
  token?: string;
  /** Requests per rolling ten seconds before 429 (default: 100, HubSpot's Free/Starter burst limit). */
  tenSecondlyLimit?: number;
  /** Requests per day (default: 250000). */
  dailyLimit?: number;
}

const Properties = z.record(z.string(), z.union([z.string(), z.null()]));
const Create = z.object({ properties: Properties, associations: z.array(z.unknown()).optional() });
const Update = z.object({ properties: Properties });
const Merge = z.object({ primaryObjectId: z.string().min(1), objectIdToMerge: z.string().min(1) });
const GdprDelete = z.object({ objectId: z.string().min(1), idProperty: z.string().optional() });
const Search = z.object({
  filterGroups: z.array(z.object({ filters: z.array(z.object({ propertyName: z.string(), operator: z.enum(['EQ', 'NEQ', 'GT', 'GTE', 'LT', 'LTE', 'HAS_PROPERTY']), value: z.string().optional() })) })).max(5).default([]),
  sorts: z.array(z.union([z.string(), z.object({ propertyName: z.string(), direction: z.enum(['ASCENDING', 'DESCENDING']) })])).default([]),
  properties: z.array(z.string()).optional(),
  limit: z.number().int().min(1).max(200).default(10),
  after: z.union([z.string(), z.number()]).optional(),
});
const SubscriptionChange = z.object({
  emailAddress: z.string().min(3),
  subscriptionId: z.string().min(1),
  legalBasis: z.enum(['LEGITIMATE_INTEREST_PQL', 'LEGITIMATE_INTEREST_CLIENT', 'PERFORMANCE_OF_CONTRACT', 'CONSENT_WITH_NOTICE', 'NON_GDPR', 'PROCESS_AND_STORE', 'LEGITIMATE_INTEREST_OTHER']).optional(),
  legalBasisExplanation: z.string().optional(),
});

/** Properties a contact answers with when the caller names none (HubSpot's defaults). */
const DEFAULT_PROPERTIES = ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'];
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** HubSpot's error body: status, message, correlationId, category (and errors for validation). */
const error = (reply: FastifyReply, status: number, category: string, message: string, extra: Record<string, unknown> = {}) =>
  reply.code(status).send({ status: 'error', message, correlationId: randomUUID(), category, ...extra });

/** Starts the HubSpot sandbox. */
export async function startHubspotSandbox(options: HubspotSandboxOptions = {}): Promise<RunningHubspotSandbox> {
  const token = options.token ?? SANDBOX_HUBSPOT_TOKEN;
  const tenSecondly = options.tenSecondlyLimit ?? 100;
  const daily = options.dailyLimit ?? 250_000;
  const contacts = new Map<string, HubspotContact>();
  const mergedInto = new Map<string, string>();
  const gdprDeleted = new Set<string>();
  const subscriptions: RunningHubspotSandbox['subscriptions'] = new Map();
  let nextId = 1001;
  const window: number[] = [];
  let usedToday = 0;
  const { app, faults } = createSandboxApp('hubspot', { log: options.log });

  const now = () => new Date().toISOString();
  const create = (properties: Record<string, string | null>): HubspotContact => {
    const id = String(nextId++);
    const at = now();
    const contact: HubspotContact = { id, properties: { ...properties, hs_object_id: id, createdate: at, lastmodifieddate: at }, createdAt: at, updatedAt: at, archived: false };
    contacts.set(id, contact);
    return contact;
  };
  const byEmail = (email: string) => [...contacts.values()].find((c) => c.properties.email?.toLowerCase() === email.toLowerCase());
  /** A contact by id, following merges (HubSpot answers a merged id with the contact it went into). */
  const find = (id: string, idProperty?: string): HubspotContact | undefined => {
    if (idProperty === 'email') return byEmail(id);
    let current = id;
    for (let hops = 0; mergedInto.has(current) && hops < 100; hops++) current = mergedInto.get(current)!;
    return contacts.get(current);
  };
  const view = (contact: HubspotContact, wanted: readonly string[] | undefined) => {
    const names = wanted && wanted.length ? wanted : DEFAULT_PROPERTIES;
    return { ...contact, properties: Object.fromEntries(names.map((n) => [n, contact.properties[n] ?? null])) };
  };
  const wantedOf = (query: unknown) => {
    const raw = (query as { properties?: string | string[] }).properties;
    return raw === undefined ? undefined : (Array.isArray(raw) ? raw : [raw]).flatMap((p) => p.split(',')).filter(Boolean);
  };
  const invalid = (reply: FastifyReply, issues: z.core.$ZodIssue[]) =>
    error(reply, 400, 'VALIDATION_ERROR', `Invalid input JSON on line 1: ${issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const validateProperties = (reply: FastifyReply, properties: Record<string, string | null>) => {
    const email = properties.email;
    if (email !== undefined && email !== null && email !== '' && !EMAIL.test(email)) {
      error(reply, 400, 'VALIDATION_ERROR', `Property values were not valid: [{"isValid":false,"message":"Email address ${email} is invalid","error":"INVALID_EMAIL","name":"email"}]`, {
        errors: [{ message: `Email address ${email} is invalid`, code: 'INVALID_EMAIL', context: { propertyName: ['email'] } }],
      });
      return false;
    }
    return true;
  };

  // Every API call needs the private app's bearer token and counts against the portal's limits.
  app.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith('/_sandbox')) return;
    if (request.headers.authorization !== `Bearer ${token}`) {
      return error(reply, 401, 'INVALID_AUTHENTICATION', 'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview');
    }
    const at = Date.now();
    while (window.length && window[0]! <= at - 10_000) window.shift();
    const headers = {
      'x-hubspot-ratelimit-daily': String(daily),
      'x-hubspot-ratelimit-daily-remaining': String(Math.max(0, daily - usedToday - 1)),
      'x-hubspot-ratelimit-interval-milliseconds': '10000',
      'x-hubspot-ratelimit-max': String(tenSecondly),
      'x-hubspot-ratelimit-remaining': String(Math.max(0, tenSecondly - window.length - 1)),
    };
    reply.headers(headers);
    if (usedToday >= daily) {
      return reply.code(429).send({ status: 'error', message: 'You have reached your daily limit.', errorType: 'RATE_LIMIT', correlationId: randomUUID(), policyName: 'DAILY', groupName: 'syncline-sandbox' });
    }
    if (window.length >= tenSecondly) {
      reply.header('x-hubspot-ratelimit-remaining', '0');
      return reply
        .code(429)
        .send({ status: 'error', message: 'You have reached your ten_secondly_rolling limit.', errorType: 'RATE_LIMIT', correlationId: randomUUID(), policyName: 'TEN_SECONDLY_ROLLING', groupName: 'syncline-sandbox' });
    }
    window.push(at);
    usedToday++;
  });

  const base = '/crm/v3/objects/contacts';
  app.post(base, async (request, reply) => {
    const parsed = Create.safeParse(request.body);
    if (!parsed.success) return invalid(reply, parsed.error.issues);
    if (!validateProperties(reply, parsed.data.properties)) return reply;
    const email = parsed.data.properties.email;
    if (email && gdprDeleted.has(email.toLowerCase())) return error(reply, 400, 'VALIDATION_ERROR', `Email address ${email} was permanently deleted (GDPR) and is blocklisted.`);
    const existing = email ? byEmail(email) : undefined;
    if (existing) return error(reply, 409, 'CONFLICT', `Contact already exists. Existing ID: ${existing.id}`);
    return reply.code(201).send(view(create(parsed.data.properties), Object.keys(parsed.data.properties).concat(DEFAULT_PROPERTIES)));
  });

  // List, oldest id first, paged by `after` (the next id).
  app.get(base, async (request, reply) => {
    const query = request.query as { limit?: string; after?: string };
    const limit = query.limit === undefined ? 10 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return error(reply, 400, 'VALIDATION_ERROR', 'limit must be between 1 and 100');
    const after = query.after === undefined ? 0 : Number(query.after);
    const page = [...contacts.values()].filter((c) => Number(c.id) >= after).sort((a, b) => Number(a.id) - Number(b.id));
    const results = page.slice(0, limit).map((c) => view(c, wantedOf(request.query)));
    const next = page[limit];
    return { results, ...(next ? { paging: { next: { after: next.id, link: `${base}?after=${next.id}` } } } : {}) };
  });

  app.get<{ Params: { id: string } }>(`${base}/:id`, async (request, reply) => {
    const contact = find(request.params.id, (request.query as { idProperty?: string }).idProperty);
    if (!contact) return reply.code(404).send('');
    return view(contact, wantedOf(request.query));
  });

  app.patch<{ Params: { id: string } }>(`${base}/:id`, async (request, reply) => {
    const parsed = Update.safeParse(request.body);
    if (!parsed.success) return invalid(reply, parsed.error.issues);
    const contact = find(request.params.id);
    if (!contact) return error(reply, 404, 'OBJECT_NOT_FOUND', 'resource not found');
    if (!validateProperties(reply, parsed.data.properties)) return reply;
    Object.assign(contact.properties, parsed.data.properties, { lastmodifieddate: now() });
    contact.updatedAt = contact.properties.lastmodifieddate!;
    return view(contact, Object.keys(parsed.data.properties).concat(DEFAULT_PROPERTIES));
  });

  // Archive: restorable in HubSpot for 90 days; gone from the API here.
  app.delete<{ Params: { id: string } }>(`${base}/:id`, async (request, reply) => {
    const contact = find(request.params.id);
    if (contact) contacts.delete(contact.id);
    return reply.code(204).send();
  });

  app.post(`${base}/search`, async (request, reply) => {
    const parsed = Search.safeParse(request.body ?? {});
    if (!parsed.success) return invalid(reply, parsed.error.issues);
    const { filterGroups, limit, properties } = parsed.data;
    const compare = (value: string | null | undefined, operator: string, wanted: string | undefined) => {
      if (operator === 'HAS_PROPERTY') return value !== null && value !== undefined && value !== '';
      if (value === null || value === undefined || wanted === undefined) return false;
      const [a, b] = /^\d+$/.test(wanted) && /^\d+$/.test(value) ? [Number(value), Number(wanted)] : [value.toLowerCase(), wanted.toLowerCase()];
      switch (operator) {
        case 'EQ': return a === b;
        case 'NEQ': return a !== b;
        case 'GT': return a > b;
        case 'GTE': return a >= b;
        case 'LT': return a < b;
        default: return a <= b;
      }
    };
    const matches = [...contacts.values()]
      .filter((c) => filterGroups.length === 0 || filterGroups.some((g) => g.filters.every((f) => compare(c.properties[f.propertyName], f.operator, f.value))))
      .sort((a, b) => Number(a.id) - Number(b.id));
    const offset = parsed.data.after === undefined ? 0 : Number(parsed.data.after);
    const results = matches.slice(offset, offset + limit).map((c) => view(c, properties));
    const more = offset + limit < matches.length;
    return { total: matches.length, results, ...(more ? { paging: { next: { after: String(offset + limit) } } } : {}) };
  });

  // Merge: the primary keeps its id and takes the other's missing values; the merged id then
  // resolves to the primary. HubSpot cannot undo a merge.
  app.post(`${base}/merge`, async (request, reply) => {
    const parsed = Merge.safeParse(request.body);
    if (!parsed.success) return invalid(reply, parsed.error.issues);
    const primary = find(parsed.data.primaryObjectId);
    const other = find(parsed.data.objectIdToMerge);
    if (!primary || !other) return error(reply, 404, 'OBJECT_NOT_FOUND', `Object not found. objectId: ${!primary ? parsed.data.primaryObjectId : parsed.data.objectIdToMerge}`);
    if (primary.id === other.id) return error(reply, 400, 'VALIDATION_ERROR', `Cannot merge an object with itself: ${primary.id}`);
    for (const [name, value] of Object.entries(other.properties)) if ((primary.properties[name] ?? '') === '' && value) primary.properties[name] = value;
    const merged = [primary.properties.hs_merged_object_ids, other.id].filter(Boolean).join(';');
    primary.properties.hs_merged_object_ids = merged;
    primary.properties.lastmodifieddate = now();
    primary.updatedAt = primary.properties.lastmodifieddate;
    contacts.delete(other.id);
    mergedInto.set(other.id, primary.id);
    return view(primary, [...DEFAULT_PROPERTIES, 'hs_merged_object_ids']);
  });

  app.post(`${base}/gdpr-delete`, async (request, reply) => {
    const parsed = GdprDelete.safeParse(request.body);
    if (!parsed.success) return invalid(reply, parsed.error.issues);
    const contact = find(parsed.data.objectId, parsed.data.idProperty);
    if (!contact && parsed.data.idProperty !== 'email') return error(reply, 404, 'OBJECT_NOT_FOUND', 'resource not found');
    // By e-mail, an unknown address is blocklisted all the same.
    const email = contact?.properties.email ?? (parsed.data.idProperty === 'email' ? parsed.data.objectId : null);
    if (email) {
      gdprDeleted.add(email.toLowerCase());
      subscriptions.delete(email.toLowerCase());
    }
    if (contact) {
      contacts.delete(contact.id);
      gdprDeleted.add(contact.id);
      for (const [from, to] of mergedInto) if (to === contact.id) mergedInto.delete(from);
    }
    return reply.code(204).send();
  });

  const statusesOf = (email: string) => {
    const own = subscriptions.get(email.toLowerCase());
    // Only the subscription types the contact has a status for (one never opted in or out has none).
    return HUBSPOT_SUBSCRIPTIONS.flatMap((s) => {
      const state = own?.get(s.id);
      return state ? [{ id: s.id, name: s.name, description: s.description, status: state.status, sourceOfStatus: 'SUBSCRIPTION_STATUS', legalBasis: state.legalBasis, legalBasisExplanation: state.legalBasisExplanation }] : [];
    });
  };
  app.get('/communication-preferences/v3/definitions', async () => ({
    subscriptionDefinitions: HUBSPOT_SUBSCRIPTIONS.map((s) => ({ ...s, isActive: true, isDefault: false, isInternal: false, createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z' })),
  }));
  app.get<{ Params: { email: string } }>('/communication-preferences/v3/status/email/:email', async (request) => ({ recipient: request.params.email, subscriptionStatuses: statusesOf(request.params.email) }));
  const change = (to: 'SUBSCRIBED' | 'NOT_SUBSCRIBED') => async (request: FastifyRequest, reply: FastifyReply) => {
    const parsed = SubscriptionChange.safeParse(request.body);
    if (!parsed.success) return invalid(reply, parsed.error.issues);
    const { emailAddress, subscriptionId, legalBasis, legalBasisExplanation } = parsed.data;
    if (!HUBSPOT_SUBSCRIPTIONS.some((s) => s.id === subscriptionId)) return error(reply, 400, 'VALIDATION_ERROR', `Invalid subscription id ${subscriptionId}`);
    if (gdprDeleted.has(emailAddress.toLowerCase())) return error(reply, 400, 'VALIDATION_ERROR', `Email address ${emailAddress} is blocklisted.`);
    const own = subscriptions.get(emailAddress.toLowerCase()) ?? new Map();
    const current = own.get(subscriptionId);
    if (current?.status === to) {
      return error(reply, 400, 'VALIDATION_ERROR', `${emailAddress} is already ${to === 'SUBSCRIBED' ? 'subscribed to' : 'unsubscribed from'} subscription ${subscriptionId}`);
    }
    // v3 never re-subscribes a contact who opted out (HubSpot's v4 API does).
    if (to === 'SUBSCRIBED' && current?.status === 'NOT_SUBSCRIBED') return error(reply, 400, 'VALIDATION_ERROR', `${emailAddress} has opted out of subscription ${subscriptionId} and cannot be resubscribed`);
    own.set(subscriptionId, { status: to, legalBasis: legalBasis ?? null, legalBasisExplanation: legalBasisExplanation ?? null });
    subscriptions.set(emailAddress.toLowerCase(), own);
    return statusesOf(emailAddress).find((s) => s.id === subscriptionId)!;
  };
  app.post('/communication-preferences/v3/subscribe', change('SUBSCRIBED'));
  app.post('/communication-preferences/v3/unsubscribe', change('NOT_SUBSCRIBED'));

  const running = await listenSandbox('hubspot', app, faults, options);
  return {
    ...running,
    contacts,
    mergedInto,
    gdprDeleted,
    subscriptions,
    seedContact: (properties) => create(properties),
  };
}

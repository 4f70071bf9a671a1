/** HubSpot's wire names shared by the client and the connection settings (sources in README.md). */

/** The contact properties Syncline reads (HubSpot's internal property names; `erp_account` is a custom property). */
export const HUBSPOT_CONTACT_PROPERTIES = ['email', 'firstname', 'lastname', 'phone', 'mobilephone', 'address', 'city', 'state', 'zip', 'country', 'lifecyclestage', 'hs_preferred_channel', 'erp_account', 'lastmodifieddate'] as const;

/** Which HubSpot subscription types stand for each consent purpose and channel. */
export type SubscriptionMap = Record<string, Record<string, string>>;

export interface HubspotSettings {
  /** API host (default: https://api.hubapi.com; the sandbox's URL in tests). */
  url: string;
  /** A private app's access token (scopes crm.objects.contacts.read/write, communication_preferences.read_write). */
  accessToken: string;
  /**
   * Consent purpose → channel → HubSpot subscription type id (default: the sandbox portal's:
   * email_marketing/email 101, sms_marketing/sms 102, profiling/email 103).
   */
  subscriptions?: SubscriptionMap;
  /** Per-request timeout (default: 10000 ms). */
  timeoutMs?: number;
}

export const DEFAULT_SUBSCRIPTIONS: SubscriptionMap = { email_marketing: { email: '101' }, sms_marketing: { sms: '102' }, profiling: { email: '103' } };

/** The subscription type ids a consent applies to: the channel's, or every channel's when it names none. */
export function subscriptionIdsFor(map: SubscriptionMap | undefined, purpose: string, channel: string | null): string[] {
  const byChannel = (map ?? DEFAULT_SUBSCRIPTIONS)[purpose] ?? {};
  return channel === null ? Object.values(byChannel) : byChannel[channel] ? [byChannel[channel]] : [];
}

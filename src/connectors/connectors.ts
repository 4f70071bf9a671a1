import type { CrmConnector, ErpConnector, ErpSetupProblem, FraudConnector, LoyaltyConnector, PaymentConnector, WmsConnector } from './kit/contracts.ts';
import { createTrytonClient, type TrytonClientOptions } from './tryton/outbound/tryton.client.ts';
import { createWmsClient } from './wms/outbound/wms.client.ts';
import { createPaymentClient } from './payment/outbound/payment.client.ts';
import { createFraudClient } from './fraud/outbound/fraud.client.ts';
import { createLoyaltyClient } from './loyalty/outbound/loyalty.client.ts';
import { createHubspotClient } from './hubspot/outbound/hubspot.client.ts';
import type { HubspotSettings } from './hubspot/hubspot-wire.ts';
import { createBusinessCentralClient } from './business-central/outbound/business-central.client.ts';
import { BUSINESS_CENTRAL, type BusinessCentralErpSettings } from './business-central/business-central.connector.ts';

/** Where each external system is, and its credentials: real systems or the sandboxes. */
/** Tryton's settings (SYNCLINE_ERP_*, a `tryton` connection, the sandbox). */
export type TrytonErpSettings = Omit<TrytonClientOptions, 'timeoutMs'> & { timeoutMs?: number };

export interface ConnectorSettings {
  /** The ERP: Tryton, or Business Central when a `business-central` connection is the ERP. */
  erp: TrytonErpSettings | BusinessCentralErpSettings;
  wms: { url: string; webhookSecret: string; apiKey?: string; timeoutMs?: number };
  payment: { url: string; apiKey: string; timeoutMs?: number };
  fraud: { url: string; timeoutMs?: number };
  loyalty: { url: string; timeoutMs?: number };
  crm: HubspotSettings;
}

export interface Connectors {
  erp: ErpConnector;
  wms: WmsConnector;
  payment: PaymentConnector;
  fraud: FraudConnector;
  loyalty: LoyaltyConnector;
  crm: CrmConnector;
  /** The secret inbound WMS webhooks are verified with. */
  wmsWebhookSecret: string;
}

/** Where the configured ERP answers, for messages (never with credentials). */
export function erpAddress(settings: ConnectorSettings['erp']): string {
  return 'connector' in settings && settings.connector === BUSINESS_CENTRAL ? (settings.baseUrl ?? 'https://api.businesscentral.dynamics.com') : (settings as TrytonErpSettings).url;
}

/** The ERP client of the configured connector. */
export function createErpClient(settings: ConnectorSettings['erp']): ErpConnector {
  return 'connector' in settings && settings.connector === BUSINESS_CENTRAL ? createBusinessCentralClient(settings) : createTrytonClient(settings as TrytonErpSettings);
}

/** The outbound clients for the configured systems. */
export function createConnectors(settings: ConnectorSettings): Connectors {
  return {
    erp: createErpClient(settings.erp),
    wms: createWmsClient(settings.wms),
    payment: createPaymentClient(settings.payment),
    fraud: createFraudClient(settings.fraud),
    loyalty: createLoyaltyClient(settings.loyalty),
    crm: createHubspotClient(settings.crm),
    wmsWebhookSecret: settings.wms.webhookSecret,
  };
}

/**
 * Configuration problems of the ERP (a charge product, the payment term or the warehouse the
 * settings name and the ERP lacks): start-up logs them, `config check` can report them. A problem
 * here would otherwise fail every order at posting.
 */
export async function checkErpSetup(settings: ConnectorSettings['erp']): Promise<ErpSetupProblem[]> {
  const erp: ErpConnector = createErpClient(settings);
  return (await erp.checkSetup?.()) ?? [];
}

/**
 * A setup problem in the words `config check` and start-up use: the option it is about (relative
 * to the connection's options in syncline.yaml) and what is wrong, e.g.
 * `charges.shipping: ERP product "SHIP" not found`.
 */
export function erpSetupProblemText(problem: ErpSetupProblem): { option: string | undefined; message: string } {
  const d = problem.details ?? {};
  switch (problem.code) {
    case 'erp.charge_product_missing':
      return { option: `charges.${String(d.charge)}`, message: `ERP product "${String(d.productCode)}" not found` };
    case 'erp.payment_term_missing':
      return { option: 'paymentTerm', message: `ERP payment term ${String(d.paymentTermId)} not found` };
    case 'erp.warehouse_missing':
      return { option: 'warehouse', message: `ERP location ${String(d.warehouseId)} is not a warehouse` };
    default:
      return { option: undefined, message: problem.message };
  }
}

/** Where the ERP's settings come from, as a problem's prefix: `connections[1].options` or the SYNCLINE_ERP_* variables. */
export function erpSettingsPrefix(connections: readonly { kind: string }[]): string {
  const index = connections.findIndex((c) => c.kind === 'erp');
  return index >= 0 ? `connections[${index}].options` : 'SYNCLINE_ERP_*';
}

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { ProductSeed } from './tryton/sandbox/tryton-data.ts';
import { startTrytonSandbox, type RunningTrytonSandbox } from './tryton/sandbox/tryton.sandbox.ts';
import { startWmsSandbox, type RunningWmsSandbox } from './wms/sandbox/wms.sandbox.ts';
import { startPaymentSandbox, type RunningPaymentSandbox } from './payment/sandbox/payment.sandbox.ts';
import { startFraudSandbox, type RunningFraudSandbox } from './fraud/sandbox/fraud.sandbox.ts';
import { startLoyaltySandbox, type RunningLoyaltySandbox } from './loyalty/sandbox/loyalty.sandbox.ts';
import { SANDBOX_HUBSPOT_TOKEN, startHubspotSandbox, type RunningHubspotSandbox } from './hubspot/sandbox/hubspot.sandbox.ts';
import type { ConnectorSettings, TrytonErpSettings } from './connectors.ts';

/** The system sandboxes (the CRM is HubSpot's). */
export const SANDBOX_NAMES = ['erp', 'wms', 'payment', 'fraud', 'loyalty', 'crm'] as const;
export type SandboxName = (typeof SANDBOX_NAMES)[number];

/** Each sandbox's port after basePort: the CRM comes after the storefront sandboxes (+ 5, + 6), which were there first. */
export const SANDBOX_PORT_OFFSETS: Record<SandboxName, number> = { erp: 0, wms: 1, payment: 2, fraud: 3, loyalty: 4, crm: 7 };

export interface StartSandboxesOptions {
  /** (default: 127.0.0.1) */
  host?: string;
  /** erp on basePort, wms on basePort + 1, payment + 2, fraud + 3, loyalty + 4, crm + 7 (default and 0: free ports). */
  basePort?: number;
  /** Explicit ports; they win over basePort. */
  ports?: Partial<Record<SandboxName, number>>;
  /** Where the WMS sends its signed shipment webhooks (default: none until set through its admin API). */
  callbackUrl?: string;
  /** HMAC secret of the WMS webhooks (default: a random one, in the returned settings). */
  webhookSecret?: string;
  /** Products (with stock) loaded into the ERP sandbox. */
  products?: ProductSeed[];
  /** The WMS ships each new request in full after this delay (default: off: an operator ships). */
  autoShipDelayMs?: number | null;
  /** Log every request of every sandbox (default: false). */
  log?: boolean;
}

export interface RunningSandboxes {
  urls: Record<SandboxName, string>;
  erp: RunningTrytonSandbox;
  wms: RunningWmsSandbox;
  payment: RunningPaymentSandbox;
  fraud: RunningFraudSandbox;
  loyalty: RunningLoyaltySandbox;
  crm: RunningHubspotSandbox;
  /** Settings that point Syncline's connectors at these sandboxes. */
  settings: SandboxSettings;
  close(): Promise<void>;
}

/** The sandboxes' settings: the ERP sandbox is Tryton's. */
export type SandboxSettings = ConnectorSettings & { erp: TrytonErpSettings };

/** ERP sandbox credentials (the sandbox accepts only these). */
export const SANDBOX_ERP = { database: 'syncline', login: 'admin', password: 'admin' } as const;
/** API key the payment sandbox accepts (any key with the sk_test_ prefix works). */
export const SANDBOX_PAYMENT_KEY = 'sk_test_syncline_sandbox';

/** A fresh random secret for the WMS sandbox's webhooks; the sandbox and Syncline share it. */
export function newWmsWebhookSecret(): string {
  return randomBytes(24).toString('base64url');
}

/** One sandbox started, with the settings that point a connector at it. */
interface StartedSandbox<K extends SandboxName> {
  sandbox: RunningSandboxes[K];
  settings: SandboxSettings[K];
}

/** Starts one system's sandbox on the given port (0: a free one). */
async function startSandbox<K extends SandboxName>(
  name: K,
  port: number,
  options: StartSandboxesOptions & { webhookSecret: string },
): Promise<StartedSandbox<K>> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? false;
  const started = await (async (): Promise<StartedSandbox<SandboxName>> => {
    switch (name) {
      case 'erp': {
        const erp = await startTrytonSandbox({ host, log, port, ...SANDBOX_ERP, ...(options.products ? { products: options.products } : {}) });
        return { sandbox: erp, settings: { url: erp.url, ...SANDBOX_ERP } };
      }
      case 'wms': {
        const wms = await startWmsSandbox({
          host,
          log,
          port,
          webhookSecret: options.webhookSecret,
          ...(options.callbackUrl ? { callbackUrl: options.callbackUrl } : {}),
          autoShipDelayMs: options.autoShipDelayMs ?? null,
        });
        return { sandbox: wms, settings: { url: wms.url, webhookSecret: options.webhookSecret } };
      }
      case 'payment': {
        const payment = await startPaymentSandbox({ host, log, port });
        return { sandbox: payment, settings: { url: payment.url, apiKey: SANDBOX_PAYMENT_KEY } };
      }
      case 'fraud': {
        const fraud = await startFraudSandbox({ host, log, port });
        return { sandbox: fraud, settings: { url: fraud.url } };
      }
      case 'loyalty': {
        const loyalty = await startLoyaltySandbox({ host, log, port });
        return { sandbox: loyalty, settings: { url: loyalty.url } };
      }
      default: {
        const crm = await startHubspotSandbox({ host, log, port });
        return { sandbox: crm, settings: { url: crm.url, accessToken: SANDBOX_HUBSPOT_TOKEN } };
      }
    }
  })();
  return started as StartedSandbox<K>;
}

/** The sandboxes of some systems, started together. */
export interface SomeSandboxes {
  /** Each started system's sandbox. */
  sandboxes: Partial<{ [K in SandboxName]: RunningSandboxes[K] }>;
  /** Settings that point the connectors of those systems at their sandboxes. */
  settings: Partial<SandboxSettings>;
  close(): Promise<void>;
}

/** Starts the sandboxes of the named systems (all or none: a failure closes those started). */
export async function startSomeSandboxes(names: readonly SandboxName[], options: StartSandboxesOptions = {}): Promise<SomeSandboxes> {
  const port = (name: SandboxName) => options.ports?.[name] ?? (options.basePort ? options.basePort + SANDBOX_PORT_OFFSETS[name] : 0);
  // Never the published default: a delivery signed with a secret anyone can read is not proof.
  const webhookSecret = options.webhookSecret ?? newWmsWebhookSecret();
  const sandboxes: SomeSandboxes['sandboxes'] = {};
  const settings: Record<string, unknown> = {};
  const close = async () => {
    await Promise.allSettled(Object.values(sandboxes).map((s) => s.close()));
  };
  try {
    for (const name of names) {
      const started = await startSandbox(name, port(name), { ...options, webhookSecret });
      Object.assign(sandboxes, { [name]: started.sandbox });
      settings[name] = started.settings;
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { sandboxes, settings: settings as Partial<SandboxSettings>, close };
}

/** Starts the ERP, WMS, payment, fraud, loyalty and CRM sandboxes, each on its own port. */
export async function startSandboxes(options: StartSandboxesOptions = {}): Promise<RunningSandboxes> {
  const some = await startSomeSandboxes(SANDBOX_NAMES, options);
  const { erp, wms, payment, fraud, loyalty, crm } = some.sandboxes as Required<SomeSandboxes['sandboxes']>;
  return {
    urls: { erp: erp.url, wms: wms.url, payment: payment.url, fraud: fraud.url, loyalty: loyalty.url, crm: crm.url },
    erp,
    wms,
    payment,
    fraud,
    loyalty,
    crm,
    settings: some.settings as SandboxSettings,
    close: some.close,
  };
}

/** Products the standalone sandboxes start with, so an operator can rehearse at once. */
export const DEMO_PRODUCTS: ProductSeed[] = [
  { code: 'SKU-RED', name: 'Red mug', listPrice: '12.50', quantity: 100 },
  { code: 'SKU-BLUE', name: 'Blue mug', listPrice: '12.50', quantity: 100 },
  { code: 'SKU-TEE-M', name: 'T-shirt M', listPrice: '25.00', quantity: 50 },
];

export const SANDBOXES_USAGE = `  sandboxes [--host <host>] [--base-port <port>] [--callback-url <url>] [--auto-ship-ms <ms>] [--products <file.json>] [--log]
                                 run the ERP, WMS, payment, fraud, loyalty and CRM sandboxes (ports base..base+4 and base+7, default 7100)`;

/** `syncline sandboxes`: runs the sandboxes until SIGINT/SIGTERM; prints their URLs and the matching env. */
export async function runSandboxesCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string' },
      'base-port': { type: 'string' },
      'callback-url': { type: 'string' },
      'auto-ship-ms': { type: 'string' },
      products: { type: 'string' },
      log: { type: 'boolean' },
    },
    strict: true,
  });
  const basePort = Number(values['base-port'] ?? 7100);
  if (!Number.isInteger(basePort) || basePort < 0 || basePort > 65530) throw new RangeError('--base-port must be a port number (0-65530)');
  const autoShip = values['auto-ship-ms'] === undefined ? null : Number(values['auto-ship-ms']);
  if (autoShip !== null && (!Number.isInteger(autoShip) || autoShip < 0)) throw new RangeError('--auto-ship-ms must be a whole number of milliseconds');
  const products = values.products ? (JSON.parse(await readFile(values.products, 'utf8')) as ProductSeed[]) : DEMO_PRODUCTS;
  const running = await startSandboxes({
    host: values.host ?? '127.0.0.1',
    basePort,
    products,
    autoShipDelayMs: autoShip,
    log: values.log ?? false,
    ...(values['callback-url'] ? { callbackUrl: values['callback-url'] } : {}),
  });
  const s = running.settings;
  console.log(JSON.stringify({ sandboxes: running.urls }, null, 2));
  console.log(
    [
      '# point Syncline at these sandboxes:',
      `SYNCLINE_ERP_URL=${s.erp.url} SYNCLINE_ERP_DATABASE=${s.erp.database} SYNCLINE_ERP_LOGIN=${s.erp.login} SYNCLINE_ERP_PASSWORD=${s.erp.password}`,
      `SYNCLINE_WMS_URL=${s.wms.url} SYNCLINE_WMS_WEBHOOK_SECRET=${s.wms.webhookSecret}`,
      `SYNCLINE_PAYMENT_URL=${s.payment.url} SYNCLINE_PAYMENT_API_KEY=${s.payment.apiKey}`,
      `SYNCLINE_FRAUD_URL=${s.fraud.url} SYNCLINE_LOYALTY_URL=${s.loyalty.url}`,
      `SYNCLINE_CRM_URL=${s.crm.url} SYNCLINE_CRM_TOKEN=${s.crm.accessToken}`,
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await running.close();
  return 0;
}

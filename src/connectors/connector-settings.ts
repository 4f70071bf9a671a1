import { randomBytes } from 'node:crypto';
import type { Config } from '../config/config.ts';
import type { ConnectorSettings } from './connectors.ts';
import { SANDBOX_ERP, SANDBOX_NAMES, SANDBOX_PAYMENT_KEY, SANDBOX_PORT_OFFSETS, type SandboxName } from './sandboxes.ts';
import { SANDBOX_HUBSPOT_TOKEN } from './hubspot/sandbox/hubspot.sandbox.ts';

/** Where `syncline sandboxes` listens by default: erp 7100, wms 7101, payment 7102, fraud 7103, loyalty 7104, crm 7107. */
export const DEFAULT_SANDBOX_BASE = 'http://127.0.0.1:7100';

// A WMS nobody configured has no secret anyone knows: its webhooks are refused.
const UNKNOWN_WMS_SECRET = randomBytes(32).toString('base64url');

/** The external systems left unset in configuration: each is served by its sandbox. */
export function unconfiguredSystems(config: Config): SandboxName[] {
  return SANDBOX_NAMES.filter((name) => config.systems[name] === undefined);
}

/**
 * Connector settings from configuration: each system set through SYNCLINE_* variables
 * (or filled in by the sandboxes `syncline start` runs), and the sandboxes of
 * `syncline sandboxes` (default ports) for every system left unset.
 */
export function connectorSettingsFromConfig(config: Config): ConnectorSettings {
  const sandbox = (offset: number) => {
    const url = new URL(DEFAULT_SANDBOX_BASE);
    url.port = String(Number(url.port) + offset);
    return url.toString().replace(/\/$/, '');
  };
  const s = config.systems;
  return {
    erp: s.erp ?? { url: sandbox(0), ...SANDBOX_ERP },
    wms: s.wms ?? { url: sandbox(1), webhookSecret: UNKNOWN_WMS_SECRET },
    payment: s.payment ?? { url: sandbox(2), apiKey: SANDBOX_PAYMENT_KEY },
    fraud: s.fraud ?? { url: sandbox(3) },
    loyalty: s.loyalty ?? { url: sandbox(4) },
    crm: s.crm ?? { url: sandbox(SANDBOX_PORT_OFFSETS.crm), accessToken: SANDBOX_HUBSPOT_TOKEN },
  };
}

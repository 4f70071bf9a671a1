import { after, before, describe, test } from 'node:test';
import { createConnectors } from '../src/connectors/connectors.ts';
import { FAULT_CONTRACT, type FaultTarget } from '../src/connectors/kit/fault-contract.ts';
import { startSandboxes, type RunningSandboxes } from '../src/connectors/sandboxes.ts';

// One shared contract, run against every sandbox through its own outbound client.
let running: RunningSandboxes;
const targets: Record<string, FaultTarget> = {};

before(async () => {
  running = await startSandboxes({ products: [{ code: 'SKU-RED', listPrice: '1.00', quantity: 5 }] });
  const c = createConnectors(running.settings);
  targets.erp = { system: 'erp', url: running.urls.erp, call: () => c.erp.stockLevels(['SKU-RED']) };
  targets.wms = { system: 'wms', url: running.urls.wms, call: () => c.wms.findFulfilments('ord_fault') };
  targets.payment = { system: 'payment', url: running.urls.payment, call: () => c.payment.getPayment('pi_fault') };
  targets.fraud = {
    system: 'fraud',
    url: running.urls.fraud,
    call: () => c.fraud.screen({ orderId: 'ord_fault', email: 'f@example.com', amount: '1.00', currency: 'USD', shippingCountry: 'US', lineCount: 1 }),
  };
  targets.loyalty = { system: 'loyalty', url: running.urls.loyalty, call: () => c.loyalty.balance('f@example.com') };
});
after(async () => running?.close());

// The five systems are independent, so their suites run at the same time.
describe('fault controls contract', { concurrency: true }, () => {
  for (const system of ['erp', 'wms', 'payment', 'fraud', 'loyalty']) {
    describe(system, { concurrency: 1 }, () => {
      for (const [behaviour, check] of Object.entries(FAULT_CONTRACT)) {
        test(behaviour, () => check(targets[system]!));
      }
    });
  }
});

import { randomUUID } from 'node:crypto';
import { SynclineError } from '../../domain/errors.ts';
import type { Config } from '../../config/config.ts';
import type { AccountSources, ErpAccountRef } from '../../domain/customers/customer-account.service.ts';
import type { LoyaltyConnector } from '../../connectors/kit/contracts.ts';
import type { ErpAccountView, ErpPartData, LoyaltyPartData } from '../../model/customer-account.ts';
import type { TargetCaller } from '../../runtime/runtime.ts';
import { createTargetCaller } from '../../runtime/targets/target-caller.ts';
import { resolveTargetPolicy } from '../../runtime/targets/target-policy.ts';
import type { Database } from '../../store/database.ts';
import { erpTargetPolicy, SINGLE_ERP_TARGET, type ErpEndpoint, type ErpRouter } from '../erp-routing/erp-router.ts';
import { DEFAULT_TARGET_POLICIES, flowTargetPolicy } from '../flows.ts';
import { TARGETS } from '../flow-deps.ts';
import type { z } from 'zod';

/**
 * The account view's remote parts over the connectors. Every request goes through the system's
 * runtime target, as the flows' do: the ERP's quota and breaker (the order's ERP connection's
 * own target when several ERPs are routed between) and the loyalty target. A target that would
 * make the view wait for a grant answers throttled at once (its first call never waits more than
 * 100 ms), and the view serves its cached copy or marks the part unavailable.
 */

export interface AccountSourcesOptions {
  db: Database;
  config: Config;
  loyalty: LoyaltyConnector;
  erps: ErpRouter;
}

export function accountSources({ db, config, loyalty, erps }: AccountSourcesOptions): AccountSources {
  const caller = (target: string, policy: ReturnType<typeof resolveTargetPolicy>, signal: AbortSignal): TargetCaller =>
    createTargetCaller(db, target, policy, `api:account:${randomUUID()}`, signal);
  const loyaltyPolicy = resolveTargetPolicy(flowTargetPolicy(config, TARGETS.loyalty));
  const erpPolicy = (endpoint: ErpEndpoint) =>
    resolveTargetPolicy(endpoint.target === SINGLE_ERP_TARGET ? flowTargetPolicy(config, TARGETS.erp) : erpTargetPolicy(config, endpoint.id, DEFAULT_TARGET_POLICIES[TARGETS.erp]!));

  // The account a sale was posted to never changes: it is asked once per order.
  const saleAccounts = new Map<string, string>();
  const saleAccount = async (endpoint: ErpEndpoint, orderId: string, context: { signal: AbortSignal; target: TargetCaller }) => {
    const key = `${endpoint.id}/${orderId}`;
    let found = saleAccounts.get(key);
    if (found === undefined) {
      found = endpoint.client.saleAccount ? await endpoint.client.saleAccount(orderId, context) : (await endpoint.client.saleDetail?.(orderId, context))?.customer?.erpId;
      if (found !== undefined) {
        if (saleAccounts.size >= 10_000) saleAccounts.delete(saleAccounts.keys().next().value!);
        saleAccounts.set(key, found);
      }
    }
    return found;
  };

  return {
    async loyalty(keys, signal): Promise<LoyaltyPartData> {
      if (!loyalty.member) throw new SynclineError('loyalty.member_read_unsupported', 'the loyalty connector cannot read members', { retry: 'permanent' });
      const target = caller(TARGETS.loyalty, loyaltyPolicy, signal);
      const found = await Promise.all(keys.map((key) => loyalty.member!(key, { signal, target })));
      return { members: found.filter((m) => m !== undefined).map((m) => ({ memberId: m.id, email: m.email, balance: m.balance, tier: m.tier })) };
    },

    async erp(accounts: readonly ErpAccountRef[], latestOrder, signal): Promise<ErpPartData> {
      const read = async (connection: string | null, account: string | undefined, orderId?: string): Promise<z.infer<typeof ErpAccountView> | undefined> => {
        const endpoint = erps.endpoint(connection ?? erps.routing.default);
        const context = { signal, target: caller(endpoint.target, erpPolicy(endpoint), signal) };
        if (!endpoint.client.customerAccount) throw new SynclineError('erp.account_read_unsupported', `the ${endpoint.connector} connector cannot read customer accounts`, { retry: 'permanent' });
        // No ERP record: the account the customer's latest order was posted to, as the ERP's sale names it.
        const id = account ?? (orderId ? await saleAccount(endpoint, orderId, context) : undefined);
        if (!id) return undefined;
        const found = await endpoint.client.customerAccount(id, context);
        return found && { connection: endpoint.id, ...found };
      };
      const views = accounts.length
        ? await Promise.all(accounts.map((a) => read(a.connection, a.account)))
        : latestOrder
          ? [await read(latestOrder.erp, undefined, latestOrder.orderId)]
          : [];
      return { accounts: views.filter((v) => v !== undefined) };
    },
  };
}

import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import type { Database } from '../store/database.ts';
import type { OrderIntakeService } from '../domain/orders/order-intake.service.ts';
import type { InventoryService } from '../domain/inventory/inventory.service.ts';
import type { TokenService } from './auth/tokens.ts';
import type { AccessRegistry } from './auth/access-registry.ts';
import type { SharedWindowCounter } from './rate-limit.ts';

/** What every route module receives: the services it may call. */
export interface ApiContext {
  config: Config;
  db: Database;
  logger: Logger;
  tokens: TokenService;
  intake: OrderIntakeService;
  inventory: InventoryService;
  /** Clients, revocations and signing keys held in memory; refresh() after a change. */
  access: AccessRegistry;
  /** Request counts shared by the API processes (rate limits, failed authentications). */
  counters: SharedWindowCounter;
}

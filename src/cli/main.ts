import { ConfigError, loadConfig } from '../config/config.ts';
import { createLogger } from '../observability/logger.ts';
import { openDatabase, startSyncline } from '../syncline.ts';
import { SCOPES } from '../domain/clients/scopes.ts';
import { runSandboxesCommand, SANDBOXES_USAGE } from '../connectors/sandboxes.ts';
import { INVENTORY_USAGE, runInventoryCommand } from './inventory.ts';
import { DLQ_USAGE, runDlqCommand } from './dlq.ts';
import { CLIENTS_USAGE, runClientsCommand, runKeysCommand } from './clients.ts';
import { DataFolderInUseError } from '../store/data-folder-lock.ts';
import { inUseMessage } from './data-folder-in-use.ts';
import { REHEARSE_USAGE, runRehearseCommand } from './rehearse.ts';
import { CONFIG_USAGE, runConfigCommand } from './config-check.ts';
import { CONSOLE_USERS_USAGE, runConsoleUsersCommand } from './console-users.ts';
import { PRODUCTS_USAGE, runProductsCommand } from './products.ts';
import { CUSTOMERS_USAGE, runCustomersCommand } from './customers.ts';
import { CustomerKeyError } from '../store/customers/customer-crypto.ts';

/** After SIGTERM, the process ends at the latest this long after the grace period. */
const SHUTDOWN_BACKSTOP_MS = 5000;

const USAGE = `Usage: syncline <command>

Commands:
  start                          run the API and the workers (default)
  api                            run the API only
  worker                         run the workers only (any number of processes share one PostgreSQL)
  migrate                        apply database migrations and exit
${CLIENTS_USAGE}
${INVENTORY_USAGE}
${SANDBOXES_USAGE}
${DLQ_USAGE}
${REHEARSE_USAGE}
${CONFIG_USAGE}
${CONSOLE_USERS_USAGE}
${PRODUCTS_USAGE}
${CUSTOMERS_USAGE}

Scopes: ${SCOPES.join(', ')}
Configuration comes from environment variables (see README.md) and syncline.yaml (docs/connections.md).`;

/** Thrown for wrong command-line use; printed without a stack trace. */
class UsageError extends Error {}

async function run(argv: string[]): Promise<number> {
  const [command = 'start', ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return 0;
  }
  // Checks the file itself: runs before the configuration is loaded (which would refuse a bad file).
  if (command === 'config') return runConfigCommand(rest);
  const config = loadConfig();
  const logger = createLogger(config.logLevel);

  switch (command) {
    case 'start':
    case 'api':
    case 'worker': {
      // Only `start` (API and workers together) runs the sandboxes of unconfigured systems.
      const roles = { api: command !== 'worker', workers: command !== 'api', sandboxes: command === 'start' };
      const started = startSyncline(config, logger, roles);
      // SIGTERM: stop accepting requests and claiming jobs, let running jobs finish within
      // SYNCLINE_SHUTDOWN_GRACE_MS, then exit. A second signal exits at once. The handlers are
      // in place before start-up, so a signal that comes as soon as the worker is ready (or
      // while it is starting) still stops it gracefully instead of killing it mid-claim.
      const stop = async (signal: string) => {
        logger.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down');
        process.once(signal, () => process.exit(1));
        // The backstop: whatever still runs after the grace period and the stages' margins,
        // the process ends (close() bounds each stage; this bounds what nobody foresaw).
        setTimeout(() => {
          logger.error({ signal, graceMs: config.shutdownGraceMs }, 'shutdown did not finish in time; exiting');
          process.exit(1);
        }, config.shutdownGraceMs + SHUTDOWN_BACKSTOP_MS).unref();
        const running = await started;
        await running.close();
        logger.info({ signal }, 'stopped');
        process.exit(0);
      };
      const onSignal = (signal: string) => void stop(signal).catch(() => process.exit(1));
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      const running = await started;
      if (running.url) logger.info({ url: running.url, database: running.db.kind, sandboxes: running.sandboxes }, 'syncline is listening');
      return new Promise<number>(() => {});
    }
    case 'migrate': {
      const db = await openDatabase(config, logger);
      await db.close();
      return 0;
    }
    case 'clients':
      return runClientsCommand(rest, config);
    case 'keys':
      return runKeysCommand(rest, config);
    case 'sandboxes':
      return runSandboxesCommand(rest);
    case 'inventory':
      return runInventoryCommand(rest, config);
    case 'dlq':
      return runDlqCommand(rest, config);
    case 'products':
      return runProductsCommand(rest, config);
    case 'customers':
      return runCustomersCommand(rest, config);
    case 'rehearse':
      return runRehearseCommand(rest, config);
    case 'customers':
      return runCustomersCommand(rest, config);
    case 'console-users':
      return runConsoleUsersCommand(rest, config);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof DataFolderInUseError) {
      console.error(`syncline: ${inUseMessage(error, process.argv[2] ?? 'start')}`);
      process.exit(2);
    }
    if (error instanceof CustomerKeyError) {
      console.error(`syncline: customer keys: ${error.message}`);
      process.exit(2);
    }
    if (error instanceof ConfigError || error instanceof UsageError) {
      console.error(`syncline: ${error.message}`);
      if (error instanceof UsageError) console.error(`\n${USAGE}`);
      process.exit(2);
    }
    if (error instanceof Error && error.name === 'TypeError' && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      console.error(`syncline: ${error.message}`);
      process.exit(2);
    }
    console.error('syncline: failed to start:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);

import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import type { Database } from '../store/database.ts';
import type { RuntimeRegistry } from './registry.ts';

/** What a handler module receives when it registers its handlers, targets and subscriptions. */
export interface HandlerModuleContext {
  db: Database;
  config: Config;
  logger: Logger;
}

/** A module named in SYNCLINE_HANDLER_MODULES exports `register`. */
export interface HandlerModule {
  register(registry: RuntimeRegistry, context: HandlerModuleContext): void | Promise<void>;
}

/** Thrown when a handler module cannot be loaded; the message names the module. */
export class HandlerModuleError extends Error {
  override name = 'HandlerModuleError';
}

/** Imports each module and lets it register into the registry. */
export async function loadHandlerModules(paths: readonly string[], registry: RuntimeRegistry, context: HandlerModuleContext): Promise<void> {
  for (const path of paths) {
    let module: Partial<HandlerModule>;
    try {
      module = (await import(pathToFileURL(path).href)) as Partial<HandlerModule>;
    } catch (error) {
      throw new HandlerModuleError(`handler module ${path} could not be loaded: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (typeof module.register !== 'function') throw new HandlerModuleError(`handler module ${path} does not export a register(registry, context) function`);
    await module.register(registry, context);
  }
}

import { dirname } from 'node:path';
import type { DataFolderInUseError } from '../store/data-folder-lock.ts';

/** What to use instead of a command while a server holds the data folder: its API routes. */
const API_INSTEAD: Record<string, string> = {
  dlq: '/v1/ops/dead-letters (scopes ops:read, ops:write)',
  inventory: '/v1/inventory (scopes inventory:read, inventory:write)',
  clients: '/v1/admin/clients (scope admin)',
};

/** The refusal printed when a command finds its embedded data folder held by another process. */
export function inUseMessage(error: DataFolderInUseError, command: string): string {
  // The lock guards <data folder>/pgdata; the operator knows the data folder.
  const folder = dirname(error.folder);
  const who = error.holder.pid ? ` (pid ${error.holder.pid})` : '';
  const at = error.holder.url ? ` at ${error.holder.url}` : '';
  const head = `the data folder ${folder} is in use by Syncline${who}${at}; embedded PGlite allows one process per data folder, and nothing was written.`;
  const route = API_INSTEAD[command];
  const instead = route
    ? ` Stop it first, or use its API instead: ${error.holder.url ? `${error.holder.url}${route}` : `${route} on the running server`}.`
    : ' Stop it first (SIGTERM), or use another SYNCLINE_DATA_DIR, or PostgreSQL (DATABASE_URL) for several processes.';
  const stale = error.holder.pid ? ` If no such process runs, delete ${error.folder}.lock.` : '';
  return head + instead + stale;
}

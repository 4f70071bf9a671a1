import { connectorRegistry, maskSecrets, SYSTEM_KINDS } from '../connectors/registry/connector-registry.ts';
import { checkConnectionsFile, connectionsFilePath } from '../config/connections-file.ts';

export const CONFIG_USAGE = `  config check [file]            check a connections file (default: SYNCLINE_CONFIG, else ./syncline.yaml):
                                 every problem with its path, exit code 1 when there is one`;

/**
 * `syncline config check [file]`: the same check start-up runs, without starting. Prints each
 * problem as `connections[2].options.shopDomain: required`, or the connections found
 * (secrets masked). Exit code 0: valid; 1: problems; 2: wrong use.
 */
export function runConfigCommand(args: string[], env: NodeJS.ProcessEnv = process.env, out = console): number {
  const [sub, file, ...extra] = args;
  if (sub !== 'check' || extra.length > 0) {
    out.error(`syncline: usage:\n${CONFIG_USAGE}`);
    return 2;
  }
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const path = file ?? connectionsFilePath(present);
  if (!path) {
    out.log('no connections file (SYNCLINE_CONFIG is unset and there is no ./syncline.yaml): the systems come from SYNCLINE_*_URL or the sandboxes');
    return 0;
  }
  const fromEnvironment = SYSTEM_KINDS.filter((kind) => present[`SYNCLINE_${kind.toUpperCase()}_URL`] !== undefined);
  const { problems, connections, erpRouting } = checkConnectionsFile(path, connectorRegistry(), present, fromEnvironment);
  if (problems.length > 0) {
    out.error(`${path}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
    for (const problem of problems) out.error(`  ${problem}`);
    return 1;
  }
  out.log(`${path}: valid, ${connections.length} connection${connections.length === 1 ? '' : 's'}`);
  for (const c of connections) out.log(`  ${c.id} (${c.connector}) ${JSON.stringify(maskSecrets(c.options, c.secretOptions))}`);
  if (erpRouting) {
    out.log(`ERP routing: ${erpRouting.rules.length} rule${erpRouting.rules.length === 1 ? '' : 's'}, default ${erpRouting.default}`);
    for (const rule of erpRouting.rules) out.log(`  ${JSON.stringify(rule.when)} -> ${rule.erp}${rule.shadow ? ` (shadow: ${rule.shadow})` : ''}`);
  }
  return 0;
}

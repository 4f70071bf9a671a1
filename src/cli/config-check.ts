import { connectorRegistry, maskSecrets, SYSTEM_KINDS } from '../connectors/registry/connector-registry.ts';
import { checkConnectionsFile, connectionsFilePath } from '../config/connections-file.ts';
import type { ConnectorSettings } from '../connectors/connectors.ts';
import { checkErpSetup, erpAddress, erpSetupProblemText } from '../connectors/connectors.ts';

export const CONFIG_USAGE = `  config check [file] [--offline]
                                 check a connections file (default: SYNCLINE_CONFIG, else ./syncline.yaml):
                                 every problem with its path, exit code 1 when there is one; the ERP connection
                                 is asked whether it has the charge products, payment term and warehouse named
                                 (--offline: check the file only)`;

/** How long the ERP may take to answer the setup check (default: 20000 ms). */
const ERP_CHECK_TIMEOUT_MS = 20_000;

/** The ERP connection's setup problems as `connections[i].options.<option>: <problem>` lines. */
async function erpProblems(index: number, settings: ConnectorSettings['erp']): Promise<string[]> {
  const prefix = `connections[${index}]`;
  try {
    const problems = await checkErpSetup({ ...settings, timeoutMs: ERP_CHECK_TIMEOUT_MS });
    return problems.map((problem) => {
      const { option, message } = erpSetupProblemText(problem);
      return `${prefix}${option ? `.options.${option}` : ''}: ${message}`;
    });
  } catch (error) {
    return [`${prefix}: the ERP at ${erpAddress(settings)} could not be asked about its products, payment term and warehouse (${(error as Error).message}); run again when it answers, or use --offline`];
  }
}

/**
 * `syncline config check [file] [--offline]`: the same check start-up runs, without starting,
 * and the ERP's setup. Prints each problem as `connections[2].options.shopDomain: required`, or the
 * connections found (secrets masked). Exit code 0: valid; 1: problems; 2: wrong use.
 */
export async function runConfigCommand(args: string[], env: NodeJS.ProcessEnv = process.env, out = console): Promise<number> {
  const offline = args.includes('--offline');
  const [sub, file, ...extra] = args.filter((a) => a !== '--offline');
  if (sub !== 'check' || extra.length > 0 || file?.startsWith('--')) {
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
  const checked = checkConnectionsFile(path, connectorRegistry(), present, fromEnvironment);
  const { connections, erpRouting } = checked;
  const problems = [...checked.problems];
  // The file is valid: every connection is at its index in the file. Ask each ERP what it lacks.
  if (problems.length === 0 && !offline) {
    for (const [index, c] of connections.entries()) {
      if (c.kind === 'erp') problems.push(...(await erpProblems(index, c.options as ConnectorSettings['erp'])));
    }
  }
  if (problems.length > 0) {
    out.error(`${path}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
    for (const problem of problems) out.error(`  ${problem}`);
    return 1;
  }
  out.log(`${path}: valid, ${connections.length} connection${connections.length === 1 ? '' : 's'}`);
  for (const c of connections) out.log(`  ${c.id} (${c.connector}) ${JSON.stringify(maskSecrets(c.options, c.secretOptions))}`);
  if (checked.customers) {
    const { matching, survivorship, maxRecordsPerKey } = checked.customers;
    out.log(`customers: automatic merge at ${matching.autoThreshold}, stewardship from ${matching.reviewThreshold}, typo similarity ${matching.typoSimilarity}, keys held by at most ${maxRecordsPerKey} records`);
    out.log(`  owners: ${Object.entries(survivorship.owners).map(([attribute, system]) => `${attribute}=${system}`).join(', ') || 'none'}`);
  }
  if (erpRouting) {
    out.log(`ERP routing: ${erpRouting.rules.length} rule${erpRouting.rules.length === 1 ? '' : 's'}, default ${erpRouting.default}`);
    for (const rule of erpRouting.rules) out.log(`  ${JSON.stringify(rule.when)} -> ${rule.erp}${rule.shadow ? ` (shadow: ${rule.shadow})` : ''}`);
  }
  return 0;
}

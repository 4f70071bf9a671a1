import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ChannelSlug } from '../model/order.ts';
import type { ChannelConnector } from '../connectors/kit/channel-connector.ts';
import { connectorNames, type ConnectorRegistry, type SystemKind } from '../connectors/registry/connector-registry.ts';
import type { TargetPolicy } from '../runtime/targets/target-policy.ts';
import type { ErpRoutingRules } from '../domain/orders/erp-routing.ts';
import { checkCustomersSection, type CustomerSettings } from './customers-section.ts';

/**
 * syncline.yaml: the connections (docs/connections.md). Read from SYNCLINE_CONFIG, else
 * ./syncline.yaml when it exists; without either, Syncline runs as before (the systems from
 * SYNCLINE_*_URL or the sandboxes, no channel connections).
 *
 * Secrets are given by reference, never written in the file:
 *   "${VAR}" inside any string option is replaced by the environment variable (unset: an error);
 *   { file: /run/secrets/x } as an option's value is replaced by that file's content (one
 *   trailing newline dropped), for secrets mounted as files.
 */

/** Seconds between reconciliation polls when a connection does not say (default: 300). */
export const DEFAULT_RECONCILE_SECONDS = 300;
/** Deliveries older than this (by the channel's own timestamp) are refused, in seconds (default: 86400). */
export const DEFAULT_WEBHOOK_MAX_AGE_SECONDS = 86_400;

/** One connection of syncline.yaml, its secrets resolved and its options validated by its connector. */
export interface ConnectionSettings {
  id: string;
  connector: string;
  /** `channel`, or the system kind the connection serves. */
  kind: 'channel' | SystemKind;
  /** The connector's options, as its schema parsed them. Holds secrets: show only through maskSecrets. */
  options: Record<string, unknown>;
  secretOptions: readonly string[];
  /** The target policy from the file; absent: the connector's defaultTargetPolicy. */
  limits: TargetPolicy | undefined;
  /** Seconds between reconciliation polls (channels; default: 300). */
  reconcileEverySeconds: number;
  /** Syncline location code to the channel's location id; absent: the channel's first location. */
  locations: Record<string, string> | undefined;
  /** Deliveries the channel says it sent longer ago than this are refused (default: 86400 s). */
  webhookMaxAgeSeconds: number;
  /** The channel connector (kind channel). */
  channel: ChannelConnector | undefined;
}

export interface ConnectionsFile {
  /** The file read, absolute; undefined when there is none. */
  path: string | undefined;
  connections: ConnectionSettings[];
  /** `erpRouting` of the file: which ERP connection each order goes to (absent: one ERP, no rules). */
  erpRouting?: ErpRoutingRules | undefined;
  /** `customers` of the file: matching and survivorship overrides (absent: the defaults, docs/customers.md). */
  customers?: CustomerSettings | undefined;
}

const Breaker = z.strictObject({
  failureThreshold: z.number().int().min(1).optional(),
  failureRatio: z.number().min(0).max(1).optional(),
  minCalls: z.number().int().min(1).optional(),
  windowMs: z.number().int().min(1).optional(),
  cooldownMs: z.number().int().min(0).optional(),
});

/** A connection's `limits`: the runtime's TargetPolicy. */
const Limits = z.strictObject({
  ratePerSecond: z.number().int().min(0).optional(),
  burst: z.number().int().min(0).optional(),
  windowMarginMs: z.number().int().min(0).optional(),
  maxConcurrency: z.number().int().min(0).optional(),
  timeoutMs: z.number().int().min(1).optional(),
  maxWaitMs: z.number().int().min(0).optional(),
  breaker: Breaker.optional(),
});

const Connection = z.strictObject({
  id: ChannelSlug,
  connector: z.string().min(1),
  options: z.record(z.string(), z.unknown()).default({}),
  limits: Limits.optional(),
  reconcile: z.strictObject({ everySeconds: z.number().int().min(10).max(86_400) }).optional(),
  locations: z.record(z.string().min(1), z.string().min(1)).optional(),
  webhookMaxAgeSeconds: z.number().int().min(1).optional(),
});

const RoutingCondition = z.strictObject({
  channel: z.string().min(1).optional(),
  shipToCountry: z.string().regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 country code such as DE').optional(),
  businessUnit: z.string().min(1).optional(),
  skuPrefix: z.string().min(1).optional(),
});

const ErpRouting = z.strictObject({
  rules: z
    .array(z.strictObject({ when: RoutingCondition, erp: z.string().min(1), shadow: z.string().min(1).optional() }))
    .max(200)
    .default([]),
  default: z.string().min(1).optional(),
  /** The ERP connection that owns the item master: the product catalogue is synced from it (default: `default`). */
  catalogue: z.string().min(1).optional(),
});

const FileSchema = z.strictObject({ connections: z.array(z.unknown()).default([]), erpRouting: z.unknown().optional(), customers: z.unknown().optional() });

/** A problem path as written in messages: connections[2].options.shopDomain. */
export function problemPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${String(part)}` : String(part)), '');
}

function issueMessages(prefix: readonly PropertyKey[], error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    // zod says "Invalid input: expected string, received undefined" for a missing key.
    const message = issue.code === 'invalid_type' && /received undefined$/.test(issue.message) ? 'required' : issue.message;
    return `${problemPath([...prefix, ...issue.path]) || 'top level'}: ${message}`;
  });
}

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replaces secret references in an option value; problems are collected, not thrown. */
function resolveReferences(value: unknown, path: PropertyKey[], env: NodeJS.ProcessEnv, problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(REFERENCE, (_whole, name: string) => {
      const found = env[name];
      if (found === undefined || found === '') {
        problems.push(`${problemPath(path)}: environment variable ${name} is not set`);
        return '';
      }
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => resolveReferences(item, [...path, i], env, problems));
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0]![0] === 'file') {
      const file = entries[0]![1];
      if (typeof file !== 'string' || file === '') {
        problems.push(`${problemPath([...path, 'file'])}: must be the path of a file holding the secret`);
        return '';
      }
      try {
        return readFileSync(resolve(file), 'utf8').replace(/\r?\n$/, '');
      } catch (error) {
        problems.push(`${problemPath(path)}: cannot read secret file ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
        return '';
      }
    }
    return Object.fromEntries(entries.map(([key, item]) => [key, resolveReferences(item, [...path, key], env, problems)]));
  }
  return value;
}

/** Where the connections file is: SYNCLINE_CONFIG, else ./syncline.yaml if it exists, else none. */
export function connectionsFilePath(env: NodeJS.ProcessEnv, cwd = process.cwd()): string | undefined {
  if (env.SYNCLINE_CONFIG) return resolve(cwd, env.SYNCLINE_CONFIG);
  const local = resolve(cwd, 'syncline.yaml');
  return existsSync(local) ? local : undefined;
}

/**
 * Checks a connections file and resolves it: every problem, each named by its path in the
 * file, or the connections. `systemsFromEnvironment`: the system kinds SYNCLINE_*_URL already
 * set (a file connection of the same kind is then an error: two ERPs is a later step).
 */
export function checkConnectionsText(
  text: string,
  registry: ConnectorRegistry,
  env: NodeJS.ProcessEnv,
  systemsFromEnvironment: readonly SystemKind[] = [],
): { problems: string[]; connections: ConnectionSettings[]; erpRouting?: ErpRoutingRules; customers?: CustomerSettings } {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    // The first errors only: one syntax mistake makes the parser stumble over everything after it.
    return {
      problems: document.errors.slice(0, 3).map((e) => `line ${e.linePos?.[0].line ?? '?'}, column ${e.linePos?.[0].col ?? '?'}: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`),
      connections: [],
    };
  }
  const file = FileSchema.safeParse(document.toJS() ?? {});
  if (!file.success) return { problems: issueMessages([], file.error), connections: [] };
  const problems: string[] = [];
  const connections: ConnectionSettings[] = [];
  const firstById = new Map<string, number>();
  const firstByKind = new Map<SystemKind, number>();
  file.data.connections.forEach((raw, index) => {
    const at: PropertyKey[] = ['connections', index];
    const parsed = Connection.safeParse(raw);
    if (!parsed.success) {
      problems.push(...issueMessages(at, parsed.error));
      return;
    }
    const c = parsed.data;
    const earlier = firstById.get(c.id);
    if (earlier !== undefined) problems.push(`${problemPath([...at, 'id'])}: "${c.id}" is already the id of connections[${earlier}]`);
    else firstById.set(c.id, index);
    const channel = registry.channels.get(c.connector);
    const system = registry.systems.get(c.connector);
    if (!channel && !system) {
      problems.push(`${problemPath([...at, 'connector'])}: unknown connector "${c.connector}" (known: ${connectorNames(registry).join(', ')})`);
      return;
    }
    if (system) {
      if (systemsFromEnvironment.includes(system.kind)) {
        problems.push(`${problemPath([...at, 'connector'])}: the ${system.kind} is already set by the SYNCLINE_${system.kind.toUpperCase()}_* environment variables; use one or the other`);
      }
      const same = firstByKind.get(system.kind);
      // Several ERPs are routed between (erpRouting); the other kinds stay one connection each.
      if (same !== undefined && system.kind !== 'erp') problems.push(`${problemPath([...at, 'connector'])}: connections[${same}] is already the ${system.kind}; one ${system.kind} connection is supported`);
      else firstByKind.set(system.kind, index);
      for (const key of ['reconcile', 'locations', 'webhookMaxAgeSeconds'] as const) {
        if (c[key] !== undefined) problems.push(`${problemPath([...at, key])}: only channel connections take ${key}`);
      }
    }
    const before = problems.length;
    const resolved = resolveReferences(c.options, [...at, 'options'], env, problems);
    if (problems.length > before) return;
    const options = (channel ?? system)!.options.safeParse(resolved);
    if (!options.success) {
      problems.push(...issueMessages([...at, 'options'], options.error));
      return;
    }
    connections.push({
      id: c.id,
      connector: c.connector,
      kind: channel ? 'channel' : system!.kind,
      options: options.data as Record<string, unknown>,
      secretOptions: (channel ?? system)!.secretOptions,
      limits: c.limits,
      reconcileEverySeconds: c.reconcile?.everySeconds ?? DEFAULT_RECONCILE_SECONDS,
      locations: c.locations,
      webhookMaxAgeSeconds: c.webhookMaxAgeSeconds ?? DEFAULT_WEBHOOK_MAX_AGE_SECONDS,
      channel,
    });
  });
  const erpRouting = checkErpRouting(file.data.erpRouting, connections, registry, problems);
  const customers = checkCustomersSection(file.data.customers, problems, issueMessages);
  return problems.length ? { problems, connections: [] } : { problems, connections, ...(erpRouting ? { erpRouting } : {}), ...(customers ? { customers } : {}) };
}

/**
 * Checks `erpRouting` against the file's connections: every id an ERP connection of the file,
 * a default whenever there are several ERPs, never an ERP as its own shadow.
 */
function checkErpRouting(raw: unknown, connections: readonly ConnectionSettings[], registry: ConnectorRegistry, problems: string[]): ErpRoutingRules | undefined {
  const erps = connections.filter((c) => c.kind === 'erp');
  if (raw === undefined) {
    if (erps.length > 1) problems.push(`erpRouting: required with several ERP connections (${erps.map((c) => c.id).join(', ')}): say which one takes each order`);
    return undefined;
  }
  const parsed = ErpRouting.safeParse(raw);
  if (!parsed.success) {
    problems.push(...issueMessages(['erpRouting'], parsed.error));
    return undefined;
  }
  const before = problems.length;
  const check = (id: string, path: PropertyKey[]) => {
    const connection = connections.find((c) => c.id === id);
    if (!connection) problems.push(`${problemPath(path)}: unknown connection "${id}" (ERP connections: ${erps.map((c) => c.id).join(', ') || 'none'})`);
    else if (connection.kind !== 'erp') problems.push(`${problemPath(path)}: connection "${id}" is a ${connection.kind} connection, not an ERP`);
  };
  const { rules, default: fallback, catalogue } = parsed.data;
  if (catalogue !== undefined) {
    check(catalogue, ['erpRouting', 'catalogue']);
    const connector = connections.find((c) => c.id === catalogue && c.kind === 'erp')?.connector;
    if (connector !== undefined && !registry.systems.get(connector)?.itemMaster) {
      const readers = [...registry.systems.values()].filter((s) => s.itemMaster).map((s) => s.connector);
      problems.push(`${problemPath(['erpRouting', 'catalogue'])}: connection "${catalogue}" is a ${connector} connection, whose item master Syncline cannot read yet (the catalogue is synced from: ${readers.join(', ')})`);
    }
  }
  if (fallback === undefined) {
    if (erps.length === 1) problems.push(`erpRouting.default: required (the ERP connection of orders no rule matches), e.g. "${erps[0]!.id}"`);
    else problems.push(`erpRouting.default: required${erps.length > 1 ? ` with several ERP connections (${erps.map((c) => c.id).join(', ')})` : ''}`);
  } else check(fallback, ['erpRouting', 'default']);
  rules.forEach((rule, i) => {
    check(rule.erp, ['erpRouting', 'rules', i, 'erp']);
    if (rule.shadow !== undefined) {
      check(rule.shadow, ['erpRouting', 'rules', i, 'shadow']);
      if (rule.shadow === rule.erp) problems.push(`${problemPath(['erpRouting', 'rules', i, 'shadow'])}: must be another ERP than erp ("${rule.erp}")`);
    }
  });
  if (problems.length > before || fallback === undefined) return undefined;
  return { rules: rules.map((r) => ({ when: r.when, erp: r.erp, ...(r.shadow ? { shadow: r.shadow } : {}) })), default: fallback, ...(catalogue ? { catalogue } : {}) };
}

/** Reads and checks the connections file at `path`; a file that cannot be read is one problem. */
export function checkConnectionsFile(
  path: string,
  registry: ConnectorRegistry,
  env: NodeJS.ProcessEnv,
  systemsFromEnvironment: readonly SystemKind[] = [],
): { problems: string[]; connections: ConnectionSettings[]; erpRouting?: ErpRoutingRules; customers?: CustomerSettings } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return { problems: [`${path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`], connections: [] };
  }
  return checkConnectionsText(text, registry, env, systemsFromEnvironment);
}

/** The system kinds given by a connection of the file; with several ERPs, the ERP is the routing default. */
export function systemConnections(connections: readonly ConnectionSettings[], erpRouting?: ErpRoutingRules): Map<SystemKind, ConnectionSettings> {
  return new Map(
    connections.filter((c) => c.kind !== 'channel' && (c.kind !== 'erp' || !erpRouting || c.id === erpRouting.default)).map((c) => [c.kind as SystemKind, c]),
  );
}

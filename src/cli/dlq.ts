import { parseArgs } from 'node:util';
import type { Config } from '../config/config.ts';
import { createLogger } from '../observability/logger.ts';
import { openDatabase } from '../syncline.ts';
import { isId } from '../model/ids.ts';
import { DeadLetterService } from '../runtime/dead-letters/dead-letter.service.ts';
import type { DeadLetterFilter } from '../store/runtime/dead-letter-queries.ts';
import { cliActor, recordAudit, type AuditContext } from '../domain/audit/audit.ts';

export const DLQ_USAGE = `  dlq list [--status open|replayed|discarded] [--type <t>] [--target <t>] [--reason <text>]
           [--since <iso>] [--until <iso>] [--limit <n>] [--json]
                                 list dead letters, newest first (default: open ones)
  dlq show <id>                  a dead letter in full: reason, excerpt, payload, audit trail
  dlq replay <id>                run a dead letter again with the current code and configuration
  dlq replay --type|--target|--reason|--since|--until ... [--limit <n>]
                                 replay every open dead letter matching the filter (default limit 100)
  dlq discard <id> --reason <text>
                                 close a dead letter without running it; the reason is audited
  (the acting operator is recorded as cli:<user>, or --actor <name>)`;

/** A wrong use of a dlq command; printed as one line, exit code 2. */
class DlqUsageError extends Error {}

const filterOptions = {
  type: { type: 'string' },
  target: { type: 'string' },
  reason: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  limit: { type: 'string' },
  actor: { type: 'string' },
} as const;

/** Runs `syncline dlq <sub>`; prints its own errors and returns the exit code. */
export async function runDlqCommand(args: string[], config: Config): Promise<number> {
  try {
    return await run(args, config);
  } catch (error) {
    if (error instanceof DlqUsageError) {
      console.error(`syncline dlq: ${error.message}`);
      return 2;
    }
    if (error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      console.error(`syncline dlq: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

function time(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw new DlqUsageError(`--${name} must be an ISO 8601 date or date-time, for example 2026-01-31T12:00:00Z (got "${value}")`);
  }
  return new Date(value).toISOString();
}

function limit(value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) throw new DlqUsageError(`--limit must be a whole number from 1 to ${max} (got "${value}")`);
  return Number(value);
}

function filterFrom(values: Record<string, string | boolean | undefined>): DeadLetterFilter {
  return {
    type: values.type as string | undefined,
    target: values.target as string | undefined,
    reason: values.reason as string | undefined,
    since: time('since', values.since as string | undefined),
    until: time('until', values.until as string | undefined),
  };
}

function idArgument(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new DlqUsageError(`${command} takes one dead letter id, for example: syncline dlq ${command} dlq_01jd...`);
  const id = positionals[0]!;
  if (!isId('deadLetter', id)) throw new DlqUsageError(`"${id}" is not a dead letter id (they look like dlq_01jd...)`);
  return id;
}

type DeadLetterAudit = (action: 'dead_letter.replayed' | 'dead_letter.discarded', id: string, details?: Record<string, unknown>) => Promise<void>;

async function withService<T>(config: Config, fn: (service: DeadLetterService, audit: DeadLetterAudit) => Promise<T>, actor = cliActor()): Promise<T> {
  const db = await openDatabase(config, createLogger('warn'), { customerKeys: false });
  // Audited right after the dead-letter service commits; the actor is the operator (or --actor).
  const who: AuditContext = { actor, correlationId: null };
  try {
    return await fn(new DeadLetterService(db), (action, id, details) => recordAudit(db, who, { action, targetType: 'dead_letter', targetId: id, details }));
  } finally {
    await db.close();
  }
}

async function run(args: string[], config: Config): Promise<number> {
  const [sub, ...rest] = args;
  const actor = (values: { actor?: string | undefined }) => values.actor ?? cliActor();
  switch (sub) {
    case 'list': {
      const { values } = parseArgs({
        args: rest,
        options: { ...filterOptions, status: { type: 'string' }, json: { type: 'boolean' } },
        strict: true,
      });
      const status = values.status ?? 'open';
      if (!['open', 'replayed', 'discarded'].includes(status)) throw new DlqUsageError(`--status must be open, replayed or discarded (got "${status}")`);
      const filter = { ...filterFrom(values), status: status as DeadLetterFilter['status'] };
      const page = await withService(config, (s) => s.list(filter, { limit: limit(values.limit, 50, 500) }));
      if (values.json) {
        console.log(JSON.stringify(page.items, null, 2));
        return 0;
      }
      if (page.items.length === 0) {
        console.log(`no ${status} dead letters match`);
        return 0;
      }
      const rows = page.items.map((d) => [d.id, d.failedAt.slice(0, 19) + 'Z', d.type, d.target ?? '-', `${d.errorClass}/${d.errorCode}`, d.attempts, d.reason]);
      console.log(table(['id', 'failed at', 'type', 'target', 'error', 'attempts', 'reason'], rows));
      if (page.next) console.log(`(more: narrow the filter or raise --limit)`);
      return 0;
    }
    case 'show': {
      const { positionals } = parseArgs({ args: rest, options: {}, allowPositionals: true, strict: true });
      const id = idArgument(positionals, 'show');
      const found = await withService(config, (s) => s.show(id));
      if (!found) {
        console.error(`syncline dlq: no dead letter with id ${id}`);
        return 1;
      }
      console.log(JSON.stringify(found, null, 2));
      return 0;
    }
    case 'replay': {
      const { values, positionals } = parseArgs({ args: rest, options: filterOptions, allowPositionals: true, strict: true });
      const filter = filterFrom(values);
      const hasFilter = Object.values(filter).some((v) => v !== undefined);
      if (positionals.length > 0) {
        if (hasFilter) throw new DlqUsageError('give either a dead letter id or a filter, not both');
        const id = idArgument(positionals, 'replay');
        const outcome = await withService(config, async (s, audit) => {
          const replayed = await s.replay(id, actor(values));
          if (replayed.kind === 'replayed') await audit('dead_letter.replayed', id, { jobId: replayed.jobId });
          return replayed;
        }, actor(values));
        if (outcome.kind === 'not-found') {
          console.error(`syncline dlq: no dead letter with id ${id}`);
          return 1;
        }
        if (outcome.kind === 'not-open') {
          console.error(`syncline dlq: dead letter ${id} is already ${outcome.status}`);
          return 1;
        }
        console.log(`replayed ${id} as job ${outcome.jobId}`);
        return 0;
      }
      if (!hasFilter) throw new DlqUsageError('name a dead letter id, or a filter (--type, --target, --reason, --since, --until) to replay many');
      const done = await withService(config, async (s, audit) => {
        const replayed = await s.replayMatching(filter, limit(values.limit, 100, 1000), actor(values));
        for (const d of replayed) await audit('dead_letter.replayed', d.id, { jobId: d.jobId, byFilter: true });
        return replayed;
      }, actor(values));
      console.log(`replayed ${done.length} dead letter(s)`);
      for (const d of done) console.log(`  ${d.id} -> job ${d.jobId}`);
      return 0;
    }
    case 'discard': {
      const { values, positionals } = parseArgs({ args: rest, options: { reason: { type: 'string' }, actor: { type: 'string' } }, allowPositionals: true, strict: true });
      const id = idArgument(positionals, 'discard');
      const reason = values.reason?.trim();
      if (!reason || reason.length < 3) throw new DlqUsageError('--reason is required (at least 3 characters): say why the work is not needed');
      const outcome = await withService(config, async (s, audit) => {
        const discarded = await s.discard(id, actor(values), reason);
        if (discarded === 'discarded') await audit('dead_letter.discarded', id);
        return discarded;
      }, actor(values));
      if (outcome !== 'discarded') {
        console.error(outcome === 'not-found' ? `syncline dlq: no dead letter with id ${id}` : `syncline dlq: dead letter ${id} is not open`);
        return 1;
      }
      console.log(`discarded ${id}`);
      return 0;
    }
    default:
      throw new DlqUsageError(`unknown dlq command "${sub ?? ''}"; use list, show, replay or discard`);
  }
}

function table(header: string[], rows: unknown[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => String(c)))];
  const widths = header.map((_, i) => Math.min(80, Math.max(...cells.map((r) => r[i]!.length))));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

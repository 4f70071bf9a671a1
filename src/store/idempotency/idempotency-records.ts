import type { Database, Queryable } from '../database.ts';

/**
 * Idempotency records for API writes. A write claims its key in the same
 * transaction that does the work and stores its result there, so a result is
 * recorded if and only if the work committed. While the first request runs,
 * its transaction holds an advisory lock on the key: a concurrent retry sees
 * the lock taken and is told the request is in flight instead of waiting.
 *
 * Glossary:
 * - scope: whose keys these are (the API client id); keys never collide across clients.
 * - fingerprint: a hash of what was asked (method, path, body); the same key with another fingerprint is a misuse.
 * - result: the stored outcome that a retry with the same key gets back.
 */

export interface IdempotencyClaim {
  scope: string;
  key: string;
  fingerprint: string;
  /**
   * The fingerprint the same request was given by an earlier release, when the way it is
   * computed changed: a retry that straddles the upgrade is still a replay. Computed only when
   * the stored fingerprint differs from `fingerprint`.
   */
  earlier?: () => string;
}

export type ClaimOutcome =
  | { kind: 'new' }
  | { kind: 'replay'; result: unknown }
  | { kind: 'key-reused' }
  | { kind: 'key-in-flight' };

const lockName = (c: { scope: string; key: string }) => `idempotency\n${c.scope}\n${c.key}`;

/**
 * Claims keys inside the caller's transaction, one outcome per claim in input order.
 * Duplicates within the same call count as in flight after the first.
 */
export async function claimKeys(tx: Queryable, claims: readonly IdempotencyClaim[]): Promise<ClaimOutcome[]> {
  const outcomes: (ClaimOutcome | undefined)[] = claims.map(() => undefined);
  const seen = new Set<string>();
  const toLock: { i: number; name: string }[] = [];
  claims.forEach((claim, i) => {
    const name = lockName(claim);
    if (seen.has(name)) outcomes[i] = { kind: 'key-in-flight' };
    else {
      seen.add(name);
      toLock.push({ i, name });
    }
  });
  if (toLock.length === 0) return outcomes as ClaimOutcome[];
  // try-locks never wait, so their order cannot deadlock; sorted anyway for predictability.
  toLock.sort((a, b) => (a.name < b.name ? -1 : 1));
  const locks = await tx.query<{ ok: boolean }>(
    'SELECT pg_try_advisory_xact_lock(hashtextextended(k, 0)) AS ok FROM unnest($1::text[]) WITH ORDINALITY AS t(k, n) ORDER BY n',
    [toLock.map((l) => l.name)],
  );
  const held = toLock.filter((entry, n) => {
    if (locks.rows[n]?.ok) return true;
    outcomes[entry.i] = { kind: 'key-in-flight' };
    return false;
  });
  if (held.length > 0) {
    const existing = await tx.query<{ scope: string; key: string; fingerprint: string; result: unknown }>(
      `SELECT r.scope, r.key, r.fingerprint, r.result
         FROM idempotency_record r JOIN unnest($1::text[], $2::text[]) AS t(s, k) ON r.scope = t.s AND r.key = t.k`,
      [held.map((h) => claims[h.i]!.scope), held.map((h) => claims[h.i]!.key)],
    );
    const byName = new Map(existing.rows.map((row) => [lockName(row), row]));
    for (const { i, name } of held) {
      const row = byName.get(name);
      const claim = claims[i]!;
      const same = row !== undefined && (row.fingerprint === claim.fingerprint || row.fingerprint === claim.earlier?.());
      outcomes[i] = !row ? { kind: 'new' } : same ? { kind: 'replay', result: row.result } : { kind: 'key-reused' };
    }
  }
  return outcomes as ClaimOutcome[];
}

/**
 * The INSERT that stores results, reading them from a jsonb parameter; exported so
 * that a hot path can run it as one data-modifying CTE of a larger statement.
 */
export function saveResultsSql(param: string): string {
  return `INSERT INTO idempotency_record (scope, key, fingerprint, result)
     SELECT r.scope, r.key, r.fingerprint, r.result FROM jsonb_to_recordset(${param}::jsonb) AS r(scope text, key text, fingerprint text, result jsonb)`;
}

/** The jsonb parameter for saveResultsSql. */
export function saveResultsParam(entries: readonly { claim: IdempotencyClaim; result: unknown }[]): string {
  return JSON.stringify(entries.map((e) => ({ scope: e.claim.scope, key: e.claim.key, fingerprint: e.claim.fingerprint, result: e.result })));
}

/** Stores the results of claimed keys in the caller's transaction. */
export async function saveResults(tx: Queryable, entries: readonly { claim: IdempotencyClaim; result: unknown }[]): Promise<void> {
  if (entries.length === 0) return;
  await tx.query(saveResultsSql('$1'), [saveResultsParam(entries)]);
}

export type IdempotentOutcome<R> = { kind: 'done'; result: R; replayed: boolean } | { kind: 'key-reused' } | { kind: 'key-in-flight' };

/**
 * Runs work in a transaction under an idempotency claim: a replay returns the
 * stored result without running work; a new key runs it and stores its result.
 * Without a claim, work simply runs in a transaction.
 */
export async function runIdempotent<R>(db: Database, claim: IdempotencyClaim | undefined, work: (tx: Queryable) => Promise<R>): Promise<IdempotentOutcome<R>> {
  return db.transaction(async (tx) => {
    if (claim) {
      const outcome = (await claimKeys(tx, [claim]))[0]!;
      if (outcome.kind === 'replay') return { kind: 'done', result: outcome.result as R, replayed: true };
      if (outcome.kind !== 'new') return outcome;
    }
    const result = await work(tx);
    if (claim) await saveResults(tx, [{ claim, result }]);
    return { kind: 'done', result, replayed: false };
  });
}

/** Deletes records older than the retention (a retry after that is a new request); returns how many. */
export async function pruneRecords(q: Queryable, retentionHours: number, limit = 5000): Promise<number> {
  const result = await q.query(
    `DELETE FROM idempotency_record WHERE (scope, key) IN (
       SELECT scope, key FROM idempotency_record WHERE created_at < now() - make_interval(hours => $1) LIMIT $2)`,
    [retentionHours, limit],
  );
  return result.rowCount;
}

import { blockingKeys, toMatchRecord, type MatchRecord } from '../src/domain/customers/match-record.ts';
import { decide, DEFAULT_MATCHING, type Candidate } from '../src/domain/customers/matching.ts';
import { generatePopulation, type LabelledRecord } from './matching-population.ts';
import { machine, writeResult } from './support.ts';
import { runStorePath } from './matching-store.ts';

/**
 * `npm run bench -- matching` (docs/benchmarks.md#matching): identity resolution over a
 * generated population with known truth.
 *
 * 1. Quality and engine speed: every record goes through normalisation, blocking and the
 *    decision (src/domain/customers) in arrival order, against an in-memory index of the
 *    customers so far. Precision counts the pairs of records put in one customer by
 *    automatic (and deterministic) merges; recall counts the true pairs joined by a merge
 *    or by a pair in the stewardship queue.
 * 2. The store path: the first records again, through CustomerService.ingest on PostgreSQL
 *    (DATABASE_URL, or the local server), records per second with every row written.
 */

const RECORDS = Number(process.env.MATCHING_RECORDS ?? 50_000);
const STORE_RECORDS = Number(process.env.MATCHING_STORE_RECORDS ?? 5_000);
const SEED = 20261202;

/** Union-find over record indexes. */
class Groups {
  readonly parent: number[];
  constructor(size: number) {
    this.parent = Array.from({ length: size }, (_, i) => i);
  }
  find(i: number): number {
    while (this.parent[i] !== i) i = this.parent[i] = this.parent[this.parent[i]!]!;
    return i;
  }
  union(a: number, b: number): void {
    const [x, y] = [this.find(a), this.find(b)];
    if (x !== y) this.parent[Math.max(x, y)] = Math.min(x, y);
  }
}

/** Runs the engine over the population; returns the merge groups and stewardship links. */
export function resolveInMemory(population: readonly LabelledRecord[]) {
  const merged = new Groups(population.length);
  const reviewed = new Groups(population.length);
  const records: MatchRecord[] = [];
  const members = new Map<number, number[]>(); // customer (root record index) -> record indexes
  const index = new Map<string, number[]>(); // blocking key -> record indexes
  let sentToStewardship = 0;
  let candidatesCompared = 0;
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  population.forEach(({ record }, i) => {
    const match = toMatchRecord(String(i), record);
    records.push(match);
    const keys = blockingKeys(match);
    const customers = new Set<number>();
    for (const key of keys) for (const j of index.get(key) ?? []) customers.add(merged.find(j));
    const candidates: Candidate[] = [...customers].sort((a, b) => a - b).map((root) => ({ customerId: String(root), records: members.get(root)!.map((j) => records[j]!) }));
    candidatesCompared += candidates.length;
    const decision = decide(match, candidates);
    members.set(i, [i]);
    for (const verdict of decision.into ? [decision.into, ...decision.alsoMerge] : []) {
      const root = merged.find(Number(verdict.customerId));
      const mine = merged.find(i);
      if (root === mine) continue;
      merged.union(root, mine);
      reviewed.union(root, mine);
      const survivor = merged.find(i);
      members.set(survivor, [...members.get(root)!, ...members.get(mine)!]);
      members.delete(survivor === root ? mine : root);
    }
    if (decision.review.length > 0) sentToStewardship++;
    for (const verdict of decision.review) reviewed.union(Number(verdict.customerId), i);
    for (const key of keys) {
      const list = index.get(key);
      if (list) list.push(i);
      else index.set(key, [i]);
    }
  });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  return { merged, reviewed, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, sentToStewardship, candidatesCompared, keys: index.size };
}

/** Pairwise precision and recall against the truth. */
export function score(population: readonly LabelledRecord[], merged: Groups, reviewed: Groups) {
  const pairs = (groups: Map<string, number>) => [...groups.values()].reduce((sum, n) => sum + (n * (n - 1)) / 2, 0);
  const count = (key: (i: number) => string) => {
    const groups = new Map<string, number>();
    population.forEach((_, i) => groups.set(key(i), (groups.get(key(i)) ?? 0) + 1));
    return pairs(groups);
  };
  const truePairs = count((i) => `${population[i]!.personId}`);
  const mergedPairs = count((i) => `${merged.find(i)}`);
  const mergedTrue = count((i) => `${merged.find(i)}|${population[i]!.personId}`);
  const linkedTrue = count((i) => `${reviewed.find(i)}|${population[i]!.personId}`);
  return {
    truePairs,
    mergedPairs,
    precision: mergedPairs === 0 ? 1 : mergedTrue / mergedPairs,
    recallAutomatic: mergedTrue / truePairs,
    recallWithStewardship: linkedTrue / truePairs,
  };
}

export async function run(): Promise<void> {
  const population = generatePopulation({ records: RECORDS, seed: SEED });
  const people = new Set(population.map((r) => r.personId)).size;
  const engine = resolveInMemory(population);
  const quality = score(population, engine.merged, engine.reviewed);
  // The host is shared: records per second of CPU is the figure that does not depend on the neighbours.
  const recordsPerSecond = population.length / engine.cpuSeconds;
  const store = STORE_RECORDS > 0 ? await runStorePath(population.slice(0, STORE_RECORDS)) : undefined;
  const targets = {
    precision: { target: 0.99, measured: quality.precision, met: quality.precision >= 0.99 },
    recallWithStewardship: { target: 0.95, measured: quality.recallWithStewardship, met: quality.recallWithStewardship >= 0.95 },
    engineRecordsPerSecond: { target: 1000, measured: recordsPerSecond, met: recordsPerSecond >= 1000 },
    ...(store ? { storeRecordsPerSecond: { target: 1000, measured: store.recordsPerSecond, met: store.recordsPerSecond >= 1000 } } : {}),
  };
  const result = {
    population: { records: population.length, people, seed: SEED, systems: countBy(population, (r) => r.record.system) },
    thresholds: DEFAULT_MATCHING,
    quality,
    stewardship: { recordsSent: engine.sentToStewardship, share: engine.sentToStewardship / population.length },
    engine: { seconds: engine.seconds, cpuSeconds: engine.cpuSeconds, recordsPerSecond, recordsPerWallSecond: population.length / engine.seconds, cpuMicrosecondsPerRecord: (engine.cpuSeconds * 1e6) / population.length, candidatesPerRecord: engine.candidatesCompared / population.length, blockingKeys: engine.keys },
    store,
    targets,
  };
  const file = writeResult('matching', { ...result, machine: machine() });
  console.log(JSON.stringify(result, null, 2));
  console.log(`written to ${file}`);
}

function countBy<T>(values: readonly T[], key: (value: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[key(value)] = (counts[key(value)] ?? 0) + 1;
  return counts;
}

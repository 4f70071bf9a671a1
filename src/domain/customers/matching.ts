import { jaroWinkler } from '@skyra/jaro-winkler';
import type { MatchRecord } from './match-record.ts';
import { nicknameWithTypo, sameNameGroup } from './nicknames.ts';

/**
 * Identity resolution (ADR 0036): deterministic rules first, then a score from fuzzy
 * evidence, then the thresholds. Pure: the store finds the candidates and applies the
 * decision.
 *
 * Glossary:
 * - evidence: one observation about a pair of records (`email: same`, `given name:
 *   nickname`), with the points it adds or takes away. Evidence names no personal data (no
 *   names, no e-mails): it is stored in clear, and events carry it.
 * - score: the points turned into 0..1 by a logistic curve centred on `pivotPoints`.
 * - auto threshold: a score at or above it merges at once; review threshold: at or above
 *   it, below auto, the pair goes to the stewardship queue; below it the records stay apart.
 */

/** The matching settings (docs/customers.md). */
export interface MatchingOptions {
  /** A score at or above this merges automatically (default: 0.9). */
  autoThreshold: number;
  /** A score at or above this, below autoThreshold, goes to stewardship (default: 0.5). */
  reviewThreshold: number;
  /** Jaro-Winkler similarity from which two names count as one name mistyped (default: 0.9). */
  typoSimilarity: number;
  /** The points of each kind of evidence (default: EVIDENCE_POINTS; syncline.yaml `customers.matching.points` overrides some). */
  points?: EvidencePoints;
}

export const DEFAULT_MATCHING: MatchingOptions = { autoThreshold: 0.9, reviewThreshold: 0.5, typoSimilarity: 0.9 };

/** The points of each kind of evidence: log-odds, set by hand and checked by `npm run bench -- matching`. */
export const EVIDENCE_POINTS = {
  givenSame: 2,
  givenNickname: 1.8,
  givenTypo: 1.4,
  /** A nickname mistyped (\"bily\" for William). */
  givenNicknameTypo: 1.2,
  givenInitial: 0.6,
  /** Two different first names: family members share surnames, addresses and e-mails. */
  givenDifferent: -5,
  familySame: 2,
  familyTypo: 1.4,
  /** Surnames change (marriage); less telling than a different first name. */
  familyDifferent: -1.5,
  /** Given and family name swapped between the records (a form filled in the wrong order). */
  namesTransposed: 3.4,
  emailSame: 4,
  phoneSame: 4,
  addressSame: 3,
  postcodeSame: 0.8,
  /** Both records give e-mails and none is shared (people have several: a small penalty). */
  emailDifferent: -1,
  /** Both records give phones and none is shared. */
  phoneDifferent: -1,
} as const;
const DEFAULT_POINTS: EvidencePoints = EVIDENCE_POINTS;
export type EvidencePoints = { readonly [K in keyof typeof EVIDENCE_POINTS]: number };

/** The points at which the score is 0.5. */
const PIVOT_POINTS = 5;

export interface Evidence {
  kind: string;
  detail: string;
  points: number;
}

export type DeterministicRule = 'same-verified-email' | 'same-loyalty-id' | 'same-erp-account';

export interface PairAssessment {
  /** Set when a deterministic rule holds: the pair merges whatever the score. */
  rule: DeterministicRule | undefined;
  score: number;
  /**
   * The given names agree (same, nickname, typo, or transposed with the family name). An
   * automatic merge needs it: an address, a family e-mail and a surname are a household's.
   */
  namesAgree: boolean;
  evidence: Evidence[];
}

const logistic = (points: number) => 1 / (1 + Math.exp(-(points - PIVOT_POINTS)));

type NameAgreement = 'same' | 'nickname' | 'nickname-typo' | 'typo' | 'initial' | 'different' | 'missing';

function givenAgreement(a: string | undefined, b: string | undefined, options: MatchingOptions): NameAgreement {
  if (!a || !b) return 'missing';
  if (a === b) return 'same';
  const [firstA, firstB] = [a.split(' ')[0]!, b.split(' ')[0]!];
  if (firstA === firstB) return 'same';
  if (sameNameGroup(firstA, firstB)) return 'nickname';
  if (firstA.length === 1 || firstB.length === 1) return firstA[0] === firstB[0] ? 'initial' : 'different';
  if (jaroWinkler(firstA, firstB) >= options.typoSimilarity) return 'typo';
  return nicknameWithTypo(firstA, firstB, (x, y) => jaroWinkler(x, y) >= options.typoSimilarity) ? 'nickname-typo' : 'different';
}

function familyAgreement(a: string | undefined, b: string | undefined, options: MatchingOptions): NameAgreement {
  if (!a || !b) return 'missing';
  if (a === b) return 'same';
  return jaroWinkler(a, b) >= options.typoSimilarity ? 'typo' : 'different';
}

const intersects = (a: readonly string[], b: readonly string[]) => a.find((value) => b.includes(value));

/** Whether two records are one person: a deterministic rule, or the score from the evidence. */
export function assessPair(a: MatchRecord, b: MatchRecord, options: MatchingOptions = DEFAULT_MATCHING): PairAssessment {
  const evidence: Evidence[] = [];
  const add = (kind: string, detail: string, points: number) => evidence.push({ kind, detail, points });
  const EVIDENCE_POINTS = options.points ?? DEFAULT_POINTS;

  let given = givenAgreement(a.given, b.given, options);
  let family = familyAgreement(a.family, b.family, options);
  let transposed = false;
  if ((given === 'different' || family === 'different') && a.given && b.family) {
    const swapped = [givenAgreement(a.given, b.family, options), familyAgreement(a.family, b.given, options)];
    if (swapped.every((x) => x === 'same' || x === 'typo' || x === 'nickname' || x === 'nickname-typo')) {
      add('name', 'given and family name transposed', EVIDENCE_POINTS.namesTransposed);
      given = family = 'missing';
      transposed = true;
    }
  }
  const givenPoints = { same: EVIDENCE_POINTS.givenSame, nickname: EVIDENCE_POINTS.givenNickname, 'nickname-typo': EVIDENCE_POINTS.givenNicknameTypo, typo: EVIDENCE_POINTS.givenTypo, initial: EVIDENCE_POINTS.givenInitial, different: EVIDENCE_POINTS.givenDifferent, missing: 0 };
  const familyPoints = { same: EVIDENCE_POINTS.familySame, nickname: EVIDENCE_POINTS.familySame, 'nickname-typo': EVIDENCE_POINTS.familyTypo, typo: EVIDENCE_POINTS.familyTypo, initial: 0, different: EVIDENCE_POINTS.familyDifferent, missing: 0 };
  if (given !== 'missing') add('given name', given, givenPoints[given]);
  if (family !== 'missing') add('family name', family, familyPoints[family]);

  const sharedEmail = intersects(a.emails.map((e) => e.address), b.emails.map((e) => e.address));
  if (sharedEmail) add('email', 'same address', EVIDENCE_POINTS.emailSame);
  else if (a.emails.length > 0 && b.emails.length > 0) add('email', 'different addresses', EVIDENCE_POINTS.emailDifferent);
  const sharedPhone = intersects(a.phones, b.phones);
  if (sharedPhone) add('phone', 'same number', EVIDENCE_POINTS.phoneSame);
  else if (a.phones.length > 0 && b.phones.length > 0) add('phone', 'different numbers', EVIDENCE_POINTS.phoneDifferent);
  if (intersects(a.addresses, b.addresses)) add('address', 'same address', EVIDENCE_POINTS.addressSame);
  else if (intersects(a.postcodes, b.postcodes)) add('address', 'same postcode, different street', EVIDENCE_POINTS.postcodeSame);

  const points = evidence.reduce((sum, e) => sum + e.points, 0);
  const score = Math.round(logistic(points) * 10_000) / 10_000;
  const namesAgree = transposed || ['same', 'nickname', 'nickname-typo', 'typo'].includes(given);
  return { rule: deterministicRule(a, b, given), score, namesAgree, evidence };
}

/**
 * The deterministic rules. A verified e-mail is one person's mailbox, except when the two
 * records plainly name two people (a family sharing a verified address): then it is only
 * evidence, and the score decides.
 */
function deterministicRule(a: MatchRecord, b: MatchRecord, given: NameAgreement): DeterministicRule | undefined {
  if (intersects(a.loyaltyIds, b.loyaltyIds)) return 'same-loyalty-id';
  if (intersects(a.erpIds, b.erpIds)) return 'same-erp-account';
  const verifiedA = a.emails.filter((e) => e.verified).map((e) => e.address);
  const verifiedB = b.emails.filter((e) => e.verified).map((e) => e.address);
  if (given !== 'different' && intersects(verifiedA, verifiedB)) return 'same-verified-email';
  return undefined;
}

/** A candidate customer with the records it holds now. */
export interface Candidate {
  customerId: string;
  records: readonly MatchRecord[];
}

export interface CandidateVerdict {
  customerId: string;
  /** The candidate's record that matched best. */
  recordId: string;
  rule: DeterministicRule | undefined;
  score: number;
  namesAgree: boolean;
  evidence: Evidence[];
}

/**
 * What to do with a new record, given its candidates:
 * - merge: join `into` (deterministic or automatic), and merge `alsoMerge` (other customers a
 *   deterministic rule ties to the record) into it;
 * - review: pairs for the stewardship queue (the record's customer and each candidate);
 * - nothing to merge: the record is a new customer.
 */
export interface MatchDecision {
  into: CandidateVerdict | undefined;
  decision: 'deterministic' | 'automatic' | undefined;
  alsoMerge: CandidateVerdict[];
  review: CandidateVerdict[];
}

/** The best verdict of a record against each candidate customer, then the decision. */
export function decide(record: MatchRecord, candidates: readonly Candidate[], options: MatchingOptions = DEFAULT_MATCHING): MatchDecision {
  const verdicts: CandidateVerdict[] = [];
  for (const candidate of candidates) {
    let best: CandidateVerdict | undefined;
    for (const other of candidate.records) {
      const { rule, score, namesAgree, evidence } = assessPair(record, other, options);
      if (!best || (rule && !best.rule) || (!!rule === !!best.rule && score > best.score)) best = { customerId: candidate.customerId, recordId: other.id, rule, score, namesAgree, evidence };
    }
    if (best) verdicts.push(best);
  }
  // Deterministic first, then by score; ties keep the older candidate (candidates come oldest first).
  verdicts.sort((x, y) => Number(!!y.rule) - Number(!!x.rule) || y.score - x.score);
  const deterministic = verdicts.filter((v) => v.rule);
  const automatic = verdicts.filter((v) => !v.rule && v.namesAgree && v.score >= options.autoThreshold);
  const into = deterministic[0] ?? automatic[0];
  const decision = deterministic[0] ? 'deterministic' : automatic[0] ? 'automatic' : undefined;
  const alsoMerge = deterministic.slice(1);
  // Other automatic matches are not merged with each other on this record's word alone: a steward decides.
  const review = verdicts.filter((v) => v !== into && !v.rule && v.score >= options.reviewThreshold);
  return { into, decision, alsoMerge, review };
}

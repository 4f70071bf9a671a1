import { assessPair, DEFAULT_MATCHING, type MatchingOptions } from './matching.ts';
import type { MatchRecord } from './match-record.ts';

/**
 * Re-matching a record a system sent again (ADR 0041). Pure: the service reads the records and
 * applies the outcome.
 *
 * Glossary:
 * - new evidence: what the new version of a record brings that the previous one did not: an
 *   e-mail (or an e-mail now verified), a phone, a loyalty id, an ERP account, an address. Only
 *   then is the record matched again; a changed name or a loyalty balance is not a reason.
 * - supported merge: an automatic or deterministic merge still holds when some record of the side
 *   it moved and some record of the side that stayed meet a deterministic rule, or score at the
 *   automatic threshold with first names that agree.
 */

/** What a record's new version brings that its previous one did not (empty: nothing new). */
export function newEvidence(previous: MatchRecord, next: MatchRecord): string[] {
  const found: string[] = [];
  const wasVerified = new Map(previous.emails.map((e) => [e.address, e.verified]));
  for (const email of next.emails) {
    if (!wasVerified.has(email.address)) found.push(`email${email.verified ? ' (verified)' : ''}`);
    else if (email.verified && !wasVerified.get(email.address)) found.push('email verified');
  }
  const added = (kind: string, before: readonly string[], after: readonly string[]) => {
    for (const value of after) if (!before.includes(value)) found.push(kind);
  };
  added('phone', previous.phones, next.phones);
  added('loyalty id', previous.loyaltyIds, next.loyaltyIds);
  added('erp account', previous.erpIds, next.erpIds);
  added('address', previous.addresses, next.addresses);
  return [...new Set(found)];
}

/**
 * True when the new version may support past merges less than the previous one did: it dropped an
 * e-mail, a verification, a phone, an id or an address, or its names changed. Otherwise every pair
 * scores at least as before, and no merge needs a look.
 */
export function evidenceMayBeLost(previous: MatchRecord, next: MatchRecord): boolean {
  return newEvidence(next, previous).length > 0 || previous.given !== next.given || previous.family !== next.family;
}

/** True when some pair across the two sides of a merge still merges on its own (a rule, or the automatic score with names agreeing). */
export function mergeStillSupported(moved: readonly MatchRecord[], stayed: readonly MatchRecord[], options: MatchingOptions = DEFAULT_MATCHING): boolean {
  for (const a of moved) {
    for (const b of stayed) {
      const { rule, score, namesAgree } = assessPair(a, b, options);
      if (rule || (namesAgree && score >= options.autoThreshold)) return true;
    }
  }
  return false;
}

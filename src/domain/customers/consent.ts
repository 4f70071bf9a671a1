import type { ConsentPurpose, ConsentRecord, ConsentState } from '../../model/consent.ts';

/**
 * The current consent state from a customer's statements (docs/customers.md, ADR 0039).
 *
 * For a purpose and a named channel C, the statements that apply are those for C and those
 * for every channel (channel null); the one the customer gave last decides. So a withdrawal
 * for every channel beats every older grant on any channel, and a later grant on C beats an
 * older withdrawal for every channel (on C only). Two statements given at the same time: the
 * withdrawal wins. The state "for every channel" (channel null) is decided by the statements
 * for every channel alone: it is what applies on a channel no statement names.
 */

/** Later wins; at the same time a withdrawal wins; then the statement recorded last. */
function decides(a: ConsentRecord, b: ConsentRecord): ConsentRecord {
  const ta = Date.parse(a.at);
  const tb = Date.parse(b.at);
  if (ta !== tb) return ta > tb ? a : b;
  if (a.status !== b.status) return a.status === 'withdrawn' ? a : b;
  return a.recordedAt >= b.recordedAt ? a : b;
}

/** The state of one purpose on one channel (null: every channel), or undefined when no statement applies. */
export function consentFor(history: readonly ConsentRecord[], purpose: ConsentPurpose, channel: string | null): ConsentRecord | undefined {
  let winner: ConsentRecord | undefined;
  for (const statement of history) {
    if (statement.purpose !== purpose) continue;
    if (statement.channel !== null && statement.channel !== channel) continue;
    winner = winner ? decides(winner, statement) : statement;
  }
  return winner;
}

/** Every state worth showing: per purpose, every channel (when stated) and each channel a statement names. */
export function currentConsents(history: readonly ConsentRecord[]): ConsentState[] {
  const states: ConsentState[] = [];
  const purposes = [...new Set(history.map((s) => s.purpose))].sort();
  for (const purpose of purposes) {
    const channels = [...new Set(history.filter((s) => s.purpose === purpose && s.channel !== null).map((s) => s.channel as string))].sort();
    for (const channel of [null, ...channels]) {
      const winner = consentFor(history, purpose, channel);
      if (winner) states.push({ purpose, channel, status: winner.status, consentId: winner.id, at: winner.at });
    }
  }
  return states;
}

import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { toScaled } from '../../../model/money.ts';
import { installLoyaltyMembers, type LoyaltyMember } from './loyalty-members.ts';
import { createSandboxApp, listenSandbox, randomIdBytes, type RunningSandbox, type SandboxListenOptions } from '../../kit/sandbox-app.ts';

/**
 * A loyalty programme emulator: POST /v1/awards gives a member points for an order
 * (once per order id), to the member named by `memberId` or else to the member of the e-mail;
 * POST /v1/reversals takes them back (once per order id); GET /v1/members/{member id or
 * e-mail} reads the balance and tier. API in ../README.md.
 */

const Amount = z.string().regex(/^\d{1,18}(\.\d{1,6})?$/);

const AwardBody = z.strictObject({
  orderId: z.string().min(1).max(128),
  email: z.string().min(3).max(254),
  amount: Amount,
  currency: z.string().regex(/^[A-Z]{3}$/),
  /** The member to credit (default: the member of the e-mail). */
  memberId: z.string().min(1).max(128).optional(),
});

const MemberSeed = z.strictObject({
  email: z.string().min(3).max(254).nullable().default(null),
  /** Fixed tier (default: by balance, see tierOf). */
  tier: z.string().min(1).max(40).nullable().default(null),
  balance: z.number().int().default(0),
});


/** The tier a balance reaches when the member has no fixed one. */
export const tierOf = (balance: number) => (balance >= 5000 ? 'gold' : balance >= 1000 ? 'silver' : 'member');

const ReversalBody = z.strictObject({
  orderId: z.string().min(1).max(128),
  reason: z.string().max(500).optional(),
  /** Part of the order's value to take the points of (default: the whole award, what is left of it). */
  amount: Amount.optional(),
  /** Makes a partial reversal idempotent (default: the order id); required with `amount`. */
  reference: z.string().min(1).max(128).optional(),
}).refine((b) => b.amount === undefined || b.reference !== undefined, { message: 'a partial reversal (amount) needs a reference', path: ['reference'] });

interface Reversal {
  id: string;
  orderId: string;
  reference: string;
  amount: string | null;
  awardId: string;
  email: string;
  points: number;
  reason: string | null;
  createdAt: string;
}

interface Award {
  id: string;
  orderId: string;
  email: string;
  /** The member credited: a member id, or null for points kept under the e-mail. */
  memberId: string | null;
  /** The order value the points were earned on. */
  amount: string;
  points: number;
  /** Points taken back so far. */
  reversed: number;
  createdAt: string;
}

/**
 * A member of the programme: a card enrolled (its id from the programme), or an e-mail that earned
 * points (its id the e-mail), with what the programme keeps besides the balance: merges, erasure,
 * consents.
 */
export interface Member {
  id: string;
  email: string | null;
  /** Fixed tier (null: by balance, see tierOf). */
  tier: string | null;
  /** The member this one was combined into (null: a member of its own). */
  mergedInto: string | null;
  /** The points it brought to the merge (given back by an unmerge). */
  mergedPoints: number;
  erasedAt: string | null;
  /** By purpose: the latest consent the programme was told of. */
  consents: Record<string, { channel: string | null; status: 'granted' | 'withdrawn'; at: string }>;
}

const MergeBody = z.strictObject({ into: z.string().min(3).max(254) });
const ConsentBody = z.strictObject({ channel: z.string().min(1).max(64).nullable(), status: z.enum(['granted', 'withdrawn']), at: z.iso.datetime({ offset: true }) });

export interface RunningLoyaltySandbox extends RunningSandbox {
  awards: Map<string, Award>;
  /** Members by member id: cards enrolled, and e-mails that earned points (created when first merged, told a consent or erased). */
  members: Map<string, Member>;
  /** Members enrolled in a store (POST /v1/members), by their programme id (loyalty-members.ts). */
  enrolled: Map<string, LoyaltyMember>;
  /** By reference: the order id for a full reversal, the caller's reference for a partial one. */
  reversals: Map<string, Reversal>;
  /** By member id, or by e-mail for points earned without a member id. */
  balances: Map<string, number>;
}

const newMember = (id: string, email: string | null, tier: string | null = null): Member => ({ id, email, tier, mergedInto: null, mergedPoints: 0, erasedAt: null, consents: {} });

const view = ({ reversed: _reversed, ...award }: Award) => award;
/** The balance an award counts in: its member's, else its e-mail's. */
const balanceKey = (award: Pick<Award, 'memberId' | 'email'>) => award.memberId ?? award.email;

/** Starts the loyalty sandbox. */
export async function startLoyaltySandbox(options: SandboxListenOptions & { pointsPerUnit?: number } = {}): Promise<RunningLoyaltySandbox> {
  let pointsPerUnit = options.pointsPerUnit ?? 1;
  const awards = new Map<string, Award>();
  const byOrder = new Map<string, string>();
  const balances = new Map<string, number>();
  const reversals = new Map<string, Reversal>();
  const members = new Map<string, Member>();
  const { app, faults } = createSandboxApp('loyalty', { log: options.log });
  /** A member by its id, or by the e-mail it earned points under (then made a member of its own). */
  const memberOf = (id: string): Member | undefined => {
    const known = members.get(id) ?? members.get(id.toLowerCase());
    if (known) return known;
    const email = id.toLowerCase();
    if (!balances.has(email)) return undefined;
    const member = newMember(email, email);
    members.set(email, member);
    return member;
  };
  const notFound = (reply: FastifyReply, id: string) => reply.code(404).send({ error: { code: 'not_found', message: `no member ${id.toLowerCase()}` } });
  // Members enrolled in a store and pulled by the systems (loyalty-members.ts).
  const enrolled = installLoyaltyMembers(app, balances);

  app.post('/v1/awards', async (request, reply) => {
    const parsed = AwardBody.safeParse(request.body);
    if (!parsed.success) return reply.code(422).send({ error: { code: 'invalid_request', message: 'the award is not valid', issues: parsed.error.issues } });
    const email = parsed.data.email.toLowerCase();
    const existing = byOrder.get(parsed.data.orderId);
    if (existing) {
      const award = awards.get(existing)!;
      return reply.code(200).send({ ...view(award), balance: balances.get(balanceKey(award)) ?? 0 });
    }
    const { memberId } = parsed.data;
    // Member ids come from the programme itself; one the sandbox was not told of is enrolled with the award's e-mail.
    if (memberId !== undefined && !members.has(memberId)) members.set(memberId, newMember(memberId, email));
    // One point per whole currency unit spent (times pointsPerUnit); no floats involved.
    const whole = Number(toScaled(parsed.data.amount, 6) / 1_000_000n);
    const award: Award = {
      id: `awd_${randomIdBytes(8).toString('hex')}`,
      orderId: parsed.data.orderId,
      email,
      memberId: memberId ?? null,
      amount: parsed.data.amount,
      points: whole * pointsPerUnit,
      reversed: 0,
      createdAt: new Date().toISOString(),
    };
    awards.set(award.id, award);
    byOrder.set(award.orderId, award.id);
    const key = balanceKey(award);
    balances.set(key, (balances.get(key) ?? 0) + award.points);
    enrolled.touch(email);
    return reply.code(201).send({ ...view(award), balance: balances.get(key) });
  });

  app.post('/v1/reversals', async (request, reply) => {
    const parsed = ReversalBody.safeParse(request.body);
    if (!parsed.success) return reply.code(422).send({ error: { code: 'invalid_request', message: 'the reversal is not valid', issues: parsed.error.issues } });
    const { orderId, amount } = parsed.data;
    const reference = parsed.data.reference ?? orderId;
    const done = reversals.get(reference);
    if (done) return reply.code(200).send({ ...done, balance: balances.get(balanceKey(awards.get(done.awardId)!)) ?? 0 });
    const awardId = byOrder.get(orderId);
    if (!awardId) return reply.code(404).send({ error: { code: 'not_found', message: `no award for order ${orderId}` } });
    const award = awards.get(awardId)!;
    const left = award.points - award.reversed;
    // A part of the order takes back the points it earned, in proportion to the value the award was
    // computed on (rounded down, in the member's favour); never more than is left of the award.
    const base = toScaled(award.amount, 6);
    const points = amount === undefined ? left : base === 0n ? 0 : Math.min(left, Number((BigInt(award.points) * toScaled(amount, 6)) / base));
    // The balance may go below zero when the points were spent meanwhile, as in most programmes.
    const reversal: Reversal = {
      id: `rev_${randomIdBytes(8).toString('hex')}`,
      orderId,
      reference,
      amount: amount ?? null,
      awardId,
      email: award.email,
      points,
      reason: parsed.data.reason ?? null,
      createdAt: new Date().toISOString(),
    };
    reversals.set(reference, reversal);
    award.reversed += points;
    const key = balanceKey(award);
    balances.set(key, (balances.get(key) ?? 0) - points);
    enrolled.touch(award.email);
    return reply.code(201).send({ ...reversal, balance: balances.get(key) });
  });

  app.get<{ Params: { key: string } }>('/v1/members/:key', async (request, reply) => {
    const member = members.get(request.params.key);
    if (member) {
      const balance = balances.get(member.id) ?? 0;
      return { id: member.id, email: member.email, balance, tier: member.tier ?? tierOf(balance) };
    }
    // A member enrolled in a store: its points are those of its id and of its e-mail.
    const card = enrolled.members.get(request.params.key) ?? [...enrolled.members.values()].find((m) => m.email === request.params.key.toLowerCase());
    if (card) {
      const balance = (balances.get(card.id) ?? 0) + (balances.get(card.email) ?? 0);
      return { id: card.id, email: card.email, balance, tier: card.tier };
    }
    const email = request.params.key.toLowerCase();
    if (!balances.has(email)) return reply.code(404).send({ error: { code: 'not_found', message: `no member ${request.params.key}` } });
    const balance = balances.get(email)!;
    return { id: email, email, balance, tier: tierOf(balance) };
  });

  // Enrols (or replaces) a member card, as the programme's own back office would.
  app.put<{ Params: { id: string } }>('/_sandbox/members/:id', async (request, reply) => {
    const parsed = MemberSeed.safeParse(request.body ?? {});
    if (!parsed.success) return reply.code(422).send({ error: { code: 'invalid_request', message: 'the member is not valid', issues: parsed.error.issues } });
    const member = newMember(request.params.id, parsed.data.email?.toLowerCase() ?? null, parsed.data.tier);
    members.set(member.id, member);
    balances.set(member.id, parsed.data.balance);
    return { ...member, balance: parsed.data.balance };
  });

  // A merge combines the points: the member's balance moves to `into`, the member is kept (merged)
  // so an unmerge can give back the points it brought. Points earned after the merge stay.
  app.post<{ Params: { email: string } }>('/v1/members/:email/merge', async (request, reply) => {
    const parsed = MergeBody.safeParse(request.body);
    if (!parsed.success) return reply.code(422).send({ error: { code: 'invalid_request', message: 'the merge is not valid', issues: parsed.error.issues } });
    const member = memberOf(request.params.email);
    if (!member) return notFound(reply, request.params.email);
    const id = member.id;
    const target = memberOf(parsed.data.into) ?? (members.set(parsed.data.into.toLowerCase(), newMember(parsed.data.into.toLowerCase(), parsed.data.into.toLowerCase())), members.get(parsed.data.into.toLowerCase())!);
    const into = target.id;
    if (id === into) return reply.code(422).send({ error: { code: 'invalid_request', message: 'a member cannot be merged into itself' } });
    if (member.mergedInto === into) return reply.code(200).send({ email: id, mergedInto: into, balance: balances.get(into) ?? 0 });
    if (member.mergedInto) return reply.code(409).send({ error: { code: 'already_merged', message: `member ${id} is merged into ${member.mergedInto}` } });
    if (target.mergedInto) return reply.code(409).send({ error: { code: 'already_merged', message: `member ${into} is merged into ${target.mergedInto}` } });
    const points = balances.get(id) ?? 0;
    member.mergedInto = into;
    member.mergedPoints = points;
    balances.set(into, (balances.get(into) ?? 0) + points);
    balances.set(id, 0);
    return reply.code(201).send({ email: id, mergedInto: into, balance: balances.get(into) });
  });

  app.post<{ Params: { email: string } }>('/v1/members/:email/unmerge', async (request, reply) => {
    const member = memberOf(request.params.email);
    if (!member) return notFound(reply, request.params.email);
    const id = member.id;
    if (!member.mergedInto) return reply.code(200).send({ email: id, mergedInto: null, balance: balances.get(id) ?? 0 });
    const from = member.mergedInto;
    balances.set(from, (balances.get(from) ?? 0) - member.mergedPoints);
    balances.set(id, (balances.get(id) ?? 0) + member.mergedPoints);
    member.mergedInto = null;
    member.mergedPoints = 0;
    return reply.code(201).send({ email: id, mergedInto: null, balance: balances.get(id) });
  });

  app.put<{ Params: { email: string; purpose: string } }>('/v1/members/:email/consents/:purpose', async (request, reply) => {
    const parsed = ConsentBody.safeParse(request.body);
    if (!parsed.success) return reply.code(422).send({ error: { code: 'invalid_request', message: 'the consent is not valid', issues: parsed.error.issues } });
    const member = memberOf(request.params.email);
    if (!member) return notFound(reply, request.params.email);
    const previous = member.consents[request.params.purpose];
    // An older statement than the one held changes nothing (the most recent wins).
    if (!previous || Date.parse(previous.at) <= Date.parse(parsed.data.at)) member.consents[request.params.purpose] = parsed.data;
    return { email: request.params.email.toLowerCase(), purpose: request.params.purpose, ...member.consents[request.params.purpose] };
  });

  // Erasure: the member's e-mail leaves every award and reversal (replaced by a pseudonym); the
  // points ledger stays for the programme's accounts.
  app.delete<{ Params: { email: string } }>('/v1/members/:email', async (request, reply) => {
    const member = memberOf(request.params.email);
    if (!member) return notFound(reply, request.params.email);
    const id = member.id;
    const email = member.email ?? id;
    const pseudonym = `erased-${randomBytes(6).toString('hex')}`;
    for (const award of awards.values()) if (award.email === email || award.memberId === id) award.email = pseudonym;
    for (const reversal of reversals.values()) if (reversal.email === email) reversal.email = pseudonym;
    balances.delete(id);
    balances.delete(email);
    members.delete(id);
    members.set(pseudonym, { ...newMember(pseudonym, null), erasedAt: new Date().toISOString() });
    return reply.code(204).send();
  });

  app.get('/_sandbox/config', async () => ({ pointsPerUnit }));
  app.put('/_sandbox/config', async (request) => {
    pointsPerUnit = z.strictObject({ pointsPerUnit: z.number().int().min(0).max(1000) }).parse(request.body ?? {}).pointsPerUnit;
    return { pointsPerUnit };
  });

  const running = await listenSandbox('loyalty', app, faults, options);
  return { ...running, awards, reversals, balances, members, enrolled: enrolled.members };
}

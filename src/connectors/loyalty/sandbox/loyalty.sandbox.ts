import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { toScaled } from '../../../model/money.ts';
import { installLoyaltyMembers, type LoyaltyMember } from './loyalty-members.ts';
import { createSandboxApp, listenSandbox, type RunningSandbox, type SandboxListenOptions } from '../../kit/sandbox-app.ts';

/**
 * A loyalty programme emulator: POST /v1/awards gives a member points for an order
 * (once per order id); POST /v1/reversals takes them back (once per order id);
 * GET /v1/members/{email} reads the balance. API in ../README.md.
 */

const Amount = z.string().regex(/^\d{1,18}(\.\d{1,6})?$/);

const AwardBody = z.strictObject({
  orderId: z.string().min(1).max(128),
  email: z.string().min(3).max(254),
  amount: Amount,
  currency: z.string().regex(/^[A-Z]{3}$/),
});

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
  /** The order value the points were earned on. */
  amount: string;
  points: number;
  /** Points taken back so far. */
  reversed: number;
  createdAt: string;
}

export interface RunningLoyaltySandbox extends RunningSandbox {
  awards: Map<string, Award>;
  /** By reference: the order id for a full reversal, the caller's reference for a partial one. */
  reversals: Map<string, Reversal>;
  balances: Map<string, number>;
  /** Members by id (loyalty-members.ts). */
  members: Map<string, LoyaltyMember>;
}

const view = ({ reversed: _reversed, ...award }: Award) => award;

/** Starts the loyalty sandbox. */
export async function startLoyaltySandbox(options: SandboxListenOptions & { pointsPerUnit?: number } = {}): Promise<RunningLoyaltySandbox> {
  let pointsPerUnit = options.pointsPerUnit ?? 1;
  const awards = new Map<string, Award>();
  const byOrder = new Map<string, string>();
  const balances = new Map<string, number>();
  const reversals = new Map<string, Reversal>();
  const { app, faults } = createSandboxApp('loyalty', { log: options.log });
  const members = installLoyaltyMembers(app, balances);

  app.post('/v1/awards', async (request, reply) => {
    const parsed = AwardBody.safeParse(request.body);
    if (!parsed.success) return reply.code(422).send({ error: { code: 'invalid_request', message: 'the award is not valid', issues: parsed.error.issues } });
    const email = parsed.data.email.toLowerCase();
    const existing = byOrder.get(parsed.data.orderId);
    if (existing) {
      const award = awards.get(existing)!;
      return reply.code(200).send({ ...view(award), balance: balances.get(award.email) ?? 0 });
    }
    // One point per whole currency unit spent (times pointsPerUnit); no floats involved.
    const whole = Number(toScaled(parsed.data.amount, 6) / 1_000_000n);
    const award: Award = {
      id: `awd_${randomBytes(8).toString('hex')}`,
      orderId: parsed.data.orderId,
      email,
      amount: parsed.data.amount,
      points: whole * pointsPerUnit,
      reversed: 0,
      createdAt: new Date().toISOString(),
    };
    awards.set(award.id, award);
    byOrder.set(award.orderId, award.id);
    balances.set(email, (balances.get(email) ?? 0) + award.points);
    members.touch(email);
    return reply.code(201).send({ ...view(award), balance: balances.get(email) });
  });

  app.post('/v1/reversals', async (request, reply) => {
    const parsed = ReversalBody.safeParse(request.body);
    if (!parsed.success) return reply.code(422).send({ error: { code: 'invalid_request', message: 'the reversal is not valid', issues: parsed.error.issues } });
    const { orderId, amount } = parsed.data;
    const reference = parsed.data.reference ?? orderId;
    const done = reversals.get(reference);
    if (done) return reply.code(200).send({ ...done, balance: balances.get(done.email) ?? 0 });
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
      id: `rev_${randomBytes(8).toString('hex')}`,
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
    balances.set(award.email, (balances.get(award.email) ?? 0) - points);
    members.touch(award.email);
    return reply.code(201).send({ ...reversal, balance: balances.get(award.email) });
  });

  app.get<{ Params: { email: string } }>('/v1/members/:email', async (request, reply) => {
    const email = request.params.email.toLowerCase();
    if (!balances.has(email)) return reply.code(404).send({ error: { code: 'not_found', message: `no member ${email}` } });
    return { email, balance: balances.get(email) };
  });

  app.get('/_sandbox/config', async () => ({ pointsPerUnit }));
  app.put('/_sandbox/config', async (request) => {
    pointsPerUnit = z.strictObject({ pointsPerUnit: z.number().int().min(0).max(1000) }).parse(request.body ?? {}).pointsPerUnit;
    return { pointsPerUnit };
  });

  const running = await listenSandbox('loyalty', app, faults, options);
  return { ...running, awards, reversals, balances, members: members.members };
}

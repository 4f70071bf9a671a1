import { randomIdBytes } from '../../kit/sandbox-app.ts';
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';

/**
 * Loyalty members in the sandbox (API in ../README.md, "Members"): a member enrolled in a store
 * (POST /v1/members), changed (PATCH /v1/members/{id}), and listed by modification time for the
 * systems that pull them (GET /v1/members?changedSince=). A member's points are the balance of
 * their e-mail, as awards and reversals keep it.
 */

const MemberAddress = z.strictObject({
  line1: z.string().min(1).max(200),
  line2: z.string().max(200).optional(),
  city: z.string().min(1).max(100),
  postalCode: z.string().min(1).max(20),
  country: z.string().regex(/^[A-Z]{2}$/),
});

const MemberFields = {
  givenName: z.string().min(1).max(100),
  familyName: z.string().min(1).max(100),
  email: z.email().max(254),
  /** The member confirmed the address (the programme's double opt-in). */
  emailVerified: z.boolean(),
  phone: z.string().min(4).max(32).nullable(),
  address: MemberAddress.nullable(),
  tier: z.string().min(1).max(64),
  /** The member's account in the ERP, for a business member. */
  erpAccount: z.string().min(1).max(128).nullable(),
};

const EnrolBody = z.strictObject({
  ...MemberFields,
  emailVerified: MemberFields.emailVerified.default(false),
  phone: MemberFields.phone.optional(),
  address: MemberFields.address.optional(),
  tier: MemberFields.tier.default('member'),
  erpAccount: MemberFields.erpAccount.optional(),
  /** The store the member enrolled in (null: online). */
  store: z.string().min(1).max(64).optional(),
});
const PatchBody = z.strictObject(MemberFields).partial();
const ListQuery = z.strictObject({
  changedSince: z.iso.datetime().optional(),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export interface LoyaltyMember {
  id: string;
  givenName: string;
  familyName: string;
  email: string;
  emailVerified: boolean;
  phone: string | null;
  address: z.infer<typeof MemberAddress> | null;
  tier: string;
  erpAccount: string | null;
  store: string | null;
  enrolledAt: string;
  updatedAt: string;
}

const invalid = (issues: unknown) => ({ error: { code: 'invalid_request', message: 'the member is not valid', issues } });

/** Serves the member routes on the loyalty sandbox; `touch` marks a member changed (their points moved). */
export function installLoyaltyMembers(app: FastifyInstance, balances: Map<string, number>) {
  const members = new Map<string, LoyaltyMember>();
  // A clock that never repeats a millisecond, so "changed since" sees every change once ordered.
  let last = 0;
  const now = () => new Date((last = Math.max(Date.now(), last + 1))).toISOString();
  // Points awarded to the card's id and those earned under its e-mail before it.
  const view = (member: LoyaltyMember) => ({ ...member, balance: (balances.get(member.id) ?? 0) + (balances.get(member.email) ?? 0) });

  app.post('/v1/members', async (request, reply) => {
    const parsed = EnrolBody.safeParse(request.body);
    if (!parsed.success) return reply.code(422).send(invalid(parsed.error.issues));
    const email = parsed.data.email.toLowerCase();
    const taken = [...members.values()].find((m) => m.email === email);
    if (taken) return reply.code(409).send({ error: { code: 'member_exists', message: `a member with ${email} exists`, memberId: taken.id } });
    const at = now();
    const member: LoyaltyMember = {
      id: `mbr_${randomIdBytes(8).toString('hex')}`,
      givenName: parsed.data.givenName,
      familyName: parsed.data.familyName,
      email,
      emailVerified: parsed.data.emailVerified,
      phone: parsed.data.phone ?? null,
      address: parsed.data.address ?? null,
      tier: parsed.data.tier,
      erpAccount: parsed.data.erpAccount ?? null,
      store: parsed.data.store ?? null,
      enrolledAt: at,
      updatedAt: at,
    };
    members.set(member.id, member);
    return reply.code(201).send(view(member));
  });

  app.patch<{ Params: { id: string } }>('/v1/members/:id', async (request, reply) => {
    const member = members.get(request.params.id);
    if (!member) return reply.code(404).send({ error: { code: 'not_found', message: `no member ${request.params.id}` } });
    const parsed = PatchBody.safeParse(request.body);
    if (!parsed.success) return reply.code(422).send(invalid(parsed.error.issues));
    Object.assign(member, parsed.data, parsed.data.email ? { email: parsed.data.email.toLowerCase() } : {}, { updatedAt: now() });
    return view(member);
  });

  app.get('/v1/members', async (request, reply) => {
    const parsed = ListQuery.safeParse(request.query);
    if (!parsed.success) return reply.code(422).send({ error: { code: 'invalid_request', message: 'the query is not valid', issues: parsed.error.issues } });
    const { changedSince, offset, limit } = parsed.data;
    const since = changedSince ? Date.parse(changedSince) : -Infinity;
    // Enrolment order (stable while paging); the filter is inclusive, as a cursor needs.
    const changed = [...members.values()].filter((m) => Date.parse(m.updatedAt) >= since);
    const page = changed.slice(offset, offset + limit);
    return { members: page.map(view), more: offset + page.length < changed.length };
  });

  return {
    members,
    /** A member's points moved (an award, a reversal): they count as changed. */
    touch(email: string) {
      for (const member of members.values()) if (member.email === email) member.updatedAt = now();
    },
  };
}

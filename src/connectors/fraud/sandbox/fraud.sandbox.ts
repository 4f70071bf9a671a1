import { z } from 'zod';
import { toScaled } from '../../../model/money.ts';
import { createSandboxApp, listenSandbox, randomIdBytes, type RunningSandbox, type SandboxListenOptions } from '../../kit/sandbox-app.ts';

/**
 * A fraud screening service emulator: POST /v1/screenings decides approve or hold by
 * rules an operator sets through PUT /_sandbox/rules. One screening per order id.
 * API in ../README.md.
 */

const Rules = z.strictObject({
  /** Hold orders whose amount is above this, per currency (e.g. { "USD": "1000.00" }). */
  holdAbove: z.record(z.string().regex(/^[A-Z]{3}$/), z.string().regex(/^\d+(\.\d+)?$/)).default({}),
  holdEmails: z.array(z.string().min(3)).default([]),
  holdEmailDomains: z.array(z.string().min(1)).default([]),
  holdCountries: z.array(z.string().regex(/^[A-Z]{2}$/)).default([]),
  /** Hold when shipping and billing countries differ. */
  holdCountryMismatch: z.boolean().default(false),
});
type Rules = z.infer<typeof Rules>;

const ScreeningBody = z.strictObject({
  orderId: z.string().min(1).max(128),
  email: z.string().min(3).max(254),
  amount: z.string().regex(/^\d{1,18}(\.\d{1,6})?$/),
  currency: z.string().regex(/^[A-Z]{3}$/),
  shippingCountry: z.string().regex(/^[A-Z]{2}$/),
  billingCountry: z.string().regex(/^[A-Z]{2}$/).optional(),
  lineCount: z.number().int().min(0),
});

interface Screening {
  id: string;
  orderId: string;
  decision: 'approve' | 'hold';
  reasons: { code: string; message: string }[];
  score: number;
  createdAt: string;
}

export interface RunningFraudSandbox extends RunningSandbox {
  screenings: Map<string, Screening>;
}

function decide(rules: Rules, input: z.infer<typeof ScreeningBody>): Screening['reasons'] {
  const reasons: Screening['reasons'] = [];
  const limit = rules.holdAbove[input.currency];
  if (limit !== undefined && toScaled(input.amount, 6) > toScaled(limit, 6)) {
    reasons.push({ code: 'amount_above_limit', message: `order amount ${input.amount} ${input.currency} is above the review limit ${limit}` });
  }
  const email = input.email.toLowerCase();
  if (rules.holdEmails.some((e) => e.toLowerCase() === email)) reasons.push({ code: 'email_on_watchlist', message: `the email ${input.email} is on the watch list` });
  const domain = email.split('@')[1] ?? '';
  if (rules.holdEmailDomains.some((d) => d.toLowerCase() === domain)) reasons.push({ code: 'email_domain_on_watchlist', message: `the email domain ${domain} is on the watch list` });
  if (rules.holdCountries.includes(input.shippingCountry)) reasons.push({ code: 'country_on_watchlist', message: `shipping to ${input.shippingCountry} needs review` });
  if (rules.holdCountryMismatch && input.billingCountry && input.billingCountry !== input.shippingCountry) {
    reasons.push({ code: 'country_mismatch', message: `billing country ${input.billingCountry} differs from shipping country ${input.shippingCountry}` });
  }
  return reasons;
}

/** Starts the fraud sandbox. */
export async function startFraudSandbox(options: SandboxListenOptions & { rules?: Partial<Rules> } = {}): Promise<RunningFraudSandbox> {
  let rules = Rules.parse(options.rules ?? {});
  const screenings = new Map<string, Screening>();
  const byOrder = new Map<string, string>();
  const { app, faults } = createSandboxApp('fraud', { log: options.log });

  app.post('/v1/screenings', async (request, reply) => {
    const parsed = ScreeningBody.safeParse(request.body);
    if (!parsed.success) return reply.code(422).send({ error: { code: 'invalid_request', message: 'the screening request is not valid', issues: parsed.error.issues } });
    const existing = byOrder.get(parsed.data.orderId);
    if (existing) return reply.code(200).send(screenings.get(existing));
    const reasons = decide(rules, parsed.data);
    const screening: Screening = {
      id: `scr_${randomIdBytes(8).toString('hex')}`,
      orderId: parsed.data.orderId,
      decision: reasons.length ? 'hold' : 'approve',
      reasons,
      score: reasons.length ? Math.min(99, 70 + 10 * reasons.length) : 5,
      createdAt: new Date().toISOString(),
    };
    screenings.set(screening.id, screening);
    byOrder.set(screening.orderId, screening.id);
    return reply.code(201).send(screening);
  });

  app.get<{ Params: { id: string } }>('/v1/screenings/:id', async (request, reply) => {
    const screening = screenings.get(request.params.id);
    return screening ?? reply.code(404).send({ error: { code: 'not_found', message: `no screening ${request.params.id}` } });
  });

  app.get('/_sandbox/rules', async () => rules);
  app.put('/_sandbox/rules', async (request) => {
    rules = Rules.parse(request.body ?? {});
    return rules;
  });

  const running = await listenSandbox('fraud', app, faults, options);
  return { ...running, screenings };
}

import { z } from 'zod';
import { CustomerSystem } from '../model/customer.ts';
import { DEFAULT_MATCHING, EVIDENCE_POINTS, type MatchingOptions } from '../domain/customers/matching.ts';
import { DEFAULT_SURVIVORSHIP, type GoldenAttribute, type SurvivorshipConfig } from '../domain/customers/survivorship.ts';

/**
 * `customers` in syncline.yaml (docs/customers.md, Configuration): overrides of the matching
 * thresholds, evidence points and survivorship rules. Anything left out keeps its default.
 *
 *   customers:
 *     matching: { autoThreshold: 0.92, reviewThreshold: 0.5, typoSimilarity: 0.9, maxRecordsPerKey: 200, points: { givenNickname: 1.5 } }
 *     survivorship:
 *       rules: { familyName: { rule: source-priority, order: [erp, crm, loyalty, channel] } }
 *       owners: { creditLimit: erp, engagement: null }   # null: no owner, every system may give it
 */

export interface CustomerSettings {
  matching: MatchingOptions;
  survivorship: SurvivorshipConfig;
  /** A blocking key shared by more records than this is skipped (default: 200). */
  maxRecordsPerKey: number;
}

const ATTRIBUTES = Object.keys(DEFAULT_SURVIVORSHIP.rules) as [GoldenAttribute, ...GoldenAttribute[]];
const Attribute = z.enum(ATTRIBUTES);
const share = z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1');
const Rule = z.discriminatedUnion('rule', [
  z.strictObject({
    rule: z.literal('source-priority'),
    order: z
      .array(CustomerSystem)
      .min(1, 'must name at least one system')
      .refine((order) => new Set(order).size === order.length, 'must not name a system twice'),
  }),
  z.strictObject({ rule: z.literal('most-recent') }),
  z.strictObject({ rule: z.literal('most-complete') }),
  z.strictObject({ rule: z.literal('verified-first') }),
]);

const Section = z
  .strictObject({
    matching: z
      .strictObject({
        autoThreshold: share.optional(),
        reviewThreshold: share.optional(),
        typoSimilarity: share.optional(),
        maxRecordsPerKey: z.number().int('must be a whole number').min(2, 'must be at least 2').max(100_000, 'must be at most 100000').optional(),
        points: z.strictObject(Object.fromEntries(Object.keys(EVIDENCE_POINTS).map((k) => [k, z.number().min(-20, 'must be between -20 and 20').max(20, 'must be between -20 and 20').optional()]))).optional(),
      })
      .optional(),
    survivorship: z
      .strictObject({
        rules: z.partialRecord(Attribute, Rule).optional(),
        owners: z.partialRecord(Attribute, CustomerSystem.nullable()).optional(),
      })
      .optional(),
  })
  .superRefine((section, ctx) => {
    const auto = section.matching?.autoThreshold ?? DEFAULT_MATCHING.autoThreshold;
    const review = section.matching?.reviewThreshold ?? DEFAULT_MATCHING.reviewThreshold;
    if (review > auto) ctx.addIssue({ code: 'custom', path: ['matching', 'reviewThreshold'], message: `must not be above autoThreshold (${auto})` });
  });

/**
 * Checks the `customers` section; problems are pushed with their path (`customers.matching.autoThreshold: ...`).
 * Returns the settings with the defaults filled in, or undefined when the section is absent or wrong.
 */
export function checkCustomersSection(raw: unknown, problems: string[], issueMessages: (prefix: readonly PropertyKey[], error: z.ZodError) => string[]): CustomerSettings | undefined {
  if (raw === undefined || raw === null) return undefined;
  const parsed = Section.safeParse(raw);
  if (!parsed.success) {
    problems.push(...issueMessages(['customers'], parsed.error));
    return undefined;
  }
  const { matching = {}, survivorship = {} } = parsed.data;
  const owners: SurvivorshipConfig['owners'] = { ...DEFAULT_SURVIVORSHIP.owners };
  for (const [attribute, system] of Object.entries(survivorship.owners ?? {}) as [GoldenAttribute, CustomerSystem | null][]) {
    if (system === null) delete owners[attribute];
    else owners[attribute] = system;
  }
  const points = { ...EVIDENCE_POINTS, ...(matching.points as Partial<typeof EVIDENCE_POINTS> | undefined) };
  return {
    matching: {
      autoThreshold: matching.autoThreshold ?? DEFAULT_MATCHING.autoThreshold,
      reviewThreshold: matching.reviewThreshold ?? DEFAULT_MATCHING.reviewThreshold,
      typoSimilarity: matching.typoSimilarity ?? DEFAULT_MATCHING.typoSimilarity,
      points,
    },
    survivorship: { rules: { ...DEFAULT_SURVIVORSHIP.rules, ...(survivorship.rules as Partial<SurvivorshipConfig['rules']>) }, owners },
    maxRecordsPerKey: matching.maxRecordsPerKey ?? 200,
  };
}

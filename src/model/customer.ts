import { z } from 'zod';
import { Address } from './order.ts';

/** A customer as Syncline keeps them across channels (`cus_…`); channels refer to them by email or their own id. */
export const Customer = z
  .object({
    id: z.string().meta({ example: 'cus_01jd5q8x7m2v3k4n5p6r7s8t9w' }),
    email: z.email(),
    name: z.string(),
    phone: z.string().optional(),
    addresses: z.array(Address),
    channelIds: z
      .record(z.string(), z.string())
      .meta({ description: 'The id each channel knows this customer by, keyed by channel slug.' }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Customer', description: 'A canonical customer.' });
export type Customer = z.infer<typeof Customer>;

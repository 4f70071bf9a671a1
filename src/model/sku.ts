import { z } from 'zod';

/**
 * The one SKU rule, shared by orders, inventory, returns and shipments: a SKU
 * that order intake accepts is one inventory can store and look up.
 */
export const Sku = z
  .string()
  .regex(/^[\x21-\x7e]{1,64}$/, 'must be 1-64 printable ASCII characters without spaces')
  .meta({ id: 'Sku', example: 'TEE-M-BLK' });

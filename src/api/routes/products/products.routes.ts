import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { Product } from '../../../model/product.ts';
import { Sku } from '../../../model/sku.ts';
import { ProductService } from '../../../domain/products/product.service.ts';
import type { ApiContext } from '../../api-context.ts';
import { ProblemError } from '../../problem.ts';
import { parseQuery } from '../../validation.ts';
import { operation } from '../../route-kit.ts';
import { productExample } from '../examples.ts';

const ProductListQuery = z.strictObject({
  active: z.enum(['true', 'false']).optional().meta({ description: 'Only active (true) or inactive (false) products (default: both).' }),
  skuPrefix: z.string().regex(/^[\x21-\x7e]{1,64}$/, 'must be 1-64 printable ASCII characters').optional().meta({ description: 'Only SKUs starting with this text.' }),
  after: Sku.optional().meta({ description: 'The SKU from nextAfter of the previous page.' }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const ProductList = z.object({ data: z.array(Product), nextAfter: z.string().nullable() }).meta({ id: 'ProductList' });

const listProducts = operation({
  operationId: 'listProducts',
  tags: ['Products'],
  summary: 'List the product catalogue by SKU',
  description: 'The catalogue is synced from the ERP (docs/products.md). Pass nextAfter as after to read the next page.',
  auth: 'products:read',
  query: ProductListQuery,
  responses: { 200: { description: 'A page of products in SKU order.', schema: ProductList, example: { data: [productExample], nextAfter: null } } },
});

const getProduct = operation({
  operationId: 'getProduct',
  tags: ['Products'],
  summary: 'Get a product by SKU',
  auth: 'products:read',
  params: { sku: 'The SKU.' },
  responses: { 200: { description: 'The product.', schema: Product, example: productExample } },
  problems: { 'not-found': 'The catalogue has no product with this SKU.' },
});

/** The product catalogue, read-only: it is written by the sync from the ERP. */
export async function productsRoutes(app: FastifyInstance, { db }: ApiContext): Promise<void> {
  const products = new ProductService(db);

  app.get('/v1/products', { schema: listProducts }, async (request) => {
    const query = parseQuery(ProductListQuery, request.query);
    const page = await products.list({ active: query.active === undefined ? undefined : query.active === 'true', skuPrefix: query.skuPrefix, after: query.after, limit: query.limit });
    const last = page.at(-1);
    return { data: page, nextAfter: page.length === query.limit && last ? last.sku : null };
  });

  app.get('/v1/products/:sku', { schema: getProduct }, async (request) => {
    const { sku } = request.params as { sku: string };
    const product = Sku.safeParse(sku).success ? await products.get(sku) : undefined;
    if (!product) throw new ProblemError('not-found', `No product with SKU ${sku} in the catalogue.`);
    return product;
  });
}

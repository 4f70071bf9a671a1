import type { UnknownLocation } from '../../../domain/inventory/inventory.service.ts';
import { ProblemError } from '../../problem.ts';

/** Narrows a service answer: an unknown location reference becomes a 422 naming the field (400 for a query parameter). */
export function known<T>(value: T | UnknownLocation, where: 'body' | 'query' = 'body'): T {
  if (typeof value === 'object' && value !== null && 'kind' in value && (value as { kind: unknown }).kind === 'unknown-locations') {
    const { problems } = value as UnknownLocation;
    if (where === 'query') {
      throw new ProblemError('invalid-query', problems.map((p) => `${p.pointer.slice(1)}: ${p.detail}`).join('; '), {
        errors: problems.map((p) => ({ parameter: p.pointer.slice(1), detail: p.detail })),
      });
    }
    throw new ProblemError('validation-failed', `${problems.length} location reference(s) not found.`, { errors: problems });
  }
  return value as T;
}

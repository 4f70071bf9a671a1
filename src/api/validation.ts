import { z } from 'zod';
import { findUnstorableText } from '../model/text.ts';
import { ProblemError, type FieldError } from './problem.ts';

/** RFC 6901 JSON pointer for a zod issue path. */
export function jsonPointer(path: readonly PropertyKey[]): string {
  return path.map((part) => '/' + String(part).replaceAll('~', '~0').replaceAll('/', '~1')).join('');
}

/** Every failing field of a zod error, one entry per field (unknown keys get one each). */
export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.flatMap((issue): FieldError[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ pointer: jsonPointer([...issue.path, key]), detail: 'is not a known field' }));
    }
    if (issue.code === 'invalid_type' && issue.input === undefined) {
      return [{ pointer: jsonPointer(issue.path), detail: 'is required' }];
    }
    return [{ pointer: jsonPointer(issue.path), detail: issue.message }];
  });
}

/**
 * Parses input with a schema or throws a 422 problem listing every failing field.
 * Text the database cannot store (NUL, unpaired surrogates) is refused here for
 * every model at once, with a pointer to each such string.
 */
export function parseBody<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const unstorable = findUnstorableText(input).map((t) => ({ pointer: jsonPointer(t.path), detail: t.message }));
  const result = schema.safeParse(input);
  if (result.success && unstorable.length === 0) return result.data;
  const flagged = new Set(unstorable.map((e) => e.pointer));
  const errors = [...unstorable, ...(result.success ? [] : fieldErrors(result.error).filter((e) => !flagged.has(e.pointer)))];
  throw new ProblemError('validation-failed', `${errors.length} field(s) failed validation.`, { errors });
}

/** Parses query parameters or throws a 400 problem. */
export function parseQuery<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const errors = fieldErrors(result.error).map((e) => ({ parameter: e.pointer.slice(1), detail: e.detail }));
  throw new ProblemError('invalid-query', errors.map((e) => `${e.parameter} ${e.detail}`).join('; '), { errors });
}

/** The query of an operation that takes no parameters: any parameter is refused. */
export const NoQuery = z.strictObject({});

/** The optional body of an action that takes no input: absent or `{}`. */
export const EmptyBody = z.strictObject({}).optional();

/** An ISO 8601 date-time with a time zone, as query filters take it. */
export const Timestamp = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with a time zone' });

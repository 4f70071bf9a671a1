import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { rotateSigningKey } from '../../../domain/clients/signing-keys.ts';
import {
  addConsoleUser,
  CONSOLE_ROLES,
  listConsoleUsers,
  resetConsoleUserPassword,
  setConsoleUserDisabled,
  setConsoleUserRole,
  type ChangeUserResult,
} from '../../../domain/console-users/console-user.service.ts';
import { isId } from '../../../model/ids.ts';
import type { ApiContext } from '../../api-context.ts';
import { ProblemError } from '../../problem.ts';
import { EmptyBody, NoQuery, parseBody, parseQuery } from '../../validation.ts';
import { forBrowser } from './console-masking.ts';
import { consoleAuditContext, requireConsole } from './console-session.ts';

/**
 * Administration in the console, for admins only (docs/console.md, ADR 0032): console users (add
 * with a password the admin sets, change a role, disable or enable, set a new password; the last
 * admin who can sign in stays one) and the rotation of the token signing key (it shows no secret).
 * API clients are in console-clients.routes.ts (ADR 0037). Every action is audited by the domain
 * service as console:<user id>; every POST needs the CSRF token.
 */

const hidden = { hide: true };
const Role = z.enum(CONSOLE_ROLES);
// The password crosses once, browser to server, over the admin's session; it is never answered back.
const Password = z.string().min(1).max(1024);
const NewUser = z.strictObject({ email: z.string().min(3).max(254), name: z.string().trim().max(200).optional(), role: Role, password: Password });
const RoleChange = z.strictObject({ role: Role });
const PasswordReset = z.strictObject({ password: Password });

/** Maps a user change to its answer: the user, or a problem. */
function changed(result: ChangeUserResult, id: string) {
  switch (result.kind) {
    case 'done':
      return result.user;
    case 'not-found':
      throw new ProblemError('not-found', `No console user with id ${id}.`);
    case 'last-admin':
      throw new ProblemError('last-admin', 'This is the last admin who can sign in: make another user admin first.');
    case 'invalid':
      throw new ProblemError('validation-failed', result.problem, { errors: [{ pointer: '/password', detail: result.problem }] });
  }
}

function userId(params: unknown): string {
  const { id } = params as { id: string };
  if (!isId('consoleUser', id)) throw new ProblemError('not-found', `No console user with id ${id}.`);
  return id;
}

/** /console/api/admin/* (admin role; 403 forbidden problem for anyone else). */
export async function consoleAdminRoutes(app: FastifyInstance, { db, config, access }: ApiContext): Promise<void> {
  const admin = requireConsole(db, config.consoleIdleSeconds, 'admin');
  const guarded = { schema: hidden, preHandler: admin };

  app.get('/console/api/admin/users', guarded, async (request) => {
    parseQuery(NoQuery, request.query);
    return forBrowser({ items: await listConsoleUsers(db) }, false);
  });

  app.post('/console/api/admin/users', guarded, async (request, reply) => {
    const body = parseBody(NewUser, request.body);
    // The admin tells the person this password: it is temporary, they choose their own at the first sign-in.
    const result = await addConsoleUser(db, consoleAuditContext(request), { ...body, temporary: true });
    if (result.kind === 'invalid') throw new ProblemError('validation-failed', result.problem, { errors: [{ pointer: result.problem.includes('password') ? '/password' : result.problem.includes('role') ? '/role' : '/email', detail: result.problem }] });
    if (result.kind === 'email-taken') throw new ProblemError('console-user-exists', `A console user with e-mail ${body.email.trim().toLowerCase()} already exists.`);
    return reply.code(201).send(forBrowser(result.user, false));
  });

  app.post('/console/api/admin/users/:id/role', guarded, async (request) => {
    const id = userId(request.params);
    const { role } = parseBody(RoleChange, request.body);
    return forBrowser(changed(await setConsoleUserRole(db, consoleAuditContext(request), id, role), id), false);
  });

  for (const [action, disabled] of [['disable', true], ['enable', false]] as const) {
    app.post(`/console/api/admin/users/:id/${action}`, guarded, async (request) => {
      const id = userId(request.params);
      parseBody(EmptyBody, request.body ?? undefined);
      return forBrowser(changed(await setConsoleUserDisabled(db, consoleAuditContext(request), id, disabled), id), false);
    });
  }

  app.post('/console/api/admin/users/:id/password', guarded, async (request, reply) => {
    const id = userId(request.params);
    const { password } = parseBody(PasswordReset, request.body);
    changed(await resetConsoleUserPassword(db, consoleAuditContext(request), id, password, { temporary: true }), id);
    return reply.code(204).send();
  });

  app.post('/console/api/admin/signing-keys/rotate', guarded, async (request, reply) => {
    parseBody(EmptyBody, request.body ?? undefined);
    const key = await rotateSigningKey(db, consoleAuditContext(request));
    await access.refresh();
    return reply.code(201).send(forBrowser(key, false));
  });
}

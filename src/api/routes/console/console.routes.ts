import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isId } from '../../../model/ids.ts';
import { consoleActor, recordAudit } from '../../../domain/audit/audit.ts';
import { changeOwnPassword, signIn, signOut, type ConsoleSession } from '../../../domain/console-users/console-user.service.ts';
import { OpsService } from '../../../runtime/ops.service.ts';
import { deadLetterCounts, latencyKpis, orderCounts, oversell } from '../../../store/metrics/kpi-queries.ts';
import type { ApiContext } from '../../api-context.ts';
import { ProblemError } from '../../problem.ts';
import { EmptyBody, parseBody, parseQuery } from '../../validation.ts';
import { consoleExceptionsRoutes } from './console-exceptions.routes.ts';
import { forBrowser } from './console-masking.ts';
import { consoleOrdersRoutes } from './console-orders.routes.ts';
import { clearSessionCookie, requireConsole, sameOrigin, setSessionCookie } from './console-session.ts';
import { serveConsoleApp } from './console-static.ts';
import { consoleAdminRoutes } from './console-admin.routes.ts';
import { consoleClientsRoutes } from './console-clients.routes.ts';
import { consoleConnectionsRoutes } from './console-connections.routes.ts';
import { consoleInventoryRoutes } from './console-inventory.routes.ts';

/**
 * The operations console (docs/console.md, ADR 0025): the built web app under /console and its
 * JSON routes under /console/api, behind a console session and a role. The routes call the same
 * services and queries as /v1 (orders, ops, dead letters, KPIs); what they answer passes
 * forBrowser() (no secrets; personal data masked for viewers). Not part of the public API
 * document: the console is a client of Syncline, like the CLI.
 */

const hidden = { hide: true };

const SignInBody = z.strictObject({ email: z.string().min(1).max(254), password: z.string().min(1).max(1024) });
const PasswordChangeBody = z.strictObject({ currentPassword: z.string().min(1).max(1024), newPassword: z.string().min(1).max(1024) });

/** What the browser learns of its session: who, the CSRF token, the idle limit, and whether it must choose a password first. */
const sessionAnswer = (session: ConsoleSession, idleSeconds: number) => ({
  user: { email: session.email, name: session.name, role: session.role },
  csrfToken: session.csrfToken,
  idleSeconds,
  passwordChangeRequired: session.passwordChangeRequired,
});

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Registers /console and /console/api/*. */
/** Failed sign-ins are counted per e-mail and per address over this window (seconds). */
const SIGN_IN_WINDOW_SECONDS = 60;

export async function consoleRoutes(app: FastifyInstance, context: ApiContext): Promise<void> {
  const { db, config, counters } = context;
  const idle = config.consoleIdleSeconds;
  const viewer = requireConsole(db, idle, 'viewer');
  const operator = requireConsole(db, idle, 'operator');
  // The session's own routes: usable while an admin-chosen password waits to be replaced.
  const ownSession = requireConsole(db, idle, 'viewer', { beforePasswordChange: true });
  const ops = new OpsService(db);

  // Every console answer: a strict policy (no inline script or style, nothing from elsewhere, no framing).
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('Content-Security-Policy', CSP);
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('X-Frame-Options', 'DENY');
    if (!reply.hasHeader('Cache-Control')) reply.header('Cache-Control', 'no-store');
    return payload;
  });

  const who = (request: FastifyRequest) => ({ actor: consoleActor(request.consoleSession!.userId), correlationId: request.id });
  const masked = (request: FastifyRequest) => request.consoleSession!.role === 'viewer';

  // --- session -------------------------------------------------------------------------------

  app.post('/console/api/session', { schema: hidden }, async (request, reply) => {
    // No session yet, so no CSRF token: SameSite=Strict and the Origin check stop a login forged by another site.
    if (!sameOrigin(request)) throw new ProblemError('csrf-token-invalid', 'The request comes from another origin.');
    const body = parseBody(SignInBody, request.body);
    // Guessing is throttled like client authentication (SYNCLINE_AUTH_FAILURE_LIMIT failures a minute, shared by the API processes).
    const buckets = [`console-sign-in:${body.email.trim().toLowerCase()}`, `console-sign-in-ip:${request.ip}`];
    const wait = Math.max(
      ...buckets.map((bucket) => {
        const { count, resetAt } = counters.current(bucket, SIGN_IN_WINDOW_SECONDS);
        return count >= config.authFailureLimit ? Math.max(1, Math.ceil((resetAt - Date.now()) / 1000)) : 0;
      }),
    );
    if (wait > 0) throw new ProblemError('rate-limited', `Too many failed sign-ins; retry in ${wait} s.`, {}, { 'Retry-After': String(wait) });
    const opened = await signIn(db, { ...body, correlationId: request.id, idleSeconds: idle });
    if (!opened) {
      for (const bucket of buckets) counters.add(bucket, SIGN_IN_WINDOW_SECONDS);
      throw new ProblemError('unauthorized', 'The e-mail address or the password is wrong.');
    }
    setSessionCookie(request, reply, opened.token);
    return reply.code(201).send(sessionAnswer(opened.session, idle));
  });

  app.get('/console/api/session', { schema: hidden, preHandler: ownSession }, async (request) => sessionAnswer(request.consoleSession!, idle));

  // The signed-in user chooses their own password (required after an admin chose it); their other sessions end.
  app.post('/console/api/session/password', { schema: hidden, preHandler: ownSession }, async (request, reply) => {
    const body = parseBody(PasswordChangeBody, request.body);
    const result = await changeOwnPassword(db, request.consoleSession!, { ...body, correlationId: request.id });
    if (result.kind === 'wrong-password') throw new ProblemError('validation-failed', 'The current password is wrong.', { errors: [{ pointer: '/currentPassword', detail: 'is wrong' }] });
    if (result.kind === 'invalid') throw new ProblemError('validation-failed', result.problem, { errors: [{ pointer: '/newPassword', detail: result.problem }] });
    return reply.code(204).send();
  });

  app.post('/console/api/sign-out', { schema: hidden, preHandler: ownSession }, async (request, reply) => {
    parseBody(EmptyBody, request.body ?? undefined);
    await signOut(db, request.consoleSession!, request.id);
    clearSessionCookie(request, reply);
    return reply.code(204).send();
  });

  // --- overview ------------------------------------------------------------------------------

  app.get('/console/api/overview', { schema: hidden, preHandler: viewer }, async (request) => {
    const [counts, latencies, oversold, letters, queues, targets] = await Promise.all([
      orderCounts(db),
      latencyKpis(db),
      oversell(db),
      deadLetterCounts(db),
      ops.queues(),
      ops.targets() as Promise<Array<{ name: string; breaker: { state: string }; rateLimit: { usage: number | null }; jobs: { running: number; waiting: number } }>>,
    ]);
    const open = letters.filter((l) => l.status === 'open');
    return forBrowser(
      {
        orders: { total: counts.statuses.reduce((n, s) => n + s.count, 0), byStatus: counts.statuses, holds: counts.holds },
        latencies,
        oversell: oversold,
        exceptions: { open: open.reduce((n, l) => n + l.count, 0), byReason: open.map((l) => ({ reason: l.code, target: l.target || null, count: l.count })).sort((a, b) => b.count - a.count) },
        queues: { lanes: queues.lanes, targets: queues.targets },
        breakers: targets.map((t) => ({ target: t.name, state: t.breaker.state, rateLimitUsage: t.rateLimit.usage, running: t.jobs.running, waiting: t.jobs.waiting })),
      },
      masked(request),
    );
  });

  // --- orders, the overview's sparklines and ERP quota (console-orders.routes.ts) ---------------

  await consoleOrdersRoutes(app, context);

  // --- exceptions and audit (console-exceptions.routes.ts) --------------------------------------

  await consoleExceptionsRoutes(app, { db, config });

  await consoleInventoryRoutes(app, context);
  await consoleConnectionsRoutes(app, context);
  await consoleAdminRoutes(app, context);
  await consoleClientsRoutes(app, context);

  // --- the web app ---------------------------------------------------------------------------

  serveConsoleApp(app);
}

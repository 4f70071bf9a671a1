import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { addConsoleUser } from '../src/domain/console-users/console-user.service.ts';
import { newId } from '../src/model/ids.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { startTestServer, type TestServer } from './support/server.ts';

/**
 * The Exceptions and Audit routes of the console without a browser: a bulk replay takes exactly
 * the letters its preview counted (not one that arrived after it), a preview is used once and by
 * its user only, a discard needs a reason, every action is in the audit trail, and a viewer is
 * refused every action with 403 problem+json. The API process runs no workers, so replayed jobs
 * stay queued where the test can see them.
 */
const PASSWORD = 'exceptions api password';

describe('console exceptions and audit API', () => {
  let database: TestDatabase;
  let server: TestServer;
  const sessions: Record<string, { cookie: string; csrf: string }> = {};

  /** An open dead letter of an order-placed job, as the worker would leave it. */
  async function deadLetter(code: string, target: string): Promise<string> {
    const id = newId('deadLetter');
    await database.db.query(
      `INSERT INTO runtime_dead_letter (id, job_id, type, lane, payload, target, correlation_id, attempts, max_attempts, error_class, error_code, reason, remediation, enqueued_at)
       VALUES ($1, 1, 'test.never_handled', 1, jsonb_build_object('orderId', 'ord_none'), $3, 'corr-' || $1, 5, 5, 'permanent', $2, 'refused', 'Fix it, then replay.', now())`,
      [id, code, target],
    );
    return id;
  }
  const statusOf = async (id: string) => (await database.db.query<{ status: string; resolution_note: string | null }>('SELECT status, resolution_note FROM runtime_dead_letter WHERE id = $1', [id])).rows[0]!;

  async function call(who: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const { cookie, csrf } = sessions[who]!;
    const response = await fetch(`${server.baseUrl}/console/api${path}`, {
      method,
      headers: { cookie, ...(method === 'GET' ? {} : { 'x-csrf-token': csrf }), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? null : JSON.stringify(body),
    });
    return { status: response.status, type: response.headers.get('content-type') ?? '', body: (await response.json()) as any };
  }

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database.url);
    const cli = { actor: 'test:console-exceptions', correlationId: null };
    for (const [email, role] of [['olga@example.com', 'operator'], ['otto@example.com', 'operator'], ['vic@example.com', 'viewer']] as const) {
      assert.equal((await addConsoleUser(database.db, cli, { email, role, name: email, password: PASSWORD })).kind, 'created');
      const response = await fetch(`${server.baseUrl}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD }) });
      assert.equal(response.status, 201);
      sessions[email.split('@')[0]!] = { cookie: (response.headers.get('set-cookie') ?? '').split(';')[0]!, csrf: ((await response.json()) as any).csrfToken };
    }
  });
  after(async () => {
    await server?.close();
    await database?.drop();
  });

  test('a bulk replay takes exactly the letters its preview counted: not one that arrived later, not one resolved meanwhile', async () => {
    const matching = [await deadLetter('erp.unknown_product', 'erp'), await deadLetter('erp.unknown_product', 'erp'), await deadLetter('erp.unknown_product', 'erp')];
    const otherSystem = await deadLetter('erp.unknown_product', 'erp-eu');
    const otherReason = await deadLetter('erp.unavailable', 'erp');

    const preview = await call('olga', 'POST', '/exceptions/replay-preview', { reason: 'erp.unknown_product', target: 'erp' });
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    assert.equal(preview.body.count, 3);
    assert.equal(preview.body.more, false);

    // After the preview: a new matching letter arrives, and one of the previewed is discarded.
    const late = await deadLetter('erp.unknown_product', 'erp');
    const groups = await call('olga', 'GET', '/exceptions?reason=erp.unknown_product&target=erp');
    assert.equal(groups.body.items.length, 4, 'the page shows the late letter too');
    assert.equal((await call('olga', 'POST', `/dead-letters/${matching[2]}/discard`, { reason: 'Order cancelled at the till.' })).status, 200);

    const replay = await call('olga', 'POST', '/exceptions/replay', { previewId: preview.body.previewId });
    assert.equal(replay.status, 200, JSON.stringify(replay.body));
    assert.deepEqual({ previewed: replay.body.previewed, replayed: replay.body.replayed, skipped: replay.body.skipped }, { previewed: 3, replayed: 2, skipped: 1 });
    assert.deepEqual(replay.body.items.map((i: { id: string }) => i.id).sort(), matching.slice(0, 2).sort());
    for (const id of matching.slice(0, 2)) assert.equal((await statusOf(id)).status, 'replayed');
    assert.equal((await statusOf(matching[2]!)).status, 'discarded');
    for (const id of [late, otherSystem, otherReason]) assert.equal((await statusOf(id)).status, 'open', `${id} was not in the preview`);
    const jobs = await database.db.query<{ replay_of: string }>('SELECT replay_of FROM runtime_job WHERE replay_of = ANY($1::text[])', [[...matching, late]]);
    assert.deepEqual(jobs.rows.map((r) => r.replay_of).sort(), matching.slice(0, 2).sort(), 'a job for each replayed letter, none for the late one');

    // A preview is used once.
    const again = await call('olga', 'POST', '/exceptions/replay', { previewId: preview.body.previewId });
    assert.equal(again.status, 409);
    assert.match(again.type, /^application\/problem\+json/);
    assert.equal(again.body.type, '/problems/replay-preview-gone');
    assert.equal((await statusOf(late)).status, 'open');

    // The audit trail has the bulk replay (with its counts) and each letter.
    const audit = await call('olga', 'GET', '/audit?action=dead_letter.bulk_replayed');
    assert.equal(audit.status, 200);
    assert.equal(audit.body.items[0].targetId, preview.body.previewId);
    assert.deepEqual(audit.body.items[0].details, { filter: { code: 'erp.unknown_product', target: 'erp' }, previewed: 3, replayed: 2 });
    assert.match(audit.body.items[0].actor, /^console:usr_/);
    const perLetter = await call('olga', 'GET', `/audit?action=dead_letter.replayed&targetId=${matching[0]}`);
    assert.equal(perLetter.body.items.length, 1);
  });

  test("a preview is only its user's, needs a filter, and takes no unknown field", async () => {
    const letter = await deadLetter('wms.rejected', 'wms');
    const preview = await call('olga', 'POST', '/exceptions/replay-preview', { target: 'wms' });
    assert.equal(preview.body.count, 1);
    const stolen = await call('otto', 'POST', '/exceptions/replay', { previewId: preview.body.previewId });
    assert.equal(stolen.status, 409, 'another operator cannot use it');
    assert.equal((await statusOf(letter)).status, 'open');

    for (const body of [{}, { reason: '' }, { reason: 'wms.rejected', status: 'open' }]) {
      const refused = await call('olga', 'POST', '/exceptions/replay-preview', body);
      assert.equal(refused.status, 422, JSON.stringify(body));
      assert.match(refused.type, /^application\/problem\+json/);
    }
    const badId = await call('olga', 'POST', '/exceptions/replay', { previewId: 'not-a-preview' });
    assert.equal(badId.status, 422);
    const none = await call('olga', 'POST', '/exceptions/replay-preview', { reason: 'nothing.like.this' });
    assert.equal(none.body.count, 0);
  });

  test('a discard needs a reason; the reason is recorded on the letter and in the audit trail', async () => {
    const letter = await deadLetter('payment.declined', 'payment');
    for (const body of [{}, { reason: '' }, { reason: '  ' }]) {
      const refused = await call('olga', 'POST', `/dead-letters/${letter}/discard`, body);
      assert.equal(refused.status, 422, JSON.stringify(body));
      assert.equal(refused.body.type, '/problems/validation-failed');
    }
    assert.equal((await statusOf(letter)).status, 'open');
    const done = await call('olga', 'POST', `/dead-letters/${letter}/discard`, { reason: 'Duplicate of a paid order.' });
    assert.equal(done.status, 200);
    assert.deepEqual(await statusOf(letter), { status: 'discarded', resolution_note: 'Duplicate of a paid order.' });
    const twice = await call('olga', 'POST', `/dead-letters/${letter}/discard`, { reason: 'Again.' });
    assert.equal(twice.status, 409);
    const detail = await call('olga', 'GET', `/dead-letters/${letter}`);
    assert.equal(detail.body.resolutionNote, 'Duplicate of a paid order.');
    assert.deepEqual(detail.body.audit.map((a: { action: string }) => a.action), ['discard']);
    const audit = await call('olga', 'GET', `/audit?action=dead_letter.discarded&targetId=${letter}`);
    assert.equal(audit.body.items.length, 1);
    assert.equal(audit.body.items[0].details.reason, 'Duplicate of a paid order.');
  });

  test('a viewer reads the groups and the audit trail but every action is refused with 403 problem+json; no CSRF token, no action', async () => {
    const letter = await deadLetter('erp.unknown_product', 'erp');
    const page = await call('vic', 'GET', '/exceptions');
    assert.equal(page.status, 200);
    assert.ok(page.body.groups.some((g: { reason: string; target: string; deadLetters: number }) => g.reason === 'erp.unknown_product' && g.target === 'erp' && g.deadLetters >= 1));
    assert.equal((await call('vic', 'GET', '/audit')).status, 200);
    for (const [path, body] of [
      ['/exceptions/replay-preview', { reason: 'erp.unknown_product' }],
      ['/exceptions/replay', { previewId: '00000000-0000-4000-8000-000000000000' }],
      [`/dead-letters/${letter}/discard`, { reason: 'Not mine to decide.' }],
      [`/dead-letters/${letter}/replay`, {}],
    ] as const) {
      const refused = await call('vic', 'POST', path, body);
      assert.equal(refused.status, 403, path);
      assert.match(refused.type, /^application\/problem\+json/);
      assert.equal(refused.body.type, '/problems/forbidden');
    }
    const noToken = await call('olga', 'POST', '/exceptions/replay-preview', { reason: 'erp.unknown_product' }, { 'x-csrf-token': 'wrong' });
    assert.equal(noToken.status, 403);
    assert.equal(noToken.body.type, '/problems/csrf-token-invalid');
    assert.equal((await statusOf(letter)).status, 'open');
  });
});

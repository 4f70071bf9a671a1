import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenService } from './tokens.ts';
import { KeyRing } from './key-ring.ts';

const SECRET = 'a-test-signing-secret-of-sufficient-length-0123';

test('a token verifies with its claims, also from the cache, and not with another key', async () => {
  const tokens = new TokenService(KeyRing.single(SECRET), 60);
  const token = await tokens.issue({ clientId: 'cli_1', scopes: ['orders:read', 'ops:read'] });
  assert.deepEqual(await tokens.verify(token), { clientId: 'cli_1', scopes: ['orders:read', 'ops:read'] });
  assert.deepEqual(await tokens.verify(token), { clientId: 'cli_1', scopes: ['orders:read', 'ops:read'] });
  const other = new TokenService(KeyRing.single('another-signing-secret-of-sufficient-length-99'), 60);
  assert.deepEqual(await other.verify(token), { error: 'token is not valid' });
});

test('an expired token is refused even after it was cached', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  const tokens = new TokenService(KeyRing.single(SECRET), 30);
  const token = await tokens.issue({ clientId: 'cli_1', scopes: ['admin'] });
  assert.equal('clientId' in (await tokens.verify(token)), true);
  t.mock.timers.tick(31_000);
  assert.deepEqual(await tokens.verify(token), { error: 'token expired' });
});

test('the newest active key signs with its kid; a retired key still verifies; a token without kid is checked with the legacy key', async () => {
  const { SignJWT } = await import('jose');
  const ring = new KeyRing();
  const now = new Date();
  ring.replace([
    { kid: 'k-new', secret: 'new-secret-of-sufficient-length-0123456789', configured: false, createdAt: now, retiredAt: null },
    { kid: 'legacy', secret: SECRET, configured: false, createdAt: new Date(0), retiredAt: now },
  ]);
  const tokens = new TokenService(ring, 60);
  const issued = await tokens.issue({ clientId: 'cli_1', scopes: ['orders:read'] });
  assert.equal(JSON.parse(Buffer.from(issued.split('.')[0]!, 'base64url').toString()).kid, 'k-new');
  const old = await new SignJWT({ scope: 'orders:read' })
    .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
    .setSubject('cli_2')
    .setIssuer('syncline')
    .setAudience('syncline-api')
    .setIssuedAt()
    .setExpirationTime('1m')
    .sign(new TextEncoder().encode(SECRET));
  assert.deepEqual(await tokens.verify(old), { clientId: 'cli_2', scopes: ['orders:read'] });
  const unknownKid = await new SignJWT({ scope: 'admin' })
    .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: 'k-nope' })
    .setSubject('cli_2')
    .setIssuer('syncline')
    .setAudience('syncline-api')
    .setExpirationTime('1m')
    .sign(new TextEncoder().encode(SECRET));
  assert.deepEqual(await tokens.verify(unknownKid), { error: 'token is not valid' });
});

test('revoked tokens and disabled clients are refused even when the signature check is cached', async () => {
  const revoked = new Set<string>();
  const disabled = new Set<string>();
  const tokens = new TokenService(KeyRing.single(SECRET), 60, { checks: { isRevoked: (jti) => revoked.has(jti), isDisabled: (id) => disabled.has(id) } });
  const token = await tokens.issue({ clientId: 'cli_1', scopes: ['admin'] });
  assert.equal('clientId' in (await tokens.verify(token)), true);
  disabled.add('cli_1');
  assert.deepEqual(await tokens.verify(token), { error: 'client is disabled' });
  disabled.clear();
  const details = await tokens.inspect(token);
  assert.ok(!('error' in details));
  revoked.add(details.jti);
  assert.deepEqual(await tokens.verify(token), { error: 'token was revoked' });
});

test('verifyKnown answers only for a token verified before, with the same revocation, client and expiry checks', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  const revoked = new Set<string>();
  const disabled = new Set<string>();
  const tokens = new TokenService(KeyRing.single(SECRET), 30, { checks: { isRevoked: (jti) => revoked.has(jti), isDisabled: (id) => disabled.has(id) } });
  const token = await tokens.issue({ clientId: 'cli_1', scopes: ['orders:read'] });
  // Not verified yet: the caller must wait for verify().
  assert.equal(tokens.verifyKnown(token), undefined);
  assert.equal(tokens.verifyKnown('not-a-token'), undefined);
  assert.deepEqual(await tokens.verify(token), { clientId: 'cli_1', scopes: ['orders:read'] });
  assert.deepEqual(tokens.verifyKnown(token), { clientId: 'cli_1', scopes: ['orders:read'] });
  disabled.add('cli_1');
  assert.deepEqual(tokens.verifyKnown(token), { error: 'client is disabled' });
  disabled.clear();
  const details = await tokens.inspect(token);
  assert.ok(!('error' in details));
  revoked.add(details.jti);
  assert.deepEqual(tokens.verifyKnown(token), { error: 'token was revoked' });
  revoked.clear();
  t.mock.timers.tick(31_000);
  assert.equal(tokens.verifyKnown(token), undefined);
  assert.deepEqual(await tokens.verify(token), { error: 'token expired' });
});

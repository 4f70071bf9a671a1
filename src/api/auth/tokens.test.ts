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

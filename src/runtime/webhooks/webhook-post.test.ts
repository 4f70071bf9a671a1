import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { postWebhook } from './webhook-post.ts';

test('the address connected to is checked: a name resolving to loopback is refused under "public", reached under "loopback"', async () => {
  const server = createServer((_request, response) => response.writeHead(204).end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    await assert.rejects(postWebhook(`https://localhost:${port}/`, {}, '{}', 'public', AbortSignal.timeout(5000)), /loopback/);
    await assert.rejects(postWebhook(`http://127.0.0.1:${port}/`, {}, '{}', 'public', AbortSignal.timeout(5000)), /loopback/);
    const answer = await postWebhook(`http://localhost:${port}/`, {}, '{}', 'loopback', AbortSignal.timeout(5000));
    assert.equal(answer.status, 204);
  } finally {
    server.close();
  }
});

import { after, before, describe } from 'node:test';
import { trytonContract } from '../src/connectors/tryton/tryton.contract.ts';
import { startTryton, trytonUnavailable, type RunningTryton } from './support/tryton-server.ts';

// A real Tryton 6.0 (Debian's packages, installed when missing): in CI this never skips.
const unavailable = await trytonUnavailable();

describe('Tryton contract against a real Tryton 6.0 server', { skip: unavailable ?? false }, () => {
  let server: RunningTryton;
  before(async () => {
    server = await startTryton();
  });
  after(async () => server?.stop());
  trytonContract(() => ({ name: 'tryton 6.0', url: server.url, database: server.database, login: server.login, password: server.password }));
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { acquireDataFolderLock, DataFolderInUseError, heldDataFolderLock, lockFileOf } from './data-folder-lock.ts';

const folder = () => join(mkdtempSync(join(tmpdir(), 'syncline-lock-')), 'pgdata');

/** The pid of a process that has already exited. */
function deadPid(): number {
  const result = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(result.stdout.toString());
}

test('the lock file holds the pid and, once recorded, the URL; a second taker is refused; release frees it', () => {
  const dir = folder();
  const lock = acquireDataFolderLock(dir);
  assert.equal(lock.file, lockFileOf(dir));
  assert.equal(heldDataFolderLock(dir), lock);
  lock.recordUrl('http://127.0.0.1:8080');
  assert.deepEqual(JSON.parse(readFileSync(lock.file, 'utf8')).url, 'http://127.0.0.1:8080');
  const refused = (() => {
    try {
      acquireDataFolderLock(dir);
    } catch (error) {
      return error;
    }
    return undefined;
  })();
  assert.ok(refused instanceof DataFolderInUseError);
  assert.equal(refused.code, 'store.data_folder_in_use');
  assert.deepEqual({ pid: refused.holder.pid, url: refused.holder.url }, { pid: process.pid, url: 'http://127.0.0.1:8080' });
  assert.match(refused.message, /is in use by Syncline \(pid \d+\) at http:\/\/127\.0\.0\.1:8080/);
  lock.release();
  lock.release();
  assert.equal(existsSync(lock.file), false);
  assert.equal(heldDataFolderLock(dir), undefined);
  acquireDataFolderLock(dir).release();
});

test('a lock left by a dead process is taken over', () => {
  const dir = folder();
  const pid = deadPid();
  writeFileSync(lockFileOf(dir), JSON.stringify({ pid, startedAt: '2026-01-01T00:00:00Z', url: 'http://127.0.0.1:1' }));
  const lock = acquireDataFolderLock(dir);
  assert.equal(JSON.parse(readFileSync(lock.file, 'utf8')).pid, process.pid);
  lock.release();
});

test('a lock another process holds is left as it is', () => {
  const dir = folder();
  // pid 1 is always alive (init); another user's process counts as alive too.
  const content = JSON.stringify({ pid: 1, startedAt: '2026-01-01T00:00:00Z' });
  writeFileSync(lockFileOf(dir), content);
  assert.throws(() => acquireDataFolderLock(dir), DataFolderInUseError);
  assert.equal(readFileSync(lockFileOf(dir), 'utf8'), content);
});

test('an empty lock is being written and is held; empty for long, its writer died and it is taken over', () => {
  const dir = folder();
  writeFileSync(lockFileOf(dir), '');
  assert.throws(() => acquireDataFolderLock(dir), DataFolderInUseError);
  const longAgo = new Date(Date.now() - 60_000);
  utimesSync(lockFileOf(dir), longAgo, longAgo);
  const lock = acquireDataFolderLock(dir);
  assert.equal(JSON.parse(readFileSync(lock.file, 'utf8')).pid, process.pid);
  lock.release();
});

import { closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SynclineError } from '../domain/errors.ts';

/**
 * One process per embedded data folder. PGlite is a single connection inside one process;
 * a second process opening the same files would write a database the first never sees.
 * The process that opens PGlite holds `<folder>.lock`, created atomically (O_EXCL) with its
 * pid and, once it listens, its URL. A lock whose pid is dead is stale and is taken over.
 */

/** What a lock file says about its holder. */
export interface LockHolder {
  pid: number;
  startedAt: string;
  /** The holder's API, once it listens. */
  url?: string;
}

/** Thrown when another live process holds the data folder; the message says what to do. */
export class DataFolderInUseError extends SynclineError {
  override name = 'DataFolderInUseError';
  readonly folder: string;
  readonly holder: LockHolder;

  constructor(folder: string, holder: LockHolder) {
    const who = holder.pid ? ` (pid ${holder.pid})` : '';
    const at = holder.url ? ` at ${holder.url}` : '';
    super('store.data_folder_in_use', `the data folder ${folder} is in use by Syncline${who}${at}`, {
      retry: 'permanent',
      details: { folder, pid: holder.pid, ...(holder.url ? { url: holder.url } : {}) },
    });
    this.folder = folder;
    this.holder = holder;
  }
}

export interface DataFolderLock {
  readonly file: string;
  /** Records this process's API URL in the lock, so that a refused process can name it. */
  recordUrl(url: string): void;
  /** Removes the lock if it is still this process's; safe to call twice. */
  release(): void;
}

const held = new Map<string, DataFolderLock>();

/** The lock file that guards a PGlite data folder. */
export function lockFileOf(folder: string): string {
  return `${folder.replace(/[/\\]+$/, '')}.lock`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    return typeof value.pid === 'number' && Number.isInteger(value.pid) && value.pid > 0 ? (value as LockHolder) : undefined;
  } catch {
    return undefined;
  }
}

// A lock file is written right after it is created; empty for this long, its writer is gone.
const EMPTY_LOCK_STALE_MS = 10_000;

function emptyForLong(file: string): boolean {
  try {
    return Date.now() - statSync(file).mtimeMs > EMPTY_LOCK_STALE_MS;
  } catch {
    return true;
  }
}

function tryCreate(file: string, holder: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeFileSync(fd, JSON.stringify(holder) + '\n');
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Takes the lock of a data folder or throws DataFolderInUseError. Writes nothing when the
 * folder is held by a live process.
 */
export function acquireDataFolderLock(folder: string): DataFolderLock {
  const file = lockFileOf(folder);
  const me: LockHolder = { pid: process.pid, startedAt: new Date().toISOString() };
  mkdirSync(dirname(file), { recursive: true });
  if (!tryCreate(file, me)) {
    const holder = readHolder(file);
    // A lock being written this very moment has no content yet: treat it as held, unless it
    // has been empty for longer than any write takes (its process died between create and write).
    if (!holder && !emptyForLong(file)) throw new DataFolderInUseError(folder, { pid: 0, startedAt: '' });
    if (holder && alive(holder.pid)) throw new DataFolderInUseError(folder, holder);
    // Stale: its process is gone (killed, crashed). Remove and race for it once more; a
    // process that wins in between holds it and we are refused.
    try {
      unlinkSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (!tryCreate(file, me)) throw new DataFolderInUseError(folder, readHolder(file) ?? { pid: 0, startedAt: '' });
  }
  let current = me;
  let released = false;
  const onExit = () => lock.release();
  const lock: DataFolderLock = {
    file,
    recordUrl(url) {
      if (released) return;
      current = { ...current, url };
      // Written whole and renamed over the lock, so a reader never sees half a file.
      const temporary = `${file}.${process.pid}.tmp`;
      writeFileSync(temporary, JSON.stringify(current) + '\n');
      renameSync(temporary, file);
    },
    release() {
      if (released) return;
      released = true;
      held.delete(folder);
      process.off('exit', onExit);
      if (readHolder(file)?.pid !== process.pid) return;
      try {
        unlinkSync(file);
      } catch {
        // Already gone: nothing to release.
      }
    },
  };
  // A process that exits without closing its database (process.exit, an uncaught error)
  // still leaves the folder free; after SIGKILL the lock is stale and is taken over.
  process.on('exit', onExit);
  held.set(folder, lock);
  return lock;
}

/** The lock this process holds on a data folder, if any. */
export function heldDataFolderLock(folder: string): DataFolderLock | undefined {
  return held.get(folder);
}

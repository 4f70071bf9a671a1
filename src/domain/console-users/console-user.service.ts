import { createHash, randomBytes } from 'node:crypto';
import { isId, newId } from '../../model/ids.ts';
import type { Database, Queryable } from '../../store/database.ts';
import {
  countAdmins,
  deleteConsoleUser,
  findConsoleUserByEmail,
  findConsoleUserById,
  insertConsoleUser,
  lockConsoleUsers,
  selectConsoleUsers,
  updateConsoleUserDisabled,
  updateConsoleUserPassword,
  updateConsoleUserRole,
  type ConsoleUserRow,
} from '../../store/console/console-user-queries.ts';
import { deleteConsoleSession, deleteIdleConsoleSessions, insertConsoleSession, touchConsoleSession } from '../../store/console/console-session-queries.ts';
import { consoleActor, recordAudit, type AuditContext } from '../audit/audit.ts';
import { hashSecret, verifySecret } from '../clients/secret-hash.ts';

/**
 * People who use the operations console, and their sessions (ADR 0025).
 *
 * Glossary:
 * - role: viewer (reads, personal data masked), operator (also replays dead letters and releases
 *   holds), admin (also manages users). Each role can do what the roles before it can.
 * - session token: 32 random bytes in the browser's cookie; the store keeps its SHA-256 only.
 * - csrf token: a second random value bound to the session; every state-changing console request
 *   must carry it in the X-CSRF-Token header.
 * - idle limit: a session not used for this long is gone (config consoleIdleSeconds).
 */
export const CONSOLE_ROLES = ['viewer', 'operator', 'admin'] as const;
export type ConsoleRole = (typeof CONSOLE_ROLES)[number];

/** Passwords are at least this long (default: 12 characters) and at most 256. */
export const MIN_PASSWORD_LENGTH = 12;
const MAX_PASSWORD_LENGTH = 256;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}\.[^\s@]{2,63}$/;

export const isConsoleRole = (value: string): value is ConsoleRole => (CONSOLE_ROLES as readonly string[]).includes(value);

/** True when `role` may do what `needed` may (admin ⊇ operator ⊇ viewer). */
export function roleAllows(role: ConsoleRole, needed: ConsoleRole): boolean {
  return CONSOLE_ROLES.indexOf(role) >= CONSOLE_ROLES.indexOf(needed);
}

/** A console user as shown anywhere: never the password hash. */
export interface ConsoleUserView {
  id: string;
  email: string;
  name: string;
  role: ConsoleRole;
  /** disabled: cannot sign in, has no session (an admin can enable them again). */
  status: 'enabled' | 'disabled';
  createdAt: string;
}

/** The signed-in person behind a session. */
export interface ConsoleSession {
  userId: string;
  email: string;
  name: string;
  role: ConsoleRole;
  csrfToken: string;
  /** SHA-256 of the cookie's token (what sign-out deletes). */
  tokenHash: string;
  /** An admin chose the password: until the user chooses their own, the session may do nothing else (but sign out). */
  passwordChangeRequired: boolean;
}

export type AddUserResult =
  | { kind: 'created'; user: ConsoleUserView }
  | { kind: 'invalid'; problem: string }
  | { kind: 'email-taken' };
export type ChangeUserResult = { kind: 'done'; user: ConsoleUserView } | { kind: 'not-found' } | { kind: 'last-admin' } | { kind: 'invalid'; problem: string };
export type OwnPasswordResult = { kind: 'changed' } | { kind: 'wrong-password' } | { kind: 'invalid'; problem: string };

const tokenHashOf = (token: string) => createHash('sha256').update(token).digest('base64url');
const normaliseEmail = (email: string) => email.trim().toLowerCase();

const viewOf = (row: ConsoleUserRow): ConsoleUserView => ({
  id: row.id,
  email: row.email,
  name: row.name,
  role: row.role as ConsoleRole,
  status: row.disabled_at ? 'disabled' : 'enabled',
  createdAt: new Date(row.created_at).toISOString(),
});

/** A user by id (`usr_…`, as the console names them) or by e-mail address (as the CLI does). */
const findUser = (db: Queryable, ref: string) => (isId('consoleUser', ref) ? findConsoleUserById(db, ref) : findConsoleUserByEmail(db, normaliseEmail(ref)));

/** True when taking this user's admin rights (demotion, disabling, removal) would leave no admin who can sign in. */
const isLastAdmin = async (db: Queryable, row: ConsoleUserRow) => row.role === 'admin' && !row.disabled_at && (await countAdmins(db)) <= 1;

function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `the password must have at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH) return `the password must have at most ${MAX_PASSWORD_LENGTH} characters`;
  return undefined;
}

/** What is wrong with a new user's fields, or undefined. */
export function consoleUserProblem(input: { email: string; role: string; password: string }): string | undefined {
  if (!EMAIL.test(normaliseEmail(input.email))) return `"${input.email}" is not an e-mail address`;
  if (!isConsoleRole(input.role)) return `role must be one of ${CONSOLE_ROLES.join(', ')} (got "${input.role}")`;
  return passwordProblem(input.password);
}

/**
 * Creates a console user (audited). `temporary`: an admin chose the password and tells it to the
 * person, who must choose their own at the first sign-in.
 */
export async function addConsoleUser(
  db: Database,
  who: AuditContext,
  input: { email: string; name?: string; role: string; password: string; temporary?: boolean },
): Promise<AddUserResult> {
  const problem = consoleUserProblem(input);
  if (problem) return { kind: 'invalid', problem };
  const email = normaliseEmail(input.email);
  const passwordHash = await hashSecret(input.password);
  const id = newId('consoleUser');
  return db.transaction(async (tx) => {
    const passwordChangeRequired = input.temporary ?? false;
    if (!(await insertConsoleUser(tx, { id, email, name: input.name?.trim() || email.split('@')[0]!, role: input.role, passwordHash, passwordChangeRequired }))) return { kind: 'email-taken' } as const;
    await recordAudit(tx, who, { action: 'console_user.created', targetType: 'console_user', targetId: id, details: { role: input.role, ...(passwordChangeRequired ? { passwordChangeRequired } : {}) } });
    const row = await findConsoleUserByEmail(tx, email);
    return { kind: 'created', user: viewOf(row!) } as const;
  });
}

export async function listConsoleUsers(db: Queryable): Promise<ConsoleUserView[]> {
  return (await selectConsoleUsers(db)).map(viewOf);
}

/** Removes a user (by id or e-mail) and ends their sessions; the last admin stays (someone must manage users). */
export async function removeConsoleUser(db: Database, who: AuditContext, ref: string): Promise<ChangeUserResult> {
  return db.transaction(async (tx) => {
    await lockConsoleUsers(tx);
    const row = await findUser(tx, ref);
    if (!row) return { kind: 'not-found' } as const;
    if (await isLastAdmin(tx, row)) return { kind: 'last-admin' } as const;
    await deleteConsoleUser(tx, row.id);
    await recordAudit(tx, who, { action: 'console_user.removed', targetType: 'console_user', targetId: row.id });
    return { kind: 'done', user: viewOf(row) } as const;
  });
}

/** Changes a user's role (by id or e-mail) and ends their sessions, so the new role holds from their next request on. */
export async function setConsoleUserRole(db: Database, who: AuditContext, ref: string, role: ConsoleRole): Promise<ChangeUserResult> {
  return db.transaction(async (tx) => {
    // Locked, so two admins demoting each other at once cannot both pass the last-admin check.
    await lockConsoleUsers(tx);
    const row = await findUser(tx, ref);
    if (!row) return { kind: 'not-found' } as const;
    if (role !== 'admin' && (await isLastAdmin(tx, row))) return { kind: 'last-admin' } as const;
    await updateConsoleUserRole(tx, row.id, role);
    await recordAudit(tx, who, { action: 'console_user.role_changed', targetType: 'console_user', targetId: row.id, details: { from: row.role, to: role } });
    return { kind: 'done', user: { ...viewOf(row), role } } as const;
  });
}

/** Disables a user (no sign-in; their sessions end at once) or enables them again; the last admin stays enabled. Audited. */
export async function setConsoleUserDisabled(db: Database, who: AuditContext, ref: string, disabled: boolean): Promise<ChangeUserResult> {
  return db.transaction(async (tx) => {
    await lockConsoleUsers(tx);
    const row = await findUser(tx, ref);
    if (!row) return { kind: 'not-found' } as const;
    if (disabled && (await isLastAdmin(tx, row))) return { kind: 'last-admin' } as const;
    await updateConsoleUserDisabled(tx, row.id, disabled);
    await recordAudit(tx, who, { action: disabled ? 'console_user.disabled' : 'console_user.enabled', targetType: 'console_user', targetId: row.id });
    return { kind: 'done', user: { ...viewOf(row), status: disabled ? 'disabled' : 'enabled' } } as const;
  });
}

/**
 * Sets a user's password (chosen by an admin, never shown back) and ends their sessions. Audited,
 * without the password. `temporary`: the user must choose their own at the next sign-in.
 */
export async function resetConsoleUserPassword(db: Database, who: AuditContext, ref: string, password: string, options: { temporary?: boolean } = {}): Promise<ChangeUserResult> {
  const problem = passwordProblem(password);
  if (problem) return { kind: 'invalid', problem };
  const passwordHash = await hashSecret(password);
  return db.transaction(async (tx) => {
    const row = await findUser(tx, ref);
    if (!row) return { kind: 'not-found' } as const;
    const changeRequired = options.temporary ?? false;
    await updateConsoleUserPassword(tx, row.id, passwordHash, { changeRequired });
    await recordAudit(tx, who, { action: 'console_user.password_reset', targetType: 'console_user', targetId: row.id, ...(changeRequired ? { details: { passwordChangeRequired: true } } : {}) });
    return { kind: 'done', user: viewOf(row) } as const;
  });
}

/**
 * The signed-in user replaces their own password (the current one proves it is them): the flag an
 * admin's temporary password set is cleared, and every other session of theirs ends. Audited.
 */
export async function changeOwnPassword(db: Database, session: ConsoleSession, input: { currentPassword: string; newPassword: string; correlationId: string }): Promise<OwnPasswordResult> {
  const row = await findConsoleUserById(db, session.userId);
  if (!row || !(await verifySecret(input.currentPassword.slice(0, MAX_PASSWORD_LENGTH + 1), row.password_hash))) return { kind: 'wrong-password' };
  const problem = passwordProblem(input.newPassword) ?? (input.newPassword === input.currentPassword ? 'the new password must differ from the current one' : undefined);
  if (problem) return { kind: 'invalid', problem };
  const passwordHash = await hashSecret(input.newPassword);
  return db.transaction(async (tx) => {
    await updateConsoleUserPassword(tx, row.id, passwordHash, { changeRequired: false, keepSessionHash: session.tokenHash });
    await recordAudit(tx, { actor: consoleActor(row.id), correlationId: input.correlationId }, { action: 'console_user.password_changed', targetType: 'console_user', targetId: row.id });
    return { kind: 'changed' } as const;
  });
}

// Checked when the e-mail is unknown, so that a wrong address costs as long as a wrong password.
let decoyHash: Promise<string> | undefined;

/**
 * Checks a password and opens a session (both outcomes audited). Returns the cookie token once;
 * undefined when the address or the password is wrong (the caller cannot tell which, by design).
 */
export async function signIn(db: Database, input: { email: string; password: string; correlationId: string; idleSeconds: number }): Promise<{ token: string; session: ConsoleSession } | undefined> {
  const email = normaliseEmail(input.email);
  const row = email.length <= 254 ? await findConsoleUserByEmail(db, email) : undefined;
  decoyHash ??= hashSecret(randomBytes(16).toString('base64url'));
  const password = input.password.slice(0, MAX_PASSWORD_LENGTH + 1);
  const ok = await verifySecret(password, row?.password_hash ?? (await decoyHash));
  // A disabled user is refused like a wrong password (after the same work), so the answer tells nothing.
  if (!row || !ok || row.disabled_at) {
    if (row) await recordAudit(db, { actor: consoleActor(row.id), correlationId: input.correlationId }, { action: 'console.sign_in_refused', targetType: 'console_user', targetId: row.id });
    return undefined;
  }
  const token = randomBytes(32).toString('base64url');
  const session: ConsoleSession = {
    userId: row.id,
    email: row.email,
    name: row.name,
    role: row.role as ConsoleRole,
    csrfToken: randomBytes(32).toString('base64url'),
    tokenHash: tokenHashOf(token),
    passwordChangeRequired: row.password_change_required,
  };
  await db.transaction(async (tx) => {
    await deleteIdleConsoleSessions(tx, input.idleSeconds);
    await insertConsoleSession(tx, { tokenHash: session.tokenHash, userId: row.id, csrfToken: session.csrfToken });
    await recordAudit(tx, { actor: consoleActor(row.id), correlationId: input.correlationId }, { action: 'console.signed_in', targetType: 'console_user', targetId: row.id });
  });
  return { token, session };
}

/** The session a cookie token names, if it exists and has not been idle longer than the limit. */
export async function resumeSession(db: Queryable, token: string, idleSeconds: number): Promise<ConsoleSession | undefined> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  const row = await touchConsoleSession(db, tokenHashOf(token), idleSeconds);
  if (!row || !isConsoleRole(row.role)) return undefined;
  return { userId: row.user_id, email: row.email, name: row.name, role: row.role, csrfToken: row.csrf_token, tokenHash: row.token_hash, passwordChangeRequired: row.password_change_required };
}

/** Ends a session (audited). */
export async function signOut(db: Database, session: ConsoleSession, correlationId: string): Promise<void> {
  await db.transaction(async (tx) => {
    await deleteConsoleSession(tx, session.tokenHash);
    await recordAudit(tx, { actor: consoleActor(session.userId), correlationId }, { action: 'console.signed_out', targetType: 'console_user', targetId: session.userId });
  });
}

import type { Queryable } from '../database.ts';

/** A console user row; password_hash stays in the store and the domain service. */
export interface ConsoleUserRow {
  id: string;
  email: string;
  name: string;
  role: string;
  password_hash: string;
  created_at: Date | string;
  updated_at: Date | string;
  /** Set while the user is disabled: no sign-in, no session. */
  disabled_at: Date | string | null;
  /** The password was chosen by an admin: the user must choose their own before anything else. */
  password_change_required: boolean;
}

const COLUMNS = 'id, email, name, role, password_hash, created_at, updated_at, disabled_at, password_change_required';

/** Inserts a user; false when the e-mail address is taken. */
export async function insertConsoleUser(
  db: Queryable,
  user: { id: string; email: string; name: string; role: string; passwordHash: string; passwordChangeRequired: boolean },
): Promise<boolean> {
  const result = await db.query(
    `INSERT INTO console_user (id, email, name, role, password_hash, password_change_required) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (email) DO NOTHING`,
    [user.id, user.email, user.name, user.role, user.passwordHash, user.passwordChangeRequired],
  );
  return (result.rowCount ?? 0) === 1;
}

export async function findConsoleUserByEmail(db: Queryable, email: string): Promise<ConsoleUserRow | undefined> {
  return (await db.query<ConsoleUserRow>(`SELECT ${COLUMNS} FROM console_user WHERE email = $1`, [email])).rows[0];
}

export async function findConsoleUserById(db: Queryable, id: string): Promise<ConsoleUserRow | undefined> {
  return (await db.query<ConsoleUserRow>(`SELECT ${COLUMNS} FROM console_user WHERE id = $1`, [id])).rows[0];
}

export async function selectConsoleUsers(db: Queryable): Promise<ConsoleUserRow[]> {
  return (await db.query<ConsoleUserRow>(`SELECT ${COLUMNS} FROM console_user ORDER BY email`)).rows;
}

const CONSOLE_USERS_LOCK = 7_305_311_028;

/** Serialises changes to admin rights until the transaction ends, so the last-admin rule holds under concurrency. */
export async function lockConsoleUsers(tx: Queryable): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [CONSOLE_USERS_LOCK]);
}

/** Admins who can sign in (a disabled admin manages nobody). */
export async function countAdmins(db: Queryable): Promise<number> {
  return (await db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM console_user WHERE role = 'admin' AND disabled_at IS NULL`)).rows[0]?.n ?? 0;
}

/** Changes a user's role; its sessions are ended so the new role applies at the next sign-in. */
export async function updateConsoleUserRole(db: Queryable, id: string, role: string): Promise<void> {
  await db.query('UPDATE console_user SET role = $2, updated_at = now() WHERE id = $1', [id, role]);
  await db.query('DELETE FROM console_session WHERE user_id = $1', [id]);
}

/** Disables (ending every session) or enables a user. */
export async function updateConsoleUserDisabled(db: Queryable, id: string, disabled: boolean): Promise<void> {
  await db.query(`UPDATE console_user SET disabled_at = CASE WHEN $2::boolean THEN coalesce(disabled_at, now()) END, updated_at = now() WHERE id = $1`, [id, disabled]);
  if (disabled) await db.query('DELETE FROM console_session WHERE user_id = $1', [id]);
}

/** Sets a new password hash and ends every session of the user (signed in with the old one), but `keepSessionHash`, the session that chose it. */
export async function updateConsoleUserPassword(
  db: Queryable,
  id: string,
  passwordHash: string,
  options: { changeRequired: boolean; keepSessionHash?: string },
): Promise<void> {
  await db.query('UPDATE console_user SET password_hash = $2, password_change_required = $3, updated_at = now() WHERE id = $1', [id, passwordHash, options.changeRequired]);
  await db.query('DELETE FROM console_session WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2', [id, options.keepSessionHash ?? null]);
}

/** Deletes a user and (by cascade) every session. */
export async function deleteConsoleUser(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM console_user WHERE id = $1', [id]);
}

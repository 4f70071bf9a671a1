import type { Queryable } from '../database.ts';

/** A live session joined with its user. */
export interface ConsoleSessionRow {
  token_hash: string;
  csrf_token: string;
  user_id: string;
  email: string;
  name: string;
  role: string;
  password_change_required: boolean;
}

export async function insertConsoleSession(db: Queryable, session: { tokenHash: string; userId: string; csrfToken: string }): Promise<void> {
  await db.query('INSERT INTO console_session (token_hash, user_id, csrf_token) VALUES ($1, $2, $3)', [session.tokenHash, session.userId, session.csrfToken]);
}

/**
 * The session behind a token hash if it was used within the idle limit, and marks it used now
 * (one statement: a session past its idle limit is never touched back to life).
 */
export async function touchConsoleSession(db: Queryable, tokenHash: string, idleSeconds: number): Promise<ConsoleSessionRow | undefined> {
  const result = await db.query<ConsoleSessionRow>(
    `UPDATE console_session s SET last_seen_at = now()
       FROM console_user u
      WHERE s.token_hash = $1 AND u.id = s.user_id AND u.disabled_at IS NULL AND s.last_seen_at > now() - make_interval(secs => $2)
      RETURNING s.token_hash, s.csrf_token, u.id AS user_id, u.email, u.name, u.role, u.password_change_required`,
    [tokenHash, idleSeconds],
  );
  return result.rows[0];
}

export async function deleteConsoleSession(db: Queryable, tokenHash: string): Promise<void> {
  await db.query('DELETE FROM console_session WHERE token_hash = $1', [tokenHash]);
}

/** Removes sessions idle longer than the limit; returns how many. */
export async function deleteIdleConsoleSessions(db: Queryable, idleSeconds: number): Promise<number> {
  const result = await db.query('DELETE FROM console_session WHERE last_seen_at <= now() - make_interval(secs => $1)', [idleSeconds]);
  return result.rowCount ?? 0;
}

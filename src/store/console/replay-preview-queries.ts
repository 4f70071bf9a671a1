import type { Queryable } from '../database.ts';

/**
 * Bulk replay previews (migration 0034): the exact dead letters whose count an operator was
 * shown. A preview is used once, by the user who asked for it, within its lifetime.
 */

export async function insertReplayPreview(db: Queryable, preview: { id: string; userId: string; filter: Record<string, unknown>; deadLetterIds: readonly string[] }): Promise<void> {
  await db.query('INSERT INTO console_replay_preview (id, user_id, filter, dead_letter_ids) VALUES ($1, $2, $3, $4::text[])', [
    preview.id,
    preview.userId,
    JSON.stringify(preview.filter),
    preview.deadLetterIds,
  ]);
}

/**
 * Marks a preview used and returns its dead letter ids and filter; undefined when it is not this
 * user's, was used already or is older than `maxAgeSeconds`. Old previews are removed meanwhile.
 */
export async function takeReplayPreview(
  tx: Queryable,
  id: string,
  userId: string,
  maxAgeSeconds: number,
): Promise<{ deadLetterIds: string[]; filter: Record<string, unknown> } | undefined> {
  await tx.query(`DELETE FROM console_replay_preview WHERE created_at < now() - make_interval(secs => $1 * 4)`, [maxAgeSeconds]);
  const result = await tx.query<{ dead_letter_ids: string[]; filter: Record<string, unknown> }>(
    `UPDATE console_replay_preview SET used_at = now()
      WHERE id = $1 AND user_id = $2 AND used_at IS NULL AND created_at >= now() - make_interval(secs => $3)
      RETURNING dead_letter_ids, filter`,
    [id, userId, maxAgeSeconds],
  );
  const row = result.rows[0];
  return row && { deadLetterIds: row.dead_letter_ids, filter: row.filter };
}

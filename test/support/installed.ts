/**
 * Why tests that need a system package (Tryton, Chromium) cannot run here, or undefined when they
 * can: `ensure` installs what is missing. When `required` (CI), an install failure is thrown, so
 * the tests fail instead of skipping; elsewhere the reason is printed loudly and returned for
 * `{ skip }`.
 */
export async function unavailableUnlessRequired(tests: string, required: boolean, ensure: () => Promise<void>): Promise<string | undefined> {
  try {
    await ensure();
    return undefined;
  } catch (error) {
    if (required) throw error;
    const reason = `${tests} SKIPPED: ${(error as Error).message.split('\n')[0]}`;
    console.warn(`\n*** ${reason} ***\n`);
    return reason;
  }
}

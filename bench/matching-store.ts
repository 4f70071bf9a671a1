export async function runStorePath(_: unknown[]): Promise<undefined | { recordsPerSecond: number }> { return undefined; }

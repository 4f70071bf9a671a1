import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * `npm run bench -- <name>` runs bench/<name>.bench.ts; with no name it runs them all.
 * Each benchmark writes its result to bench/results/<name>.json.
 */
const dir = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(dir)
  .filter((file) => file.endsWith('.bench.ts'))
  .map((file) => file.replace(/\.bench\.ts$/, ''))
  .sort();
const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !available.includes(name));
if (unknown.length > 0) {
  console.error(`bench: unknown benchmark(s) ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}
for (const name of requested.length > 0 ? requested : available) {
  console.log(`\n=== ${name} ===`);
  const module = (await import(`./${name}.bench.ts`)) as { run(): Promise<void> };
  await module.run();
}

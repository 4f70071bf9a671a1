import { measureIntake } from './intake.bench.ts';
const r = await measureIntake();
console.log(JSON.stringify(r));
process.exit(0);

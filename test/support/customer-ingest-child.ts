import { createInterface } from 'node:readline';
import { CustomerService } from '../../src/domain/customers/customer.service.ts';
import type { CustomerRecordInput } from '../../src/model/customer.ts';
import { openPostgres } from '../../src/store/postgres.database.ts';

/**
 * A second process matching customers (test/customers-encryption.test.ts): reads its records
 * (JSON, one array) from stdin's first line, says `ready`, and on the next line (`go`) sends
 * each record through its own CustomerService at once; prints the results as JSON and exits.
 * Keys come from the environment (SYNCLINE_CUSTOMER_KEYS ...), as the test process's.
 */
const db = openPostgres({ connectionString: process.env.DATABASE_URL!, poolSize: 8 });
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const records = JSON.parse((await lines.next()).value as string) as CustomerRecordInput[];
const customers = new CustomerService(db);
await db.query('SELECT 1');
process.stdout.write('ready\n');
await lines.next();
const results = await Promise.all(records.map((record) => customers.ingest(record, { correlationId: 'test-two-processes' })));
process.stdout.write(`${JSON.stringify(results)}\n`);
await db.close();
process.exit(0);

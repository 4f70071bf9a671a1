import { createServer } from 'node:http';

/**
 * The HTTP floor of the intake benchmark: what HTTP alone costs on this host. A bare node:http
 * server (no framework, no database, no authentication, no validation) that reads each request
 * body and answers 201 with a small JSON body, under the same wrk load as Syncline's API.
 * Usage: node bench/intake-http-floor-server.ts; prints `LISTENING <url>` when ready.
 */
let answered = 0;
const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    // The body is read in full, as a real endpoint must before it can answer.
    const length = Buffer.concat(chunks).length;
    answered += 1;
    const body = `{"id":"${answered}","received":${length}}`;
    response.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    response.end(body);
  });
});
// The same keep-alive as Syncline's default, so that wrk's connections stay open in both.
server.keepAliveTimeout = 72_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  console.log(`LISTENING http://127.0.0.1:${address.port}`);
});
const stop = () => server.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

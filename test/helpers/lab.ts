/**
 * Small stacks for engine and CLI tests: a tiny HTTP server script, stack files written from
 * typed objects, and the teardown every test runs (delete everything through the product,
 * then kill whatever is still running in the test's directory).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { StackConfig } from '../../src/config/schema.js';
import { runCli } from './cli.js';
import { killProcessesUnder } from './processes.js';

/**
 * Answers `GET /` with `<service> <instance> <MESSAGE>` and `GET /healthz` with ok; exits at once on
 * SIGTERM. Prints one line when listening (never its environment). Extra argv is ignored, so tests
 * can put a marker there to find the process.
 */
export const SERVER_SCRIPT = `import http from 'node:http';
const port = Number(process.env.PORT);
const who = \`\${process.env.GROUNDWORK_SERVICE} \${process.env.GROUNDWORK_INSTANCE}\`;
const server = http.createServer((req, res) => {
  if (req.url === '/healthz') { res.end('ok\\n'); return; }
  res.end(\`\${who} \${process.env.MESSAGE ?? ''}\\n\`);
});
server.listen(port, '127.0.0.1', () => console.log(\`\${who} listening on \${port}\`));
process.on('SIGTERM', () => process.exit(0));
`;

export function writeServerScript(dir: string): string {
  const file = path.join(dir, 'server.mjs');
  writeFileSync(file, SERVER_SCRIPT);
  return file;
}

export function writeStack(dir: string, stack: StackConfig, file = 'groundwork.yaml'): string {
  const p = path.join(dir, file);
  writeFileSync(p, stringify(stack));
  return p;
}

/** A service running server.mjs with an HTTP port and a health check. */
export function httpService(
  extra: Partial<NonNullable<StackConfig['services']>[string]> = {},
): NonNullable<StackConfig['services']>[string] {
  return {
    command: 'node',
    args: ['server.mjs'],
    ports: { http: 'auto' },
    health: { http: { path: '/healthz' }, interval: '1s', timeout: '1s' },
    stop_grace: '2s',
    ...extra,
    env: { PORT: '${port.http}', ...(extra.env ?? {}) },
  };
}

export interface Teardown {
  deleteExit: number;
  deleteOutput: string;
  leftovers: number;
}

/**
 * Deletes every resource of `stack` recorded in `dir`/.groundwork (an empty stack applied with the
 * real CLI), then SIGKILLs anything still running in `dir`. `leftovers` counts what the delete missed.
 */
export async function teardownStack(dir: string, stack: string): Promise<Teardown> {
  const opts = { cwd: dir };
  await runCli(['unlock', '--force'], opts);
  writeStack(dir, { stack }, '.teardown.yaml');
  const r = await runCli(['apply', '-f', '.teardown.yaml'], opts);
  const leftovers = await killProcessesUnder(dir);
  return { deleteExit: r.code, deleteOutput: r.stdout + r.stderr, leftovers };
}

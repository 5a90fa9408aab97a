/**
 * A planted secret value reaches the service's environment and nothing else: not the output of any
 * command, not the state store (database and WAL bytes), not any file Groundwork writes, not the
 * process arguments. A missing value fails apply with how to set it.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, STACK_FRAME, type CliResult } from '../helpers/cli.js';
import { httpGet } from '../helpers/http.js';
import { teardownStack, writeStack } from '../helpers/lab.js';
import { tryCmdline, tryEnviron } from '../helpers/processes.js';
import { instancesOf, stateDbOf } from '../helpers/state.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { pidOf, processDataOf } from '../helpers/instance-pid.js';

const STACK = 'secretlab';
const PLANTED = 'S3cr3t-planted-9f8e7d';
const ENV = { GROUNDWORK_SECRET_DB_PASSWORD: PLANTED };

/** Logs the secret's length (never its value) and serves HTTP. */
const SCRIPT = `import http from 'node:http';
console.log(\`DB length=\${(process.env.DB ?? '').length}\`);
http.createServer((req, res) => res.end('ok\\n')).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

function writeSecretStack(dir: string, message: string): void {
  writeStack(dir, {
    stack: STACK,
    secrets: { 'db-password': { description: 'password of the app user' } },
    services: {
      app: {
        command: 'node',
        args: ['uses-secret.mjs'],
        ports: { http: 'auto' },
        env: {
          PORT: '${port.http}',
          DB: '${secret.db-password}',
          DSN: 'postgres://app:${secret.db-password}@127.0.0.1/app',
          MESSAGE: message,
        },
        health: { http: { path: '/' }, interval: '1s' },
        stop_grace: '2s',
      },
    },
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : e.isFile() ? [p] : [];
  });
}

describe('secrets', () => {
  let dir: string;
  let holder: Database.Database | undefined;
  const outputs: { argv: string[]; r: CliResult }[] = [];
  const cli = async (argv: string[], env: Record<string, string> = ENV) => {
    const r = await runCli(argv, { cwd: dir, env });
    outputs.push({ argv, r });
    return r;
  };

  beforeEach(() => {
    dir = makeTempDir('secret');
    outputs.length = 0;
    writeFileSync(path.join(dir, 'uses-secret.mjs'), SCRIPT);
  });

  afterEach(async () => {
    holder?.close();
    holder = undefined;
    const t = await teardownStack(dir, STACK);
    removeTempDir(dir);
    expect(t.deleteExit, t.deleteOutput).toBe(0);
    expect(t.leftovers).toBe(0);
  });

  it('the value is delivered to the process environment and appears nowhere else', async () => {
    writeSecretStack(dir, 'v1');
    expect((await cli(['validate'])).code).toBe(0);
    await cli(['validate', '--json']);
    await cli(['plan']);
    // A second connection held open for the whole run keeps the WAL file from being checkpointed
    // away when each command closes the store, so its bytes can be searched too.
    holder = new Database(stateDbOf(dir), { readonly: true });
    holder.prepare('SELECT count(*) FROM meta').get();
    await cli(['plan', '--json']);
    await cli(['plan', '--out', 'saved.json']);
    expect((await cli(['apply', '--plan', 'saved.json'])).code).toBe(0);
    writeSecretStack(dir, 'v2');
    expect((await cli(['apply', '--json', '-m', 'second'])).code).toBe(0);
    await cli(['refresh']);
    await cli(['refresh', '--json']);
    await cli(['plan', '--refresh', '--json']);
    await cli(['history']);
    await cli(['history', '--json']);
    await cli(['show', '1']);
    await cli(['show', '2', '--json']);
    await cli(['unlock', '--json']);

    for (const { argv, r } of outputs) {
      expect(r.stdout, `stdout of groundwork ${argv.join(' ')}`).not.toContain(PLANTED);
      expect(r.stderr, `stderr of groundwork ${argv.join(' ')}`).not.toContain(PLANTED);
      expect(r.code, `groundwork ${argv.join(' ')} failed:\n${r.stdout}${r.stderr}`).toBe(0);
    }

    // Delivered: the service process has it in its environment.
    const [inst] = instancesOf(dir, 'app');
    if (!inst) throw new Error('no instance recorded');
    expect((await httpGet(inst.ports.http as number, '/')).status).toBe(200);
    const environ = tryEnviron(pidOf(inst));
    expect(environ?.DB).toBe(PLANTED);
    expect(environ?.DSN).toBe(`postgres://app:${PLANTED}@127.0.0.1/app`);
    expect(environ?.MESSAGE).toBe('v2');
    // ... and nowhere in its arguments or its shim's.
    for (const pid of [pidOf(inst), processDataOf(inst).pgid]) {
      const cmd = tryCmdline(pid);
      expect(cmd, `cmdline of ${pid}`).toBeDefined();
      expect(cmd?.join(' ')).not.toContain(PLANTED);
    }

    // Not in any file: the state database and its WAL, instance records, logs, the saved plan.
    const files = filesUnder(dir);
    expect(files).toContain(path.join(dir, '.groundwork', 'state.db'));
    expect(statSync(`${stateDbOf(dir)}-wal`).size).toBeGreaterThan(0);
    expect(files).toContain(`${stateDbOf(dir)}-wal`);
    for (const f of files) {
      expect(readFileSync(f).includes(Buffer.from(PLANTED)), `${path.relative(dir, f)} contains the secret`).toBe(
        false,
      );
    }
    // The service logged only the length, proving it read the value.
    expect(readFileSync(inst.logFile, 'utf8')).toContain(`DB length=${PLANTED.length}`);
  });

  it('a secret without a value fails apply, saying how to set it, while validate and plan still work', async () => {
    writeSecretStack(dir, 'v1');
    expect((await cli(['validate'], {})).code).toBe(0);
    expect((await cli(['plan'], {})).code).toBe(0);

    const r = await cli(['apply'], {});
    expect(r.code).toBe(1);
    const all = r.stdout + r.stderr;
    expect(all).toContain('secret `db-password` has no value');
    expect(all).toContain('GROUNDWORK_SECRET_DB_PASSWORD');
    expect(all).toContain('Apply failed.');
    expect(all).not.toMatch(STACK_FRAME);
    expect(instancesOf(dir, 'app')).toEqual([]);

    // Setting it makes the next apply succeed.
    expect((await cli(['apply'])).code).toBe(0);
    expect(instancesOf(dir, 'app')).toHaveLength(1);
  });
});

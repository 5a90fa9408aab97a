/**
 * The canary: a known value is set with `groundwork secret set` (value on stdin of the real CLI),
 * a real stack (process runtime, a daemon running) gives it to one service, which prints it (and
 * its base64 and URL-encoded forms) on its own stdout. Then the secret is rotated: the plan says
 * "secret db-password: version 1 → 2" and updates only that service; apply restarts it and leaves
 * the other one running. Both values are then searched for in: the state directory (database and
 * WAL, logs on disk, releases, records), a saved plan file and `plan --json`, CLI outputs and error
 * messages, API answers and errors, `ps` arguments of every process, and /proc/PID/environ of
 * every process but the service's own. Expected: 0 places. The secrets file holds no plaintext.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSTANCE_MARKER } from '../../src/runtime/process/process-driver.js';
import { runCli } from '../helpers/cli.js';
import { allPids, tryCmdline, tryEnviron } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { cleanEnv, cliMain, request, spawnUp, teardownSpawned, type SpawnedDaemon } from '../daemon/daemon-harness.js';

const V1 = `canary-one/${randomBytes(6).toString('hex')} &=`;
const V2 = `canary-two/${randomBytes(6).toString('hex')} &=`;
const STACK = 'canary';

/** Prints the secret and its encodings (a careless service), then serves HTTP. */
const LEAKY = `import http from 'node:http';
const v = process.env.DB_PASSWORD ?? '';
console.log('connecting with password ' + v);
console.log('basic auth: ' + Buffer.from(v).toString('base64'));
console.log('dsn: postgres://app:' + encodeURIComponent(v) + '@127.0.0.1/app');
http.createServer((req, res) => res.end('ok\\n')).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;
const PLAIN = `import http from 'node:http';
http.createServer((req, res) => res.end('ok\\n')).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

function writeCanaryStack(dir: string, recipient: string): void {
  writeFileSync(
    path.join(dir, 'groundwork.yaml'),
    [
      `stack: ${STACK}`,
      'secrets:',
      '  db-password: { description: the canary }',
      'secret_recipients:',
      `  this-host: ${recipient}`,
      'services:',
      '  app:',
      '    command: node leaky.mjs',
      '    ports: { http: auto }',
      '    env: { PORT: "${port.http}", DB_PASSWORD: "${secret.db-password}" }',
      '    health: { http: { path: / }, interval: 500ms }',
      '    stop_grace: 2s',
      '  other:',
      '    command: node plain.mjs',
      '    ports: { http: auto }',
      '    env: { PORT: "${port.http}" }',
      '    health: { http: { path: / }, interval: 500ms }',
      '    stop_grace: 2s',
      '',
    ].join('\n'),
  );
}

/** The real CLI with the value on stdin: what a person piping a value does. */
function secretViaStdin(dir: string, args: string[], value: string): string {
  const r = spawnSync(process.execPath, [cliMain(), 'secret', ...args], {
    cwd: dir,
    env: cleanEnv(),
    input: value,
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout + r.stderr;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : e.isFile() ? [p] : [];
  });
}

const forms = (v: string) => [v, Buffer.from(v).toString('base64'), encodeURIComponent(v)];

describe('secrets canary', () => {
  let dir: string;
  let up: SpawnedDaemon | undefined;
  const seen: { where: string; text: string }[] = [];
  const see = (where: string, text: string) => seen.push({ where, text });

  beforeAll(async () => {
    dir = makeTempDir('secrets-canary');
    writeFileSync(path.join(dir, 'leaky.mjs'), LEAKY);
    writeFileSync(path.join(dir, 'plain.mjs'), PLAIN);
    const init = await runCli(['secret', 'init', '--json'], { cwd: dir });
    expect(init.code, init.stderr).toBe(0);
    writeCanaryStack(dir, (JSON.parse(init.stdout) as { recipient: string }).recipient);
    see('secret set', secretViaStdin(dir, ['set', 'db-password'], `${V1}\n`));
    up = await spawnUp(dir, { args: ['--log-level', 'debug'] });
    await up.api.waitAllHealthy(['app', 'other']);
  });

  afterAll(async () => {
    try {
      await teardownSpawned(dir, up);
    } finally {
      removeTempDir(dir);
    }
  });

  it('rotation rolls only the service that uses the secret; no output, file or process shows a value', async () => {
    const d = up as SpawnedDaemon;
    const cli = async (argv: string[]) => {
      const r = await runCli(argv, { cwd: dir });
      see(`groundwork ${argv.join(' ')} (exit ${r.code})`, r.stdout + r.stderr);
      return r;
    };
    const api = async (method: 'GET' | 'POST', urlPath: string, body?: unknown) => {
      const r = await request(d.url, method, urlPath, {
        token: d.token,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        timeoutMs: 120_000,
      });
      see(`${method} ${urlPath} (${r.status})`, r.text);
      return r;
    };
    const pidsOf = async () => {
      const s = JSON.parse((await cli(['status', '--json'])).stdout) as {
        services: { name: string; instances: { pid: number }[] }[];
      };
      return Object.fromEntries(s.services.map((x) => [x.name, x.instances.map((i) => i.pid)]));
    };
    const envOf = (pid: number) => tryEnviron(pid)?.DB_PASSWORD;

    // The service really got the value (so the search below searches for something real).
    const before = await pidsOf();
    expect(envOf(before.app?.[0] ?? 0)).toBe(V1);

    see('secret rotate', secretViaStdin(dir, ['rotate', 'db-password'], V2));
    const plan = await cli(['plan', '--out', 'canary.plan']);
    expect(plan.stdout).toContain('secret db-password: version 1 → 2 (restarts service.app)');
    const planJson = await cli(['plan', '--json']);
    const steps = (JSON.parse(planJson.stdout) as { steps: { address: string; action: string; changes: unknown }[] })
      .steps;
    expect(steps.map((s) => [s.address, s.action])).toEqual([['service.app', 'update']]);
    expect(steps[0]?.changes).toEqual([{ path: 'secrets.db-password', before: 1, after: 2 }]);
    const applied = await cli(['apply', '--yes']);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    const after = await pidsOf();
    expect(after.other, 'the service that does not use the secret kept running').toEqual(before.other);
    expect(after.app).not.toEqual(before.app);
    expect(envOf(after.app?.[0] ?? 0)).toBe(V2);

    // Logs through the CLI and the API show the name where the service printed the value.
    const logs = await cli(['logs', 'app', '--lines', '100']);
    expect(logs.stdout).toContain('connecting with password [secret:db-password]');
    expect(logs.stdout).toContain('basic auth: [secret:db-password]');
    expect(logs.stdout).toContain('dsn: postgres://app:[secret:db-password]@127.0.0.1/app');
    const apiLogs = await api('GET', '/v1/services/app/logs?lines=100');
    expect(apiLogs.status).toBe(200);
    expect(apiLogs.text).toContain('[secret:db-password]');
    for (const urlPath of ['/v1/status', '/v1/history', '/v1/services/app/releases', '/v1/changes/2'])
      expect((await api('GET', urlPath)).status, urlPath).toBeLessThan(500);
    await api('POST', '/v1/plan', {});
    // Error messages that would carry a value if it were used as a name.
    for (const v of [V1, V2]) {
      expect((await api('GET', `/v1/services/${encodeURIComponent(v)}/logs`)).status).toBe(404);
      expect((await cli(['logs', v])).code).not.toBe(0);
      expect((await cli(['restart', v])).code).not.toBe(0);
    }

    // Every file under the state directory (database, WAL, logs, releases, records), the plan file.
    const stateDir = path.join(dir, '.groundwork');
    const files = filesUnder(stateDir);
    expect(files.some((f) => f.endsWith('state.db'))).toBe(true);
    const logFiles = files.filter(
      (f) => f.includes(`${path.sep}logs${path.sep}app${path.sep}`) && /\.log(\.\d+)?$/.test(f),
    );
    // Redacted on disk by the log writer itself, not only when read back.
    expect(logFiles.map((f) => readFileSync(f, 'utf8')).join('')).toContain(
      'connecting with password [secret:db-password]',
    );
    for (const f of [...files, path.join(dir, 'canary.plan')])
      see(`file ${path.relative(dir, f)}`, readFileSync(f).toString('latin1'));
    see('the daemon output (debug log)', d.output());
    // Every process's arguments; every process's environment but the service's own.
    let own = 0;
    for (const pid of allPids()) {
      const args = tryCmdline(pid);
      if (args) see(`ps args of ${pid}`, args.join(' '));
      const env = tryEnviron(pid);
      if (!env) continue;
      if (env[INSTANCE_MARKER]?.startsWith('app-')) {
        own++;
        continue;
      }
      see(
        `/proc/${pid}/environ`,
        Object.entries(env)
          .map(([k, v]) => `${k}=${v}`)
          .join('\n'),
      );
    }
    expect(own, 'processes of the service itself (excluded)').toBeGreaterThan(0);

    const leaks = [V1, V2].flatMap((v) =>
      forms(v).flatMap((f) =>
        seen.filter((s) => s.text.includes(f)).map((s) => `${s.where}: ${f === v ? 'value' : 'encoded value'}`),
      ),
    );
    expect(leaks, 'places that show a secret value').toEqual([]);
    expect(seen.length).toBeGreaterThan(30);

    // The secrets file (meant to be committed) has versions and dates in the clear, never a value.
    const secretsFile = readFileSync(path.join(dir, 'groundwork.secrets.yaml'), 'utf8');
    for (const v of [V1, V2]) for (const f of forms(v)) expect(secretsFile).not.toContain(f);
    expect(secretsFile).toMatch(/version: 2/);
    // And the one explicit way to see a value shows it.
    const shown = execFileSync(process.execPath, [cliMain(), 'secret', 'get', 'db-password'], {
      cwd: dir,
      env: cleanEnv(),
      encoding: 'utf8',
    });
    expect(shown).toBe(`${V2}\n`);
  });
});

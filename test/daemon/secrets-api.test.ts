/**
 * Secrets never leave the service's environment, with a daemon running: two planted values (one
 * from GROUNDWORK_SECRET_*, one from the secrets file) are searched for in every answer of every
 * GET route the daemon lists in /v1/openapi.json, in the streams of plan, apply, refresh, restart
 * and deploy, in the CLI's --json output through the daemon, in every file under the state
 * directory (the database with its WAL, the daemon's records, the service logs), in the daemon's
 * own log (debug level) and in `ps` output.
 *
 * And the secrets file's 0600 rule: a file others can read is not used, and the error says how to fix it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli, STACK_FRAME } from '../helpers/cli.js';
import { teardownStack } from '../helpers/lab.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { request, spawnUp, teardownSpawned, writeStack, type SpawnedDaemon } from './daemon-harness.js';

const FROM_ENV = `env-planted-${randomBytes(6).toString('hex')}`;
const FROM_FILE = `file-planted-${randomBytes(6).toString('hex')}`;

/** Logs the secrets' lengths (never the values) and serves HTTP. */
const SCRIPT = `import http from 'node:http';
console.log(\`lengths \${(process.env.DB ?? '').length} \${(process.env.API_KEY ?? '').length}\`);
http.createServer((req, res) => res.end('ok\\n')).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

function writeSecretStack(dir: string, stack: string): void {
  writeFileSync(path.join(dir, 'uses-secret.mjs'), SCRIPT);
  writeStack(dir, {
    stack,
    secrets: { 'db-password': { description: 'from the environment' }, 'api-key': { description: 'from the file' } },
    services: {
      app: {
        command: 'node',
        args: ['uses-secret.mjs'],
        ports: { http: 'auto' },
        env: {
          PORT: '${port.http}',
          DB: '${secret.db-password}',
          DSN: 'postgres://app:${secret.db-password}@127.0.0.1/app',
          API_KEY: '${secret.api-key}',
        },
        health: { http: { path: '/' }, interval: '500ms' },
        stop_grace: '2s',
      },
    },
  });
}

function writeSecretFile(dir: string, name: string, value: string, mode: number): string {
  const secrets = path.join(dir, '.groundwork', 'secrets');
  mkdirSync(secrets, { recursive: true });
  const file = path.join(secrets, name);
  writeFileSync(file, `${value}\n`);
  chmodSync(file, mode);
  return file;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : e.isFile() ? [p] : [];
  });
}

interface OpenApi {
  paths: Record<string, Record<string, unknown>>;
}

describe('secrets with a daemon running', () => {
  let dir: string;
  let up: SpawnedDaemon | undefined;
  /** Every text that left Groundwork, with where it came from. */
  const seen: { where: string; text: string }[] = [];
  const see = (where: string, text: string) => seen.push({ where, text });

  beforeAll(async () => {
    dir = makeTempDir('secret-api');
    writeSecretStack(dir, 'secretapi');
    writeSecretFile(dir, 'api-key', FROM_FILE, 0o600);
    up = await spawnUp(dir, { env: { GROUNDWORK_SECRET_DB_PASSWORD: FROM_ENV }, args: ['--log-level', 'debug'] });
    await up.api.waitAllHealthy(['app']);
  });

  afterAll(async () => {
    try {
      await teardownSpawned(dir, up);
    } finally {
      removeTempDir(dir);
    }
  });

  it('the service got both values (so the search below searches for something real)', () => {
    const [pid] = execFileSync('pgrep', ['-f', 'uses-secret.mjs'], { encoding: 'utf8' }).trim().split('\n');
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    expect(environ).toContain(`DB=${FROM_ENV}`);
    expect(environ).toContain(`API_KEY=${FROM_FILE}`);
  });

  it('no answer, stream, file, log or process argument contains a secret value', async () => {
    const d = up as SpawnedDaemon;
    const call = async (method: 'GET' | 'POST', urlPath: string, body?: unknown) => {
      const r = await request(d.url, method, urlPath, {
        token: d.token,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        timeoutMs: 120_000,
      });
      see(`${method} ${urlPath} (${r.status})`, r.text);
      return r;
    };
    // Everything that changes something first, so the GETs below have history, releases and events to show.
    for (const [urlPath, body] of [
      ['/v1/plan', {}],
      ['/v1/apply', { message: 'secret test' }],
      ['/v1/refresh', {}],
      ['/v1/services/app/restart', {}],
      ['/v1/services/app/deploy', {}],
    ] as const) {
      const r = await call('POST', urlPath, body);
      expect(r.status, `POST ${urlPath}: ${r.text}`).toBe(200);
    }
    const doc = JSON.parse((await call('GET', '/v1/openapi.json')).text) as OpenApi;
    // The event stream never ends: it is read below while a restart runs, not as one answer.
    const STREAM = '/v1/events/stream';
    const gets = Object.entries(doc.paths)
      .filter(([template, ops]) => 'get' in ops && template !== STREAM)
      .map(([template]) => template);
    const ctl = new AbortController();
    const res = await fetch(`${d.url}${STREAM}?service=app`, {
      headers: { authorization: `Bearer ${d.token}` },
      signal: ctl.signal,
    });
    expect(res.status).toBe(200);
    const body = res.body;
    if (!body) throw new Error(`GET ${STREAM} answered without a body`);
    let events = '';
    const reading = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of body) events += decoder.decode(chunk, { stream: true });
      } catch {
        // Aborted below, once the restart has been streamed.
      }
    })();
    await call('POST', '/v1/services/app/restart', {});
    await waitFor(() => events.includes('"outcome":"ok"'), {
      what: `the restart's last event on ${STREAM}`,
      timeoutMs: 30_000,
    });
    ctl.abort();
    await reading;
    see(`GET ${STREAM} (200, during a restart)`, events);
    expect(gets.length, 'GET routes listed by /v1/openapi.json').toBeGreaterThanOrEqual(8);
    for (const template of gets) {
      const ids = template.includes('{id}') ? ['1', '2', '3'] : [''];
      for (const id of ids) {
        const urlPath = template
          .replace('{name}', 'app')
          .replace('{id}', id)
          .replace(/\{[a-z]+\}/g, '1');
        const r = await call('GET', template.includes('/logs') ? `${urlPath}?lines=1000` : urlPath);
        expect(r.status, `GET ${urlPath}: ${r.text.slice(0, 300)}`).toBeLessThan(500);
      }
    }
    // The CLI through the daemon, every reading command in --json.
    for (const argv of [
      ['status', '--json'],
      ['plan', '--json'],
      ['history', '--json'],
      ['show', '1', '--json'],
      ['releases', 'app', '--json'],
      ['logs', 'app'],
    ]) {
      const r = await runCli(argv, { cwd: dir });
      see(`groundwork ${argv.join(' ')} (exit ${r.code})`, r.stdout + r.stderr);
      expect(r.code, `groundwork ${argv.join(' ')}: ${r.stderr}`).toBe(0);
    }
    // Every file Groundwork wrote, but the secrets file itself.
    const stateDir = path.join(dir, '.groundwork');
    const files = filesUnder(stateDir).filter((f) => !f.startsWith(path.join(stateDir, 'secrets')));
    expect(files.some((f) => f.endsWith('state.db'))).toBe(true);
    for (const f of files) see(`file ${path.relative(dir, f)}`, readFileSync(f).toString('latin1'));
    see('the daemon log (debug)', d.output());
    see('ps -eo args', execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }));

    for (const value of [FROM_ENV, FROM_FILE]) {
      const leaks = seen.filter((s) => s.text.includes(value)).map((s) => s.where);
      expect(leaks, `places that show the secret ${value === FROM_ENV ? 'from the env' : 'from the file'}`).toEqual([]);
    }
    // The search covered real answers, not only errors.
    expect(seen.length).toBeGreaterThan(20);
    expect(seen.find((s) => s.where.startsWith('GET /v1/status'))?.text).toContain('"app"');
  });
});

describe('the secrets file', () => {
  let dir: string;
  const STACK = 'secretfile';

  beforeEach(() => {
    dir = makeTempDir('secret-file');
    writeSecretStack(dir, STACK);
  });

  afterEach(async () => {
    try {
      await teardownStack(dir, STACK);
    } finally {
      removeTempDir(dir);
    }
  });

  it('a file others can read (0644) is not used: apply fails naming the file and mode 0600, without the value', async () => {
    const file = writeSecretFile(dir, 'api-key', FROM_FILE, 0o644);
    const r = await runCli(['apply'], { cwd: dir, env: { GROUNDWORK_SECRET_DB_PASSWORD: FROM_ENV } });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain(file);
    expect(r.stdout + r.stderr).toMatch(/0600/);
    expect(r.stdout + r.stderr).toMatch(/its mode is 0644 \(readable by others\).*chmod 600/);
    expect(r.stdout + r.stderr).not.toContain(FROM_FILE);
    expect(r.stderr).not.toMatch(STACK_FRAME);
    // chmod 600 is the fix the message gives: the same apply then succeeds.
    chmodSync(file, 0o600);
    const fixed = await runCli(['apply'], { cwd: dir, env: { GROUNDWORK_SECRET_DB_PASSWORD: FROM_ENV } });
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
    expect(fixed.stdout + fixed.stderr).not.toContain(FROM_FILE);
  });
});

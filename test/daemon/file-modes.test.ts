/**
 * Issue 10: what the daemon creates under .groundwork is private. After `groundwork up` applied a
 * stack and deployed a release, every file is 0600 and every directory 0700, except:
 *
 * - the state directory, instances/, releases/ and releases/SERVICE: 0711, so a `user:` service
 *   (another OS user) reaches its pid and exit files and its release's code, and nobody else can
 *   list them;
 * - the code directories of releases (releases/SERVICE/vN/…), which keep the modes of the source
 *   they copy (the service must read them);
 * - logs with GROUNDWORK_LOG_GROUP set: directories 0750, files 0640, owned by that group.
 *
 * Checked on a umask of 022 (the test's), so nothing depends on a careful umask.
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { spawnUp, teardownSpawned, writeStack, type SpawnedDaemon } from './daemon-harness.js';
import { httpService } from '../helpers/lab.js';

const SERVER = `import http from 'node:http';
http.createServer((req, res) => res.end('ok\\n')).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('up'));
process.on('SIGTERM', () => process.exit(0));
`;

/** Every path under `root` with its permission bits (and group), relative to `root`. */
function modesUnder(root: string): { rel: string; dir: boolean; mode: number; gid: number }[] {
  const out: { rel: string; dir: boolean; mode: number; gid: number }[] = [];
  const walk = (p: string) => {
    const st = statSync(p);
    out.push({ rel: path.relative(root, p) || '.', dir: st.isDirectory(), mode: st.mode & 0o777, gid: st.gid });
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(path.join(p, e));
  };
  walk(root);
  return out;
}

const oct = (m: number) => `0${m.toString(8)}`;

/** The mode each path must have (undefined: not checked, a release's code). */
function wanted(rel: string, dir: boolean, logGroup: boolean): number | undefined {
  if (/^releases\/[^/]+\/v[0-9]+(\/|$)/.test(rel)) return undefined;
  if (dir && ['.', 'instances', 'releases'].includes(rel)) return 0o711;
  if (dir && /^releases\/[^/]+$/.test(rel)) return 0o711;
  if (logGroup && rel.startsWith('logs')) return dir ? 0o750 : 0o640;
  return dir ? 0o700 : 0o600;
}

async function check(logGroup: string | undefined): Promise<void> {
  const dir = makeTempDir('file-modes');
  let daemon: SpawnedDaemon | undefined;
  try {
    writeFileSync(path.join(dir, 'server.mjs'), SERVER);
    writeStack(dir, {
      stack: 'modes',
      secrets: { token: {} },
      services: {
        web: httpService({
          replicas: 1,
          env: { PORT: '${port.http}', TOKEN: '${secret.token}' },
          health: { http: { path: '/' }, interval: '200ms', timeout: '1s' },
          deploy: { monitor: '200ms' },
        }),
      },
    });
    // The secrets directory is the user's (groundwork reads it, refusing files others can read).
    mkdirSync(path.join(dir, '.groundwork', 'secrets'), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(dir, '.groundwork', 'secrets', 'token'), 's3cret', { mode: 0o600 });
    daemon = await spawnUp(dir, logGroup ? { env: { GROUNDWORK_LOG_GROUP: logGroup } } : {});
    await daemon.api.waitAllHealthy(['web']);
    const lines = (await daemon.api.lines('POST', '/v1/services/web/deploy', { message: 'modes' })) as {
      type: string;
      result?: { ok: boolean };
    }[];
    expect(lines.find((l) => l.type === 'result')?.result?.ok, JSON.stringify(lines)).toBe(true);

    const seen = modesUnder(path.join(dir, '.groundwork'));
    const names = seen.map((s) => s.rel);
    // What the check must cover (each exists at this point).
    for (const must of [
      'state.db',
      'state.db-wal',
      'daemon.json',
      'daemon.token',
      'backups',
      'instances',
      'logs',
      'logs/web',
      'logs/web/0.log',
      'releases',
      'secrets/token',
    ])
      expect(names, `${must} exists under .groundwork`).toContain(must);
    expect(names.some((n) => /^instances\/.*\.json$/.test(n))).toBe(true);
    expect(names.some((n) => /^backups\/.+/.test(n))).toBe(true);
    const wrong = seen.flatMap((s) => {
      const w = wanted(s.rel, s.dir, logGroup !== undefined);
      return w === undefined || w === s.mode ? [] : [`${s.rel}: ${oct(s.mode)}, wanted ${oct(w)}`];
    });
    expect(wrong, 'paths with the wrong mode').toEqual([]);
    if (logGroup !== undefined) {
      const gid = Number(logGroup);
      const notGroup = seen.filter((s) => s.rel.startsWith('logs') && s.gid !== gid).map((s) => s.rel);
      expect(notGroup, `log paths not owned by group ${gid}`).toEqual([]);
    }
  } finally {
    await teardownSpawned(dir, daemon).finally(() => removeTempDir(dir));
  }
}

describe('modes of what the daemon creates', () => {
  it('files 0600, directories 0700 (0711 where a service user passes through), logs private', async () => {
    await check(undefined);
  });

  it.skipIf(process.getuid?.() !== 0)(
    'with GROUNDWORK_LOG_GROUP: log directories 0750 and files 0640, owned by that group (needs root to give files away)',
    async () => {
      // A group the test process is not in: only root can hand files to it.
      await check('4242');
    },
  );
});

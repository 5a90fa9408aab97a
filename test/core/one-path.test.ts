/**
 * Issue 8's acceptance: every command that changes state runs the same core operation with and
 * without a daemon. The same scenario (apply, deploy, rollback, restart, down) runs once with the
 * CLI alone and once through `groundwork up`; the recorded changes, their journals and the
 * instance events must be the same, and nothing may be left running either way.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeView } from '../../src/core/operations.js';
import type { StatusView } from '../../src/core/status.js';
import type { ChangeRecord, InstanceEvent } from '../../src/store/store.js';
import { spawnUp, type SpawnedDaemon } from '../daemon/daemon-harness.js';
import { jsonOf, runCliOk } from '../helpers/cli.js';
import { ensureBuilt } from '../helpers/dist.js';
import { httpService, writeStack } from '../helpers/lab.js';
import { describeLeftovers, isEmpty, sweepLeftovers } from '../helpers/leftovers.js';
import { isAlive, processesUnder } from '../helpers/processes.js';
import { withReadConnection, stateDbOf } from '../helpers/state.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const SERVER = (build: string) => `import http from 'node:http';
const port = Number(process.env.PORT);
http.createServer((req, res) => res.end(req.url === '/healthz' ? 'ok\\n' : '${build}\\n'))
  .listen(port, '127.0.0.1', () => console.log('listening on ' + port));
process.on('SIGTERM', () => process.exit(0));
`;

interface Recorded {
  changes: {
    kind: string;
    outcome: string;
    author: string;
    message: string;
    summary: Record<string, number>;
    steps: string[];
  }[];
  events: string[];
  releases: string[];
}

async function scenario(dir: string): Promise<Recorded> {
  const cwd = { cwd: dir };
  writeFileSync(path.join(dir, 'server.mjs'), SERVER('build-1'));
  writeStack(dir, {
    stack: 'onepath',
    services: { web: httpService({ replicas: 2, deploy: { strategy: 'rolling', max_surge: 1 } }) },
  });
  await runCliOk(['apply', '-m', 'first'], cwd);
  writeFileSync(path.join(dir, 'server.mjs'), SERVER('build-2'));
  await runCliOk(['deploy', 'web', '-m', 'second'], cwd);
  writeFileSync(path.join(dir, 'server.mjs'), SERVER('build-3'));
  await runCliOk(['deploy', 'web', '-m', 'third'], cwd);
  await runCliOk(['rollback', 'web', '-m', 'back'], cwd);
  await runCliOk(['restart', 'web'], cwd);
  const before = jsonOf<StatusView>(await runCliOk(['status', '--json'], cwd));
  expect(before.services[0]?.instances).toHaveLength(2);
  const pids = before.services.flatMap((s) => s.instances.map((i) => i.pid)).filter((p): p is number => p !== null);
  expect(pids).toHaveLength(2);
  await runCliOk(['down'], cwd);
  for (const pid of pids) expect(isAlive(pid), `pid ${pid} after down`).toBe(false);

  const history = jsonOf<ChangeRecord[]>(await runCliOk(['history', '--json', '--limit', '50'], cwd)).reverse();
  const changes: Recorded['changes'] = [];
  for (const c of history) {
    const view = jsonOf<ChangeView>(await runCliOk(['show', String(c.id), '--json'], cwd));
    changes.push({
      kind: c.kind,
      outcome: c.outcome,
      author: c.author,
      message: c.message,
      summary: c.summary,
      steps: view.steps.map((s) => `${s.status} ${s.action} ${s.address}`),
    });
  }
  // Events straight from the store: `groundwork events` is not a command yet.
  const events = withReadConnection(stateDbOf(dir), (db) =>
    (db.prepare('SELECT instance, type, reason FROM events ORDER BY id').all() as InstanceEvent[])
      // Supervision adds state changes (starting/healthy) of its own: compare what operations record.
      .filter((e) => ['restarted', 'stopped'].includes(e.type))
      .map((e) => `${e.type} ${e.instance} ${e.reason.replace(/pid \d+/, 'pid N')}`),
  );
  const releases = withReadConnection(stateDbOf(dir), (db) =>
    (
      db.prepare('SELECT seq, status, kind FROM releases ORDER BY seq').all() as {
        seq: number;
        status: string;
        kind: string;
      }[]
    ).map((r) => `v${r.seq} ${r.kind} ${r.status}`),
  );
  return { changes, events, releases };
}

describe('one code path per operation', () => {
  const local = makeTempDir('onepath-local');
  const remote = makeTempDir('onepath-daemon');
  let daemon: SpawnedDaemon | undefined;

  beforeAll(() => {
    ensureBuilt();
  });

  afterAll(async () => {
    // A daemon still alive here means the scenario's down did not stop it: a failure, after cleanup.
    const daemonLeft = daemon !== undefined && isAlive(daemon.pid);
    if (daemonLeft) daemon?.child.kill('SIGKILL');
    const left = [await sweepLeftovers({ dir: local }), await sweepLeftovers({ dir: remote })];
    removeTempDir(local);
    removeTempDir(remote);
    expect(daemonLeft, 'the daemon still ran after the scenario').toBe(false);
    for (const l of left) expect(isEmpty(l), `left after the scenario:\n  ${describeLeftovers(l)}`).toBe(true);
  });

  it('records the same changes, journals and events with and without a daemon', async () => {
    const withoutDaemon = await scenario(local);
    expect(processesUnder(local), 'processes left by the CLI-only run').toEqual([]);

    writeStack(remote, { stack: 'onepath' });
    daemon = await spawnUp(remote, { args: ['--no-apply'] });
    const withDaemon = await scenario(remote);
    // `down` through the daemon also stops the daemon.
    expect(await daemon.exited).toBe(0);
    expect(processesUnder(remote), 'processes left by the daemon run').toEqual([]);

    expect(withoutDaemon.changes.map((c) => `${c.kind} ${c.outcome}`)).toEqual([
      'apply applied',
      'deploy applied',
      'deploy applied',
      'rollback applied',
    ]);
    expect(withDaemon).toEqual(withoutDaemon);
    expect(withoutDaemon.events).toEqual([
      'restarted web/0 by request of tester, pid N',
      'restarted web/1 by request of tester, pid N',
      'stopped web/* groundwork down by tester',
    ]);
  });
});

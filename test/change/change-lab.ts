/**
 * What the change-request tests against a real daemon share: a stack with `web` and four people
 * (admin olga, approver ann, deployer dev, viewer vic), applied at start by an in-process daemon
 * without a policy; then the policy `web-review` (one approval for web) added, as a team would
 * (the daemon reads the file per request); and each person's token, made with
 * `groundwork token create --user`.
 */
import path from 'node:path';
import type { StackConfig } from '../../src/config/schema.js';
import { startInProcess, writeStack, type InProcessDaemon } from '../daemon/daemon-harness.js';
import { jsonOf, runCliOk } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

export const PEOPLE = ['olga', 'ann', 'dev', 'vic'] as const;
export type Person = (typeof PEOPLE)[number];

export interface ChangeLab {
  dir: string;
  d: InProcessDaemon;
  /** The stack as applied at start (without the policy). */
  base: StackConfig;
  tokens: Record<Person, string>;
  /** Down, stop and a sweep (throwing what failed), then the folder removed. */
  close(): Promise<void>;
}

export async function startChangeLab(
  stack: string,
  extra: Pick<StackConfig, 'notify'> = {},
  dirPrefix = stack,
): Promise<ChangeLab> {
  const dir = makeTempDir(dirPrefix);
  let d: InProcessDaemon | undefined;
  const close = async (): Promise<void> => {
    try {
      await d?.close();
    } finally {
      removeTempDir(dir);
    }
  };
  try {
    const base: StackConfig = {
      stack,
      services: { web: { command: 'node -e "setInterval(() => {}, 1000)"' } },
      ...extra,
      people: {
        olga: { role: 'admin' },
        ann: { role: 'approver' },
        dev: { role: 'deployer' },
        vic: { role: 'viewer' },
      },
    };
    writeStack(dir, base);
    d = await startInProcess(dir);
    writeStack(dir, { ...base, changes: { approvals: { 'web-review': { services: ['web'], approvals: 1 } } } });
    const stateDir = path.join(dir, '.groundwork');
    const tokens = {} as Record<Person, string>;
    for (const who of PEOPLE) {
      const r = await runCliOk(['token', 'create', '--user', who, '--json', '--state-dir', stateDir], { cwd: dir });
      tokens[who] = jsonOf<{ token: string }>(r).token;
    }
    return { dir, d, base, tokens, close };
  } catch (e) {
    // The test's afterAll has no lab to close: what did start is stopped here.
    await close().catch(() => undefined);
    throw e;
  }
}

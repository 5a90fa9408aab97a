/**
 * Small stacks for engine and CLI tests (the daemon-less path): the shared service script, stack
 * files written from typed objects, and the teardown every test runs (delete everything through
 * the product, then prove nothing of the test is left).
 */
import path from 'node:path';
import { runCli } from './cli.js';
import { TeardownFailures, type StackFootprint } from './leftovers.js';
import { writeStack } from './stack-file.js';

export { httpService, writeServiceScript as writeServerScript } from './service-script.js';
export { writeStack } from './stack-file.js';

/** What a teardown that did not throw saw: the delete applied and nothing was left. */
export interface Teardown {
  deleteExit: 0;
  deleteOutput: string;
  leftovers: 0;
}

/**
 * Deletes every resource of `stack` recorded in `dir`/.groundwork (an empty stack applied with the
 * real CLI), then sweeps for anything of the test still running (processes, containers). Throws,
 * naming each failure, when the delete failed or anything was left; the sweep runs in every case.
 */
export async function teardownStack(dir: string, stack: string, markers: string[] = []): Promise<Teardown> {
  const opts = { cwd: dir };
  const t = new TeardownFailures(`stack ${stack} in ${dir}`);
  await runCli(['unlock', '--force'], opts);
  writeStack(dir, { stack }, '.teardown.yaml');
  const r = await runCli(['apply', '-f', '.teardown.yaml'], opts);
  if (r.code !== 0) t.add(`applying the empty stack exited ${r.code}:\n${r.stdout}${r.stderr}`);
  const footprint: StackFootprint = { dir, stateDir: path.join(dir, '.groundwork'), markers };
  await t.sweep(footprint, 'the stack was deleted');
  t.throwIfAny();
  return { deleteExit: 0, deleteOutput: r.stdout + r.stderr, leftovers: 0 };
}

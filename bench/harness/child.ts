/**
 * Measurements run in fresh child processes, so each one has its own peak RSS and a cold start
 * like the CLI's. The child is a TypeScript file run through tsx; it reports one JSON value.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

const MARKER = '@@bench-report ';

/** In the child: hands `value` to the parent. Call once, at the end. */
export function reportToParent(value: unknown): void {
  process.stdout.write(`${MARKER}${JSON.stringify(value)}\n`);
}

/** Peak resident set size of this process so far, in MiB (getrusage ru_maxrss, i.e. VmHWM). */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Set by runChild when the parent asked for a CPU profile: the file to write it to. */
const CPU_PROFILE_ENV = 'GROUNDWORK_BENCH_CPU_PROFILE';

/**
 * In the child: starts the V8 profiler when the parent asked for a profile, so the profile
 * covers the measured part only (not module loading). Call the returned function to stop it
 * and write the .cpuprofile; without a request both are no-ops.
 */
export async function startCpuProfile(): Promise<() => Promise<void>> {
  const file = process.env[CPU_PROFILE_ENV];
  if (!file) return async () => undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 250 });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}

export interface ChildOptions {
  /** Working directory; tsx is resolved from it. */
  cwd: string;
  /** Have the child write a V8 CPU profile of its measured part to this .cpuprofile file. */
  cpuProfile?: string;
  env?: Record<string, string>;
}

/** Runs `script` (a .ts file) in a new Node process and returns what it reported. */
export function runChild<T>(script: string, args: readonly string[], opts: ChildOptions): Promise<T> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  if (opts.cpuProfile) env[CPU_PROFILE_ENV] = opts.cpuProfile;
  else delete env[CPU_PROFILE_ENV];
  return new Promise<T>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8').trim();
      const what = `${script} ${args.join(' ')}`;
      if (code !== 0) {
        reject(
          new Error(
            `${what} exited with ${signal ?? `code ${code}`}${stderr ? `:\n${stderr.split('\n').slice(-20).join('\n')}` : ''}`,
          ),
        );
        return;
      }
      const line = stdout.split('\n').find((l) => l.startsWith(MARKER));
      if (line === undefined) {
        reject(new Error(`${what} reported nothing (no "${MARKER.trim()}" line on stdout)`));
        return;
      }
      try {
        resolve(JSON.parse(line.slice(MARKER.length)) as T);
      } catch (e) {
        reject(new Error(`${what} reported invalid JSON: ${(e as Error).message}`));
      }
    });
  });
}

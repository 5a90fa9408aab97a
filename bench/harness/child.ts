/**
 * Measurements run in fresh child processes, so each one has its own peak RSS and a cold start
 * like the CLI's. The child is a TypeScript file run through tsx; it reports one JSON value.
 */
import { spawn } from 'node:child_process';

const MARKER = '@@bench-report ';

/** In the child: hands `value` to the parent. Call once, at the end. */
export function reportToParent(value: unknown): void {
  process.stdout.write(`${MARKER}${JSON.stringify(value)}\n`);
}

/** Peak resident set size of this process so far, in MiB (getrusage ru_maxrss, i.e. VmHWM). */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

export interface ChildOptions {
  /** Working directory; tsx is resolved from it. */
  cwd: string;
  /** Write a V8 CPU profile of the child to dir/name. */
  cpuProfile?: { dir: string; name: string };
  env?: Record<string, string>;
}

/** Runs `script` (a .ts file) in a new Node process and returns what it reported. */
export function runChild<T>(script: string, args: readonly string[], opts: ChildOptions): Promise<T> {
  const nodeArgs = ['--import', 'tsx'];
  if (opts.cpuProfile) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProfile.dir}`, `--cpu-prof-name=${opts.cpuProfile.name}`);
  return new Promise<T>((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
      cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env },
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
        reject(new Error(`${what} exited with ${signal ?? `code ${code}`}${stderr ? `:\n${stderr.split('\n').slice(-20).join('\n')}` : ''}`));
        return;
      }
      const line = stdout.split('\n').find((l) => l.startsWith(MARKER));
      if (line === undefined) { reject(new Error(`${what} reported nothing (no "${MARKER.trim()}" line on stdout)`)); return; }
      try {
        resolve(JSON.parse(line.slice(MARKER.length)) as T);
      } catch (e) {
        reject(new Error(`${what} reported invalid JSON: ${(e as Error).message}`));
      }
    });
  });
}

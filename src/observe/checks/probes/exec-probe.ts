/**
 * exec: the program exits 0. Run from an argv array without a shell (the `shell:` form is
 * `/bin/sh -c` spelled out in the spec), in its own process group so a timeout kills what it
 * started too.
 */
import { spawn } from 'node:child_process';
import { errorMessage } from '../../../util/error-message.js';
import type { ProbeContext, ProbeOutcome } from './probe.js';

/**
 * The environment a check command gets: what finding programs and reading text needs, nothing
 * else of the daemon's (which may hold GROUNDWORK_SECRET_* values), as for services.
 */
function checkEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['PATH', 'HOME', 'LANG', 'TZ']) if (process.env[k] !== undefined) env[k] = process.env[k];
  return env;
}

/** The tail of the output kept for the error line. */
const TAIL_BYTES = 300;

export function execProbe(argv: string[], ctx: ProbeContext, cwd: string): Promise<ProbeOutcome> {
  const start = ctx.ms();
  return new Promise((resolve) => {
    const [file, ...args] = argv;
    const child = spawn(file ?? '', args, {
      cwd,
      env: checkEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let tail = '';
    const keep = (c: Buffer) => {
      tail = (tail + c.toString('utf8')).slice(-TAIL_BYTES);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let settled = false;
    const done = (o: ProbeOutcome) => {
      if (settled) return;
      settled = true;
      ctx.signal.removeEventListener('abort', onAbort);
      resolve(o);
    };
    const onAbort = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      done({ ok: false, error: `${file} timed out (killed)`, latencyMs: null });
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (e) => done({ ok: false, error: `${file}: ${errorMessage(e)}`, latencyMs: null }));
    child.once('close', (code, signal) => {
      const latencyMs = ctx.ms() - start;
      if (code === 0) return done({ ok: true, error: null, latencyMs });
      const why = code !== null ? `exited with ${code}` : `killed by ${signal}`;
      const out = tail.trim().split('\n').slice(-2).join(' / ');
      done({ ok: false, error: `${file} ${why}${out ? `: ${out}` : ''}`, latencyMs });
    });
  });
}

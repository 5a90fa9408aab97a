import type { CheckView } from '../../core/status.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { EXIT } from '../io.js';
import { openOps } from '../open-ops.js';
import { colourEnabled, makeStyle, type Style } from '../style.js';

/** `42s`, `5m`, `3h`, `2d` since `at`; `-` when never. */
export function ago(at: string | null, now: number): string {
  if (!at) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(at)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** The checks table of `status` and `checks`: one line per check, its last error when not up. */
export function renderChecks(checks: readonly CheckView[], style: Style, now: number): string[] {
  if (checks.length === 0) return [];
  const lines = [
    `${'CHECK'.padEnd(22)}${'TYPE'.padEnd(6)}${'STATE'.padEnd(9)}${'SINCE'.padEnd(7)}${'LATENCY'.padEnd(9)}${'TLS DAYS'.padEnd(10)}LAST ERROR`,
  ];
  for (const c of checks) {
    const colour = c.state === 'up' ? style.green : c.state === 'down' ? style.red : style.yellow;
    const latency = c.lastLatencyMs === null ? '-' : `${Math.round(c.lastLatencyMs)}ms`;
    const tls = c.tlsDaysLeft === null ? '-' : c.tlsDaysLeft.toFixed(1);
    lines.push(
      `${c.name.padEnd(22)}${c.type.padEnd(6)}${colour(c.state.padEnd(8))} ${ago(c.since, now).padEnd(7)}${latency.padEnd(9)}${tls.padEnd(10)}${c.lastError ?? style.dim(c.lastRunAt ? '' : 'not run yet')}`,
    );
  }
  return lines;
}

export const checksCommand = defineCommand({
  name: 'checks',
  summary: 'Checks of the stack: state, since when, latency, certificate days left, last error',
  usage: 'checks [-f FILE] [--json] [--new-push-url NAME]',
  flags: {
    ...STACK_FLAGS,
    'new-push-url': {
      type: 'string',
      description: 'Make a new token for push check NAME and print its URL, once (the old URL stops working)',
      valueName: 'NAME',
    },
  },
  async run(flags, _pos, io) {
    const { ops, close } = openOps(io, flags, { otherStack: 'local' });
    let checks: CheckView[];
    let daemonUrl: string | null;
    let minted: { check: string; path: string } | undefined;
    try {
      const rotate = flags['new-push-url'];
      if (rotate !== undefined) minted = await ops.newPushToken(rotate);
      const s = await ops.status();
      checks = s.checks;
      daemonUrl = s.daemon?.url ?? null;
    } finally {
      await close();
    }
    if (minted) {
      // Printed here only: state keeps the token's hash, so this is the one chance to copy it.
      const url = daemonUrl ? `${daemonUrl}${minted.path}` : minted.path;
      if (flags.json) io.stdout(`${JSON.stringify({ check: minted.check, url }, null, 2)}\n`);
      else
        io.stdout(
          `push URL of check ${minted.check} (shown once; the old one no longer works):\n  ${url}\n` +
            `${daemonUrl ? '' : 'no daemon runs: prefix the address of `groundwork up` (it receives the pings)\n'}` +
            `the job calls it every interval: curl -fsS -m 10 ${daemonUrl ? url : `http://HOST:PORT${minted.path}`}\n`,
        );
      return EXIT.ok;
    }
    if (flags.json) {
      io.stdout(`${JSON.stringify(checks, null, 2)}\n`);
      return EXIT.ok;
    }
    if (checks.length === 0) {
      io.stdout('No checks recorded. Declare them under `checks:` in the stack file and apply.\n');
      return EXIT.ok;
    }
    const style = makeStyle(colourEnabled(io.env, io.isTty));
    io.stdout(`${renderChecks(checks, style, Date.now()).join('\n')}\n`);
    return EXIT.ok;
  },
});

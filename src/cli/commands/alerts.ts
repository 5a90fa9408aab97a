/**
 * `groundwork alerts [ack FINGERPRINT]` and `groundwork silence add|list|expire`: what is firing,
 * since when, who was told (each channel's delivery, with the reason it has not arrived yet), and
 * the on-call's two levers: acknowledge (no more repeats) and silence (nothing sent for a while).
 */
import { writeFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { prometheusRules, type ExportableRule } from '../../alerts/prometheus-rules.js';
import type { AlertView, ChannelProblemView, SilenceView } from '../../core/alerts-view.js';
import type { JsonObject } from '../../model/resource.js';
import { didYouMean } from '../../util/did-you-mean.js';
import { defineCommand, STACK_FLAGS, type Command } from '../command.js';
import { EXIT, UsageError, type CliIo } from '../io.js';
import { withOps } from '../open-ops.js';
import { requireModel } from '../workspace.js';
import { colourEnabled, makeStyle, type Style } from '../style.js';
import { ago } from './checks.js';

function delivery(a: AlertView, style: Style): string {
  if (a.suppressedBy) return style.dim(`not sent: ${a.suppressedBy}`);
  if (a.deliveries.length === 0) return style.dim(a.state === 'pending' ? 'waiting for `for`' : 'nobody (no channel)');
  return a.deliveries
    .map((d) =>
      d.status === 'delivered'
        ? `${d.channel} ${d.kind} ✓`
        : style.red(
            `${d.channel} ${d.kind} ${d.status}${d.attempts ? ` after ${d.attempts} attempts` : ''}${d.lastError ? `: ${d.lastError}` : ''}`,
          ),
    )
    .join('; ');
}

/** Channels that cannot deliver, first: until fixed, every notification to them waits. */
export function renderChannelProblems(problems: readonly ChannelProblemView[], style: Style): string {
  if (problems.length === 0) return '';
  const lines = problems.map((p) =>
    style.red(`channel ${p.channel} cannot deliver; its notifications stay queued: ${p.problem}`),
  );
  return `${lines.join('\n')}\n\n`;
}

export function renderAlerts(
  alerts: readonly AlertView[],
  silences: readonly SilenceView[],
  style: Style,
  now: number,
): string {
  const lines: string[] = [];
  if (alerts.length === 0) lines.push('No alerts firing or pending.');
  else {
    lines.push(
      `${'ALERT'.padEnd(20)}${'STATE'.padEnd(10)}${'SINCE'.padEnd(7)}${'FINGERPRINT'.padEnd(18)}${'LABELS'.padEnd(30)}TOLD`,
    );
    for (const a of alerts) {
      const colour = a.state === 'firing' ? style.red : a.state === 'pending' ? style.yellow : style.green;
      const labels = Object.entries(a.labels)
        .filter(([k]) => k !== 'alertname')
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      const state = a.ackedBy ? `${a.state}*` : a.state;
      lines.push(
        `${a.rule.padEnd(20)}${colour(state.padEnd(10))}${ago(a.firedAt ?? a.activeAt, now).padEnd(7)}${a.fingerprint.padEnd(18)}${labels.slice(0, 29).padEnd(30)}${delivery(a, style)}`,
      );
    }
    if (alerts.some((a) => a.ackedBy)) lines.push(style.dim('* acknowledged: no more repeats'));
  }
  if (silences.length > 0) {
    lines.push('', `${'SILENCE'.padEnd(9)}${'ENDS'.padEnd(26)}${'BY'.padEnd(10)}MATCHERS`);
    for (const s of silences) {
      lines.push(
        `${String(s.id).padEnd(9)}${s.endsAt.padEnd(26)}${s.author.padEnd(10)}${s.matchers.join(' ')}${s.comment ? `  # ${s.comment}` : ''}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

const alertsList = defineCommand({
  name: 'alerts',
  summary: 'Alerts firing, pending or resolved in the last day: since when, who was told; silences in force',
  usage: 'alerts [ack FINGERPRINT | export --prometheus] [-f FILE] [--json]',
  flags: STACK_FLAGS,
  async run(flags, _pos, io) {
    return withOps(
      io,
      flags,
      async (ops) => {
        const v = await ops.alerts();
        if (flags.json) io.stdout(`${JSON.stringify(v, null, 2)}\n`);
        else {
          const style = makeStyle(colourEnabled(io.env, io.isTty));
          io.stdout(renderChannelProblems(v.channelProblems, style));
          io.stdout(renderAlerts(v.alerts, v.silences, style, Date.now()));
        }
        return EXIT.ok;
      },
      { otherStack: 'local' },
    );
  },
});

const alertsAck = defineCommand({
  name: 'alerts ack',
  summary: 'Acknowledge a firing alert: its repeats stop',
  usage: 'alerts ack FINGERPRINT [-f FILE] [--json]',
  flags: STACK_FLAGS,
  args: ['FINGERPRINT'],
  async run(flags, pos, io) {
    const fp = pos[0];
    if (!fp) throw new UsageError('alerts ack needs the alert fingerprint (shown by `groundwork alerts`)');
    return withOps(
      io,
      flags,
      async (ops) => {
        await ops.acknowledgeAlert(fp, io.env.USER ?? 'cli');
        if (flags.json) io.stdout(`${JSON.stringify({ fingerprint: fp, acknowledged: true })}\n`);
        else io.stdout(`acknowledged ${fp}: no more repeats\n`);
        return EXIT.ok;
      },
      { otherStack: 'local' },
    );
  },
});

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** An alert resource's spec (model/alerting-resources.ts) as the exporter reads it. */
function exportable(name: string, s: JsonObject): ExportableRule {
  const labels = typeof s.labels === 'object' && s.labels !== null && !Array.isArray(s.labels) ? s.labels : {};
  return {
    name,
    check: text(s.check),
    expr: text(s.expr),
    event: text(s.event),
    logsService: typeof s.logs === 'object' && s.logs !== null && !Array.isArray(s.logs) ? text(s.logs.service) : null,
    for: text(s.for) ?? '0s',
    keepFiringFor: text(s.keep_firing_for) ?? '0s',
    interval: text(s.interval) ?? '5s',
    severity: text(s.severity) ?? 'warning',
    labels: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)])),
    summary: text(s.summary),
    description: text(s.description),
    runbook: text(s.runbook),
  };
}

const alertsExport = defineCommand({
  name: 'alerts export',
  summary: "Write the stack file's alert rules as a Prometheus rule file (promtool check rules accepts it)",
  usage: 'alerts export --prometheus [-o FILE] [-f FILE] [--json]',
  flags: {
    ...STACK_FLAGS,
    prometheus: { type: 'boolean', description: 'Prometheus rule file format (the only one so far)' },
    output: { type: 'string', short: 'o', description: 'Write to this file (default: stdout)', valueName: 'FILE' },
  },
  async run(flags, _pos, io) {
    if (!flags.prometheus)
      throw new UsageError(
        'alerts export needs a format: --prometheus (e.g. `groundwork alerts export --prometheus -o rules.yml`)',
      );
    const model = await requireModel(io, flags);
    const rules = model.resources.filter((r) => r.kind === 'alert').map((r) => exportable(r.name, r.spec));
    const out = prometheusRules(model.stack, rules);
    const file = yaml.dump({ groups: out.groups }, { lineWidth: -1, noRefs: true });
    if (flags.output !== undefined) writeFileSync(flags.output, file);
    else if (!flags.json) io.stdout(file);
    for (const s of out.skipped) if (!flags.json) io.stderr(`skipped ${s.alert}: ${s.reason}\n`);
    if (flags.json) {
      const count = out.groups.reduce((n, g) => n + g.rules.length, 0);
      io.stdout(
        `${JSON.stringify({ format: 'prometheus', file: flags.output ?? null, rules: count, groups: out.groups, skipped: out.skipped }, null, 2)}\n`,
      );
    } else if (flags.output !== undefined) {
      const count = out.groups.reduce((n, g) => n + g.rules.length, 0);
      io.stdout(
        `wrote ${count} rule${count === 1 ? '' : 's'} to ${flags.output}; check with \`promtool check rules ${flags.output}\`\n`,
      );
    }
    return EXIT.ok;
  },
});

export const alertsCommand: Command = {
  name: 'alerts',
  summary: alertsList.summary,
  run(argv, io) {
    if (argv[0] === 'ack') return alertsAck.run(argv.slice(1), io);
    if (argv[0] === 'export') return alertsExport.run(argv.slice(1), io);
    return alertsList.run(argv, io);
  },
};

const silenceAdd = defineCommand({
  name: 'silence add',
  summary: 'Silence alerts matching every matcher (service=web, severity=~"page|critical") for a while',
  usage: 'silence add MATCHER... [--for 2h] [-m COMMENT] [-f FILE] [--json]',
  flags: {
    ...STACK_FLAGS,
    for: { type: 'string', description: 'How long (default 1h)', valueName: 'DURATION' },
    message: { type: 'string', short: 'm', description: 'Why (shown in `alerts`)', valueName: 'TEXT' },
  },
  args: Array.from({ length: 50 }, (_, i) => `MATCHER${i + 1}`),
  async run(flags, pos, io) {
    if (pos.length === 0)
      throw new UsageError(
        'silence add needs at least one matcher, e.g. `groundwork silence add service=web --for 2h`',
      );
    return withOps(
      io,
      flags,
      async (ops) => {
        const s = await ops.addSilence({
          matchers: pos,
          ...(flags.for !== undefined ? { duration: flags.for } : {}),
          ...(flags.message !== undefined ? { comment: flags.message } : {}),
          author: io.env.USER ?? 'cli',
        });
        if (flags.json) io.stdout(`${JSON.stringify(s, null, 2)}\n`);
        else io.stdout(`silence ${s.id} until ${s.endsAt}: ${s.matchers.join(' ')}\n`);
        return EXIT.ok;
      },
      { otherStack: 'local' },
    );
  },
});

const silenceList = defineCommand({
  name: 'silence list',
  summary: 'Silences in force or to come',
  usage: 'silence list [-f FILE] [--json]',
  flags: STACK_FLAGS,
  async run(flags, _pos, io) {
    return withOps(
      io,
      flags,
      async (ops) => {
        const { silences } = await ops.alerts();
        if (flags.json) io.stdout(`${JSON.stringify(silences, null, 2)}\n`);
        else if (silences.length === 0) io.stdout('No silences.\n');
        else
          io.stdout(
            renderAlerts([], silences, makeStyle(colourEnabled(io.env, io.isTty)), Date.now())
              .split('\n')
              .slice(2)
              .join('\n'),
          );
        return EXIT.ok;
      },
      { otherStack: 'local' },
    );
  },
});

const silenceExpire = defineCommand({
  name: 'silence expire',
  summary: 'End a silence now',
  usage: 'silence expire ID [-f FILE] [--json]',
  flags: STACK_FLAGS,
  args: ['ID'],
  async run(flags, pos, io) {
    const id = Number(pos[0]);
    if (!Number.isInteger(id) || id <= 0)
      throw new UsageError(
        `silence expire needs a silence number (see \`groundwork silence list\`), got '${pos[0] ?? ''}'`,
      );
    return withOps(
      io,
      flags,
      async (ops) => {
        await ops.expireSilence(id);
        if (flags.json) io.stdout(`${JSON.stringify({ id, expired: true })}\n`);
        else io.stdout(`silence ${id} ended\n`);
        return EXIT.ok;
      },
      { otherStack: 'local' },
    );
  },
});

const SILENCE = [silenceAdd, silenceList, silenceExpire];

export const silenceCommand: Command = {
  name: 'silence',
  summary: 'Silences: add, list, expire',
  run(argv: string[], io: CliIo) {
    const [sub, ...rest] = argv;
    const c = SILENCE.find((x) => x.name === `silence ${sub}`);
    if (!c) {
      if (sub === '--help' || sub === '-h') {
        io.stdout(
          `groundwork silence - Silences: add, list, expire\n\nUsage: groundwork silence add|list|expire ... (each takes --help)\n\n` +
            `${SILENCE.map((x) => `  ${x.name.padEnd(16)}${x.summary}`).join('\n')}\n`,
        );
        return Promise.resolve(EXIT.ok);
      }
      const guess = sub ? didYouMean(sub, ['add', 'list', 'expire']) : undefined;
      throw new UsageError(
        sub
          ? `unknown subcommand \`silence ${sub}\`${guess ? `; did you mean \`silence ${guess}\`?` : ''}`
          : 'silence needs a subcommand: add, list or expire',
      );
    }
    return c.run(rest, io);
  },
};

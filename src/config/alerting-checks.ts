/**
 * Checks of `notify:`, `alerts:` and `maintenance:` that the schema cannot express: a channel is
 * exactly one kind, routes and defaults name declared channels, an alert names one condition and
 * a declared service, a maintenance window has one schedule and a time zone that exists, and
 * secret references name declared secrets.
 */
import { parsePromql, PromqlSyntaxError, typeOf } from '../promql/parse.js';
import { didYouMean } from '../util/did-you-mean.js';
import type { Diagnostic } from './diagnostic.js';
import { diagnosticsBuilder, type Locate } from './diagnostics-builder.js';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const CHANNEL_TYPES = ['webhook', 'slack', 'ntfy', 'alertmanager', 'email'];
const CONDITIONS = ['check', 'event', 'expr', 'logs'];

/** Why an alert expression cannot be evaluated, in the parser's words; undefined when it can. */
export function exprProblem(expr: string): string | undefined {
  try {
    const t = typeOf(parsePromql(expr));
    if (t !== 'vector')
      return `it returns a ${t === 'matrix' ? 'range vector' : t}, and an alert needs an instant vector (one alert per series)`;
    return undefined;
  } catch (e) {
    if (e instanceof PromqlSyntaxError) return e.message;
    throw e;
  }
}

/**
 * Why a log pattern cannot be used; undefined when it can. The same reading as
 * alerts/log-pattern.ts's parseLogPattern (config/ may not import alerts/): text, or /regex/flags.
 */
function logPatternProblem(source: string): string | undefined {
  const m = /^\/(.*)\/([a-z]*)$/s.exec(source);
  if (!m) return undefined;
  const [, body = '', flags = ''] = m;
  if (!/^[imsu]*$/.test(flags)) return `the flags '${flags}' are not allowed here: use i, m, s or u`;
  if (body === '') return 'the regular expression // is empty: it would match every line';
  try {
    new RegExp(body, flags);
    return undefined;
  } catch (e) {
    return `not a valid regular expression: ${e instanceof Error ? e.message : String(e)}`;
  }
}

export function alertingChecks(doc: Record<string, unknown>, file: string, locate: Locate): Diagnostic[] {
  const diags = diagnosticsBuilder(file, locate);
  const { out, push } = diags;
  const notify = isObj(doc.notify) ? doc.notify : {};
  const channels = isObj(notify.channels) ? notify.channels : {};
  const channelNames = Object.keys(channels);
  const services = Object.keys(isObj(doc.services) ? doc.services : {});
  const secrets = Object.keys(isObj(doc.secrets) ? doc.secrets : {});

  const channelRef = (path: (string | number)[], name: unknown) => {
    if (typeof name === 'string') diags.ref(path, name, channelNames, 'channel', 'notify.channels');
  };

  for (const [name, c] of Object.entries(channels)) {
    if (!isObj(c)) continue;
    const kinds = Object.keys(c).filter((k) => CHANNEL_TYPES.includes(k));
    if (kinds.length !== 1) {
      push(
        ['notify', 'channels', name],
        {
          code: kinds.length === 0 ? 'missing-key' : 'conflict',
          message: `channel \`${name}\` must be exactly one of ${CHANNEL_TYPES.join(', ')}${kinds.length ? `; it has ${kinds.join(' and ')}` : ''}`,
          fix: 'split it into one channel per kind, e.g. ops-hook: { webhook: { url: ... } }',
        },
        true,
      );
    }
    // Secret references in any setting must name declared secrets.
    const walk = (v: unknown, path: (string | number)[]): void => {
      if (typeof v === 'string') {
        for (const m of v.matchAll(/\$\{secret\.([^}]*)\}/g)) {
          const ref = m[1] ?? '';
          if (!secrets.includes(ref)) {
            const guess = didYouMean(ref, secrets);
            push(path, {
              code: 'dangling-reference',
              message: `channel \`${name}\` uses secret \`${ref}\`, which is not declared`,
              fix: guess ? `did you mean \`${guess}\`?` : `declare it under secrets: (secrets: { ${ref}: {} })`,
            });
          }
        }
      } else if (isObj(v)) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
      else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    };
    walk(c, ['notify', 'channels', name]);
  }
  if (Array.isArray(notify.routes)) {
    notify.routes.forEach((r, i) => {
      if (isObj(r) && Array.isArray(r.channels))
        r.channels.forEach((c, j) => channelRef(['notify', 'routes', i, 'channels', j], c));
    });
  }
  // A regular expression that does not compile would stop the daemon from loading the policy.
  const regexMatchers = (list: unknown, path: (string | number)[]) => {
    if (!Array.isArray(list)) return;
    list.forEach((m, j) => {
      const found =
        typeof m === 'string'
          ? /^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~)\s*(?:"((?:[^"\\]|\\.)*)"|(\S*))\s*$/.exec(m)
          : null;
      if (!found) return;
      const source = found[2] !== undefined ? found[2].replace(/\\(.)/g, '$1') : (found[3] ?? '');
      try {
        new RegExp(`^(?:${source})$`);
      } catch (e) {
        push([...path, j], {
          code: 'invalid-value',
          message: `the matcher \`${String(m)}\` has an invalid regular expression: ${e instanceof Error ? e.message : String(e)}`,
          fix: 'fix the regular expression, or use = for an exact value',
        });
      }
    });
  };
  if (Array.isArray(notify.routes))
    notify.routes.forEach((r, i) => isObj(r) && regexMatchers(r.match, ['notify', 'routes', i, 'match']));
  if (Array.isArray(notify.inhibit)) {
    notify.inhibit.forEach((r, i) => {
      if (!isObj(r)) return;
      regexMatchers(r.source_matchers, ['notify', 'inhibit', i, 'source_matchers']);
      regexMatchers(r.target_matchers, ['notify', 'inhibit', i, 'target_matchers']);
    });
  }
  // group_by: ['...'] means every label, so it stands alone; waits without group_by do nothing.
  const groupingCheck = (g: Record<string, unknown>, path: (string | number)[]) => {
    if (Array.isArray(g.group_by) && g.group_by.includes('...') && g.group_by.length > 1) {
      push([...path, 'group_by'], {
        code: 'conflict',
        message: "group_by '...' already means every label; it cannot be combined with label names",
        fix: "write group_by: ['...'] alone, or list the labels to group by",
      });
    }
    for (const k of ['group_wait', 'group_interval']) {
      if (g[k] !== undefined && g.group_by === undefined) {
        push([...path, k], {
          code: 'invalid-value',
          message: `${k} has no effect without group_by: each alert is sent on its own, at once`,
          fix: 'add group_by (e.g. [alertname, service]) or remove it',
        });
      }
    }
  };
  groupingCheck(notify, ['notify']);
  if (Array.isArray(notify.routes))
    notify.routes.forEach((r, i) => isObj(r) && groupingCheck(r, ['notify', 'routes', i]));
  if (Array.isArray(notify.default)) notify.default.forEach((c, j) => channelRef(['notify', 'default', j], c));

  const alerts = isObj(doc.alerts) ? doc.alerts : {};
  for (const [name, a] of Object.entries(alerts)) {
    if (!isObj(a)) continue;
    const conditions = Object.keys(a).filter((k) => CONDITIONS.includes(k));
    if (conditions.length !== 1) {
      push(
        ['alerts', name],
        {
          code: conditions.length === 0 ? 'missing-key' : 'conflict',
          message: `alert \`${name}\` needs exactly one condition: ${CONDITIONS.join(', ')}`,
          fix: "e.g. web-down: { check: web-health, severity: page }, web-crashing: { event: crashloop, service: web }, web-slow: { expr: 'groundwork_check_latency_seconds > 1' } or web-errors: { logs: { service: web, pattern: ERROR, window: 1m, threshold: 5 } }",
        },
        true,
      );
    }
    if (typeof a.expr === 'string') {
      const problem = exprProblem(a.expr);
      if (problem) {
        push(['alerts', name, 'expr'], {
          code: 'invalid-value',
          message: `alert \`${name}\`: cannot use the expression \`${a.expr}\`: ${problem}`,
          fix: 'write an instant-vector PromQL expression such as groundwork_check_up{check="web"} == 0 (try it with `groundwork query`)',
        });
      }
    }
    if (isObj(a.logs)) {
      const logs = a.logs;
      if (typeof logs.pattern === 'string' && logs.pattern !== '') {
        const problem = logPatternProblem(logs.pattern);
        if (problem) {
          push(['alerts', name, 'logs', 'pattern'], {
            code: 'invalid-value',
            message: `alert \`${name}\`: cannot use the log pattern \`${logs.pattern}\`: ${problem}`,
            fix: 'write the text to look for (ERROR), or a regular expression such as /timeout|refused/i',
          });
        }
      }
      if (typeof logs.service === 'string') {
        const svc = isObj(doc.services) ? doc.services[logs.service] : undefined;
        if (!services.includes(logs.service)) {
          const guess = didYouMean(logs.service, services);
          push(['alerts', name, 'logs', 'service'], {
            code: 'dangling-reference',
            message: `alert \`${name}\` watches the logs of service \`${logs.service}\`, which is not declared`,
            fix: guess ? `did you mean \`${guess}\`?` : 'declare the service under services:',
          });
        } else if (isObj(svc) && typeof svc.runtime === 'string' && svc.runtime !== 'process') {
          push(['alerts', name, 'logs', 'service'], {
            code: 'unsupported',
            message: `alert \`${name}\`: log rules read the log files of process services; \`${logs.service}\` runs on ${svc.runtime}, whose engine keeps the logs`,
            fix: 'watch a process service, or alert on its checks or events',
          });
        }
      }
    }
    if (a.interval !== undefined && typeof a.expr !== 'string') {
      push(['alerts', name, 'interval'], {
        code: 'invalid-value',
        message: `alert \`${name}\` has an interval but no expr: only expression rules are evaluated on an interval`,
        fix: 'remove interval (check and event rules are evaluated as soon as their condition changes)',
      });
    }
    const checks = Object.keys(isObj(doc.checks) ? doc.checks : {});
    if (typeof a.check === 'string' && !checks.includes(a.check)) {
      const guess = didYouMean(a.check, checks);
      push(['alerts', name, 'check'], {
        code: 'dangling-reference',
        message: `alert \`${name}\` watches check \`${a.check}\`, which is not declared`,
        fix: guess ? `did you mean \`${guess}\`?` : 'declare it under checks:',
      });
    }
    if (typeof a.service === 'string' && !services.includes(a.service)) {
      const guess = didYouMean(a.service, services);
      push(['alerts', name, 'service'], {
        code: 'dangling-reference',
        message: `alert \`${name}\` names service \`${a.service}\`, which is not declared`,
        fix: guess ? `did you mean \`${guess}\`?` : 'declare the service, or leave service out to cover every service',
      });
    }
  }
  if (Object.keys(alerts).length > 0 && channelNames.length === 0) {
    push(
      ['alerts'],
      {
        code: 'missing-key',
        message: 'alerts are declared but no notification channel is: nobody would be told',
        fix: 'add notify: { channels: { ops: { webhook: { url: https://... } } } }',
      },
      true,
    );
  }

  const maintenance = isObj(doc.maintenance) ? doc.maintenance : {};
  for (const [name, m] of Object.entries(maintenance)) {
    if (!isObj(m)) continue;
    regexMatchers(m.match, ['maintenance', name, 'match']);
    const kinds = ['once', 'weekly'].filter((k) => k in m);
    if (kinds.length !== 1) {
      push(
        ['maintenance', name],
        {
          code: kinds.length === 0 ? 'missing-key' : 'conflict',
          message: `maintenance window \`${name}\` needs exactly one of once, weekly`,
          fix: 'e.g. weekly: { days: [sun], from: "02:00", to: "04:00", timezone: Europe/Berlin }',
        },
        true,
      );
    }
    if (
      isObj(m.once) &&
      typeof m.once.start === 'string' &&
      typeof m.once.end === 'string' &&
      !(Date.parse(m.once.start) < Date.parse(m.once.end))
    ) {
      push(['maintenance', name, 'once', 'end'], {
        code: 'invalid-value',
        message: `maintenance window \`${name}\` ends before it starts`,
        fix: 'make end later than start',
      });
    }
    if (isObj(m.weekly) && typeof m.weekly.timezone === 'string') {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: m.weekly.timezone });
      } catch {
        push(['maintenance', name, 'weekly', 'timezone'], {
          code: 'invalid-value',
          message: `unknown time zone \`${m.weekly.timezone}\``,
          fix: 'use an IANA name such as Europe/Berlin or America/New_York',
        });
      }
    }
  }
  return out;
}

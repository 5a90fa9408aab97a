/**
 * The daemon's alerting: the alert engine fed from what the installation knows, the notification
 * outbox's sender, and the channels built from applied state. Rebuilt from recorded state after
 * every change (`configure`), like the data plane.
 *
 * Every condition is read from state, not remembered from events, so a restarted daemon sees
 * the same alerts active and neither resolves nor re-pages them: a check's last status (check
 * rows), instance states (the supervisor), and the latest release of a service (release rows).
 * Bus events only make the next evaluation happen at once instead of at the next tick, which
 * keeps the time from a failure to the outbox well under a second.
 */
import {
  AlertEngine,
  UnknownRuleError,
  type ActiveSample,
  type AlertRoute,
  type AlertRule,
  type Grouping,
  type InhibitRule,
  type Transition,
} from '../alerts/engine.js';
import type { MaintenanceWindow, TimeWindow } from '../alerts/maintenance.js';
import { parseMatcher } from '../alerts/matchers.js';
import {
  LogPatternError,
  MatchWindow,
  lineMatches,
  parseLogPattern,
  splitLines,
  type LogPattern,
} from '../alerts/log-pattern.js';
import { serviceOutputsOf } from '../kinds/service/service-spec.js';
import { endOf, readLog, type LogCursor } from '../observe/log-files.js';
import type { Channel } from '../notify/channel.js';
import { createChannel, type ChannelConfig } from '../notify/channel-config.js';
import { OutboxSender } from '../notify/outbox.js';
import { address, type JsonObject } from '../model/resource.js';
import { PromqlEngine, type Queryable } from '../observe/promql/engine.js';
import { Redactor } from '../security/redact.js';
import type { SecretSource } from '../security/secret-source.js';
import type { ReleaseRecord, ResourceRow, Store } from '../store/store.js';
import type { Timer, Timers } from '../util/clock.js';
import { Duration } from '../util/duration.js';
import { DEFAULT_EXPR_INTERVAL } from '../model/alerting-resources.js';
import { errorMessage } from '../util/error-message.js';
import type { Logger } from '../util/logger.js';
import { singleFlight } from '../util/single-flight.js';
import type { EventBus } from './bus.js';
import { checkViews } from './check-statuses.js';
import type { InstanceView } from './status.js';

export interface AlertingOptions {
  store: Store;
  bus: EventBus;
  clock: Timers;
  logger: Logger;
  secrets: () => SecretSource;
  /** The daemon's URL, the default base of acknowledge and silence links. */
  daemonUrl: () => string;
  /** Instances as the supervisor sees them now. */
  instances: () => Promise<InstanceView[]>;
  /** Evaluation period when nothing happens (default 1 s). */
  tickMs?: number;
  /**
   * The daemon's metrics store, which `expr:` rules query (unflushed samples included). Absent:
   * expression rules are not evaluated, and the log says so once.
   */
  metrics?: () => Queryable | undefined;
}

interface RuleSource {
  check: string | null;
  event: string | null;
  expr: string | null;
  logs: LogRule | null;
  /** Evaluation period of an expr rule. */
  intervalMs: number;
  service: string | null;
}

interface LogRule {
  service: string;
  pattern: LogPattern;
  windowMs: number;
  threshold: number;
  /** The spec as written: a changed rule starts counting afresh. */
  signature: string;
}

/** Where a log rule has read each log file to, and what it counted. */
interface LogFollow {
  signature: string;
  window: MatchWindow;
  files: Map<string, { cursor: LogCursor | undefined; carry: string }>;
}

/** Why an expr rule was not evaluated this time: its alerts keep their state (as Prometheus does). */
class NotEvaluated extends Error {}

/** A sample value as the PromQL API writes it ("+Inf", "NaN", "0.25") as a number. */
function apiNumber(v: string): number {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v);
}

const WEEKDAY_NUMBER: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const obj = (v: unknown): JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObject) : {};
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const ms = (v: unknown, def: string): number => Duration.parse(typeof v === 'string' ? v : def).toMilliseconds();
const omit = (o: JsonObject, key: string): JsonObject =>
  Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));
const minuteOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** A rule's `logs:` spec; null when it has none (or its pattern cannot be read: validate reports that). */
function logRuleOf(rule: string, v: unknown, logger: Logger): LogRule | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const l = obj(v);
  try {
    return {
      service: String(l.service),
      pattern: parseLogPattern(String(l.pattern)),
      windowMs: ms(l.window, '1m'),
      threshold: typeof l.threshold === 'number' ? l.threshold : 1,
      signature: JSON.stringify(l),
    };
  } catch (e) {
    if (!(e instanceof LogPatternError)) throw e;
    logger.log('error', 'alerting: cannot use a log rule', { rule, error: e.message });
    return null;
  }
}

/** A route's (or the policy's) group_by and waits; none without group_by. */
function groupingOf(spec: JsonObject): { grouping?: Grouping } {
  if (!Array.isArray(spec.group_by)) return {};
  const by = strings(spec.group_by);
  return {
    grouping: {
      by: by.includes('...') ? 'all' : by,
      waitMs: ms(spec.group_wait, '30s'),
      intervalMs: ms(spec.group_interval, '5m'),
    },
  };
}

/** `${secret.NAME}` in a channel setting, resolved now; a missing value is an error naming the secret. */
function resolveSecrets(v: unknown, secrets: SecretSource, channel: string): unknown {
  if (typeof v === 'string') {
    return v.replace(/\$\{secret\.([^}]+)\}/g, (_m, name: string) => {
      const value = secrets.tryGet(name);
      if (value === undefined)
        throw new Error(`channel ${channel}: secret ${name} has no value; ${secrets.howToSet(name)}`);
      return value;
    });
  }
  if (Array.isArray(v)) return v.map((x) => resolveSecrets(x, secrets, channel));
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveSecrets(x, secrets, channel)]));
  }
  return v;
}

function channelConfig(type: string, s: JsonObject): ChannelConfig {
  switch (type) {
    case 'webhook':
      return {
        type,
        url: String(s.url),
        ...(str(s.secret) ? { secret: String(s.secret) } : {}),
        headers: Object.fromEntries(Object.entries(obj(s.headers)).map(([k, v]) => [k, String(v)])),
      };
    case 'slack':
      return { type, url: String(s.url) };
    case 'ntfy':
      return {
        type,
        server: String(s.server),
        topic: String(s.topic),
        ...(str(s.token) ? { token: String(s.token) } : {}),
      };
    case 'alertmanager':
      return { type, url: String(s.url), ...(str(s.receiver) ? { receiver: String(s.receiver) } : {}) };
    case 'email':
      return {
        type,
        host: String(s.host),
        port: Number(s.port),
        security: s.security === 'tls' || s.security === 'none' ? s.security : 'starttls',
        ...(str(s.user) ? { user: String(s.user) } : {}),
        ...(str(s.password) ? { password: String(s.password) } : {}),
        from: String(s.from),
        to: strings(s.to),
      };
    default:
      throw new Error(`unknown channel type ${type}`);
  }
}

export class Alerting {
  private engine: AlertEngine | undefined;
  private sender: OutboxSender | undefined;
  private sources = new Map<string, RuleSource>();
  private timer: Timer | undefined;
  private readonly unsubscribe: (() => void)[] = [];
  /**
   * Why a channel could not be built (a secret without a value). Also recorded as the channel
   * resource's runtime outputs (`problem`), which is where `groundwork alerts` and GET /v1/alerts
   * read it, with or without this daemon.
   */
  readonly channelErrors = new Map<string, string>();
  /** Each log rule's reading position and counts; outlives configure() while the rule is unchanged. */
  private readonly logFollows = new Map<string, LogFollow>();
  /** When each alert's condition last held; outlives the engine, which configure() rebuilds. */
  private readonly lastActive = new Map<string, number>();
  /**
   * An evaluation reads alerts and then writes them: the timer and the bus's events ask for one,
   * and an ask during a run books one more run after it, never a second run beside it.
   */
  private readonly evaluator = singleFlight(
    () => this.evaluateOnce(),
    (e) => this.opts.logger.log('error', 'alerting: evaluation failed', { error: errorMessage(e) }),
  );

  constructor(private readonly opts: AlertingOptions) {}

  /** Rebuilds rules, routes, windows and channels from recorded state. */
  configure(rows: readonly ResourceRow[]): void {
    const byKind = (k: string) => rows.filter((r) => r.kind === k);
    const nameOf = (r: ResourceRow) => r.address.slice(r.address.indexOf('.') + 1);
    const rules: AlertRule[] = [];
    this.sources = new Map();
    const alertNames = new Set(byKind('alert').map(nameOf));
    for (const rule of this.logFollows.keys()) if (!alertNames.has(rule)) this.logFollows.delete(rule);
    for (const r of byKind('alert')) {
      const s = r.spec;
      const name = nameOf(r);
      const annotations: Record<string, string> = {};
      if (str(s.summary)) annotations.summary = String(s.summary);
      if (str(s.description)) annotations.description = String(s.description);
      if (str(s.runbook)) annotations.runbook_url = String(s.runbook);
      rules.push({
        name,
        forMs: ms(s.for, '0s'),
        keepFiringForMs: ms(s.keep_firing_for, '0s'),
        severity: str(s.severity) ?? 'warning',
        labels: Object.fromEntries(Object.entries(obj(s.labels)).map(([k, v]) => [k, String(v)])),
        annotations,
      });
      this.sources.set(name, {
        check: str(s.check),
        event: str(s.event),
        expr: str(s.expr),
        logs: logRuleOf(name, s.logs, this.opts.logger),
        intervalMs: ms(s.interval, DEFAULT_EXPR_INTERVAL),
        service: str(s.service),
      });
    }
    const policy = byKind('notify-policy')[0]?.spec ?? {};
    const routes: AlertRoute[] = (Array.isArray(policy.routes) ? policy.routes : []).map((x) => {
      const r = obj(x);
      return {
        matchers: strings(r.match).map(parseMatcher),
        channels: strings(r.channels),
        repeatIntervalMs: ms(r.repeat_interval, '4h'),
        continue: r.continue === true,
        ...groupingOf(r),
      };
    });
    const inhibit: InhibitRule[] = (Array.isArray(policy.inhibit) ? policy.inhibit : []).map((x) => {
      const i = obj(x);
      return {
        sourceMatchers: strings(i.source_matchers).map(parseMatcher),
        targetMatchers: strings(i.target_matchers).map(parseMatcher),
        equal: strings(i.equal),
      };
    });
    const maintenance: MaintenanceWindow[] = byKind('maintenance').map((r) => {
      const once = obj(r.spec.once);
      const weekly = obj(r.spec.weekly);
      const windows: TimeWindow[] = [];
      if (str(once.start) && str(once.end)) {
        windows.push({ kind: 'once', start: new Date(String(once.start)), end: new Date(String(once.end)) });
      }
      if (str(weekly.from) && str(weekly.to)) {
        windows.push({
          kind: 'weekly',
          days: strings(weekly.days).map((d) => WEEKDAY_NUMBER[d] ?? -1),
          fromMinute: minuteOf(String(weekly.from)),
          toMinute: minuteOf(String(weekly.to)),
          timeZone: str(weekly.timezone) ?? 'UTC',
        });
      }
      return { name: nameOf(r), matchers: strings(r.spec.match).map(parseMatcher), windows };
    });
    const channels = new Map<string, Channel>();
    this.channelErrors.clear();
    for (const r of byKind('channel')) {
      const name = nameOf(r);
      try {
        const settings = resolveSecrets(obj(r.spec.settings), this.opts.secrets(), name) as JsonObject;
        channels.set(name, createChannel(name, channelConfig(String(r.spec.type), settings)));
      } catch (e) {
        // The rows for it stay queued, with this reason, until the channel can be built.
        this.channelErrors.set(name, errorMessage(e));
        this.opts.logger.log('error', 'alerting: cannot build a notification channel', {
          channel: name,
          error: errorMessage(e),
        });
      }
    }
    for (const r of byKind('channel')) {
      const problem = this.channelErrors.get(nameOf(r));
      const recorded = str(r.outputs.problem);
      if (problem !== (recorded ?? undefined))
        // One atomic edit of the row as it is now (a check or the supervisor may write it too).
        this.opts.store.resources
          .updateOutputs(r.address, (outputs) => (problem ? { ...outputs, problem } : omit(outputs, 'problem')))
          .catch((e: unknown) =>
            this.opts.logger.log('error', 'alerting: cannot record a channel problem', {
              channel: nameOf(r),
              error: errorMessage(e),
            }),
          );
    }
    const defaultGrouping = groupingOf(policy).grouping;
    this.engine = new AlertEngine({
      store: this.opts.store.alerts,
      clock: this.opts.clock,
      rules,
      routes,
      defaultChannels: strings(policy.default),
      defaultRepeatIntervalMs: ms(policy.repeat_interval, '4h'),
      ...(defaultGrouping ? { defaultGrouping } : {}),
      maintenance,
      inhibit,
      externalUrl: str(policy.external_url) ?? this.opts.daemonUrl(),
      redactor: () => this.opts.secrets().redactor?.() ?? Redactor.none,
      lastActive: this.lastActive,
    });
    // One sender for the daemon's life: a new one would cancel (and later repeat) what is in flight.
    if (this.sender) this.sender.setChannels(channels, new Map(this.channelErrors));
    else {
      this.sender = new OutboxSender({
        store: this.opts.store.outbox,
        channels,
        channelProblems: new Map(this.channelErrors),
        clock: this.opts.clock,
        logger: this.opts.logger,
      });
      this.sender.start();
    }
  }

  start(): void {
    const soon = (): void => this.evaluator.trigger();
    this.unsubscribe.push(
      this.opts.bus.on('check', soon),
      this.opts.bus.on('instance', soon),
      this.opts.bus.on('release', soon),
    );
    this.timer = this.opts.clock.setInterval(() => this.evaluator.trigger(), this.opts.tickMs ?? 1000, {
      background: true,
    });
  }

  /** When each expr rule was last evaluated (monotonic ms). */
  private readonly exprEvaluatedAt = new Map<string, number>();
  private warnedNoMetrics = false;
  /** The last query error of each expr rule, logged once per change rather than every interval. */
  private readonly exprErrors = new Map<string, string>();

  /** Whether an expr rule is due (its interval has passed); other rules are evaluated every time. */
  private due(rule: string, src: RuleSource): boolean {
    if (src.expr === null) return true;
    const now = this.opts.clock.ms();
    const last = this.exprEvaluatedAt.get(rule);
    if (last !== undefined && now - last < src.intervalMs) return false;
    this.exprEvaluatedAt.set(rule, now);
    return true;
  }

  /** The series an expr rule's expression returns now: one alert each, with its labels and value. */
  private exprActive(rule: string, expr: string): ActiveSample[] {
    const store = this.opts.metrics?.();
    if (!store) {
      if (!this.warnedNoMetrics) {
        this.warnedNoMetrics = true;
        this.opts.logger.log('error', 'alerting: expression rules need the metrics store, which this daemon lacks', {
          rule,
        });
      }
      throw new NotEvaluated('no metrics store');
    }
    const answer = new PromqlEngine(store).instantQuery(expr, this.opts.clock.now().getTime());
    if (answer.status === 'error' || answer.data.resultType !== 'vector') {
      const error =
        answer.status === 'error'
          ? answer.error
          : `the expression returns a ${answer.data.resultType}, not an instant vector`;
      if (this.exprErrors.get(rule) !== error) {
        this.exprErrors.set(rule, error);
        this.opts.logger.log('error', 'alerting: cannot evaluate an alert expression; its alerts keep their state', {
          rule,
          expr,
          error,
        });
      }
      throw new NotEvaluated(error);
    }
    this.exprErrors.delete(rule);
    return answer.data.result.map((r) => ({ labels: r.metric, value: apiNumber(r.value[1]) }));
  }

  /**
   * A log rule: the lines its service's instances wrote since the last evaluation, read from
   * where the previous read ended (log files are written by each instance's own log writer
   * process, so following the file from a cursor is how the daemon sees lines as they are
   * written; nothing is read twice, and a rotation in between loses nothing). Files that exist
   * when the rule is first evaluated are followed from their end: lines written before the
   * rule existed, or while the daemon was down, do not count.
   */
  private logsActive(rule: string, r: LogRule, rows: readonly ResourceRow[]): ActiveSample[] {
    let follow = this.logFollows.get(rule);
    const first = follow?.signature !== r.signature;
    if (!follow || first) {
      follow = { signature: r.signature, window: new MatchWindow(r.windowMs), files: new Map() };
      this.logFollows.set(rule, follow);
    }
    const service = address('service', r.service);
    const row = rows.find((x) => x.address === service);
    const files = new Set(row ? serviceOutputsOf(row).instances.map((i) => i.logFile) : []);
    let matched = 0;
    for (const file of files) {
      let at = follow.files.get(file);
      if (!at) {
        // A file that appears later (a new instance) is read from its start.
        at = { cursor: first ? endOf(file) : undefined, carry: '' };
        follow.files.set(file, at);
        if (first) continue;
      }
      const read = readLog(file, at.cursor);
      at.cursor = read.next;
      const { lines, carry } = splitLines(at.carry, read.text);
      at.carry = carry;
      for (const line of lines) if (lineMatches(r.pattern, line)) matched++;
    }
    for (const file of follow.files.keys()) if (!files.has(file)) follow.files.delete(file);
    const now = this.opts.clock.ms();
    follow.window.add(matched, now);
    const count = follow.window.count(now);
    return count >= r.threshold ? [{ labels: { service: r.service, rule }, value: count }] : [];
  }

  /** The label sets for which a rule's condition holds now. */
  private active(
    rule: string,
    rows: readonly ResourceRow[],
    instances: readonly InstanceView[],
    latestReleases: ReadonlyMap<string, ReleaseRecord>,
  ): ActiveSample[] {
    const src = this.sources.get(rule);
    if (!src) return [];
    if (src.expr !== null) return this.exprActive(rule, src.expr);
    if (src.logs !== null) return this.logsActive(rule, src.logs, rows);
    if (src.check) {
      const c = checkViews(rows).find((v) => v.name === src.check);
      return c?.state === 'down' ? [{ labels: { check: c.name, check_type: c.type }, value: 1 }] : [];
    }
    const wanted = (service: string) => src.service === null || src.service === service;
    if (src.event === 'crashloop' || src.event === 'unhealthy') {
      const counts = new Map<string, number>();
      for (const i of instances) {
        if (i.state === src.event && wanted(i.service)) counts.set(i.service, (counts.get(i.service) ?? 0) + 1);
      }
      return [...counts].map(([service, n]) => ({ labels: { service }, value: n }));
    }
    if (src.event === 'deploy-failed' || src.event === 'rolled-back') {
      const status = src.event === 'deploy-failed' ? 'failed' : 'rolled-back';
      const services = rows
        .filter((r) => r.kind === 'service')
        .map((r) => r.address.slice('service.'.length))
        .filter(wanted);
      return services
        .filter((s) => latestReleases.get(s)?.status === status)
        .map((service) => ({ labels: { service }, value: 1 }));
    }
    return [];
  }

  /**
   * Evaluates now (after the run under way, if any) and resolves when done. Failures are logged,
   * never thrown: the next tick tries again.
   */
  async evaluate(): Promise<void> {
    this.evaluator.trigger();
    await this.evaluator.idle();
  }

  /** One evaluation of every rule, then repeats and suppression ends; new rows wake the sender. */
  private async evaluateOnce(): Promise<void> {
    // Read before the engine and rules are taken: configure() may replace both during the await.
    // One query for every service, not one per service and rule.
    let latestReleases: ReadonlyMap<string, ReleaseRecord> = new Map();
    if ([...this.sources.values()].some((s) => s.event === 'deploy-failed' || s.event === 'rolled-back')) {
      try {
        latestReleases = await this.opts.store.releases.latestByService();
      } catch (e) {
        this.opts.logger.log('error', 'alerting: could not read the latest releases', { error: errorMessage(e) });
        return;
      }
    }
    const engine = this.engine;
    if (!engine) return;
    // One read of the recorded rows serves every rule of this evaluation.
    const rows = await this.opts.store.resources.listResources();
    const instances = await this.opts.instances();
    let queued = false;
    const seen = (t: Transition): void => {
      if (t.notified.length) queued = true;
      if (t.from !== t.to) {
        const { fingerprint, rule, from, to, labels, summary } = t;
        this.opts.bus.publish({ type: 'alert', fingerprint, rule, from, to, labels, summary });
      }
    };
    try {
      for (const [rule, src] of this.sources) {
        if (!this.due(rule, src)) continue;
        let active: ActiveSample[];
        try {
          active = this.active(rule, rows, instances, latestReleases);
        } catch (e) {
          if (e instanceof NotEvaluated) continue;
          throw e;
        }
        (await engine.evaluate(rule, active)).forEach(seen);
      }
      (await engine.tick()).forEach(seen);
      if ((await engine.flushGroups()) > 0) queued = true;
    } catch (e) {
      if (!(e instanceof UnknownRuleError))
        this.opts.logger.log('error', 'alerting: evaluation failed', { error: errorMessage(e) });
    }
    if (queued) this.sender?.kick();
  }

  async acknowledge(fingerprint: string, by: string): Promise<boolean> {
    return (await this.engine?.acknowledge(fingerprint, by)) ?? false;
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
    for (const u of this.unsubscribe.splice(0)) u();
    await this.evaluator.idle();
    await this.sender?.stop();
  }
}

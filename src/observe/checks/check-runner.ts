/**
 * The check scheduler. Each check runs on its interval (the first run spread over a tenth of it,
 * so checks declared together do not fire together), never overlapping itself, at most
 * `concurrency` at a time; each run is cut at the check's timeout. Every result goes through the
 * thresholds (thresholds.ts); the status is saved after every run (so a restarted daemon goes on
 * from it), a state change is reported once, and samples go to the sink.
 *
 * Push checks do not run: a ping is a success, and a timer at last ping + interval + grace
 * records a failure when no ping came (then once per interval while none comes).
 *
 * Time comes from the injected Timers, so a test drives a whole day of checks with a ManualClock.
 */
import { errorMessage } from '../../util/error-message.js';
import type { Timer, Timers } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import type { CheckSpec, CheckState, CheckType } from './check-spec.js';
import { initialCheckStatus, type CheckStatus } from './check-status.js';
import { dnsProbe } from './probes/dns-probe.js';
import { execProbe } from './probes/exec-probe.js';
import { httpProbe } from './probes/http-probe.js';
import type { ProbeContext, ProbeOutcome } from './probes/probe.js';
import { tcpProbe } from './probes/tcp-probe.js';
import { tlsProbe } from './probes/tls-probe.js';
import { pushTokenHash } from './push-token.js';
import { CHECK_METRICS, type SampleSink } from './sample-sink.js';
import { nextThresholdState } from './thresholds.js';

/** A check as the runner takes it: targets resolved, with what it needs beyond the spec. */
export interface RunnableCheck {
  spec: CheckSpec;
  /** push checks: SHA-256 (hex) of the token a ping must carry. */
  pushTokenHash?: string;
  /** Set when the check cannot run as declared (a reference without a value): every run fails with it. */
  problem?: string;
}

/** A state change, reported once when the thresholds move the state. */
export interface CheckTransition {
  check: string;
  type: CheckType;
  from: CheckState;
  to: CheckState;
  /** The error of the run that made the change (null when it came up). */
  error: string | null;
  at: string;
}

/** Where statuses are kept between runs and across restarts. */
export interface CheckStatusStore {
  load(name: string, type: CheckType): CheckStatus | undefined;
  save(status: CheckStatus): void;
}

export interface CheckRunnerOptions {
  clock: Timers;
  logger: Logger;
  statuses: CheckStatusStore;
  onTransition(t: CheckTransition): void;
  samples?: SampleSink;
  /** Runs in flight at most (default 8). */
  concurrency?: number;
  /** For the first run's spread; tests pass () => 0. Default Math.random. */
  random?: () => number;
  /** Working directory of exec checks (the stack's directory). */
  cwd: string;
}

interface Entry {
  check: RunnableCheck;
  /** The spec as JSON: a changed one is rescheduled. */
  key: string;
  status: CheckStatus;
  timer: Timer | undefined;
  running: AbortController | undefined;
  /** Monotonic time the current run was due. */
  due: number;
  queued: boolean;
}

/** Share of the interval the first run is spread over. */
const FIRST_RUN_SPREAD = 0.1;

export class CheckRunner {
  private readonly entries = new Map<string, Entry>();
  private readonly queue: Entry[] = [];
  private active = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly o: CheckRunnerOptions) {}

  /** Takes the declared checks: new ones start, removed ones stop, changed ones restart their cadence. */
  configure(checks: readonly RunnableCheck[]): void {
    if (this.stopped) return;
    const names = new Set(checks.map((c) => c.spec.name));
    for (const [name, e] of this.entries) if (!names.has(name)) this.drop(name, e);
    for (const check of checks) {
      const key = JSON.stringify([
        check.spec,
        check.spec.target.type === 'http' ? String(check.spec.target.bodyRegex) : '',
        check.problem ?? '',
        check.pushTokenHash ?? '',
      ]);
      const cur = this.entries.get(check.spec.name);
      if (cur && cur.key === key) continue;
      if (cur) this.drop(check.spec.name, cur);
      const type = check.spec.target.type;
      const loaded = this.o.statuses.load(check.spec.name, type);
      const status = loaded && loaded.type === type ? loaded : initialCheckStatus(check.spec.name, type);
      const e: Entry = { check, key, status, timer: undefined, running: undefined, due: 0, queued: false };
      this.entries.set(check.spec.name, e);
      if (type === 'push') this.armPush(e);
      else {
        const spread = Math.floor(
          (this.o.random ?? Math.random)() * check.spec.interval.toMilliseconds() * FIRST_RUN_SPREAD,
        );
        this.schedule(e, spread);
      }
    }
  }

  /** Latest statuses, by name. */
  list(): CheckStatus[] {
    return [...this.entries.values()].map((e) => ({ ...e.status })).sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * A ping of a push check. Returns false when no push check has this token (the caller answers
   * 404 without saying which checks exist). `ok: false` records a failure (a job reporting its
   * own failure), with `message` as the error.
   */
  push(token: string, report: { ok: boolean; message?: string } = { ok: true }): boolean {
    const hash = pushTokenHash(token);
    for (const e of this.entries.values()) {
      if (e.check.spec.target.type !== 'push' || e.check.pushTokenHash !== hash) continue;
      e.status.lastPingAt = this.o.clock.now().toISOString();
      this.record(e, {
        ok: report.ok,
        error: report.ok
          ? null
          : `the job reported a failure${report.message ? `: ${report.message.slice(0, 200)}` : ''}`,
        latencyMs: null,
      });
      this.armPush(e);
      return true;
    }
    return false;
  }

  /** Resolves when no run is in flight or queued (tests: after advancing the clock). */
  idle(): Promise<void> {
    if (this.active === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  stop(): void {
    this.stopped = true;
    for (const [name, e] of this.entries) this.drop(name, e);
  }

  private drop(name: string, e: Entry): void {
    e.timer?.cancel();
    e.running?.abort();
    const i = this.queue.indexOf(e);
    if (i >= 0) this.queue.splice(i, 1);
    this.entries.delete(name);
  }

  private schedule(e: Entry, delayMs: number): void {
    e.due = this.o.clock.ms() + delayMs;
    e.timer = this.o.clock.setTimeout(() => this.enqueue(e), delayMs, { background: true });
  }

  private enqueue(e: Entry): void {
    if (this.entries.get(e.check.spec.name) !== e) return;
    // Still running (a slow target): this slot is skipped rather than stacked up.
    if (e.running || e.queued) return this.scheduleNext(e);
    e.queued = true;
    this.queue.push(e);
    this.pump();
  }

  private scheduleNext(e: Entry): void {
    const interval = e.check.spec.interval.toMilliseconds();
    const now = this.o.clock.ms();
    // From the due time, so the cadence does not drift by the runs' durations.
    let next = e.due + interval;
    if (next <= now) next = now + interval - ((now - e.due) % interval);
    this.schedule(e, next - now);
  }

  private pump(): void {
    const limit = this.o.concurrency ?? 8;
    while (this.active < limit && this.queue.length > 0) {
      const e = this.queue.shift() as Entry;
      e.queued = false;
      this.active++;
      void this.runOne(e).finally(() => {
        this.active--;
        this.pump();
        if (this.active === 0 && this.queue.length === 0) {
          const w = this.idleWaiters;
          this.idleWaiters = [];
          for (const r of w) r();
        }
      });
    }
  }

  private async runOne(e: Entry): Promise<void> {
    const ctl = new AbortController();
    e.running = ctl;
    const timeout = this.o.clock.setTimeout(() => ctl.abort(), e.check.spec.timeout.toMilliseconds(), {
      background: true,
    });
    let outcome: ProbeOutcome;
    try {
      outcome = await this.probe(e.check, {
        signal: ctl.signal,
        ms: () => this.o.clock.ms(),
        now: () => this.o.clock.now(),
      });
    } catch (err) {
      outcome = { ok: false, error: errorMessage(err), latencyMs: null };
    } finally {
      timeout.cancel();
      e.running = undefined;
    }
    // Removed or replaced while it ran: its result belongs to nobody.
    if (this.entries.get(e.check.spec.name) !== e || this.stopped) return;
    this.record(e, outcome);
    this.scheduleNext(e);
  }

  private probe(c: RunnableCheck, ctx: ProbeContext): Promise<ProbeOutcome> {
    if (c.problem !== undefined) return Promise.resolve({ ok: false, error: c.problem, latencyMs: null });
    const t = c.spec.target;
    switch (t.type) {
      case 'http':
        return httpProbe(t, ctx);
      case 'tcp':
        return tcpProbe(t.address, ctx);
      case 'dns':
        return dnsProbe(t, ctx);
      case 'tls':
        return tlsProbe(t, ctx);
      case 'exec':
        return execProbe(t.argv, ctx, this.o.cwd);
      case 'push':
        return Promise.resolve({ ok: true, error: null, latencyMs: null });
    }
  }

  /** Push: a failure at last ping (or the start of watching) + interval + grace, then every interval. */
  private armPush(e: Entry): void {
    const t = e.check.spec.target;
    if (t.type !== 'push') return;
    e.timer?.cancel();
    const interval = e.check.spec.interval.toMilliseconds();
    const nowWall = this.o.clock.now().getTime();
    const last = e.status.lastPingAt ? Date.parse(e.status.lastPingAt) : nowWall;
    const deadline = last + interval + t.grace.toMilliseconds();
    const fire = () => {
      if (this.entries.get(e.check.spec.name) !== e) return;
      const silent = this.o.clock.now().getTime() - (e.status.lastPingAt ? Date.parse(e.status.lastPingAt) : last);
      this.record(e, {
        ok: false,
        error: e.status.lastPingAt
          ? `no ping for ${Math.round(silent / 1000)}s (expected every ${e.check.spec.interval.toString()}, grace ${t.grace.toString()})`
          : `no ping yet (expected every ${e.check.spec.interval.toString()}, grace ${t.grace.toString()})`,
        latencyMs: null,
      });
      e.timer = this.o.clock.setTimeout(fire, interval, { background: true });
    };
    e.timer = this.o.clock.setTimeout(fire, Math.max(0, deadline - nowWall), { background: true });
  }

  private record(e: Entry, o: ProbeOutcome): void {
    const { spec } = e.check;
    const s = e.status;
    const now = this.o.clock.now();
    const at = now.toISOString();
    const next = nextThresholdState(s, o.ok, spec);
    const from = s.state;
    s.state = next.state;
    s.streak = next.streak;
    s.streakOk = next.streakOk;
    s.lastRunAt = at;
    s.lastError = o.error;
    if (o.latencyMs !== null) s.lastLatencyMs = Math.round(o.latencyMs * 1000) / 1000;
    if (o.tlsDaysLeft !== undefined) s.tlsDaysLeft = Math.round(o.tlsDaysLeft * 100) / 100;
    if (from !== s.state) s.since = at;
    try {
      this.o.statuses.save({ ...s });
    } catch (err) {
      this.o.logger.log('error', 'could not save a check status', { check: spec.name, error: errorMessage(err) });
    }
    if (from !== s.state)
      this.o.onTransition({
        check: spec.name,
        type: spec.target.type,
        from,
        to: s.state,
        error: o.ok ? null : o.error,
        at,
      });
    const sink = this.o.samples;
    if (!sink) return;
    const labels = (name: string) => ({ __name__: name, check: spec.name, type: spec.target.type });
    const ts = now.getTime();
    try {
      if (s.state !== 'pending') sink.append(labels(CHECK_METRICS.up), ts, s.state === 'up' ? 1 : 0);
      if (o.latencyMs !== null) sink.append(labels(CHECK_METRICS.latency), ts, o.latencyMs / 1000);
      if (o.tlsDaysLeft !== undefined) sink.append(labels(CHECK_METRICS.tlsDaysLeft), ts, o.tlsDaysLeft);
    } catch (err) {
      this.o.logger.log('error', 'could not append check samples', { check: spec.name, error: errorMessage(err) });
    }
  }
}

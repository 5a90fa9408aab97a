/**
 * On-call in the installation: people, schedules and escalation policies read from applied state
 * (`person.*`, `schedule.*`, `escalation.*`, `oncall-policy.default`), overrides from the store,
 * and, in the daemon, the incident manager fed by alert transitions on the bus and ticked every
 * second. Pages are outbox rows on the people's contact channels (`ana/phone`), which the
 * alerting's sender delivers like every other notification.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  IncidentManager,
  incidentKeyOf,
  type EscalationPolicy,
  type EscalationTarget,
  type Person,
} from '../incidents/incidents.js';
import type { Restriction, Schedule } from '../incidents/schedule.js';
import type { JsonObject } from '../model/resource.js';
import type { ResourceRow, Store } from '../store/store.js';
import { AsyncMutex } from '../util/async-mutex.js';
import type { Timer, Timers } from '../util/clock.js';
import { Duration } from '../util/duration.js';
import { errorMessage } from '../util/error-message.js';
import type { Logger } from '../util/logger.js';
import { singleFlight } from '../util/single-flight.js';
import type { EventBus } from './bus.js';

const ISO_DAY: Record<string, number> = { mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6, sun: 7 };

const obj = (v: unknown): JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObject) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const strings = (v: unknown): string[] => arr(v).filter((x): x is string => typeof x === 'string');
const ms = (v: unknown, def: string): number => Duration.parse(typeof v === 'string' ? v : def).toMilliseconds();
const minuteOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

function turnHours(rotation: string): number {
  if (rotation === 'daily') return 24;
  if (rotation === 'weekly') return 168;
  return Number(rotation.replace(/h$/, ''));
}

/** Everything on-call knows, built from applied state and the store's overrides. */
export interface OncallModel {
  people: Map<string, Person>;
  schedules: Map<string, Schedule>;
  policies: Map<string, EscalationPolicy>;
  defaultPolicy: string | undefined;
  /** The policies services and alert rules name (`escalation:`), by service and by rule. */
  servicePolicies: Map<string, string>;
  rulePolicies: Map<string, string>;
  pagingSeverities: string[];
}

export async function oncallModel(rows: readonly ResourceRow[], store: Store): Promise<OncallModel> {
  const nameOf = (r: ResourceRow) => r.address.slice(r.address.indexOf('.') + 1);
  const byKind = (k: string) => rows.filter((r) => r.kind === k);
  const people = new Map<string, Person>();
  for (const r of byKind('person')) {
    const name = nameOf(r);
    people.set(name, {
      name,
      rules: arr(r.spec.paging).map((x) => {
        const rule = obj(x);
        return { channel: `${name}/${String(rule.contact)}`, afterMs: ms(rule.after, '0s') };
      }),
    });
  }
  const overrides = await store.incidents.listOverrides();
  const schedules = new Map<string, Schedule>();
  for (const r of byKind('schedule')) {
    const name = nameOf(r);
    schedules.set(name, {
      name,
      timeZone: String(r.spec.timezone ?? 'UTC'),
      layers: arr(r.spec.layers).map((x, i) => {
        const l = obj(x);
        return {
          name: typeof l.name === 'string' ? l.name : `layer-${i + 1}`,
          members: strings(l.members),
          turnHours: turnHours(String(l.rotation ?? 'weekly')),
          start: String(l.start),
          restrictions: arr(l.only).map((y): Restriction => {
            const w = obj(y);
            return {
              days: strings(w.days).map((d) => ISO_DAY[d] ?? 0),
              fromMinute: minuteOf(String(w.from)),
              toMinute: minuteOf(String(w.to)),
            };
          }),
        };
      }),
      overrides: overrides
        .filter((o) => o.schedule === name)
        .map((o) => ({ who: o.who, from: o.from, to: o.to, reason: o.reason })),
    });
  }
  const policies = new Map<string, EscalationPolicy>();
  for (const r of byKind('escalation')) {
    const name = nameOf(r);
    policies.set(name, {
      name,
      repeat: typeof r.spec.repeat === 'number' ? r.spec.repeat : 0,
      steps: arr(r.spec.steps).map((x) => {
        const s = obj(x);
        return {
          escalateAfterMs: ms(s.escalate_after, '5m'),
          targets: strings(s.notify).map((t): EscalationTarget => {
            const [kind, target = ''] = t.split(':', 2);
            return { kind: kind === 'person' || kind === 'schedule' ? kind : 'channel', name: target };
          }),
        };
      }),
    });
  }
  const policy = byKind('oncall-policy')[0]?.spec ?? {};
  const nameMap = (v: unknown): Map<string, string> =>
    new Map(Object.entries(obj(v)).flatMap(([k, p]) => (typeof p === 'string' ? [[k, p]] : [])));
  return {
    people,
    schedules,
    policies,
    defaultPolicy: typeof policy.policy === 'string' ? policy.policy : undefined,
    servicePolicies: nameMap(policy.services),
    rulePolicies: nameMap(policy.rules),
    pagingSeverities: policy.page === undefined ? [] : strings(policy.page),
  };
}

/**
 * The key of the signed acknowledge links in pages: made once, kept in the state directory (0600),
 * never in the stack file, so links keep working across restarts and nobody can forge one.
 */
export function linkSecretOf(stateDir: string): string {
  const file = path.join(stateDir, 'incident-links.key');
  const valid = (s: string): boolean => /^[0-9a-f]{64}$/.test(s);
  if (existsSync(file)) {
    const kept = readFileSync(file, 'utf8').trim();
    // An empty or cut key (a crash while it was written) would make links forgeable: replaced.
    if (valid(kept)) return kept;
  }
  const secret = randomBytes(32).toString('hex');
  // Written whole, then renamed: another process never reads half a key.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${secret}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return secret;
}

export interface OncallOptions {
  store: Store;
  bus: EventBus;
  clock: Timers;
  logger: Logger;
  stateDir: string;
  /** Secret values to take out of alert text before it reaches an incident's title, timeline and pages. */
  redact?: (text: string) => string;
  /** Base of the links in pages (the notify policy's external_url, else the daemon's URL). */
  externalUrl: () => string;
  tickMs?: number;
  /** Shared with the operations' incident managers, so their writes and escalation never interleave. */
  lock?: AsyncMutex;
}

/** The daemon's incident manager, rebuilt from state after every change like alerting. */
export class Oncall {
  private manager: IncidentManager | undefined;
  private rows: readonly ResourceRow[] = [];
  private timer: Timer | undefined;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly linkSecret: string;
  private readonly lock: AsyncMutex;
  /** The overrides the manager was built with: a change (`oncall override`) rebuilds it. */
  private overridesSeen = '';
  private urlSeen = '';
  /** The severities that page, from the model the manager was built with. */
  private paging = new Set<string>();
  /** The escalation tick reads and writes the store: ticks never overlap. */
  private readonly ticker = singleFlight(
    () => this.tick(),
    (e) => this.failed(e),
  );

  constructor(private readonly opts: OncallOptions) {
    this.linkSecret = linkSecretOf(opts.stateDir);
    this.lock = opts.lock ?? new AsyncMutex();
  }

  /** The manager as configured now (the operations use it for ack, resolve and notes). */
  get incidents(): IncidentManager | undefined {
    return this.manager;
  }

  get secret(): string {
    return this.linkSecret;
  }

  async configure(rows: readonly ResourceRow[]): Promise<void> {
    this.rows = rows;
    await this.rebuild();
  }

  /** Overrides changed: schedules are rebuilt with them. */
  async rebuild(): Promise<void> {
    const url = this.opts.externalUrl();
    const m = await oncallModel(this.rows, this.opts.store);
    this.overridesSeen = await this.overridesStamp();
    this.urlSeen = url;
    this.paging = new Set(m.pagingSeverities);
    this.manager = new IncidentManager({
      store: this.opts.store.incidents,
      outbox: this.opts.store.outbox,
      clock: this.opts.clock,
      people: m.people,
      schedules: m.schedules,
      policies: m.policies,
      defaultPolicy: m.defaultPolicy,
      servicePolicies: m.servicePolicies,
      rulePolicies: m.rulePolicies,
      pagingSeverities: m.pagingSeverities,
      externalUrl: this.urlSeen,
      linkSecret: this.linkSecret,
      lock: this.lock,
    });
  }

  start(): void {
    this.unsubscribe.push(
      // One event at a time, in publish order: a firing alert's incident exists before its
      // resolution is handled.
      this.opts.bus.onAsync('alert', async (e) => {
        if (e.to !== 'firing' && e.to !== 'resolved') return;
        const redact = this.opts.redact ?? ((s: string) => s);
        const labels = Object.fromEntries(Object.entries(e.labels).map(([k, v]) => [k, redact(v)]));
        const paging = this.paging;
        await this.manager?.onAlert(
          { fingerprint: e.fingerprint, rule: e.rule, to: e.to, labels, summary: redact(e.summary) },
          // Only another paging alert of the same key keeps the incident open.
          async (key) =>
            (await this.opts.store.alerts.listAlerts({ state: 'firing' })).some(
              (a) =>
                a.fingerprint !== e.fingerprint &&
                paging.has(a.labels.severity ?? '') &&
                incidentKeyOf(a.labels) === key,
            ),
        );
      }),
      this.opts.bus.onAsync('release', async (e) => {
        if (e.phase === 'started') return;
        await this.manager?.recordChange(e.service, 'deploy', `release ${e.seq ?? '?'} ${e.phase}`);
      }),
    );
    this.timer = this.opts.clock.setInterval(() => this.ticker.trigger(), this.opts.tickMs ?? 1000, {
      background: true,
    });
  }

  private async tick(): Promise<void> {
    // Overrides changed (`oncall override`), or the daemon's URL became known: pages must say the new.
    if ((await this.overridesStamp()) !== this.overridesSeen || this.opts.externalUrl() !== this.urlSeen)
      await this.rebuild();
    await this.manager?.tick();
  }

  private async overridesStamp(): Promise<string> {
    return (await this.opts.store.incidents.listOverrides()).map((o) => o.id).join(',');
  }

  private failed(e: unknown): void {
    this.opts.logger.log('error', 'oncall: incident handling failed', { error: errorMessage(e) });
  }

  /** Stops the tick and the feed; resolves when a tick under way has finished. */
  async stop(): Promise<void> {
    this.timer?.cancel();
    for (const u of this.unsubscribe.splice(0)) u();
    await this.ticker.idle();
  }
}

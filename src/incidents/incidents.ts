/**
 * Incidents and escalation. A paging alert opens an incident (or attaches to the open one with
 * the same key: one incident per service), the incident follows an escalation policy until
 * someone acknowledges it, and every event goes on its timeline.
 *
 * Escalation is recomputed from stored state on every tick, never held in timers: the incident
 * row says which step began when, and the outbox holds what was sent (keys per incident, step,
 * loop, person and contact rule). A daemon killed between the first page and the escalation
 * therefore escalates on its first tick after the restart, exactly once: the outbox refuses a
 * second row with the same key.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { outboxRows } from '../notify/outbox.js';
import type { Notification } from '../notify/notification.js';
import type { IncidentEvent, IncidentRow, IncidentStore, OutboxEnqueue, OutboxStore } from '../store/store.js';
import { AsyncMutex } from '../util/async-mutex.js';
import type { Clock } from '../util/clock.js';
import { onCallAt, type Schedule } from './schedule.js';

export interface ContactRule {
  /** Time after the person is paged before this contact is used (ntfy at once, email after 5 min). */
  afterMs: number;
  /** The outbox channel that reaches the person this way, e.g. `ana/phone`. */
  channel: string;
}

export interface Person {
  name: string;
  rules: ContactRule[];
}

export type EscalationTarget =
  { kind: 'person'; name: string } | { kind: 'schedule'; name: string } | { kind: 'channel'; name: string };

export interface EscalationStep {
  targets: EscalationTarget[];
  /** Without an acknowledgement by then, the next step is paged. */
  escalateAfterMs: number;
}

export interface EscalationPolicy {
  name: string;
  steps: EscalationStep[];
  /** How many more times the steps run from the top after the last one. */
  repeat: number;
}

export interface IncidentManagerOptions {
  store: IncidentStore;
  /** Where pages wait to be sent: an acknowledgement withdraws the ones not yet sent. */
  outbox: Pick<OutboxStore, 'cancelPending'>;
  clock: Clock;
  people: ReadonlyMap<string, Person>;
  schedules: ReadonlyMap<string, Schedule>;
  policies: ReadonlyMap<string, EscalationPolicy>;
  /** The stack-wide default policy (`oncall.policy`, else the only one): for incidents nothing else names one for. */
  defaultPolicy: string | undefined;
  /** Policies services name (`services.web.escalation`), by service (default: none). */
  servicePolicies?: ReadonlyMap<string, string>;
  /** Policies alert rules name (`alerts.db-down.escalation`), by rule; a rule's wins over its service's (default: none). */
  rulePolicies?: ReadonlyMap<string, string>;
  /** Alert severities that open incidents. */
  pagingSeverities: readonly string[];
  /** Base of the acknowledge and resolve links in pages. */
  externalUrl: string;
  /** Key of the links' signatures (kept in the state directory, never in the stack file). */
  linkSecret: string;
  /**
   * Serializes the manager's work (each method reads incidents, then writes them): share one
   * between every manager of a process that writes incidents (the daemon rebuilds its manager,
   * and the operations build their own). Default: one of its own.
   */
  lock?: AsyncMutex;
}

/** What the manager needs of an alert state change (alerts/engine.ts Transition plus the alert). */
export interface AlertChange {
  fingerprint: string;
  rule: string;
  to: 'pending' | 'firing' | 'resolved' | 'inactive';
  labels: Record<string, string>;
  summary: string;
}

export class IncidentError extends Error {}

/** One incident per service; alerts without a service label group by rule. */
export function incidentKeyOf(labels: Record<string, string>): string {
  return labels.service ? `service:${labels.service}` : `alert:${labels.alertname ?? 'unknown'}`;
}

export function signAction(secret: string, action: 'ack' | 'resolve', id: number): string {
  return createHmac('sha256', secret).update(`${action}:${id}`).digest('hex').slice(0, 32);
}

export function verifyAction(secret: string, action: 'ack' | 'resolve', id: number, sig: string): boolean {
  const want = Buffer.from(signAction(secret, action, id));
  const got = Buffer.from(sig);
  return got.length === want.length && timingSafeEqual(got, want);
}

type NewEvent = Omit<IncidentEvent, 'id' | 'incidentId' | 'at'>;

/** The outbox key of a page (not of the "resolved" notice): `incident-3/loop0/step1/ana/0` or `.../channel/ops`. */
const PAGE_KEY = /^incident-\d+\/loop\d+\/step\d+\/(?:channel\/(.+)|([^/]+)\/(\d+))$/;

export const ESCALATION_STOPPED = 'escalation-stopped';
/** The timeline event that says which policy an incident follows and why. */
export const POLICY_CHOSEN = 'policy';
export const ESCALATION_RESUMED = 'escalation-resumed';

/** Whether the incident's escalation was last said to be stopped or resumed (the newest of the two events). */
export function lastEscalationEvent(timeline: readonly IncidentEvent[]): string | undefined {
  for (let i = timeline.length - 1; i >= 0; i--) {
    const k = timeline[i]?.kind;
    if (k === ESCALATION_STOPPED || k === ESCALATION_RESUMED) return k;
  }
  return undefined;
}

/**
 * How long after an acknowledgement the tick still looks for pages to withdraw: a page in flight at
 * the acknowledgement that fails goes back to waiting, and its retry (backoff capped at 5 min)
 * must not reach the person.
 */
const WITHDRAW_AFTER_ACK_MS = 10 * 60_000;

export class IncidentManager {
  private readonly lock: AsyncMutex;

  constructor(private readonly opts: IncidentManagerOptions) {
    this.lock = opts.lock ?? new AsyncMutex();
  }

  private now(): string {
    return this.opts.clock.now().toISOString();
  }

  private links(id: number, status: 'firing' | 'resolved' = 'firing'): Notification['links'] {
    const base = this.opts.externalUrl.replace(/\/+$/, '');
    // A resolved notice has nothing left to acknowledge or resolve.
    if (status === 'resolved') return { details: `${base}/v1/incidents/${id}` };
    return {
      acknowledge: `${base}/v1/incidents/${id}/ack?sig=${signAction(this.opts.linkSecret, 'ack', id)}`,
      resolve: `${base}/v1/incidents/${id}/resolve?sig=${signAction(this.opts.linkSecret, 'resolve', id)}`,
      details: `${base}/v1/incidents/${id}`,
    };
  }

  private page(inc: IncidentRow & { id: number }, status: 'firing' | 'resolved'): Notification {
    return {
      alert: `incident #${inc.id}`,
      fingerprint: `incident-${inc.id}`,
      status,
      severity: inc.severity,
      summary: inc.title,
      description: status === 'resolved' ? `resolved by ${inc.resolvedBy ?? 'the system'}` : '',
      labels: inc.service ? { service: inc.service } : {},
      annotations: {},
      startsAt: inc.createdAt,
      endsAt: inc.resolvedAt,
      links: this.links(inc.id, status),
    };
  }

  /** An alert changed state: paging alerts open or join an incident; the last one resolving resolves it. */
  onAlert(change: AlertChange, stillFiring: (key: string) => boolean | Promise<boolean>): Promise<number | undefined> {
    return this.lock.run(() => this.onAlertNow(change, stillFiring));
  }

  private async onAlertNow(
    change: AlertChange,
    stillFiring: (key: string) => boolean | Promise<boolean>,
  ): Promise<number | undefined> {
    const severity = change.labels.severity ?? '';
    if (!this.opts.pagingSeverities.includes(severity)) return undefined;
    const key = incidentKeyOf(change.labels);
    const open = await this.opts.store.openIncidentByKey(key);
    if (change.to === 'firing') {
      if (open) {
        await this.opts.store.saveIncident(
          open,
          [{ kind: 'alert', actor: 'alerts', text: `${change.rule} firing: ${change.summary}` }],
          [],
        );
        return open.id;
      }
      const now = this.now();
      const chosen = this.policyOf(change);
      const joined: NewEvent[] = [{ kind: 'alert', actor: 'alerts', text: `${change.rule} firing: ${change.summary}` }];
      // Another process may have opened one for the key since the look above: then this alert joins it.
      const { id, opened } = await this.opts.store.openIncident(
        {
          key,
          title: change.summary || `${change.rule} firing`,
          severity,
          service: change.labels.service ?? null,
          status: 'triggered',
          createdAt: now,
          ackedAt: null,
          ackedBy: null,
          resolvedAt: null,
          resolvedBy: null,
          assignee: null,
          policy: chosen.policy ?? null,
          step: 0,
          loop: 0,
          stepStartedAt: now,
        },
        [
          { kind: 'triggered', actor: 'alerts', text: `opened by ${change.rule}` },
          { kind: 'alert', actor: 'alerts', text: `${change.rule} firing: ${change.summary}` },
          { kind: POLICY_CHOSEN, actor: 'escalation', text: chosen.why },
        ],
        joined,
      );
      if (opened) await this.tickNow();
      return id;
    }
    if (change.to === 'resolved' && open) {
      const events: NewEvent[] = [{ kind: 'alert', actor: 'alerts', text: `${change.rule} resolved` }];
      if (await stillFiring(key)) {
        await this.opts.store.saveIncident(open, events, []);
      } else {
        await this.resolveRow(open, 'alerts', events);
      }
      return open.id;
    }
    return undefined;
  }

  /**
   * The policy a new incident follows, and the sentence that says why: the alert rule's
   * `escalation:`, else its service's, else the stack-wide default (PagerDuty's order, where the
   * policy belongs to the service and an event rule may send an alert elsewhere). The incident
   * keeps it: later alerts that join it, or a new default, do not change who is being paged.
   */
  private policyOf(change: AlertChange): { policy: string | undefined; why: string } {
    const service = change.labels.service;
    const byRule = this.opts.rulePolicies?.get(change.rule);
    if (byRule !== undefined)
      return {
        policy: byRule,
        why: `follows escalation policy \`${byRule}\`: named by alert rule \`${change.rule}\` (alerts.${change.rule}.escalation)`,
      };
    const byService = service === undefined ? undefined : this.opts.servicePolicies?.get(service);
    if (service !== undefined && byService !== undefined)
      return {
        policy: byService,
        why: `follows escalation policy \`${byService}\`: named by service \`${service}\` (services.${service}.escalation)`,
      };
    const d = this.opts.defaultPolicy;
    const unnamed =
      service === undefined
        ? `alert rule \`${change.rule}\` names none (and the alert has no service label)`
        : `neither alert rule \`${change.rule}\` nor service \`${service}\` names one`;
    if (d !== undefined)
      return {
        policy: d,
        why: `follows escalation policy \`${d}\`: the stack-wide default (oncall.policy, else the only policy), as ${unnamed}`,
      };
    return {
      policy: undefined,
      why: `follows no escalation policy, so nobody is paged: ${unnamed}, and there is no default; declare one under oncall.escalation and apply`,
    };
  }

  /** Who a target means now: people for persons and schedules, or a channel. */
  private recipients(t: EscalationTarget, at: Date): { people: Person[]; channels: string[]; said: string } {
    if (t.kind === 'channel') return { people: [], channels: [t.name], said: `channel ${t.name}` };
    const name =
      t.kind === 'person'
        ? t.name
        : this.opts.schedules.get(t.name) && onCallAt(this.opts.schedules.get(t.name) as Schedule, at)?.who;
    const person = name ? this.opts.people.get(name) : undefined;
    if (!person)
      return {
        people: [],
        channels: [],
        said: t.kind === 'schedule' ? `nobody on call in ${t.name}` : `unknown person ${t.name}`,
      };
    return {
      people: [person],
      channels: [],
      said: t.kind === 'schedule' ? `${person.name} (on call in ${t.name})` : person.name,
    };
  }

  /** Sends what is due and escalates what waited too long. The daemon calls it every second. */
  tick(): Promise<void> {
    return this.lock.run(() => this.tickNow());
  }

  private async tickNow(): Promise<void> {
    const nowMs = this.opts.clock.now().getTime();
    for (const inc of await this.opts.store.listIncidents({ status: 'triggered', limit: 100_000 })) {
      const policy = inc.policy ? this.opts.policies.get(inc.policy) : undefined;
      if (!policy) {
        if (inc.policy !== null) await this.sayStopped(inc, inc.policy);
        continue;
      }
      if (policy.steps.length === 0) continue;
      let row = inc;
      const events: NewEvent[] = [];
      const resumed = await this.resumedEvent(inc, policy.name);
      if (resumed) {
        // The step under way starts again now, rather than escalating at once through every
        // step whose time ran out while nobody could be paged.
        row = { ...row, stepStartedAt: new Date(nowMs).toISOString() };
        events.push(resumed);
      }
      // Advance past steps whose time ran out (several, after a long stop), then page the current one.
      for (;;) {
        const step = policy.steps[row.step];
        if (!step) break;
        // A step that reaches nobody (nobody on call, a person without contacts) does not hold the
        // incident up for its whole timeout: the next step is paged at once.
        const started = new Date(row.stepStartedAt);
        const reachable = step.targets.some((t) => {
          const r = this.recipients(t, started);
          return r.people.some((p) => p.rules.length > 0) || r.channels.length > 0;
        });
        const ends = started.getTime() + (reachable ? step.escalateAfterMs : 0);
        if (nowMs < ends) break;
        const last = row.step + 1 >= policy.steps.length;
        if (last && row.loop >= policy.repeat) break;
        const next = last ? { step: 0, loop: row.loop + 1 } : { step: row.step + 1, loop: row.loop };
        row = { ...row, ...next, stepStartedAt: new Date(ends).toISOString() };
        events.push({
          kind: 'escalated',
          actor: 'escalation',
          text: `${reachable ? `no acknowledgement within ${Math.round(step.escalateAfterMs / 1000)} s` : 'nobody could be paged'}: step ${row.step + 1}${row.loop > 0 ? ` (round ${row.loop + 1})` : ''} of ${policy.name}`,
        });
      }
      const { notifications, said } = await this.due(row, policy, nowMs);
      for (const s of said) events.push({ kind: 'notified', actor: 'escalation', text: s });
      if (events.length > 0 || notifications.length > 0) await this.opts.store.saveIncident(row, events, notifications);
    }
    for (const inc of await this.opts.store.listIncidents({ status: 'acknowledged', limit: 20 })) {
      if (inc.ackedAt === null || Date.parse(inc.ackedAt) < nowMs - WITHDRAW_AFTER_ACK_MS) continue;
      const events = await this.withdrawPages(inc);
      if (events.length > 0) await this.opts.store.saveIncident(inc, events, []);
    }
  }

  /** Incidents this manager has already looked at for a stopped or resumed escalation. */
  private readonly escalationSeen = new Set<number>();

  /**
   * The incident's policy is not applied (renamed or removed while it was open): escalation stops,
   * and the timeline says so once, with what to do, instead of the incident going silent.
   */
  private async sayStopped(inc: IncidentRow, policy: string): Promise<void> {
    if (this.escalationSeen.has(inc.id)) return;
    this.escalationSeen.add(inc.id);
    if (lastEscalationEvent(await this.opts.store.timeline(inc.id)) === ESCALATION_STOPPED) return;
    await this.opts.store.saveIncident(
      inc,
      [
        {
          kind: ESCALATION_STOPPED,
          actor: 'escalation',
          text: `escalation stopped: policy \`${policy}\` is no longer applied (renamed or removed), so nobody more is paged; acknowledge or assign the incident, or declare \`${policy}\` again under oncall.escalation and apply to resume`,
        },
      ],
      [],
    );
  }

  /** The policy is back after a stop: the event that says escalation resumes, else undefined. */
  private async resumedEvent(inc: IncidentRow, policy: string): Promise<NewEvent | undefined> {
    if (this.escalationSeen.has(inc.id)) return undefined;
    this.escalationSeen.add(inc.id);
    if (lastEscalationEvent(await this.opts.store.timeline(inc.id)) !== ESCALATION_STOPPED) return undefined;
    return {
      kind: ESCALATION_RESUMED,
      actor: 'escalation',
      text: `escalation resumed: policy \`${policy}\` is applied again`,
    };
  }

  /**
   * Takes the incident's pages that still wait in the outbox (queued, or a channel retrying) out of
   * it, so nobody is paged for what is already acknowledged or resolved; says so on the timeline.
   * Done before the acknowledgement is saved: a crash in between leaves the incident triggered,
   * and the next tick queues the pages again, rather than an acknowledged incident still paging.
   */
  private async withdrawPages(inc: IncidentRow): Promise<NewEvent[]> {
    const keys = [...(await this.opts.store.queuedKeys(inc.id))].filter((k) => PAGE_KEY.test(k));
    const gone = await this.opts.outbox.cancelPending(`incident-${inc.id}`, keys);
    if (gone.length === 0) return [];
    return [
      {
        kind: 'withdrawn',
        actor: 'escalation',
        text: `${gone.length} page${gone.length === 1 ? '' : 's'} not yet sent withdrawn: ${gone.map((r) => r.channel).join(', ')}`,
      },
    ];
  }

  private async due(
    inc: IncidentRow,
    policy: EscalationPolicy,
    nowMs: number,
  ): Promise<{ notifications: OutboxEnqueue[]; said: string[] }> {
    const step = policy.steps[inc.step];
    if (!step) return { notifications: [], said: [] };
    const started = Date.parse(inc.stepStartedAt);
    const queued = await this.opts.store.queuedKeys(inc.id);
    const page = this.page(inc, 'firing');
    const notifications: OutboxEnqueue[] = [];
    const said: string[] = [];
    const prefix = `loop${inc.loop}/step${inc.step}`;
    for (const target of step.targets) {
      const r = this.recipients(target, new Date(started));
      for (const channel of r.channels) {
        const eventKey = `${prefix}/channel/${channel}`;
        if (queued.has(`incident-${inc.id}/${eventKey}`)) continue;
        notifications.push(...outboxRows([channel], eventKey, page));
        said.push(`paged ${r.said} (step ${inc.step + 1})`);
      }
      for (const person of r.people) {
        person.rules.forEach((rule, i) => {
          const eventKey = `${prefix}/${person.name}/${i}`;
          if (started + rule.afterMs > nowMs || queued.has(`incident-${inc.id}/${eventKey}`)) return;
          notifications.push(...outboxRows([rule.channel], eventKey, page));
          said.push(`paged ${r.said} via ${rule.channel} (step ${inc.step + 1})`);
        });
      }
      if (r.people.length === 0 && r.channels.length === 0) {
        // Said once per step and round: the timeline is the record of having said it.
        const text = `could not page: ${r.said} (step ${inc.step + 1}, round ${inc.loop + 1})`;
        if (!(await this.opts.store.timeline(inc.id)).some((e) => e.text === text)) said.push(text);
      }
    }
    return { notifications, said };
  }

  private async mustGet(id: number): Promise<IncidentRow> {
    const inc = await this.opts.store.tryGetIncident(id);
    if (!inc) throw new IncidentError(`no incident #${id}: see groundwork incident list`);
    return inc;
  }

  acknowledge(id: number, by: string): Promise<IncidentRow> {
    return this.lock.run(async () => {
      const inc = await this.mustGet(id);
      if (inc.status !== 'triggered') throw new IncidentError(`incident #${id} is already ${inc.status}`);
      const withdrawn = await this.withdrawPages(inc);
      const row = { ...inc, status: 'acknowledged' as const, ackedAt: this.now(), ackedBy: by };
      await this.opts.store.saveIncident(
        row,
        [{ kind: 'acknowledged', actor: by, text: `acknowledged by ${by}` }, ...withdrawn],
        [],
      );
      return row;
    });
  }

  resolve(id: number, by: string): Promise<IncidentRow> {
    return this.lock.run(async () => {
      const inc = await this.mustGet(id);
      if (inc.status === 'resolved') throw new IncidentError(`incident #${id} is already resolved`);
      return this.resolveRow(inc, by, []);
    });
  }

  private async resolveRow(inc: IncidentRow, by: string, events: NewEvent[]): Promise<IncidentRow> {
    // Pages not yet sent are withdrawn first: whoever was never paged is not told it is over.
    const withdrawn = await this.withdrawPages(inc);
    const row = { ...inc, status: 'resolved' as const, resolvedAt: this.now(), resolvedBy: by };
    // Everyone who was paged hears that it is over, on the channels they were paged on.
    const paged = new Set<string>();
    const queued = await this.opts.store.queuedKeys(inc.id);
    for (const key of queued) {
      const m = PAGE_KEY.exec(key);
      if (!m) continue;
      if (m[1]) paged.add(m[1]);
      else {
        const person = this.opts.people.get(m[2] as string);
        const rule = person?.rules[Number(m[3])];
        if (rule) paged.add(rule.channel);
      }
    }
    const notifications = outboxRows([...paged], 'resolved', this.page(row, 'resolved'));
    await this.opts.store.saveIncident(
      row,
      [...events, ...withdrawn, { kind: 'resolved', actor: by, text: `resolved by ${by}` }],
      notifications,
    );
    return row;
  }

  note(id: number, by: string, text: string): Promise<void> {
    return this.lock.run(async () => {
      await this.opts.store.saveIncident(await this.mustGet(id), [{ kind: 'note', actor: by, text }], []);
    });
  }

  assign(id: number, who: string, by: string): Promise<void> {
    return this.lock.run(async () => {
      const inc = await this.mustGet(id);
      await this.opts.store.saveIncident(
        { ...inc, assignee: who },
        [{ kind: 'assigned', actor: by, text: `assigned to ${who}` }],
        [],
      );
    });
  }

  /** A deploy, rollback or apply while an incident of the service is open goes on its timeline. */
  recordChange(service: string, actor: string, text: string): Promise<void> {
    return this.lock.run(async () => {
      for (const inc of await this.opts.store.listIncidents({ limit: 100_000 })) {
        if (inc.status !== 'resolved' && inc.service === service) {
          await this.opts.store.saveIncident(inc, [{ kind: 'change', actor, text }], []);
        }
      }
    });
  }
}

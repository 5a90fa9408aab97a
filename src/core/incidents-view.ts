/**
 * What `groundwork incident` and `groundwork oncall` read and change: incidents with their
 * timelines, acknowledge / resolve / note / assign, postmortem drafts, who is on call, shifts and
 * overrides. Reads and writes the store directly with an incident manager built from applied
 * state, so it works with or without a daemon (the daemon's own manager only adds the alert feed
 * and the escalation tick).
 */
import { IncidentError, IncidentManager, incidentKeyOf, POLICY_CHOSEN, verifyAction } from '../incidents/incidents.js';
import {
  incidentStats,
  postmortemMarkdown,
  type ChangeInWindow,
  type IncidentStatsRow,
} from '../incidents/postmortem.js';
import { instantIn, onCallAt, shiftStartAt, shiftsBetween } from '../incidents/schedule.js';
import type { ActionItem, IncidentEvent, IncidentRow, IncidentStatus, OverrideRow, Store } from '../store/store.js';
import { AsyncMutex } from '../util/async-mutex.js';
import type { Clock } from '../util/clock.js';
import { OperationError } from './errors.js';
import { linkSecretOf, oncallModel, type OncallModel } from './oncall.js';

export interface IncidentDetail {
  incident: IncidentRow;
  /** Which escalation policy the incident follows and why, from its timeline; null for incidents opened before this was said. */
  policyReason: string | null;
  timeline: IncidentEvent[];
  actionItems: ActionItem[];
}

export type IncidentActionName = 'ack' | 'resolve' | 'note' | 'assign';

export interface IncidentActionInput {
  action: IncidentActionName;
  by: string;
  /** The note (note), or the person (assign). */
  text?: string;
}

export interface ActionItemInput {
  text: string;
  owner: string;
  /** A date (YYYY-MM-DD) or an ISO time. */
  due?: string;
  by: string;
}

export interface ShiftView {
  who: string;
  from: string;
  to: string;
  source: string;
}

export interface ScheduleView {
  name: string;
  timezone: string;
  /** Who is on call at `at`, and from which layer or override; null: nobody. */
  now: { who: string; source: string } | null;
  /** When the shift under way at `at` began (it may be long before `at`); absent when nobody is on call. */
  nowSince?: string;
  shifts: ShiftView[];
}

export interface OncallView {
  at: string;
  until: string;
  schedules: ScheduleView[];
  overrides: OverrideRow[];
}

export interface OncallQuery {
  /** ISO instant (default now). */
  at?: string;
  /** Only this schedule. */
  schedule?: string;
  /** Shifts from `at` for this many days (default 7, at most 366). */
  days?: number;
}

export interface OverrideInput {
  schedule: string;
  who: string;
  from: string;
  to: string;
  reason?: string;
  author?: string;
}

export class IncidentsService {
  /**
   * @param lock serializes incident writes with the other managers of the process (the daemon's
   *   escalation): pass the installation's. Default: one of its own.
   */
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly stateDir: string,
    private readonly lock: AsyncMutex = new AsyncMutex(),
  ) {}

  private async manager(): Promise<IncidentManager> {
    const m = await oncallModel(await this.store.resources.listResources(), this.store);
    return new IncidentManager({
      store: this.store.incidents,
      outbox: this.store.outbox,
      clock: this.clock,
      people: m.people,
      schedules: m.schedules,
      policies: m.policies,
      defaultPolicy: m.defaultPolicy,
      servicePolicies: m.servicePolicies,
      rulePolicies: m.rulePolicies,
      pagingSeverities: m.pagingSeverities,
      externalUrl: 'http://127.0.0.1',
      linkSecret: linkSecretOf(this.stateDir),
      lock: this.lock,
    });
  }

  async list(filter: { status?: IncidentStatus; limit?: number }): Promise<IncidentRow[]> {
    return this.store.incidents.listIncidents(filter);
  }

  private async mustGet(id: number): Promise<IncidentRow> {
    const inc = await this.store.incidents.tryGetIncident(id);
    if (!inc) throw new OperationError('not-found', `no incident #${id}`, 'see `groundwork incident list`');
    return inc;
  }

  async detail(id: number): Promise<IncidentDetail> {
    const incident = await this.mustGet(id);
    const timeline = await this.store.incidents.timeline(id);
    return {
      incident,
      policyReason: timeline.filter((e) => e.kind === POLICY_CHOSEN).at(-1)?.text ?? null,
      timeline,
      actionItems: await this.store.incidents.actionItems(id),
    };
  }

  async act(id: number, input: IncidentActionInput): Promise<IncidentRow> {
    await this.mustGet(id);
    const m = await this.manager();
    try {
      switch (input.action) {
        case 'ack': {
          const row = await m.acknowledge(id, input.by);
          await this.acknowledgeAlertsOf(row, input.by);
          return row;
        }
        case 'resolve':
          return await m.resolve(id, input.by);
        case 'note':
          if (!input.text?.trim())
            throw new OperationError('bad-request', 'a note needs text', 'write it after -m, e.g. -m "restarted db"');
          await m.note(id, input.by, input.text);
          return await this.mustGet(id);
        case 'assign': {
          const who = input.text?.trim() ?? '';
          const people = (await oncallModel(await this.store.resources.listResources(), this.store)).people;
          if (!people.has(who))
            throw new OperationError(
              'bad-request',
              `\`${who}\` is not a person with contacts under people:`,
              `assign one of: ${[...people.keys()].join(', ') || '(nobody is declared)'}`,
            );
          await m.assign(id, who, input.by);
          return await this.mustGet(id);
        }
      }
    } catch (e) {
      if (e instanceof IncidentError)
        throw new OperationError('refused', e.message, 'see `groundwork incident show ID`');
      throw e;
    }
  }

  /**
   * Acknowledging an incident also acknowledges its firing alerts, so their channels stop
   * repeating what the person already knows (PagerDuty acknowledges the alerts of an incident too).
   */
  private async acknowledgeAlertsOf(inc: IncidentRow, by: string): Promise<void> {
    const now = this.clock.now().toISOString();
    for (const a of await this.store.alerts.listAlerts({ state: 'firing' })) {
      if (a.ackedAt === null && incidentKeyOf(a.labels) === inc.key)
        await this.store.alerts.saveAlert({ ...a, ackedAt: now, ackedBy: by }, []);
    }
  }

  /** The signed link in a page: acknowledges without a token, if the signature is the daemon's. */
  async actByLink(
    id: number,
    action: 'ack' | 'resolve',
    sig: string,
    confirmed: boolean,
  ): Promise<{ incident: IncidentRow; done: boolean }> {
    if (!verifyAction(linkSecretOf(this.stateDir), action, id, sig))
      throw new OperationError(
        'forbidden',
        'this link is not valid for that incident',
        'use the link from the page as it was sent, or `groundwork incident ack ID`',
      );
    const inc = await this.mustGet(id);
    // Previews (chat unfurls, mail scanners) fetch links: only an explicit confirmation acts.
    if (!confirmed) return { incident: inc, done: false };
    // A second tap on the link is not an error: the incident is already where the link wanted it.
    if (action === 'ack' && inc.status !== 'triggered') return { incident: inc, done: true };
    if (action === 'resolve' && inc.status === 'resolved') return { incident: inc, done: true };
    return { incident: await this.act(id, { action, by: 'link in the page' }), done: true };
  }

  /** Mean time to acknowledge and to resolve per service and month, over the newest 1,000 incidents. */
  async stats(): Promise<IncidentStatsRow[]> {
    return incidentStats(await this.store.incidents.listIncidents({ limit: 1000 }));
  }

  async addActionItem(incidentId: number, input: ActionItemInput): Promise<ActionItem> {
    await this.mustGet(incidentId);
    if (!input.text.trim())
      throw new OperationError(
        'bad-request',
        'an action item needs text',
        'write it after -m, e.g. -m "alert on disk"',
      );
    if (!input.owner.trim())
      throw new OperationError('bad-request', 'an action item needs an owner', 'name one with --owner PERSON');
    if (input.due !== undefined && !Number.isFinite(Date.parse(input.due)))
      throw new OperationError('bad-request', `due '${input.due}' is not a date`, 'write it as 2026-12-31');
    const id = await this.store.incidents.addActionItem({
      incidentId,
      text: input.text,
      owner: input.owner,
      due: input.due ?? null,
    });
    await (await this.manager()).note(incidentId, input.by, `action item #${id} for ${input.owner}: ${input.text}`);
    const item = await this.store.incidents.tryGetActionItem(id);
    if (!item) throw new OperationError('unavailable', 'the action item was not recorded', 'try again');
    return item;
  }

  async setActionItemDone(itemId: number, done: boolean, by: string): Promise<ActionItem> {
    const item = await this.store.incidents.tryGetActionItem(itemId);
    if (!item) throw new OperationError('not-found', `no action item #${itemId}`, 'see `groundwork incident show ID`');
    await this.store.incidents.setActionItemDone(itemId, done);
    await (await this.manager()).note(item.incidentId, by, `action item #${itemId} ${done ? 'done' : 'reopened'}`);
    return { ...item, done };
  }

  async postmortem(id: number): Promise<string> {
    const inc = await this.mustGet(id);
    const from = Date.parse(inc.createdAt);
    const to = inc.resolvedAt ? Date.parse(inc.resolvedAt) : this.clock.now().getTime();
    // Deploys, rollbacks and applies in the window, from the change history.
    const changes: ChangeInWindow[] = (await this.store.journal.listChanges(200))
      .filter((c) => {
        const t = Date.parse(c.startedAt);
        return t >= from - 3_600_000 && t <= to;
      })
      .reverse()
      .map((c) => ({
        at: c.startedAt,
        text: `${c.kind} #${c.id} by ${c.author}${c.message ? ` ("${c.message}")` : ''}: ${
          Object.entries(c.summary)
            .filter(([, n]) => n > 0)
            .map(([k, n]) => `${k} ${n}`)
            .join(', ') || 'no change'
        }, ${c.outcome}`,
      }));
    return postmortemMarkdown(
      inc,
      await this.store.incidents.timeline(id),
      changes,
      await this.store.incidents.actionItems(id),
    );
  }

  async oncall(q: OncallQuery): Promise<OncallView> {
    const m = await oncallModel(await this.store.resources.listResources(), this.store);
    if (q.schedule !== undefined && !m.schedules.has(q.schedule))
      throw new OperationError(
        'not-found',
        `no schedule \`${q.schedule}\` is applied`,
        m.schedules.size
          ? `one of: ${[...m.schedules.keys()].join(', ')}`
          : 'declare one under oncall.schedules and run `groundwork apply`',
      );
    const atMs = q.at === undefined ? this.clock.now().getTime() : this.instant(q.at, 'at', m, q.schedule);
    const days = q.days ?? 7;
    if (!Number.isInteger(days) || days < 1 || days > 366)
      throw new OperationError(
        'bad-request',
        `days must be a whole number from 1 to 366, not ${days}`,
        'e.g. --days 14',
      );
    const at = new Date(atMs);
    const until = new Date(atMs + days * 86_400_000);
    const schedules = [...m.schedules.values()]
      .filter((s) => q.schedule === undefined || s.name === q.schedule)
      .map((s) => {
        const since = shiftStartAt(s, at);
        return {
          name: s.name,
          timezone: s.timeZone,
          now: onCallAt(s, at) ?? null,
          ...(since ? { nowSince: since.toISOString() } : {}),
          shifts: shiftsBetween(s, at, until).map((x) => ({
            who: x.who,
            from: x.from.toISOString(),
            to: x.to.toISOString(),
            source: x.source,
          })),
        };
      });
    return {
      at: at.toISOString(),
      until: until.toISOString(),
      schedules,
      overrides: await this.store.incidents.listOverrides({
        ...(q.schedule ? { schedule: q.schedule } : {}),
        endingAfter: at.toISOString(),
      }),
    };
  }

  async addOverride(input: OverrideInput): Promise<OverrideRow> {
    const m = await oncallModel(await this.store.resources.listResources(), this.store);
    if (!m.schedules.has(input.schedule))
      throw new OperationError(
        'not-found',
        `no schedule \`${input.schedule}\` is applied`,
        m.schedules.size ? `one of: ${[...m.schedules.keys()].join(', ')}` : 'declare one under oncall.schedules',
      );
    if (!m.people.has(input.who))
      throw new OperationError(
        'bad-request',
        `\`${input.who}\` is not a person with contacts under people:, so a page could not reach them`,
        `name one of: ${[...m.people.keys()].join(', ') || '(nobody is declared)'}`,
      );
    const from = this.instant(input.from, 'from', m, input.schedule);
    const to = this.instant(input.to, 'to', m, input.schedule);
    if (to <= from) throw new OperationError('bad-request', 'the override must end after it starts', 'check --to');
    const row = {
      schedule: input.schedule,
      who: input.who,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      reason: input.reason ?? '',
      author: input.author ?? 'unknown',
    };
    const id = await this.store.incidents.addOverride(row);
    const made = (await this.store.incidents.listOverrides({ schedule: input.schedule })).find((o) => o.id === id);
    if (!made) throw new OperationError('unavailable', 'the override was not recorded', 'try again');
    return made;
  }

  /**
   * A time a person typed, in ms. Without an offset it is read in the schedule's time zone (the
   * named one, else the one zone every schedule shares), never the host's: `--at 2026-12-24T18:00`
   * means 18:00 where the shifts are. Schedules in several zones and none named: an offset is needed.
   */
  private instant(text: string, flag: string, m: OncallModel, schedule: string | undefined): number {
    const zones = [
      ...new Set(
        [...m.schedules.values()].filter((s) => schedule === undefined || s.name === schedule).map((s) => s.timeZone),
      ),
    ];
    const hasOffset = /(?:Z|[+-]\d\d(?::?\d\d)?)$/i.test(text.trim()) && /T/i.test(text);
    if (!hasOffset && zones.length > 1)
      throw new OperationError(
        'bad-request',
        `--${flag} '${text}' has no offset, and the schedules are in different time zones (${zones.join(', ')})`,
        `name the schedule, or add the offset, e.g. ${text}Z or ${text}+01:00`,
      );
    const d = instantIn(text, zones[0] ?? 'UTC');
    const ms = d?.getTime() ?? Number.NaN;
    // Year 1970 to 9999: further out, dates cannot be written back as ISO times.
    if (!Number.isFinite(ms) || ms < 0 || ms > 253_402_300_799_000)
      throw new OperationError(
        'bad-request',
        `--${flag} '${text}' is not a time`,
        `write an ISO time such as 2026-12-24T18:00 (in the schedule's time zone${zones[0] ? `, ${zones[0]}` : ''}) or 2026-12-24T18:00Z`,
      );
    return ms;
  }

  async removeOverride(id: number): Promise<void> {
    if (!(await this.store.incidents.removeOverride(id)))
      throw new OperationError(
        'not-found',
        `no override #${id}`,
        'see `groundwork oncall show SCHEDULE` for the overrides',
      );
  }
}

/**
 * Checks of `people:` and `oncall:` that the schema cannot express: a contact is exactly one kind
 * and its secrets are declared, paging rules name the person's contacts, schedule members are
 * people, a time zone exists, escalation targets exist, the policies services and alert rules name
 * exist, and the policy incidents follow is clear.
 */
import { DateTime } from 'luxon';
import type { Diagnostic } from './diagnostic.js';
import { didYouMean } from '../util/did-you-mean.js';
import { diagnosticsBuilder, type Locate } from './diagnostics-builder.js';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const CHANNEL_TYPES = ['webhook', 'slack', 'ntfy', 'alertmanager', 'email'];

/**
 * How a layer start written with an offset reads in the schedule's zone (as incidents/schedule.ts
 * reads it): the local time of day of every handoff, and whether the offset is the zone's own on
 * that date. undefined without an offset or when the text is not a date-time.
 */
function startOffsetReading(
  start: string,
  zone: string,
): { localTime: string; localDateTime: string; offsetIsZones: boolean; zoneOffset: string } | undefined {
  if (!/T.*(?:Z|[+-]\d\d(?::?\d\d)?)$/i.test(start.trim())) return undefined;
  const written = DateTime.fromISO(start.trim(), { setZone: true });
  const local = written.setZone(zone);
  if (!written.isValid || !local.isValid) return undefined;
  return {
    localTime: local.toFormat('HH:mm'),
    localDateTime: local.toFormat("yyyy-MM-dd'T'HH:mm"),
    offsetIsZones: local.offset === written.offset,
    zoneOffset: local.toFormat('ZZ'),
  };
}

export function oncallChecks(doc: Record<string, unknown>, file: string, locate: Locate): Diagnostic[] {
  const { out, push, ref } = diagnosticsBuilder(file, locate);

  const people = isObj(doc.people) ? doc.people : {};
  const personNames = Object.keys(people);
  const secrets = Object.keys(isObj(doc.secrets) ? doc.secrets : {});
  for (const [name, p] of Object.entries(people)) {
    if (!isObj(p)) continue;
    const contacts = isObj(p.contacts) ? p.contacts : {};
    for (const [c, settings] of Object.entries(contacts)) {
      if (!isObj(settings)) continue;
      const kinds = Object.keys(settings).filter((k) => CHANNEL_TYPES.includes(k));
      if (kinds.length !== 1) {
        push(
          ['people', name, 'contacts', c],
          {
            code: kinds.length === 0 ? 'missing-key' : 'conflict',
            message: `contact \`${c}\` of \`${name}\` must be exactly one of ${CHANNEL_TYPES.join(', ')}`,
            fix: 'one contact per way of reaching the person, e.g. phone: { ntfy: { server: ..., topic: ... } }',
          },
          true,
        );
      }
      const walk = (v: unknown, path: (string | number)[]): void => {
        if (typeof v === 'string') {
          for (const m of v.matchAll(/\$\{secret\.([^}]+)\}/g)) {
            const s = m[1] ?? '';
            if (!secrets.includes(s)) ref(path, s, secrets, 'secret', 'secrets:');
          }
        } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
        else if (isObj(v)) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
      };
      walk(settings, ['people', name, 'contacts', c]);
    }
    if (Array.isArray(p.paging)) {
      p.paging.forEach((rule, i) => {
        if (isObj(rule) && typeof rule.contact === 'string')
          ref(
            ['people', name, 'paging', i, 'contact'],
            rule.contact,
            Object.keys(contacts),
            `contact of \`${name}\``,
            `people.${name}.contacts`,
          );
      });
    }
  }

  /**
   * A schedule member or a `person:` target must be reachable: at run time a step that reaches
   * nobody is skipped at once, so a person without a contact would silently never be paged.
   */
  const pageable = (path: (string | number)[], who: string, where: string): void => {
    const p = people[who];
    if (!isObj(p)) return; // not a person at all: `ref` has said so
    const contacts = isObj(p.contacts) ? Object.keys(p.contacts) : [];
    if (contacts.length === 0) {
      push(path, {
        code: 'invalid-value',
        message: `\`${who}\` is ${where} but has no contact, so a page cannot reach them`,
        fix: `add one under people.${who}.contacts, e.g. phone: { ntfy: { server: https://ntfy.sh, topic: ${who}-pages } }`,
      });
    } else if (Array.isArray(p.paging) && p.paging.length === 0) {
      push(path, {
        code: 'invalid-value',
        message: `\`${who}\` is ${where} but \`paging: []\` uses none of their contacts, so a page cannot reach them`,
        fix: `list a contact under people.${who}.paging (e.g. - { contact: ${contacts[0] ?? 'phone'} }), or remove paging: to use every contact at once`,
      });
    }
  };

  const oncall = isObj(doc.oncall) ? doc.oncall : undefined;
  const policies = oncall && isObj(oncall.escalation) ? oncall.escalation : {};

  /**
   * A service or alert rule's `escalation:` names a policy: an unknown one would leave its
   * incidents following nobody, so it is an error at the line, with the names there are.
   */
  const known = Object.keys(policies);
  for (const section of ['services', 'alerts'] as const) {
    const entries = isObj(doc[section]) ? doc[section] : {};
    for (const [name, e] of Object.entries(entries)) {
      if (!isObj(e) || typeof e.escalation !== 'string' || known.includes(e.escalation)) continue;
      const guess = didYouMean(e.escalation, known);
      push([section, name, 'escalation'], {
        code: 'dangling-reference',
        message: `no escalation policy named \`${e.escalation}\` (${
          known.length ? `the policies are: ${known.join(', ')}` : 'none is declared'
        })`,
        fix: guess
          ? `did you mean \`${guess}\`?`
          : known.length
            ? `use one of ${known.join(', ')}, or declare \`${e.escalation}\` under oncall.escalation`
            : `declare it under oncall.escalation, e.g. ${e.escalation}: { steps: [ { notify: [schedule:NAME] } ] }`,
      });
    }
  }

  if (!oncall) return out;
  const schedules = isObj(oncall.schedules) ? oncall.schedules : {};
  const notify = isObj(doc.notify) ? doc.notify : {};
  const channelNames = Object.keys(isObj(notify.channels) ? notify.channels : {});

  for (const [name, s] of Object.entries(schedules)) {
    if (!isObj(s)) continue;
    if (typeof s.timezone === 'string' && !DateTime.local().setZone(s.timezone).isValid) {
      push(['oncall', 'schedules', name, 'timezone'], {
        code: 'invalid-value',
        message: `unknown time zone \`${s.timezone}\``,
        fix: 'use an IANA name such as Europe/Berlin, America/New_York or UTC',
      });
    }
    if (Array.isArray(s.layers)) {
      s.layers.forEach((l, i) => {
        if (!isObj(l)) return;
        if (typeof l.start === 'string' && !DateTime.fromISO(l.start).isValid) {
          push(['oncall', 'schedules', name, 'layers', i, 'start'], {
            code: 'invalid-value',
            message: `\`${l.start}\` is not a date and time`,
            fix: 'write a real local date-time such as 2026-01-05T09:00',
          });
        }
        const start = typeof l.start === 'string' ? l.start : '';
        const reading = typeof s.timezone === 'string' ? startOffsetReading(start, s.timezone) : undefined;
        if (reading && !reading.offsetIsZones) {
          // Read as written (an instant), but an offset that is not the zone's on that date is
          // usually the other season's: every handoff would be an hour off what was meant.
          const path = ['oncall', 'schedules', name, 'layers', i, 'start'];
          const pos = locate(path);
          out.push({
            severity: 'warning',
            file,
            line: pos.line,
            column: pos.column,
            path: path.join('.'),
            code: 'invalid-value',
            message: `\`${start}\` is ${reading.localTime} in ${s.timezone} (whose offset on that date is ${reading.zoneOffset}), so every handoff is at ${reading.localTime} local time`,
            fix: `if that is meant, write it as ${s.timezone} wall time without an offset (${reading.localDateTime}); handoffs follow the schedule's zone, daylight saving included`,
          });
        }
        if (Array.isArray(l.members))
          l.members.forEach((m, j) => {
            if (typeof m !== 'string') return;
            const path = ['oncall', 'schedules', name, 'layers', i, 'members', j];
            ref(path, m, personNames, 'person', 'people:');
            pageable(path, m, `a member of schedule \`${name}\``);
          });
      });
    }
  }

  for (const [name, p] of Object.entries(policies)) {
    if (!isObj(p) || !Array.isArray(p.steps)) continue;
    p.steps.forEach((step, i) => {
      if (!isObj(step) || !Array.isArray(step.notify)) return;
      step.notify.forEach((t, j) => {
        if (typeof t !== 'string' || !t.includes(':')) return;
        const [kind, target = ''] = t.split(':', 2) as [string, string];
        const path = ['oncall', 'escalation', name, 'steps', i, 'notify', j];
        if (kind === 'person') {
          ref(path, target, personNames, 'person', 'people:');
          pageable(path, target, `paged by escalation policy \`${name}\``);
        }
        if (kind === 'schedule') ref(path, target, Object.keys(schedules), 'schedule', 'oncall.schedules');
        if (kind === 'channel') ref(path, target, channelNames, 'channel', 'notify.channels');
      });
    });
  }

  const policyNames = Object.keys(policies);
  if (typeof oncall.policy === 'string') {
    ref(['oncall', 'policy'], oncall.policy, policyNames, 'escalation policy', 'oncall.escalation');
  } else if (policyNames.length > 1) {
    push(
      ['oncall'],
      {
        code: 'missing-key',
        message: `there are ${policyNames.length} escalation policies and no \`policy:\` saying which incidents follow when neither their alert rule nor their service names one (\`escalation:\`)`,
        fix: `add policy: ${policyNames[0]} under oncall: (the default)`,
      },
      true,
    );
  } else if (policyNames.length === 0 && Object.keys(schedules).length > 0) {
    push(
      ['oncall'],
      {
        code: 'missing-key',
        message: 'schedules are declared but no escalation policy pages them, so incidents would page nobody',
        fix: 'add escalation: { default: { steps: [ { notify: [schedule:NAME] } ] } } under oncall:',
      },
      true,
    );
  }
  return out;
}

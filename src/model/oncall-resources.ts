/**
 * `people:` and `oncall:` as resources: `person.NAME` (paging rules), `channel.NAME/CONTACT` (each
 * contact is a channel the outbox delivers to, built like a notify channel), `schedule.NAME`,
 * `escalation.NAME` and one `oncall-policy.default` (the default policy, the policies services and
 * alert rules name, which severities page). The
 * daemon's incident manager rebuilds itself from them after every change (src/core/oncall.ts).
 * A person's role is not recorded: access control reads it from the stack file at each request.
 */
import type { PersonConfig, OncallConfig } from '../config/schema-oncall.js';
import { address, type DesiredResource, type Json, type JsonObject } from './resource.js';

const CHANNEL_TYPES = ['webhook', 'slack', 'ntfy', 'alertmanager', 'email'] as const;

/** The outbox channel of a person's contact. */
export const contactChannel = (person: string, contact: string): string => `${person}/${contact}`;

/** What names an escalation policy besides `oncall.policy`: services and alert rules (`escalation:`). */
export interface EscalationNamers {
  services?: Record<string, { escalation?: string }> | undefined;
  alerts?: Record<string, { escalation?: string }> | undefined;
}

/** name -> policy for the entries that name one. */
function named(entries: Record<string, { escalation?: string }> | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(entries ?? {}).flatMap(([n, e]) => (e.escalation === undefined ? [] : [[n, e.escalation]])),
  );
}

export function oncallResources(
  people: Record<string, PersonConfig> | undefined,
  oncall: OncallConfig | undefined,
  deep: (v: unknown) => Json,
  namers: EscalationNamers = {},
): DesiredResource[] {
  const out: DesiredResource[] = [];
  for (const [name, p] of Object.entries(people ?? {})) {
    const contacts = Object.entries(p.contacts ?? {});
    if (contacts.length === 0) continue; // a person with a role only: nothing to page
    const channelAddresses = [];
    for (const [c, settings] of contacts) {
      const type = CHANNEL_TYPES.find((t) => settings[t] !== undefined);
      if (!type) continue; // located by config/oncall-checks.ts
      const channel = contactChannel(name, c);
      channelAddresses.push(address('channel', channel));
      out.push({
        address: address('channel', channel),
        kind: 'channel',
        name: channel,
        dependsOn: [],
        spec: deep({ type, settings: settings[type] }) as JsonObject,
      });
    }
    out.push({
      address: address('person', name),
      kind: 'person',
      name,
      dependsOn: channelAddresses,
      spec: deep({
        paging: p.paging
          ? p.paging.map((r) => ({ contact: r.contact, after: r.after ?? '0s' }))
          : contacts.map(([c]) => ({ contact: c, after: '0s' })),
      }) as JsonObject,
    });
  }
  if (!oncall) return out;
  for (const [name, s] of Object.entries(oncall.schedules ?? {})) {
    out.push({
      address: address('schedule', name),
      kind: 'schedule',
      name,
      dependsOn: [...new Set(s.layers.flatMap((l) => l.members))]
        .filter((m) => people?.[m]?.contacts)
        .map((m) => address('person', m)),
      spec: deep({
        timezone: s.timezone,
        layers: s.layers.map((l, i) => ({
          name: l.name ?? `layer-${i + 1}`,
          members: l.members,
          rotation: l.rotation,
          start: l.start,
          only: (l.only ?? []).map((r) => ({ days: r.days ?? [], from: r.from, to: r.to })),
        })),
      }) as JsonObject,
    });
  }
  for (const [name, e] of Object.entries(oncall.escalation ?? {})) {
    out.push({
      address: address('escalation', name),
      kind: 'escalation',
      name,
      dependsOn: [],
      spec: deep({
        steps: e.steps.map((s) => ({ notify: s.notify, escalate_after: s.escalate_after ?? '5m' })),
        repeat: e.repeat ?? 0,
      }) as JsonObject,
    });
  }
  const policies = Object.keys(oncall.escalation ?? {});
  const services = named(namers.services);
  const rules = named(namers.alerts);
  out.push({
    address: address('oncall-policy', 'default'),
    kind: 'oncall-policy',
    name: 'default',
    dependsOn: policies.map((p) => address('escalation', p)),
    spec: deep({
      policy: oncall.policy ?? policies[0] ?? null,
      page: oncall.page ?? ['critical'],
      // Only when some service or rule names a policy, so stacks without one plan as before.
      ...(Object.keys(services).length > 0 ? { services } : {}),
      ...(Object.keys(rules).length > 0 ? { rules } : {}),
    }) as JsonObject,
  });
  return out;
}

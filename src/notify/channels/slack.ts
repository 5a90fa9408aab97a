/**
 * Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat and Discord's /slack
 * endpoint accept the same `text` + `blocks` body).
 */
import { postOrFail, type Channel, type DeliveryContext } from '../channel.js';
import { headline, labelledLinks, type Notification } from '../notification.js';

export interface SlackConfig {
  url: string;
  timeoutMs?: number;
}

/** Slack's mrkdwn needs &, < and > escaped in text it should not read as markup. */
function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Slack refuses (HTTP 400 `invalid_blocks`) a section whose text is over 3000 characters and a
 * message of more than 50 blocks; the outbox would then retry a large group forever. A group's
 * alert lines are therefore split over sections and cut with a count of what was left out.
 */
const MAX_SECTION_TEXT = 3000;
const MAX_ALERT_SECTIONS = 40;

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** The labels that tell an alert apart from the rest of its group (not alertname, not common ones). */
function distinguishing(a: Notification, common: Record<string, string>): string {
  const own = Object.entries(a.labels)
    .filter(([k]) => k !== 'alertname' && common[k] === undefined)
    .map(([k, v]) => `${k}=${v}`);
  return own.length ? ` (${own.join(', ')})` : '';
}

/** The group's alert lines in sections of at most MAX_SECTION_TEXT characters, cut with a count. */
function alertSections(n: Notification): Record<string, unknown>[] {
  const group = n.group;
  if (!group) return [];
  const lines = group.alerts.map((a) => {
    const ack = a.links.acknowledge && a.status === 'firing' ? ` <${a.links.acknowledge}|Acknowledge>` : '';
    // One line never fills a section on its own: room is kept for the acknowledge link.
    return `• ${clip(esc(headline(a) + distinguishing(a, group.commonLabels)), 1000)}${ack}`;
  });
  const sections: string[] = [];
  let current = '';
  let listed = 0;
  for (const line of lines) {
    const joined = current ? `${current}\n${line}` : line;
    if (joined.length <= MAX_SECTION_TEXT) {
      current = joined;
      listed++;
      continue;
    }
    if (sections.length + 1 >= MAX_ALERT_SECTIONS) break;
    sections.push(current);
    current = line;
    listed++;
  }
  if (current) sections.push(current);
  const left = lines.length - listed;
  if (left > 0) sections.push(`… and ${left} more (see Details)`);
  return sections.map((text) => ({ type: 'section', text: { type: 'mrkdwn', text } }));
}

export function slackBody(n: Notification): Record<string, unknown> {
  const icon = n.status === 'resolved' ? ':large_green_circle:' : ':red_circle:';
  const links = labelledLinks(n)
    .map(([label, url]) => `<${url}|${label}>`)
    .join(' · ');
  const detail = [n.description, `severity *${esc(n.severity)}* since ${n.startsAt}`]
    .filter(Boolean)
    .map((d) => clip(esc(d), 1500));
  return {
    text: clip(`${icon} ${esc(headline(n))}`, MAX_SECTION_TEXT),
    blocks: [
      {
        type: 'section',
        text: { type: 'mrkdwn', text: clip(`${icon} *${esc(headline(n))}*\n${detail.join('\n')}`, MAX_SECTION_TEXT) },
      },
      // A group lists its alerts, one line each, with their own acknowledge link.
      ...alertSections(n),
      ...(links ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: links }] }] : []),
    ],
  };
}

export class SlackChannel implements Channel {
  readonly type = 'slack' as const;
  constructor(
    readonly name: string,
    private readonly config: SlackConfig,
  ) {}

  async deliver(n: Notification, ctx: DeliveryContext): Promise<void> {
    await postOrFail(
      {
        url: this.config.url,
        body: JSON.stringify(slackBody(n)),
        headers: { 'content-type': 'application/json', 'idempotency-key': ctx.idempotencyKey },
        timeoutMs: this.config.timeoutMs ?? 10_000,
      },
      ctx,
    );
  }
}

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

export function slackBody(n: Notification): Record<string, unknown> {
  const icon = n.status === 'resolved' ? ':large_green_circle:' : ':red_circle:';
  const links = labelledLinks(n)
    .map(([label, url]) => `<${url}|${label}>`)
    .join(' · ');
  const detail = [n.description, `severity *${esc(n.severity)}* since ${n.startsAt}`].filter(Boolean).map(esc);
  // A group lists its alerts, one line each, with their own acknowledge link.
  for (const a of n.group?.alerts ?? []) {
    const ack = a.links.acknowledge && a.status === 'firing' ? ` <${a.links.acknowledge}|Acknowledge>` : '';
    detail.push(`• ${esc(headline(a))}${ack}`);
  }
  return {
    text: `${icon} ${esc(headline(n))}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `${icon} *${esc(headline(n))}*\n${detail.join('\n')}` } },
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

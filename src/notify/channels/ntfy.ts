/**
 * ntfy (ntfy.sh or a self-hosted server): the message as the body, title, priority, tags and
 * action buttons (acknowledge, silence) as headers, per ntfy's publish API.
 */
import { postOrFail, type Channel, type DeliveryContext } from '../channel.js';
import { headline, labelledLinks, plainText, type Notification } from '../notification.js';

export interface NtfyConfig {
  /** Server base URL, e.g. https://ntfy.sh or http://127.0.0.1:2586. */
  server: string;
  topic: string;
  /** Access token for a protected topic. */
  token?: string;
  timeoutMs?: number;
}

const PRIORITY: Record<string, string> = { critical: '5', page: '5', error: '4', warning: '3', ticket: '3', info: '2' };

/** Header values must be ASCII without newlines. */
function headerSafe(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?');
}

export function ntfyRequest(
  n: Notification,
  cfg: NtfyConfig,
  key: string,
): { url: string; headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = {
    title: headerSafe(headline(n)),
    priority: n.status === 'resolved' ? '2' : (PRIORITY[n.severity] ?? '3'),
    tags: n.status === 'resolved' ? 'white_check_mark' : 'rotating_light',
    'x-groundwork-idempotency-key': key,
  };
  const actions = labelledLinks(n, ['acknowledge', 'resolve', 'silence', 'runbook']).map(
    ([label, url]) => `view, ${label}, ${url}`,
  );
  if (actions.length) headers.actions = headerSafe(actions.join('; '));
  if (n.links.details) headers.click = headerSafe(n.links.details);
  if (cfg.token) headers.authorization = `Bearer ${cfg.token}`;
  const url = `${cfg.server.replace(/\/+$/, '')}/${encodeURIComponent(cfg.topic)}`;
  return { url, headers, body: plainText(n) };
}

export class NtfyChannel implements Channel {
  readonly type = 'ntfy' as const;
  constructor(
    readonly name: string,
    private readonly config: NtfyConfig,
  ) {}

  async deliver(n: Notification, ctx: DeliveryContext): Promise<void> {
    const req = ntfyRequest(n, this.config, ctx.idempotencyKey);
    await postOrFail({ ...req, timeoutMs: this.config.timeoutMs ?? 10_000 }, ctx);
  }
}

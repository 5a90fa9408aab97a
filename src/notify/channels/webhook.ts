/**
 * Generic webhook: the notification as JSON, signed with HMAC-SHA256 over `timestamp.body` (the
 * scheme Stripe and GitHub use, with the timestamp inside the signature so a captured request
 * cannot be replayed later). Receivers verify with verifyWebhookSignature.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { DeliveryError, postOrFail, type Channel, type DeliveryContext } from '../channel.js';
import { notificationToJson, type Notification } from '../notification.js';

export interface WebhookConfig {
  url: string;
  /** HMAC key; without it the body is sent unsigned. */
  secret?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export const SIGNATURE_HEADER = 'x-groundwork-signature';
export const IDEMPOTENCY_HEADER = 'idempotency-key';

export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** True when `header` is a valid signature of `body` made within `toleranceSeconds` of `nowSeconds`. */
export function verifyWebhookSignature(
  secret: string,
  header: string,
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const parts = new Map(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1') ?? '';
  if (!Number.isFinite(t) || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const want = Buffer.from(signWebhook(secret, body, t).split('v1=')[1] ?? '', 'hex');
  const got = Buffer.from(v1, 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

export class WebhookChannel implements Channel {
  readonly type = 'webhook' as const;
  constructor(
    readonly name: string,
    private readonly config: WebhookConfig,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
  ) {
    if (!/^https?:\/\//.test(config.url))
      throw new DeliveryError(`channel ${name}: url must start with http:// or https://`);
  }

  async deliver(n: Notification, ctx: DeliveryContext): Promise<void> {
    const body = JSON.stringify({
      version: '1',
      idempotencyKey: ctx.idempotencyKey,
      notification: notificationToJson(n),
    });
    const headers: Record<string, string> = {
      ...this.config.headers,
      'content-type': 'application/json',
      [IDEMPOTENCY_HEADER]: ctx.idempotencyKey,
    };
    if (this.config.secret) headers[SIGNATURE_HEADER] = signWebhook(this.config.secret, body, this.nowSeconds());
    await postOrFail({ url: this.config.url, body, headers, timeoutMs: this.config.timeoutMs ?? 10_000 }, ctx);
  }
}

/**
 * A channel delivers one notification to one receiver. Delivery is at least once: the outbox
 * retries until a channel returns, and a sender killed between the receiver's answer and the
 * outbox's record sends again with the same idempotency key, which every channel passes on
 * (a header, an email Message-ID) so the receiver can drop the repeat.
 */
import type { Notification } from './notification.js';

export const CHANNEL_TYPES = ['webhook', 'slack', 'ntfy', 'alertmanager', 'email'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

export interface DeliveryContext {
  /** The outbox row's dedup key: the same for every attempt of one notification. */
  idempotencyKey: string;
  /** 1 for the first attempt. */
  attempt: number;
  signal: AbortSignal;
}

export interface Channel {
  readonly name: string;
  readonly type: ChannelType;
  /** Resolves when the receiver has accepted the notification; throws DeliveryError otherwise. */
  deliver(n: Notification, ctx: DeliveryContext): Promise<void>;
}

/** Why a delivery failed, in words a user can act on; never contains a secret (URLs are cut to their origin). */
export class DeliveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/**
 * `https://hooks.slack.com` for `https://hooks.slack.com/services/T0/B0/secret`: webhook paths
 * and query strings often are the credential, so errors and logs show the origin only.
 */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}

function describeFetchFailure(e: unknown, url: string, timedOut: boolean): string {
  if (timedOut) return `${originOf(url)} did not answer in time`;
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? '';
  if (code === 'ECONNREFUSED') return `${originOf(url)} refused the connection (is the receiver running?)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `${originOf(url)}: host name does not resolve`;
  if (code) return `${originOf(url)}: ${code}`;
  return `${originOf(url)}: ${cause?.message ?? (e instanceof Error ? e.message : String(e))}`;
}

export interface HttpPost {
  url: string;
  body: string;
  headers: Record<string, string>;
  /** Per-attempt limit; the sender's signal still applies. */
  timeoutMs: number;
}

/** POSTs and accepts any 2xx; anything else is a DeliveryError naming the origin and the answer. */
export async function postOrFail(req: HttpPost, ctx: DeliveryContext): Promise<void> {
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = AbortSignal.any([timeout, ctx.signal]);
  let res: Response;
  try {
    res = await fetch(req.url, { method: 'POST', body: req.body, headers: req.headers, signal, redirect: 'error' });
  } catch (e) {
    throw new DeliveryError(describeFetchFailure(e, req.url, timeout.aborted));
  }
  const text = await res.text().catch(() => '');
  if (res.status >= 200 && res.status < 300) return;
  const hint =
    res.status === 401 || res.status === 403
      ? ' (check the channel credentials)'
      : res.status === 404
        ? ' (check the channel url)'
        : '';
  const said = text.trim().slice(0, 200);
  throw new DeliveryError(`${originOf(req.url)} answered HTTP ${res.status}${hint}${said ? `: ${said}` : ''}`);
}

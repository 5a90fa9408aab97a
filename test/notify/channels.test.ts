/** What each HTTP channel puts on the wire, captured by a real receiver. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryContext } from '../../src/notify/channel.js';
import { AlertmanagerChannel } from '../../src/notify/channels/alertmanager.js';
import { NtfyChannel } from '../../src/notify/channels/ntfy.js';
import { SlackChannel } from '../../src/notify/channels/slack.js';
import { verifyWebhookSignature, WebhookChannel } from '../../src/notify/channels/webhook.js';
import type { Notification } from '../../src/notify/notification.js';
import { Receiver } from './receiver.js';

const n: Notification = {
  alert: 'web-down',
  fingerprint: 'web-down/service=web',
  status: 'resolved',
  severity: 'page',
  summary: 'web answers 503 <for everyone>',
  description: 'the pool has no ready instance',
  labels: { service: 'web' },
  annotations: { team: 'lab' },
  startsAt: '2026-12-01T09:00:00.000Z',
  endsAt: '2026-12-01T09:04:00.000Z',
  links: {
    acknowledge: 'http://127.0.0.1:7070/ack/1',
    silence: 'http://127.0.0.1:7070/silence/1',
    runbook: 'https://wiki.lab.test/web',
  },
};

const ctx = (): DeliveryContext => ({
  idempotencyKey: 'web-down/service=web/resolved',
  attempt: 1,
  signal: new AbortController().signal,
});

describe('notification channels on the wire', () => {
  let rx: Receiver;
  let url: string;
  beforeEach(async () => {
    rx = new Receiver();
    url = await rx.start();
  });
  afterEach(() => rx.stop());

  it('webhook: JSON body, HMAC signature over timestamp and body, idempotency key', async () => {
    await new WebhookChannel(
      'hook',
      { url: `${url}/h`, secret: 's3', headers: { 'x-team': 'lab' } },
      () => 1_800_000_000,
    ).deliver(n, ctx());
    const r = rx.received[0];
    expect(r?.headers['x-team']).toBe('lab');
    expect(
      verifyWebhookSignature('s3', String(r?.headers['x-groundwork-signature']), r?.body ?? '', 1_800_000_010),
    ).toBe(true);
    expect(
      verifyWebhookSignature('other', String(r?.headers['x-groundwork-signature']), r?.body ?? '', 1_800_000_010),
    ).toBe(false);
    // A captured request replayed an hour later is refused.
    expect(
      verifyWebhookSignature('s3', String(r?.headers['x-groundwork-signature']), r?.body ?? '', 1_800_003_600),
    ).toBe(false);
    expect(JSON.parse(r?.body ?? '{}')).toMatchObject({
      version: '1',
      notification: { alert: 'web-down', status: 'resolved' },
    });
  });

  it('slack: text fallback and blocks with escaped text and link buttons', async () => {
    await new SlackChannel('chat', { url: `${url}/services/T0/B0/secret` }).deliver(n, ctx());
    const body = JSON.parse(rx.received[0]?.body ?? '{}') as { text: string; blocks: { type: string }[] };
    expect(body.text).toBe(':large_green_circle: [RESOLVED] web-down: web answers 503 &lt;for everyone&gt;');
    expect(JSON.stringify(body.blocks)).toContain('<http://127.0.0.1:7070/ack/1|Acknowledge>');
    expect(body.blocks.map((b) => b.type)).toEqual(['section', 'context']);
  });

  it('ntfy: message body, title, priority and action buttons as headers', async () => {
    await new NtfyChannel('phone', { server: `${url}/`, topic: 'lab alerts', token: 'tk_1' }).deliver(n, ctx());
    const r = rx.received[0];
    expect(r?.path).toBe('/lab%20alerts');
    expect(r?.headers.title).toBe('[RESOLVED] web-down: web answers 503 <for everyone>');
    expect(r?.headers.priority).toBe('2');
    expect(r?.headers.actions).toBe(
      'view, Acknowledge, http://127.0.0.1:7070/ack/1; view, Silence, http://127.0.0.1:7070/silence/1; view, Runbook, https://wiki.lab.test/web',
    );
    expect(r?.headers.authorization).toBe('Bearer tk_1');
    expect(r?.body).toContain('the pool has no ready instance');
  });

  it("alertmanager: Alertmanager's webhook payload, version 4", async () => {
    await new AlertmanagerChannel('am', { url: `${url}/am`, receiver: 'lab-team' }).deliver(n, ctx());
    expect(JSON.parse(rx.received[0]?.body ?? '{}')).toEqual({
      version: '4',
      groupKey: '{}:{alertname="web-down"}',
      truncatedAlerts: 0,
      status: 'resolved',
      receiver: 'lab-team',
      groupLabels: { alertname: 'web-down' },
      commonLabels: { alertname: 'web-down', severity: 'page', service: 'web' },
      commonAnnotations: {
        team: 'lab',
        summary: 'web answers 503 <for everyone>',
        description: 'the pool has no ready instance',
        runbook_url: 'https://wiki.lab.test/web',
      },
      externalURL: '',
      alerts: [
        {
          status: 'resolved',
          labels: { alertname: 'web-down', severity: 'page', service: 'web' },
          annotations: {
            team: 'lab',
            summary: 'web answers 503 <for everyone>',
            description: 'the pool has no ready instance',
            runbook_url: 'https://wiki.lab.test/web',
          },
          startsAt: '2026-12-01T09:00:00.000Z',
          endsAt: '2026-12-01T09:04:00.000Z',
          generatorURL: '',
          fingerprint: 'web-down/service=web',
        },
      ],
    });
  });

  it('errors name the origin only: a webhook path that is a credential never shows', async () => {
    rx.down = true;
    const err = await new SlackChannel('chat', { url: `${url}/services/T0/B0/planted-token-xyz` })
      .deliver(n, ctx())
      .catch((e: unknown) => e);
    expect(String(err)).toBe(`DeliveryError: ${url} answered HTTP 503: maintenance`);
    expect(String(err)).not.toContain('planted-token-xyz');
  });
});

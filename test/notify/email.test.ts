/**
 * Email through a real SMTP server (the `smtp-server` package, with AUTH PLAIN/LOGIN) and the
 * outbox: the message arrives with its subject, body and acknowledge link; a wrong password is a
 * clear error on the row, which stays queued and goes out once the password is right.
 */
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmailChannel, messageIdOf } from '../../src/notify/channels/email.js';
import type { Notification } from '../../src/notify/notification.js';
import { enqueueNotification, OutboxSender } from '../../src/notify/outbox.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const USER = 'alerts';
const PASSWORD = 'correct-horse-battery';
const WRONG = 'planted-wrong-password-3141';

interface Mail {
  from: string;
  to: string[];
  data: string;
}

function notification(): Notification {
  return {
    alert: 'disk-full-soon',
    fingerprint: 'disk-full-soon/mount=/srv',
    status: 'firing',
    severity: 'ticket',
    summary: '/srv fills up within 7 days',
    description: 'free space falls by 3 GiB a day',
    labels: { mount: '/srv' },
    annotations: {},
    startsAt: '2026-12-01T09:00:00.000Z',
    endsAt: null,
    links: {
      acknowledge: 'http://127.0.0.1:7070/v1/alerts/disk-full-soon/ack',
      runbook: 'https://wiki.lab.test/disk',
    },
  };
}

describe('email channel against a real SMTP server', () => {
  let dir: string;
  let server: SMTPServer;
  let port: number;
  const mails: Mail[] = [];
  let authFailures = 0;

  beforeEach(async () => {
    dir = makeTempDir('email');
    mails.length = 0;
    authFailures = 0;
    server = new SMTPServer({
      authOptional: false,
      allowInsecureAuth: true, // loopback without TLS, as a home-lab relay on the same host
      disabledCommands: ['STARTTLS'],
      logger: false,
      onAuth(auth, _session, cb) {
        if (auth.username === USER && auth.password === PASSWORD) return cb(null, { user: USER });
        authFailures++;
        return cb(new Error('Invalid username or password'));
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            data: Buffer.concat(chunks).toString(),
          });
          cb();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.server.address() as AddressInfo).port;
  });

  afterEach(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    removeTempDir(dir);
  });

  function channel(password: string): EmailChannel {
    return new EmailChannel('ops-mail', {
      host: '127.0.0.1',
      port,
      security: 'none',
      user: USER,
      password,
      from: 'groundwork@lab.test',
      to: ['oncall@lab.test', 'ana@lab.test'],
    });
  }

  it('delivers subject, body and acknowledge link; a wrong password stays queued with a clear error', async () => {
    const clock = new ManualClock();
    const store = SqliteStore.open(path.join(dir, 'state.db'), clock);
    try {
      const bad = channel(WRONG);
      let sender = new OutboxSender({ store: store.outbox, channels: new Map([['ops-mail', bad]]), clock });
      sender.start();
      await enqueueNotification(store.outbox, ['ops-mail'], notification(), 'firing');
      sender.kick();
      for (let i = 0; i < 4; i++) {
        await clock.advance(1000);
        await sender.idle();
      }
      await sender.stop();
      bad.close();
      expect(mails).toHaveLength(0);
      expect(authFailures).toBeGreaterThanOrEqual(1);
      const [row] = await store.outbox.listOutbox();
      expect(row?.status).toBe('pending');
      expect(row?.lastError).toBe(
        `SMTP server 127.0.0.1:${port} rejected the login of user 'alerts' (535 Invalid username or password): check the channel's user and password`,
      );
      const everything = JSON.stringify([await store.outbox.listOutbox(), await store.outbox.attemptsOf(row?.id ?? 0)]);
      expect(everything).not.toContain(WRONG);

      const good = channel(PASSWORD);
      sender = new OutboxSender({ store: store.outbox, channels: new Map([['ops-mail', good]]), clock });
      sender.start();
      for (let i = 0; i < 20 && mails.length === 0; i++) {
        await clock.advance(1000);
        await sender.idle();
      }
      await sender.stop();
      good.close();

      expect(mails).toHaveLength(1);
      const mail = mails[0] as Mail;
      expect(mail.from).toBe('groundwork@lab.test');
      expect(mail.to).toEqual(['oncall@lab.test', 'ana@lab.test']);
      expect(mail.data).toMatch(/^Subject: \[FIRING\] disk-full-soon: \/srv fills up within 7 days\r?$/m);
      expect(mail.data).toContain(`Message-ID: ${messageIdOf('disk-full-soon/mount=/srv/firing')}`);
      expect(mail.data).toContain('acknowledge: http://127.0.0.1:7070/v1/alerts/disk-full-soon/ack');
      expect(mail.data).toContain('free space falls by 3 GiB a day');
      expect((await store.outbox.listOutbox())[0]?.status).toBe('delivered');
    } finally {
      store.closeNow();
    }
  });
});

/**
 * Email over SMTP with nodemailer. The Message-ID is derived from the idempotency key, so a
 * resend after a crash carries the same ID and mail clients thread or drop the repeat.
 */
import { createHash } from 'node:crypto';
import nodemailer from 'nodemailer';
import { DeliveryError, type Channel, type DeliveryContext } from '../channel.js';
import { headline, plainText, type Notification } from '../notification.js';

export interface EmailConfig {
  host: string;
  port: number;
  /** tls: TLS from the first byte (port 465); starttls: upgrade required; none: plain (loopback relays only). */
  security: 'tls' | 'starttls' | 'none';
  user?: string;
  password?: string;
  from: string;
  to: string[];
  /** Accept a self-signed server certificate (a home-lab relay). Default true. */
  verifyCertificate?: boolean;
  timeoutMs?: number;
}

interface SmtpFailure {
  code?: string;
  responseCode?: number;
  response?: string;
  message?: string;
}

export function messageIdOf(idempotencyKey: string): string {
  return `<${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 32)}@groundwork.invalid>`;
}

function describe(e: unknown, cfg: EmailConfig): string {
  const f = (typeof e === 'object' && e !== null ? e : {}) as SmtpFailure;
  const where = `SMTP server ${cfg.host}:${cfg.port}`;
  const said = (f.response ?? '').trim().slice(0, 160);
  switch (f.code) {
    case 'EAUTH':
      return `${where} rejected the login${cfg.user ? ` of user '${cfg.user}'` : ''}${said ? ` (${said})` : ''}: check the channel's user and password`;
    case 'ECONNECTION':
    case 'ESOCKET':
      return `${where} could not be reached (${f.message ?? f.code}): check host, port and security`;
    case 'ETIMEDOUT':
      return `${where} did not answer in time`;
    case 'EENVELOPE':
      return `${where} refused the sender or recipients${said ? ` (${said})` : ''}: check from and to`;
    case 'EMESSAGE':
      return `${where} refused the message${said ? ` (${said})` : ''}`;
    default:
      return `${where}: ${said || f.message || String(e)}`;
  }
}

export class EmailChannel implements Channel {
  readonly type = 'email' as const;
  private readonly transport: nodemailer.Transporter;

  constructor(
    readonly name: string,
    private readonly config: EmailConfig,
  ) {
    const timeout = config.timeoutMs ?? 15_000;
    this.transport = nodemailer.createTransport({
      host: config.host,
      port: config.port,
      secure: config.security === 'tls',
      requireTLS: config.security === 'starttls',
      ignoreTLS: config.security === 'none',
      auth: config.user ? { user: config.user, pass: config.password ?? '' } : undefined,
      tls: { rejectUnauthorized: config.verifyCertificate ?? true },
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
    });
  }

  async deliver(n: Notification, ctx: DeliveryContext): Promise<void> {
    if (ctx.signal.aborted) throw new DeliveryError(`SMTP delivery to ${this.config.host} was cancelled`);
    try {
      await this.transport.sendMail({
        from: this.config.from,
        to: this.config.to,
        subject: headline(n),
        text: plainText(n),
        messageId: messageIdOf(ctx.idempotencyKey),
        headers: { 'X-Groundwork-Alert': n.alert, 'X-Groundwork-Status': n.status },
      });
    } catch (e) {
      throw new DeliveryError(describe(e, this.config));
    }
  }

  close(): void {
    this.transport.close();
  }
}

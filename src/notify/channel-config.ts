/**
 * Channel settings as the stack file gives them (values of `${secret.X}` already resolved by the
 * daemon, never stored) and the one place that turns them into channels.
 */
import type { Channel } from './channel.js';
import { AlertmanagerChannel, type AlertmanagerWebhookConfig } from './channels/alertmanager.js';
import { EmailChannel, type EmailConfig } from './channels/email.js';
import { NtfyChannel, type NtfyConfig } from './channels/ntfy.js';
import { SlackChannel, type SlackConfig } from './channels/slack.js';
import { WebhookChannel, type WebhookConfig } from './channels/webhook.js';

export type ChannelConfig =
  | ({ type: 'webhook' } & WebhookConfig)
  | ({ type: 'slack' } & SlackConfig)
  | ({ type: 'ntfy' } & NtfyConfig)
  | ({ type: 'alertmanager' } & AlertmanagerWebhookConfig)
  | ({ type: 'email' } & EmailConfig);

export function createChannel(name: string, cfg: ChannelConfig): Channel {
  switch (cfg.type) {
    case 'webhook':
      return new WebhookChannel(name, cfg);
    case 'slack':
      return new SlackChannel(name, cfg);
    case 'ntfy':
      return new NtfyChannel(name, cfg);
    case 'alertmanager':
      return new AlertmanagerChannel(name, cfg);
    case 'email':
      return new EmailChannel(name, cfg);
  }
}

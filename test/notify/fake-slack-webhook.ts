/**
 * A FAKE of Slack's incoming-webhook endpoint (Slack itself cannot be reached from tests): a real
 * HTTP server on loopback that accepts what Slack documents it accepts and refuses the rest the
 * way Slack does (HTTP 400 with a short error string such as `invalid_blocks`), so a payload that
 * this fake refuses would be refused by Slack too. Checked, from Slack's Block Kit reference:
 * - the body is JSON with a non-empty `text` or `blocks`;
 * - at most 50 blocks; each `section` has a `text` object of type `mrkdwn` or `plain_text`
 *   whose text is 1..3000 characters; a `context` block has 1..10 elements.
 * Accepted messages are kept parsed in `messages`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackTextObject {
  type: string;
  text: string;
}
export interface SlackBlock {
  type: string;
  text?: SlackTextObject;
  elements?: SlackTextObject[];
}
export interface SlackMessage {
  text?: string;
  blocks?: SlackBlock[];
}

const MAX_BLOCKS = 50;
const MAX_SECTION_TEXT = 3000;
const MAX_CONTEXT_ELEMENTS = 10;

/** Why Slack would refuse the message, or undefined when it would accept it. */
export function slackRefusal(body: string): string | undefined {
  let m: SlackMessage;
  try {
    m = JSON.parse(body) as SlackMessage;
  } catch {
    return 'invalid_payload';
  }
  const blocks = m.blocks ?? [];
  if (!m.text && blocks.length === 0) return 'no_text';
  if (blocks.length > MAX_BLOCKS) return 'invalid_blocks';
  for (const b of blocks) {
    if (b.type === 'section') {
      const t = b.text;
      if (!t || !['mrkdwn', 'plain_text'].includes(t.type)) return 'invalid_blocks';
      if (t.text.length < 1 || t.text.length > MAX_SECTION_TEXT) return 'invalid_blocks';
    } else if (b.type === 'context') {
      const n = b.elements?.length ?? 0;
      if (n < 1 || n > MAX_CONTEXT_ELEMENTS) return 'invalid_blocks';
    } else return 'invalid_blocks';
  }
  return undefined;
}

export class FakeSlackWebhook {
  readonly messages: SlackMessage[] = [];
  readonly refusals: string[] = [];
  private server: http.Server | undefined;

  /** Starts on a loopback port; returns the webhook URL (shaped like Slack's, with a secret path). */
  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        const refused = req.headers['content-type']?.startsWith('application/json')
          ? slackRefusal(body)
          : 'invalid_payload';
        if (refused) {
          this.refusals.push(refused);
          res.writeHead(400, { 'content-type': 'text/plain' }).end(refused);
          return;
        }
        this.messages.push(JSON.parse(body) as SlackMessage);
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/services/T000/B000/fake-secret`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** A real HTTP receiver for notification tests: records what arrives and can be told to fail. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export class Receiver {
  readonly received: Received[] = [];
  /** While true, answers 503 (the channel is "down"); requests are still counted in `refused`. */
  down = false;
  refused = 0;
  /** Delay before answering, in ms (a slow receiver, to SIGKILL a sender mid-request). */
  delayMs = 0;
  private server: http.Server | undefined;

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const answer = (): void => {
          if (this.down) {
            this.refused++;
            res.writeHead(503, { 'content-type': 'text/plain' }).end('maintenance');
            return;
          }
          this.received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
          res.writeHead(200).end('ok');
        };
        if (this.delayMs > 0) setTimeout(answer, this.delayMs);
        else answer();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

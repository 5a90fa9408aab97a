/** http: the status is in range, the body matches, and the answer came within max_latency. */
import http from 'node:http';
import https from 'node:https';
import { errorMessage } from '../../../util/error-message.js';
import type { CheckTarget } from '../check-spec.js';
import type { ProbeContext, ProbeOutcome } from './probe.js';

/** Enough of a page to find a marker in; more is not read (a check must stay cheap). */
const MAX_BODY_BYTES = 1024 * 1024;

export function httpProbe(t: Extract<CheckTarget, { type: 'http' }>, ctx: ProbeContext): Promise<ProbeOutcome> {
  const start = ctx.ms();
  const url = new URL(t.url);
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: ProbeOutcome) => {
      if (settled) return;
      settled = true;
      resolve(o);
    };
    // A fresh connection each run (no agent): a check that rode a kept-alive socket would not
    // notice a server that stopped accepting connections.
    const req = mod.request(url, { method: t.method, agent: false, signal: ctx.signal }, (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < MAX_BODY_BYTES) chunks.push(c);
        size += c.length;
      });
      res.on('error', (e) =>
        done({ ok: false, error: ctx.signal.aborted ? 'timed out' : errorMessage(e), latencyMs: null }),
      );
      res.on('end', () => {
        const latencyMs = ctx.ms() - start;
        const body = Buffer.concat(chunks).toString('utf8');
        let error: string | null = null;
        if (status < t.status.from || status > t.status.to)
          error = `status ${status}, expected ${t.status.from === t.status.to ? t.status.from : `${t.status.from}-${t.status.to}`}`;
        else if (t.body !== null && !body.includes(t.body)) error = `body does not contain ${JSON.stringify(t.body)}`;
        else if (t.bodyRegex && !t.bodyRegex.test(body)) error = `body does not match /${t.bodyRegex.source}/`;
        else if (t.maxLatency && latencyMs > t.maxLatency.toMilliseconds())
          error = `answered in ${Math.round(latencyMs)}ms, over max_latency ${t.maxLatency.toString()}`;
        done({ ok: error === null, error, latencyMs });
      });
    });
    req.on('error', (e) =>
      done({
        ok: false,
        error: ctx.signal.aborted ? `${t.method} ${url.origin}${url.pathname} timed out` : errorMessage(e),
        latencyMs: null,
      }),
    );
    req.end();
  });
}

/** tls: the handshake succeeds (verified unless `verify: false`) and the certificate has min_days left. */
import tls from 'node:tls';
import { errorMessage } from '../../../util/error-message.js';
import type { CheckTarget } from '../check-spec.js';
import { splitHostPort, type ProbeContext, type ProbeOutcome } from './probe.js';

const DAY_MS = 86_400_000;

export function tlsProbe(t: Extract<CheckTarget, { type: 'tls' }>, ctx: ProbeContext): Promise<ProbeOutcome> {
  const { host, port } = splitHostPort(t.address);
  const servername = t.servername ?? (/^[\d.]+$|:/.test(host) ? undefined : host);
  const start = ctx.ms();
  return new Promise((resolve) => {
    const socket = tls.connect({
      host,
      port,
      ...(servername ? { servername } : {}),
      // Verification is judged below, so an unverified certificate still reports its days left.
      rejectUnauthorized: false,
    });
    const done = (o: ProbeOutcome) => {
      ctx.signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(o);
    };
    const onAbort = () => done({ ok: false, error: `TLS handshake with ${t.address} timed out`, latencyMs: null });
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    socket.once('secureConnect', () => {
      const latencyMs = ctx.ms() - start;
      const cert = socket.getPeerCertificate();
      if (!cert || !cert.valid_to) return done({ ok: false, error: `${t.address} sent no certificate`, latencyMs });
      const daysLeft = (Date.parse(cert.valid_to) - ctx.now().getTime()) / DAY_MS;
      const base = { latencyMs, tlsDaysLeft: daysLeft };
      if (t.verify && !socket.authorized)
        return done({
          ok: false,
          error: `certificate of ${t.address} is not trusted: ${String(socket.authorizationError)}`,
          ...base,
        });
      if (daysLeft < t.minDays)
        return done({
          ok: false,
          error:
            daysLeft < 0
              ? `certificate of ${t.address} expired ${(-daysLeft).toFixed(1)} days ago`
              : `certificate of ${t.address} expires in ${daysLeft.toFixed(1)} days (min_days ${t.minDays})`,
          ...base,
        });
      done({ ok: true, error: null, ...base });
    });
    socket.once('error', (e) => done({ ok: false, error: `TLS to ${t.address}: ${errorMessage(e)}`, latencyMs: null }));
  });
}

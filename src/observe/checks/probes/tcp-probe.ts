/** tcp: the target accepts a connection. */
import net from 'node:net';
import { errorMessage } from '../../../util/error-message.js';
import { splitHostPort, type ProbeContext, type ProbeOutcome } from './probe.js';

export function tcpProbe(address: string, ctx: ProbeContext): Promise<ProbeOutcome> {
  const { host, port } = splitHostPort(address);
  const start = ctx.ms();
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (o: ProbeOutcome) => {
      ctx.signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(o);
    };
    const onAbort = () => done({ ok: false, error: `connect to ${address} timed out`, latencyMs: null });
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => done({ ok: true, error: null, latencyMs: ctx.ms() - start }));
    socket.once('error', (e) =>
      done({ ok: false, error: `connect to ${address}: ${errorMessage(e)}`, latencyMs: null }),
    );
  });
}

/** dns: the name resolves at the given resolver (or the system's), with every expected value in the answer. */
import { Resolver } from 'node:dns/promises';
import { errorMessage } from '../../../util/error-message.js';
import type { CheckTarget } from '../check-spec.js';
import type { ProbeContext, ProbeOutcome } from './probe.js';

async function lookup(r: Resolver, name: string, type: string): Promise<string[]> {
  const noDot = (s: string) => s.replace(/\.$/, '').toLowerCase();
  switch (type) {
    case 'A':
      return r.resolve4(name);
    case 'AAAA':
      return r.resolve6(name);
    case 'CNAME':
      return (await r.resolveCname(name)).map(noDot);
    case 'NS':
      return (await r.resolveNs(name)).map(noDot);
    case 'TXT':
      return (await r.resolveTxt(name)).map((parts) => parts.join(''));
    case 'MX':
      return (await r.resolveMx(name)).map((m) => noDot(m.exchange));
    case 'SRV':
      return (await r.resolveSrv(name)).map((s) => `${noDot(s.name)}:${s.port}`);
    default:
      throw new Error(`record type ${type} is not supported by dns checks`);
  }
}

export async function dnsProbe(t: Extract<CheckTarget, { type: 'dns' }>, ctx: ProbeContext): Promise<ProbeOutcome> {
  // One try, no retries inside the timeout: the thresholds are the retries.
  const r = new Resolver({ tries: 1 });
  if (t.server !== null) r.setServers([t.server]);
  const onAbort = () => r.cancel();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const start = ctx.ms();
  try {
    const answers = await lookup(r, t.name, t.record);
    const latencyMs = ctx.ms() - start;
    const missing = t.expect.filter(
      (e) => !answers.includes(e.replace(/\.$/, '').toLowerCase()) && !answers.includes(e),
    );
    if (missing.length)
      return {
        ok: false,
        error: `${t.name} ${t.record} answered ${answers.join(', ') || 'nothing'}; expected ${missing.join(', ')}`,
        latencyMs,
      };
    if (answers.length === 0) return { ok: false, error: `${t.name} ${t.record}: empty answer`, latencyMs };
    return { ok: true, error: null, latencyMs };
  } catch (e) {
    const at = t.server ?? 'the system resolver';
    return {
      ok: false,
      error: ctx.signal.aborted
        ? `${t.name} ${t.record} at ${at} timed out`
        : `${t.name} ${t.record} at ${at}: ${errorMessage(e)}`,
      latencyMs: null,
    };
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
}

/** What one run of a check reports, and what a probe gets to run with. */
export interface ProbeOutcome {
  ok: boolean;
  /** Why it failed (null when ok); one line, no secrets (targets hold none). */
  error: string | null;
  /** Time to the answer, when there was one. */
  latencyMs: number | null;
  /** tls checks: days until the certificate expires (fractional; negative when expired). */
  tlsDaysLeft?: number;
}

export interface ProbeContext {
  /** Aborted at the check's timeout (or when the runner stops). */
  signal: AbortSignal;
  /** Monotonic milliseconds (the runner's clock), for latency. */
  ms(): number;
  /** Wall time (the runner's clock), for certificate dates. */
  now(): Date;
}

/** `host:port` (IPv6 in brackets) split; the port is required. */
export function splitHostPort(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim());
  const port = Number(m?.[3]);
  if (!m || !(port >= 1 && port <= 65535))
    throw new Error(`"${text}" is not host:port; write e.g. 127.0.0.1:445 or [::1]:443`);
  return { host: m[1] ?? m[2] ?? '', port };
}

/** The message of an abort: the probe ran into its timeout. */
export function timedOut(signal: AbortSignal, fallback: string): string {
  return signal.aborted ? 'timed out' : fallback;
}

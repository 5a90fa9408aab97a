import path from 'node:path';
import type { ProbeTarget } from '../../observe/probe.js';
import type { ProbeSpec } from './service-spec.js';

/** The probe for one instance; a probe without a port uses the service's first port. */
export function probeTarget(
  p: ProbeSpec,
  ports: Record<string, number>,
  cwd: string,
  env: Record<string, string>,
): ProbeTarget | undefined {
  const firstPort = Object.keys(ports).sort()[0];
  if (p.http) {
    const port = ports[p.http.port ?? firstPort ?? ''];
    if (port === undefined) return undefined;
    return {
      kind: 'http',
      host: '127.0.0.1',
      port,
      path: p.http.path,
      status: p.http.status,
      body: p.http.body ?? null,
    };
  }
  if (p.tcp) {
    const port = ports[p.tcp.port ?? firstPort ?? ''];
    if (port === undefined) return undefined;
    return { kind: 'tcp', host: '127.0.0.1', port };
  }
  if (p.exec) return { kind: 'exec', command: p.exec.command, cwd: path.resolve(cwd), env };
  return undefined;
}

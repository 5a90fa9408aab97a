/**
 * The one service the engine, CLI and daemon tests run: a small HTTP server (server.mjs) and the
 * stack entries that run it. The deploy tests have their own script (lab-daemon.ts), whose
 * releases can be made good or bad.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ServiceConfig } from './stack-file.js';

/**
 * Listens on every `PORT*` variable. `GET /` answers `<service> <instance> pid <pid>` (then
 * ` <MESSAGE>` when MESSAGE is set); `GET /healthz` answers 503 while the file named by
 * HEALTH_FILE exists (or, for one instance, HEALTH_FILE.<GROUNDWORK_INSTANCE>), else ok; `GET /say?m=TEXT` prints TEXT; `GET /exit?code=N` exits with N.
 * Prints one line when listening (never its environment); exits 0 on SIGTERM. Extra argv (a
 * marker to find the process by) is ignored.
 */
export const SERVICE_SCRIPT = `import http from 'node:http';
import { existsSync } from 'node:fs';
const who = \`\${process.env.GROUNDWORK_SERVICE} \${process.env.GROUNDWORK_INSTANCE}\`;
const ports = Object.keys(process.env).filter((k) => /^PORT[0-9]*$/.test(k)).sort().map((k) => Number(process.env[k]));
const message = process.env.MESSAGE ? \` \${process.env.MESSAGE}\` : '';
const handler = (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/healthz') {
    const f = process.env.HEALTH_FILE;
    if (f && (existsSync(f) || existsSync(\`\${f}.\${process.env.GROUNDWORK_INSTANCE}\`))) { res.statusCode = 503; res.end('sick\\n'); return; }
    res.end('ok\\n');
    return;
  }
  if (url.pathname === '/say') { console.log(url.searchParams.get('m') ?? ''); res.end('said\\n'); return; }
  if (url.pathname === '/exit') { res.end('bye\\n', () => process.exit(Number(url.searchParams.get('code') ?? '0'))); return; }
  res.end(\`\${who} pid \${process.pid}\${message}\\n\`);
};
let listening = 0;
for (const p of ports) {
  http.createServer(handler).listen(p, '127.0.0.1', () => { if (++listening === ports.length) console.log(\`\${who} listening on \${ports.join(',')}\`); });
}
process.on('SIGTERM', () => process.exit(0));
`;

/** Writes server.mjs into `dir`; returns its path. */
export function writeServiceScript(dir: string): string {
  const file = path.join(dir, 'server.mjs');
  writeFileSync(file, SERVICE_SCRIPT);
  return file;
}

/**
 * server.mjs on `portNames` (PORT, PORT2, ... in the env), with an HTTP health check every
 * 500 ms. `marker` goes on its command line so the test can find its processes.
 */
export function nodeService(
  marker: string,
  extra: Partial<ServiceConfig> = {},
  portNames: string[] = ['http'],
): ServiceConfig {
  const portEnv: Record<string, string> = {};
  portNames.forEach((p, i) => {
    portEnv[i === 0 ? 'PORT' : `PORT${i + 1}`] = `\${port.${p}}`;
  });
  return {
    command: 'node',
    args: ['server.mjs', marker],
    ports: Object.fromEntries(portNames.map((p) => [p, 'auto' as const])),
    health: { http: { path: '/healthz' }, interval: '500ms', timeout: '1s' },
    stop_grace: '2s',
    ...extra,
    env: { ...portEnv, ...(extra.env ?? {}) },
  };
}

/** server.mjs with one HTTP port and a health check every second, no marker (engine tests). */
export function httpService(extra: Partial<ServiceConfig> = {}): ServiceConfig {
  const { args: _ignored, ...rest } = nodeService('', {
    health: { http: { path: '/healthz' }, interval: '1s', timeout: '1s' },
    ...extra,
  });
  return { ...rest, args: extra.args ?? ['server.mjs'] };
}

/**
 * The example lab (examples/homelab) as the deploy bench runs it: a copy in the scratch
 * directory (stack file and services only, never a local run's .groundwork or .data) whose proxy
 * listener is moved to a free port and whose web service tells in a response header which
 * release answered. The daemon runs as `groundwork up` (dist/), deploys and rollbacks go through
 * the real CLI, and teardown leaves nothing running.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { freePort } from '../proxy/daemons.js';
import { benchApi, startBenchDaemon, waitUntil, type BenchDaemon } from '../harness/bench-daemon.js';

/** Set by the bench's web.mjs on every answer: `<release dir or "stack"> <build marker>`. */
export const RELEASE_HEADER = 'x-gw-release';

export interface LabSettings {
  strategy: 'rolling' | 'blue-green' | 'canary';
  /** web's health interval (the example has 2s). */
  healthInterval?: string;
  /** web's deploy.keep_releases (the example keeps the default, 10). */
  keepReleases?: number;
}

export interface Lab {
  dir: string;
  listenerPort: number;
  /** The proxy listener's URL of web (route `/`). */
  webUrl: string;
  /** Rewrites services/web.mjs with the build marker `build`; `badHealth` makes /healthz answer 503 and log each probe. */
  writeWeb(build: string, badHealth?: { probeLog: string }): void;
}

const EXAMPLE = 'examples/homelab';
const HANDLER_LINE = 'const server = http.createServer(async (req, res) => {';

export async function makeLab(root: string, dir: string, settings: LabSettings): Promise<Lab> {
  mkdirSync(dir, { recursive: true });
  const example = path.join(root, EXAMPLE);
  cpSync(path.join(example, 'groundwork.yaml'), path.join(dir, 'groundwork.yaml'));
  cpSync(path.join(example, 'services'), path.join(dir, 'services'), { recursive: true });
  const webSource = readFileSync(path.join(example, 'services', 'web.mjs'), 'utf8');
  if (!webSource.includes(HANDLER_LINE))
    throw new Error(
      `${EXAMPLE}/services/web.mjs no longer has the line \`${HANDLER_LINE}\`; update bench/deploy/lab.ts, which adds the release header after it`,
    );

  const listenerPort = await freePort();
  const doc = parseDocument(readFileSync(path.join(dir, 'groundwork.yaml'), 'utf8'));
  if (!doc.hasIn(['listeners', 'http', 'port']))
    throw new Error(`${EXAMPLE}/groundwork.yaml no longer has listeners.http.port; update bench/deploy/lab.ts`);
  doc.setIn(['listeners', 'http', 'port'], listenerPort);
  doc.setIn(['services', 'web', 'deploy', 'strategy'], settings.strategy);
  if (settings.healthInterval) doc.setIn(['services', 'web', 'health', 'interval'], settings.healthInterval);
  if (settings.keepReleases !== undefined)
    doc.setIn(['services', 'web', 'deploy', 'keep_releases'], settings.keepReleases);
  writeFileSync(path.join(dir, 'groundwork.yaml'), doc.toString());

  const writeWeb = (build: string, badHealth?: { probeLog: string }) => {
    const release = "(/\\/releases\\/[^/]+\\/(v\\d+)\\//.exec(new URL(import.meta.url).pathname) ?? [])[1] ?? 'stack'";
    const head = [
      `// Deploy bench build ${build}: every answer names its release in the ${RELEASE_HEADER} header.`,
      ...(badHealth ? ["import { appendFileSync } from 'node:fs';"] : []),
      `const BENCH_RELEASE = \`\${${release}} ${build}\`;`,
    ].join('\n');
    const inject = [
      HANDLER_LINE,
      `  res.setHeader('${RELEASE_HEADER}', BENCH_RELEASE);`,
      ...(badHealth
        ? [
            "  if (req.url === '/healthz') {",
            `    appendFileSync(${JSON.stringify(badHealth.probeLog)}, \`\${performance.timeOrigin + performance.now()}\\n\`);`,
            "    res.writeHead(503).end('bad release\\n');",
            '    return;',
            '  }',
          ]
        : []),
    ].join('\n');
    writeFileSync(path.join(dir, 'services', 'web.mjs'), `${head}\n${webSource.replace(HANDLER_LINE, inject)}`);
  };
  writeWeb('initial');
  return { dir, listenerPort, webUrl: `http://127.0.0.1:${listenerPort}/`, writeWeb };
}

// ---------------------------------------------------------------- the daemon

export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: '1', GROUNDWORK_AUTHOR: 'deploy-bench' };
  for (const k of ['PATH', 'HOME', 'LANG', 'TZ']) if (process.env[k]) env[k] = process.env[k] as string;
  return { ...env, ...extra };
}

interface StatusView {
  services: {
    name: string;
    replicas: number;
    release: number | null;
    instances: { state: string; pid: number | null }[];
  }[];
}

/** Waits until every instance of `service` is healthy and the proxy answers 200 on the lab's web route. */
export async function waitServing(d: BenchDaemon, lab: Lab, service: string): Promise<void> {
  await waitUntil(`${service} healthy`, 60_000, async () => {
    const r = await benchApi(d, 'GET', '/v1/status');
    const s = (JSON.parse(r.text) as StatusView).services.find((x) => x.name === service);
    return s && s.instances.length === s.replicas && s.instances.every((i) => i.state === 'healthy') ? true : undefined;
  });
  await waitUntil(
    'the proxy to answer 200 on /',
    30_000,
    () =>
      new Promise<true | undefined>((resolve) => {
        http
          .get(lab.webUrl, { agent: false }, (res) => {
            res.resume();
            resolve(res.statusCode === 200 ? true : undefined);
          })
          .on('error', () => resolve(undefined));
      }),
  );
}

/** `groundwork up` in the lab (the author of its changes is the deploy bench). */
export function startDaemon(root: string, dir: string): Promise<BenchDaemon> {
  return startBenchDaemon(root, dir, { env: { GROUNDWORK_AUTHOR: 'deploy-bench' }, readyTimeoutMs: 120_000 });
}

// ---------------------------------------------------------------- the CLI

export interface DeployResultLine {
  ok: boolean;
  release: number | null;
  attempted: number | null;
  rolledBack: boolean;
  reason?: string;
  ms: number;
}

export interface CliRun {
  code: number;
  /** Epoch ms (fractional): spawn, and exit. */
  startedAt: number;
  endedAt: number;
  /** stdout lines with the time each arrived. */
  lines: { at: number; text: string }[];
  /** The `{"type":"result"}` line of deploy/rollback --json, and when it arrived. */
  result?: DeployResultLine;
  resultAt?: number;
  stderr: string;
}

export const epochNow = (): number => performance.timeOrigin + performance.now();

/** `node dist/cli/main.js ARGS --json` in the lab, every stdout line timestamped as it arrives. */
export function runCli(root: string, dir: string, args: string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const startedAt = epochNow();
    const child = spawn(process.execPath, [path.join(root, 'dist', 'cli', 'main.js'), ...args, '--json'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: cleanEnv(),
    });
    const run: CliRun = { code: -1, startedAt, endedAt: 0, lines: [], stderr: '' };
    let buf = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      const at = epochNow();
      buf += c;
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        run.lines.push({ at, text });
        if (text.startsWith('{"type":"result"')) {
          try {
            run.result = (JSON.parse(text) as { result: DeployResultLine }).result;
            run.resultAt = at;
          } catch {
            /* not the line we look for */
          }
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      run.stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      run.code = code ?? -1;
      run.endedAt = epochNow();
      resolve(run);
    });
  });
}

/** The progress messages of a --json deploy/rollback run. */
export function progressOf(run: CliRun): { at: number; message: string }[] {
  const out: { at: number; message: string }[] = [];
  for (const l of run.lines) {
    try {
      const j = JSON.parse(l.text) as { type?: string; message?: string };
      if (j.type === 'progress' && typeof j.message === 'string') out.push({ at: l.at, message: j.message });
    } catch {
      /* not JSON */
    }
  }
  return out;
}

export function describeRun(args: string[], run: CliRun): string {
  return `groundwork ${args.join(' ')} exited ${run.code}: ${run.result?.reason ?? run.stderr.trim().split('\n').slice(-3).join(' | ') ?? ''}\n${progressOf(
    run,
  )
    .map((p) => `  ${p.message}`)
    .join('\n')}`;
}

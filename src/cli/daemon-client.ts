/** The CLI's side of the daemon API: finds the daemon of a state dir and talks to it. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { daemonInfoFile, tokenFile, type DaemonInfo } from '../daemon/info.js';
import { UserError } from './io.js';
import { tryProcessStartTicks } from '../runtime/process/proc.js';

export interface DaemonConnection {
  info: DaemonInfo;
  token: string;
}

export function tryConnect(stateDir: string): DaemonConnection | undefined {
  const file = daemonInfoFile(stateDir);
  if (!existsSync(file)) return undefined;
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as DaemonInfo;
    // A zombie or a reused pid is not our daemon.
    const ticks = tryProcessStartTicks(info.pid);
    if (ticks === undefined || (info.startTicks !== undefined && ticks !== info.startTicks)) return undefined;
    const token = readFileSync(tokenFile(stateDir), 'utf8').trim();
    return { info, token };
  } catch {
    return undefined;
  }
}

export function connect(stateDir: string): DaemonConnection {
  const c = tryConnect(stateDir);
  if (!c) throw new UserError(`the Groundwork daemon is not running for ${stateDir}; start it with \`groundwork up\``);
  return c;
}

interface ApiErrorBody {
  error?: { code?: string; message?: string; fix?: string };
}

function request(
  conn: DaemonConnection,
  method: string,
  path: string,
  body: unknown,
  onData: (chunk: string, status: number) => void,
): Promise<number> {
  const url = new URL(path, conn.info.url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent: false,
        headers: {
          authorization: `Bearer ${conn.token}`,
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (c: string) => onData(c, res.statusCode ?? 0));
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', (e) =>
      reject(
        new UserError(`cannot reach the daemon at ${conn.info.url}: ${e.message}; is it running? (\`groundwork up\`)`),
      ),
    );
    if (payload) req.write(payload);
    req.end();
  });
}

function errorOf(status: number, text: string): UserError {
  let body: ApiErrorBody = {};
  try {
    body = JSON.parse(text) as ApiErrorBody;
  } catch {
    /* not JSON */
  }
  const msg = body.error?.message ?? `the daemon answered HTTP ${status}`;
  return new UserError(`${msg}${body.error?.fix ? `\n  fix: ${body.error.fix}` : ''}`, status === 409 ? 4 : 1);
}

export async function getJson<T>(
  conn: DaemonConnection,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<T> {
  let text = '';
  const status = await request(conn, method, path, body, (c) => {
    text += c;
  });
  if (status !== 200) throw errorOf(status, text);
  return JSON.parse(text) as T;
}

/** Streams NDJSON lines to `onLine`; throws on an HTTP error. */
export async function streamLines(
  conn: DaemonConnection,
  method: 'GET' | 'POST',
  path: string,
  body: unknown,
  onLine: (line: string) => void,
): Promise<void> {
  let buf = '';
  let errText = '';
  const status = await request(conn, method, path, body, (c, st) => {
    if (st !== 200) {
      errText += c;
      return;
    }
    buf += c;
    let nl: number;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      onLine(line);
    }
  });
  if (status !== 200) throw errorOf(status, errText);
  if (buf) onLine(buf);
}

/** GROUNDWORK_VAR_* of the client's environment, sent along so the daemon sees the same inputs. */
export function varEnvOf(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('GROUNDWORK_VAR_') && v !== undefined) out[k] = v;
  return out;
}

/** The daemon serves one stack file; a command aimed at another file must not silently use it. */
export function checkSameStack(conn: DaemonConnection, stackFile: string): void {
  if (path.resolve(conn.info.stackFile) !== path.resolve(stackFile)) {
    throw new UserError(
      `the daemon at ${conn.info.url} manages ${conn.info.stackFile}, not ${stackFile}; run the command for that file, or stop the daemon (\`groundwork down\`) first`,
    );
  }
}

/**
 * The page's API client: same origin, authenticated by the session cookie (sent by the browser),
 * with the session's CSRF value (a readable cookie set at login) in the X-Groundwork-CSRF header
 * of every change. A 401 means the session ended: back to the login page.
 */
import type { ErrorBody } from './api-types.js';

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fix?: string,
  ) {
    super(message);
  }
}

/** The CSRF cookie's name carries the port, as the server names it (session-cookie.ts). */
function csrfCookieName(): string {
  return `gw_csrf_${location.port || 'default'}`;
}

export function csrfToken(): string {
  const name = csrfCookieName();
  for (const part of document.cookie.split(';')) {
    const [k, v] = part.trim().split('=');
    if (k === name && v) return v;
  }
  return '';
}

export function toLogin(): void {
  const here = location.pathname + location.search;
  location.assign(`/ui/login?next=${encodeURIComponent(here)}`);
}

async function failure(res: Response): Promise<ApiFailure> {
  let message = `${res.status} ${res.statusText}`;
  let fix: string | undefined;
  try {
    const body = (await res.json()) as Partial<ErrorBody>;
    if (body.error) {
      message = body.error.message;
      fix = body.error.fix;
    }
  } catch {
    // Not JSON (a proxy's page, say): the status line says enough.
  }
  return new ApiFailure(res.status, message, fix);
}

function init(method: 'GET' | 'POST'): RequestInit & { headers: Record<string, string> } {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method === 'POST') {
    headers['content-type'] = 'application/json';
    headers['x-groundwork-csrf'] = csrfToken();
  }
  return { method, headers, credentials: 'same-origin' };
}

/**
 * GET answers asked for at the entry, before the page that reads them has rendered (`startEarly`):
 * the daemon works while the browser evaluates the script and paints. The page's own GET of the
 * same path takes the answer in flight instead of asking again (once, and only while fresh: a page
 * opened later must not show what the daemon said at load).
 */
const early = new Map<string, { at: number; answer: Promise<Response> }>();
const EARLY_FRESH_MS = 5000;

/** Asks for `path` now; the next getJson of the same path (within 5 s) takes this answer. */
export function startEarly(path: string): void {
  if (early.has(path)) return;
  // Same mode, credentials and headers as getJson's, so the browser reuses a <link rel=preload> of it.
  const answer = fetch(path, init('GET'));
  // A failure is reported by the page's own request that takes it, not as an unhandled rejection.
  answer.catch(() => undefined);
  early.set(path, { at: performance.now(), answer });
}

function takeEarly(path: string): Promise<Response> | undefined {
  const e = early.get(path);
  if (!e) return undefined;
  early.delete(path);
  return performance.now() - e.at <= EARLY_FRESH_MS ? e.answer : undefined;
}

async function send(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  const req = init(method);
  if (body !== undefined) req.body = JSON.stringify(body);
  if (signal) req.signal = signal;
  const res = await ((method === 'GET' ? takeEarly(path) : undefined) ?? fetch(path, req));
  if (res.status === 401 && !location.pathname.startsWith('/ui/login')) toLogin();
  if (!res.ok) throw await failure(res);
  return res;
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await (await send('GET', path, undefined, signal)).json()) as T;
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  return (await (await send('POST', path, body)).json()) as T;
}

/** Reads a streamed body chunk by chunk, calling `onText` with each decoded piece. */
async function readStream(res: Response, onText: (text: string) => void): Promise<void> {
  const reader = res.body?.getReader();
  if (!reader) return;
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    onText(decoder.decode(value, { stream: true }));
  }
  onText(decoder.decode());
}

/** Splits a text stream into whole lines (a chunk may end mid-line). */
function lines(onLine: (line: string) => void): (text: string) => void {
  let rest = '';
  return (text) => {
    rest += text;
    const parts = rest.split('\n');
    rest = parts.pop() ?? '';
    for (const p of parts) if (p !== '') onLine(p);
  };
}

/** A POST whose answer is NDJSON (deploy, rollback): each line parsed as it arrives. */
export async function postStream<L>(path: string, body: unknown, onLine: (line: L) => void): Promise<void> {
  const res = await send('POST', path, body);
  await readStream(
    res,
    lines((l) => onLine(JSON.parse(l) as L)),
  );
}

/** A GET whose answer is text lines that keep coming (logs with follow): ends on `signal`. */
export async function followLines(path: string, signal: AbortSignal, onLine: (line: string) => void): Promise<void> {
  const res = await send('GET', path, undefined, signal);
  await readStream(res, lines(onLine));
}

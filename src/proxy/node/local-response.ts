/**
 * Responses the proxy writes itself (no route, no backend, timeouts, bad requests): a short
 * message naming what failed, as JSON when the client accepts JSON and as plain text otherwise.
 * Backend addresses and internal errors stay in the proxy's log, not in the response.
 */

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/** A closed set of codes, also used in the access log's `error`. */
export type LocalErrorCode =
  | 'bad-request'
  | 'no-route'
  | 'request-timeout'
  | 'body-too-large'
  | 'head-too-large'
  | 'not-implemented'
  | 'no-backend'
  | 'connect-failed'
  | 'connect-timeout'
  | 'backend-reset'
  | 'bad-response'
  | 'timeout-idle'
  | 'timeout-total'
  | 'drained'
  | 'shutdown'
  | 'version';

export interface LocalResponse {
  status: number;
  code: LocalErrorCode;
  message: string;
}

/** The whole response as latin1 text (the message is escaped to ASCII). */
export function renderLocalResponse(
  r: LocalResponse,
  json: boolean,
  connection: 'close' | 'keep-alive' | null,
  headOnly: boolean,
): string {
  const body = json
    ? `${JSON.stringify({ error: { status: r.status, code: r.code, message: r.message } }).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`
    : `${r.status} ${REASONS[r.status] ?? ''}: ${r.message.replace(/[^\x20-\x7e]/g, '?')}\n`;
  const type = json ? 'application/json' : 'text/plain; charset=utf-8';
  let head = `HTTP/1.1 ${r.status} ${REASONS[r.status] ?? 'Error'}\r\ncontent-type: ${type}\r\ncontent-length: ${body.length}\r\ncache-control: no-store\r\n`;
  if (connection) head += `connection: ${connection}\r\n`;
  return `${head}\r\n${headOnly ? '' : body}`;
}

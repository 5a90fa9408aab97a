/**
 * What a plain HTTP listener answers itself when HTTPS is set up: the ACME HTTP-01 challenge
 * (its key authorization, as the ACME server expects) and, on a listener with `redirectHttps`,
 * a permanent redirect to the same host and target on the HTTPS port.
 */
import type { RequestHead } from './http-head.js';

/** 308 keeps the method and body (301 lets clients turn a POST into a GET). */
export function renderHttpsRedirect(head: RequestHead, httpsPort: number, connection: 'close' | null): string {
  const host = head.host || 'localhost';
  const authority = httpsPort === 443 ? host : `${host.includes(':') ? `[${host}]` : host}:${httpsPort}`;
  const location = `https://${authority}${head.target.startsWith('/') ? head.target : '/'}`;
  const body = head.method === 'HEAD' ? '' : `Redirecting to ${location}\n`;
  return (
    `HTTP/1.1 308 Permanent Redirect\r\nlocation: ${location}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body, 'latin1')}\r\n${connection ? `connection: ${connection}\r\n` : ''}\r\n${body}`
  );
}

export function renderChallengeAnswer(keyAuthorization: string, headOnly: boolean, connection: 'close' | null): string {
  return (
    `HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${keyAuthorization.length}\r\n` +
    `cache-control: no-store\r\n${connection ? `connection: ${connection}\r\n` : ''}\r\n${headOnly ? '' : keyAuthorization}`
  );
}

/** Parsing and writing HTTP/1.x heads: what is forwarded, and what is refused. */
import { describe, expect, it } from 'vitest';
import {
  clientResponseHead,
  forwardRequestHead,
  forwardedLines,
  normalizeHost,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
} from '../../src/proxy/node/http-head.js';

function req(text: string): RequestHead {
  const r = parseRequestHead(text);
  if ('status' in r) throw new Error(`expected a request, got ${r.status}: ${r.message}`);
  return r;
}

function refused(text: string): number {
  const r = parseRequestHead(text);
  if (!('status' in r)) throw new Error('expected the request to be refused');
  return r.status;
}

/** Parses `text` as a head followed by CRLFCRLF and some body bytes. */
function parseRes(text: string): ResponseHead | string {
  return parseResponseHead(Buffer.from(`${text}\r\n\r\nbody\r\n`, 'latin1'), text.length);
}

function res(text: string): ResponseHead {
  const r = parseRes(text);
  if (typeof r === 'string') throw new Error(r);
  return r;
}

describe('parseRequestHead', () => {
  it('reads method, target, path, version, host and framing', () => {
    const r = req(
      'POST /api/items?x=1 HTTP/1.1\r\nHost: Shop.Example.test:8080\r\nContent-Length: 12\r\nAccept: application/json',
    );
    expect(r).toMatchObject({
      method: 'POST',
      target: '/api/items?x=1',
      path: '/api/items',
      minor: 1,
      host: 'shop.example.test',
      hostHeader: 'Shop.Example.test:8080',
      contentLength: 12,
      chunked: false,
      close: false,
      acceptsJson: true,
    });
  });

  it('drops hop-by-hop fields and the fields Connection names, keeps the rest in order', () => {
    const r = req(
      'GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nProxy-Connection: x\r\nUpgrade: h2c\r\nX-Forwarded-For: 1.2.3.4\r\nX-Keep: yes',
    );
    expect(forwardedLines(r)).toEqual(['Host: a', 'X-Keep: yes']);
    expect(r.upgrade).toBeUndefined(); // Upgrade without Connection: upgrade is not an upgrade request
    expect(r.xForwardedFor).toBe('1.2.3.4');
  });

  it('recognises upgrade requests and connection close; HTTP/1.0 closes unless keep-alive', () => {
    expect(req('GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket').upgrade).toBe('websocket');
    expect(req('GET / HTTP/1.1\r\nHost: a\r\nConnection: close').close).toBe(true);
    expect(req('GET / HTTP/1.0').close).toBe(true);
    expect(req('GET / HTTP/1.0\r\nConnection: keep-alive').close).toBe(false);
  });

  it('reduces an absolute-form target to origin-form and routes by its authority', () => {
    const r = req('GET http://Other.test:81/x?y HTTP/1.1\r\nHost: a');
    expect(r).toMatchObject({ target: '/x?y', path: '/x', host: 'other.test' });
    expect(req('GET http://b.test HTTP/1.1\r\nHost: a').target).toBe('/');
  });

  it('accepts chunked as the final transfer coding, and identical repeated Content-Length', () => {
    expect(req('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked').chunked).toBe(true);
    expect(req('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3').contentLength).toBe(3);
  });

  it('refuses what could smuggle a request or is not HTTP/1.x', () => {
    expect(refused('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked')).toBe(400);
    expect(refused('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip')).toBe(400);
    expect(refused('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked')).toBe(400);
    expect(refused('POST / HTTP/1.0\r\nTransfer-Encoding: chunked')).toBe(400);
    expect(refused('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4')).toBe(400);
    expect(refused('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1')).toBe(400);
    expect(refused('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2')).toBe(400);
    expect(refused('GET / HTTP/1.1\r\nHost : a')).toBe(400);
    expect(refused('GET / HTTP/1.1\r\nHost: a\r\n folded')).toBe(400);
    expect(refused('GET / HTTP/1.1\r\nHost: a\nX: b')).toBe(400);
    expect(refused('GET / HTTP/1.1\r\nHost: a\rX: b')).toBe(400);
    expect(refused('GET / HTTP/1.1\r\nHost: a\u0000')).toBe(400);
    expect(refused('GET / HTTP/1.1\r\nHost: a\r\nHost: b')).toBe(400);
    expect(refused('GET / HTTP/1.1')).toBe(400);
    expect(refused('GET  / HTTP/1.1\r\nHost: a')).toBe(400);
    expect(refused('GET /a b HTTP/1.1\r\nHost: a')).toBe(400);
    expect(refused('GET / HTTP/2.0\r\nHost: a')).toBe(505);
    expect(refused('CONNECT a:443 HTTP/1.1\r\nHost: a')).toBe(501);
    expect(refused('GET relative HTTP/1.1\r\nHost: a')).toBe(400);
  });
});

describe('forwardRequestHead', () => {
  it('writes HTTP/1.1 with X-Forwarded-* and the upgrade fields', () => {
    const h = req(
      'GET /ws HTTP/1.1\r\nHost: a.test\r\nConnection: upgrade\r\nUpgrade: websocket\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https',
    );
    expect(forwardRequestHead(h, { client: '127.0.0.1', proto: 'http', trust: false }, '127.0.0.1:9000')).toBe(
      'GET /ws HTTP/1.1\r\nHost: a.test\r\nx-forwarded-for: 10.0.0.1, 127.0.0.1\r\nx-forwarded-proto: http\r\nx-forwarded-host: a.test\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n',
    );
    expect(forwardRequestHead(h, { client: '127.0.0.1', proto: 'http', trust: true }, 'x')).toContain(
      'x-forwarded-proto: https\r\n',
    );
  });

  it('forwards the received lines byte for byte, minus the dropped ones, with the request line rewritten only when it must be', () => {
    const f = { client: '10.0.0.9', proto: 'http', trust: false };
    const fwd = (text: string) => forwardRequestHead(req(text), f, 'b:1');
    const tail = 'x-forwarded-for: 10.0.0.9\r\nx-forwarded-proto: http\r\nx-forwarded-host: a\r\n\r\n';
    // Every field kept: one slice of the head as received (field name case and spacing kept).
    expect(fwd('GET /p?q=1 HTTP/1.1\r\nHost: a\r\nuser-AGENT:  x y \r\nAccept: */*')).toBe(
      `GET /p?q=1 HTTP/1.1\r\nHost: a\r\nuser-AGENT:  x y \r\nAccept: */*\r\n${tail}`,
    );
    // Dropped lines at the start, the middle and the end.
    expect(
      fwd('GET / HTTP/1.1\r\nKeep-Alive: 1\r\nHost: a\r\nConnection: X-Hop\r\nX-Hop: 1\r\nX-A: 1\r\nX-B: 2\r\nTE: t'),
    ).toBe(`GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-B: 2\r\n${tail}`);
    // Leading empty lines, absolute-form and HTTP/1.0 get a new request line.
    expect(fwd('\r\nGET / HTTP/1.1\r\nHost: a')).toBe(`GET / HTTP/1.1\r\nHost: a\r\n${tail}`);
    expect(fwd('GET http://a/x HTTP/1.1\r\nHost: a')).toBe(`GET /x HTTP/1.1\r\nHost: a\r\n${tail}`);
    expect(fwd('GET /x HTTP/1.0\r\nHost: a')).toBe(`GET /x HTTP/1.1\r\nHost: a\r\n${tail}`);
    expect(forwardedLines(req('GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Host: e\r\nX-C: 3'))).toEqual([
      'Host: a',
      'X-C: 3',
    ]);
  });

  it('names the backend as Host when an HTTP/1.0 client sent none', () => {
    expect(
      forwardRequestHead(req('GET / HTTP/1.0'), { client: '::1', proto: 'http', trust: false }, '127.0.0.1:9000'),
    ).toBe('GET / HTTP/1.1\r\nhost: 127.0.0.1:9000\r\nx-forwarded-for: ::1\r\nx-forwarded-proto: http\r\n\r\n');
  });
});

describe('parseResponseHead', () => {
  it('forwards a plain HTTP/1.1 head unchanged (Connection: keep-alive included)', () => {
    const r = res('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\nServer: x');
    expect(r).toMatchObject({ status: 200, contentLength: 5, chunked: false, keepAlive: true, verbatim: true });
  });

  it('rewrites heads with other hop-by-hop fields, HTTP/1.0, or both framings', () => {
    const nodeStyle = res('HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2');
    expect(nodeStyle.verbatim).toBe(false);
    expect(clientResponseHead(nodeStyle, false, '')).toBe('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n');
    const closing = res('HTTP/1.1 404 Not Found\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\nContent-Length: 0');
    expect(closing).toMatchObject({ keepAlive: false, verbatim: false, lines: ['Content-Length: 0'] });
    const old = res('HTTP/1.0 200 OK\r\nContent-Type: text/plain');
    expect(old).toMatchObject({ statusLine: 'HTTP/1.1 200 OK', keepAlive: false, contentLength: -1, verbatim: false });
    expect(res('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1').keepAlive).toBe(true);
    const both = res('HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked');
    expect(both).toMatchObject({
      chunked: true,
      contentLength: -1,
      lines: ['Transfer-Encoding: chunked'],
      verbatim: false,
    });
    expect(res('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip')).toMatchObject({ chunked: false, closeDelimited: true });
  });

  it('drops Transfer-Encoding for an HTTP/1.0 client and adds the connection field', () => {
    const r = res('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: y');
    expect(clientResponseHead(r, true, 'connection: close\r\n')).toBe(
      'HTTP/1.1 200 OK\r\nX: y\r\nconnection: close\r\n\r\n',
    );
  });

  it('refuses invalid heads', () => {
    for (const bad of [
      'HTTP/2 200 OK',
      'HTTP/1.1 2000 OK',
      'HTTP/1.1 20x OK',
      'ICY 200 OK',
      'HTTP/1.1 200 OK\r\nBad : x',
      'HTTP/1.1 200 OK\r\n Folded: x',
      'HTTP/1.1 200 OK\r\n: x',
      'HTTP/1.1 200 OK\r\nNo colon',
      'HTTP/1.1 200 OK\r\nContent-Length: x',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2',
      'HTTP/1.1 200 OK\r\nX: a\nY: b',
    ]) {
      expect(typeof parseRes(bad), bad).toBe('string');
    }
  });
});

describe('normalizeHost', () => {
  it('lowercases and drops the port and a trailing dot', () => {
    expect(normalizeHost('Example.COM:8080')).toBe('example.com');
    expect(normalizeHost('example.com.')).toBe('example.com');
    expect(normalizeHost('[::1]:80')).toBe('[::1]');
    expect(normalizeHost('a.test')).toBe('a.test');
  });
});

/** Route matching and backend choice, without sockets. */
import { describe, expect, it } from 'vitest';
import type { HttpRoute } from '../../src/proxy/data-plane.js';
import { pickBackend } from '../../src/proxy/node/balancer.js';
import { PoolTable, type BackendState } from '../../src/proxy/node/pool.js';
import { Router } from '../../src/proxy/node/router.js';
import { Duration } from '../../src/util/duration.js';

function route(id: string, over: Partial<HttpRoute> = {}): HttpRoute {
  return {
    id,
    host: null,
    pathPrefix: '/',
    listeners: [],
    pool: id,
    balance: 'round-robin',
    connectTimeout: Duration.seconds(1),
    idleTimeout: Duration.seconds(1),
    totalTimeout: Duration.seconds(1),
    maxBodyBytes: 0,
    ...over,
  };
}

describe('Router', () => {
  it('matches host groups in order of specificity and falls through on no path match', () => {
    const r = new Router([
      route('any-api', { pathPrefix: '/api/' }),
      route('wild', { host: '*.lab.test' }),
      route('wild-long', { host: '*.eu.lab.test', pathPrefix: '/shop' }),
      route('exact', { host: 'Web.Lab.Test.', pathPrefix: '/app' }),
    ]);
    const m = (host: string, path: string) => r.match('web', host, path)?.id;
    expect(m('web.lab.test', '/app/x')).toBe('exact');
    expect(m('web.lab.test', '/other')).toBe('wild');
    expect(m('x.eu.lab.test', '/shop')).toBe('wild-long');
    expect(m('x.eu.lab.test', '/shopping')).toBe('wild');
    expect(m('lab.test', '/')).toBeUndefined();
    expect(m('lab.test', '/api/v1')).toBe('any-api');
    expect(m('lab.test', '/api')).toBeUndefined(); // '/api/' needs the slash
    expect(m('', '/api/x')).toBe('any-api');
  });

  it('reports every problem of a route set at once', () => {
    expect(
      () =>
        new Router([
          route('a', { host: '*bad*' }),
          route('b', {
            pathPrefix: 'x',
            balance: 'random' as HttpRoute['balance'],
            connectTimeout: Duration.milliseconds(0),
            maxBodyBytes: -1,
            pool: '',
          }),
        ]),
    ).toThrow(
      /host "\*bad\*"[\s\S]*path prefix "x"[\s\S]*pool is empty[\s\S]*balance "random"[\s\S]*connect timeout[\s\S]*maxBodyBytes/,
    );
    expect(() => new Router([route('a', { listeners: ['x'] }), route('b', { listeners: ['y'] })])).not.toThrow();
    expect(() => new Router([route('a', { listeners: ['x', 'y'] }), route('b', { listeners: ['y'] })])).toThrow(
      /on listener y/,
    );
  });
});

function pool(weights: number[]): BackendState[] {
  const t = new PoolTable({ maxConnections: 10, maxIdle: 10, ejectForMs: 1000, maxEjectForMs: 8000, now: () => 0 });
  t.set(
    'p',
    weights.map((weight, i) => ({ id: String.fromCharCode(97 + i), host: '127.0.0.1', port: 1000 + i, weight })),
  );
  return t.members('p');
}

describe('balancer', () => {
  it('smooth weighted round-robin interleaves by weight (nginx order)', () => {
    const bs = pool([5, 1, 1]);
    expect(Array.from({ length: 7 }, () => pickBackend(bs, 'round-robin', 0, null)?.id).join('')).toBe('aabacaa');
    const even = pool([1, 1, 1]);
    expect(Array.from({ length: 6 }, () => pickBackend(even, 'round-robin', 0, null)?.id).join('')).toBe('abcabc');
  });

  it('skips tried, ejected, draining and zero-weight backends', () => {
    const bs = pool([1, 1, 1, 0]);
    const [a, b, c] = bs as [BackendState, BackendState, BackendState];
    expect(pickBackend(bs, 'round-robin', 0, [a, b])?.id).toBe('c');
    a.connectFailed(0);
    b.startDraining();
    expect(Array.from({ length: 3 }, () => pickBackend(bs, 'round-robin', 0, null)?.id)).toEqual(['c', 'c', 'c']);
    expect(pickBackend(bs, 'round-robin', 0, [c])).toBeUndefined();
    expect(pickBackend(bs, 'round-robin', 1000, [c])?.id).toBe('a'); // the ejection is over
  });

  it('doubles the ejection per consecutive failure, up to the maximum, and resets on success', () => {
    const [a] = pool([1]) as [BackendState];
    expect(a.connectFailed(0)).toBe(true);
    expect(a.ejectedUntil).toBe(1000);
    expect(a.connectFailed(500)).toBe(false); // already ejected: not extended
    a.connectFailed(1000);
    expect(a.ejectedUntil).toBe(3000);
    a.connectFailed(3000);
    a.connectFailed(7000);
    a.connectFailed(15_000);
    expect(a.ejectedUntil).toBe(23_000);
    a.connectSucceeded();
    a.connectFailed(30_000);
    expect(a.ejectedUntil).toBe(31_000);
  });

  it('least-connections weighs in-flight requests by weight and rotates among ties', () => {
    const bs = pool([2, 1]);
    const [a, b] = bs as [BackendState, BackendState];
    const busy = (x: BackendState, n: number) => {
      for (let i = 0; i < n; i++) x.active.add({ abort: () => undefined, inFlightSlot: -1 });
    };
    busy(a, 2);
    busy(b, 1);
    // 2/2 = 1/1: a tie, broken by weighted rotation.
    const picks = Array.from({ length: 3 }, () => pickBackend(bs, 'least-connections', 0, null)?.id);
    expect(picks.sort()).toEqual(['a', 'a', 'b']);
    busy(a, 1); // 3/2 > 1/1
    expect(pickBackend(bs, 'least-connections', 0, null)?.id).toBe('b');
  });
});

import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/daemon/api/api-error.js';
import { API } from '../../src/daemon/api/contract.js';
import { queryCodec } from '../../src/daemon/api/query.js';

const logs = queryCodec(API.logs.query);

function badRequest(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('expected an ApiError');
}

describe('query codec (one parser for the daemon, one serializer for the client)', () => {
  it('fills in defaults and leaves absent optional parameters out', () => {
    expect(logs.parse(new URLSearchParams(''))).toEqual({ lines: 200, follow: false });
    expect(logs.parse(new URLSearchParams('instance=2&lines=5&since=10m&follow=1'))).toEqual({
      instance: 2,
      lines: 5,
      since: '10m',
      follow: true,
    });
    expect(logs.parse(new URLSearchParams('follow=true&unknown=x')).follow).toBe(true);
  });

  it('round-trips what the client sends, leaving defaults off the wire', () => {
    const sent = { instance: 0, lines: 7, since: '2026-12-01T10:00:00Z', follow: true };
    const q = logs.serialize(sent);
    expect(q).toBe('?instance=0&lines=7&since=2026-12-01T10%3A00%3A00Z&follow=1');
    expect(logs.parse(new URLSearchParams(q.slice(1)))).toEqual(sent);
    expect(logs.serialize({ lines: 200, follow: false })).toBe('');
    expect(queryCodec(API.events.query).serialize({ service: 'web', limit: 5 })).toBe('?service=web&limit=5');
  });

  it('refuses a bad value with a 400 that names the parameter, the range and what it found', () => {
    for (const [q, name] of [
      ['lines=abc', 'lines'],
      ['lines=0', 'lines'],
      ['lines=1.5', 'lines'],
      ['lines=', 'lines'],
      ['instance=-1', 'instance'],
      ['follow=yes', 'follow'],
      ['since=', 'since'],
    ] as const) {
      const e = badRequest(() => logs.parse(new URLSearchParams(q)));
      expect(e.status, q).toBe(400);
      expect(e.code, q).toBe('bad-request');
      expect(e.message, q).toContain(`query parameter ${name}`);
    }
    expect(badRequest(() => logs.parse(new URLSearchParams('lines=0'))).message).toBe(
      'query parameter lines must be a whole number from 1 to 100000, found "0"',
    );
  });

  it('refuses a schema it cannot put on the wire', () => {
    expect(() => queryCodec(Type.Object({ n: Type.Integer() }))).toThrow(/required but has no default/);
    expect(() => queryCodec(Type.Object({ a: Type.Optional(Type.Array(Type.String())) }))).toThrow(/not supported/);
  });
});

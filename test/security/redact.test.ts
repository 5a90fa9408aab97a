import { describe, expect, it } from 'vitest';
import { MIN_REDACTED_LENGTH, Redactor, StreamRedactor } from '../../src/security/redact.js';

const value = 'c4n4ry/v4lue with space&more=';
const r = new Redactor([
  { name: 'db-password', value },
  { name: 'api-token', value: 'tok_1234567890' },
]);

describe('Redactor', () => {
  it('replaces the value, its base64, base64url and URL-encoded forms by the secret name', () => {
    const b64 = Buffer.from(value).toString('base64');
    const text = [
      `plain ${value} end`,
      `b64 ${b64}`,
      `b64 unpadded ${b64.replace(/=+$/, '')}`,
      `b64url ${Buffer.from(value).toString('base64url')}`,
      `url ${encodeURIComponent(value)}`,
      `form ${encodeURIComponent(value).replace(/%20/g, '+')}`,
      'token tok_1234567890.',
    ].join('\n');
    const out = r.redact(text);
    expect(out).not.toContain(value);
    expect(out).not.toContain(b64.replace(/=+$/, ''));
    expect(out).not.toContain(encodeURIComponent(value));
    expect(out).not.toContain('tok_1234567890');
    expect(out.match(/\[secret:db-password\]/g)).toHaveLength(6);
    expect(out).toContain('token [secret:api-token].');
  });

  it('redacts strings and keys in JSON-like values without changing the input', () => {
    const input = { a: [value, { [value]: 1, n: 3 }], b: null };
    const out = r.redactDeep(input);
    expect(JSON.stringify(out)).not.toContain(value);
    expect(out.b).toBeNull();
    expect(input.a[0]).toBe(value);
  });

  it('leaves values shorter than the minimum alone, and is a no-op without secrets', () => {
    const short = new Redactor([{ name: 'pin', value: 'x'.repeat(MIN_REDACTED_LENGTH - 1) }]);
    expect(short.empty).toBe(true);
    expect(short.redact('xxx')).toBe('xxx');
    expect(Redactor.none.redact(value)).toBe(value);
  });
});

describe('StreamRedactor', () => {
  it('redacts a value split over chunks at every possible boundary', () => {
    const text = `line one\nthe password is ${value}; and again ${value}\nend\n`;
    for (let cut = 0; cut <= text.length; cut++) {
      for (const size of [1, 3, cut || 1]) {
        const s = new StreamRedactor(r);
        let out = s.push(text.slice(0, cut));
        for (let i = cut; i < text.length; i += size) out += s.push(text.slice(i, i + size));
        out += s.end();
        expect(out).toBe(r.redact(text));
      }
    }
  });
});

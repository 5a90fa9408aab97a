/** The chunked-body parser: where a body ends however it is split, its size, and bad framing. */
import { describe, expect, it } from 'vitest';
import { ChunkedDecoder } from '../../src/proxy/node/chunked.js';

const BODY = '5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n';

describe('ChunkedDecoder', () => {
  it('finds the end of the body and decodes its data, split at every possible byte', () => {
    const bytes = Buffer.from(`${BODY}NEXT`, 'latin1');
    for (let cut = 0; cut <= bytes.length; cut++) {
      const d = new ChunkedDecoder();
      const data: string[] = [];
      const onData = (b: Buffer) => data.push(b.toString('latin1'));
      const first = bytes.subarray(0, cut);
      const end1 = d.feed(first, 0, onData);
      let end: number;
      if (d.done) {
        end = end1;
      } else {
        expect(end1).toBe(first.length);
        end = cut + d.feed(bytes.subarray(cut), 0, onData);
      }
      expect(d.done, `cut at ${cut}`).toBe(true);
      expect(end, `cut at ${cut}`).toBe(BODY.length);
      expect(data.join('')).toBe('hello, world');
      expect(d.dataBytes).toBe(12);
    }
  });

  it('reads from an offset and stops at the end of the body', () => {
    const buf = Buffer.from(`HEAD${BODY}GET / HTTP/1.1`, 'latin1');
    const d = new ChunkedDecoder();
    expect(d.feed(buf, 4)).toBe(4 + BODY.length);
  });

  it('refuses bad framing', () => {
    for (const bad of [
      'x\r\n',
      '5\nhello\r\n',
      '5\r\nhelloX\r\n',
      `${'f'.repeat(14)}\r\n`,
      '5\r\nhello\r\n0\r\nT: x\n',
      '0\r\n\r\r',
    ]) {
      const d = new ChunkedDecoder();
      expect(d.feed(Buffer.from(bad, 'latin1'), 0), JSON.stringify(bad)).toBe(-1);
      expect(d.error).toBeTruthy();
    }
  });

  it('counts the declared size of a chunk before its data arrives (the body limit acts early)', () => {
    const d = new ChunkedDecoder();
    d.feed(Buffer.from('100000\r\nabc'), 0);
    expect(d.dataBytes).toBe(0x100000);
    expect(d.done).toBe(false);
  });
});

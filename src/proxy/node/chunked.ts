/**
 * Incremental parser of the chunked transfer coding (RFC 9112 §7.1). The proxy forwards chunked
 * bodies as they are; it parses them only to know where a body ends, to count its decoded size
 * (the body limit), and to strip the framing for an HTTP/1.0 client. Strict: CRLF line ends,
 * hex sizes of at most 13 digits, bounded extensions and trailers.
 */

const SIZE_START = 0;
const SIZE = 1;
const EXT = 2;
const SIZE_LF = 3;
const DATA = 4;
const DATA_CR = 5;
const DATA_LF = 6;
const TRAILER_START = 7;
const TRAILER = 8;
const TRAILER_LF = 9;
const END_LF = 10;
const DONE = 11;

const MAX_SIZE_DIGITS = 13;
const MAX_EXT_BYTES = 4096;
const MAX_TRAILER_BYTES = 16 * 1024;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

export class ChunkedDecoder {
  private state = SIZE_START;
  private size = 0;
  private digits = 0;
  private lineBytes = 0;
  private trailerBytes = 0;
  /** Decoded body bytes so far. */
  dataBytes = 0;
  error: string | undefined;

  get done(): boolean {
    return this.state === DONE;
  }

  /**
   * Reads `buf` from `start`. Returns the index just after the last byte that belongs to the
   * body: `buf.length` while the body goes on, less when it ended inside `buf`, -1 on a
   * framing error (see `error`). `onData` gets the decoded data, when given.
   */
  feed(buf: Buffer, start: number, onData?: (data: Buffer) => void): number {
    let i = start;
    const n = buf.length;
    while (i < n) {
      switch (this.state) {
        case DATA: {
          const take = Math.min(this.size, n - i);
          if (onData && take > 0) onData(buf.subarray(i, i + take));
          i += take;
          this.size -= take;
          if (this.size === 0) this.state = DATA_CR;
          continue;
        }
        case SIZE_START:
        case SIZE: {
          const c = buf[i] as number;
          const v = hexValue(c);
          if (v !== -1) {
            if (++this.digits > MAX_SIZE_DIGITS) return this.fail('chunk size too large');
            this.size = this.size * 16 + v;
            this.state = SIZE;
          } else if (this.state === SIZE_START) {
            return this.fail('chunk size expected');
          } else if (c === 59 /* ; */ || c === 32 || c === 9) {
            this.state = EXT;
            this.lineBytes = 0;
          } else if (c === 13) {
            this.state = SIZE_LF;
          } else {
            return this.fail('invalid chunk size');
          }
          i++;
          continue;
        }
        case EXT: {
          const c = buf[i] as number;
          if (c === 13) this.state = SIZE_LF;
          else if (c === 10 || ++this.lineBytes > MAX_EXT_BYTES) return this.fail('invalid chunk extension');
          i++;
          continue;
        }
        case SIZE_LF:
          if (buf[i] !== 10) return this.fail('chunk size line must end in CRLF');
          i++;
          this.digits = 0;
          if (this.size === 0) {
            this.state = TRAILER_START;
          } else {
            this.dataBytes += this.size;
            this.state = DATA;
          }
          continue;
        case DATA_CR:
          if (buf[i] !== 13) return this.fail('chunk data must end in CRLF');
          this.state = DATA_LF;
          i++;
          continue;
        case DATA_LF:
          if (buf[i] !== 10) return this.fail('chunk data must end in CRLF');
          this.state = SIZE_START;
          this.size = 0;
          i++;
          continue;
        case TRAILER_START:
          if (buf[i] === 13) {
            this.state = END_LF;
            i++;
            continue;
          }
          this.state = TRAILER;
          continue;
        case TRAILER: {
          const c = buf[i] as number;
          if (c === 13) this.state = TRAILER_LF;
          else if (c === 10) return this.fail('trailer lines must end in CRLF');
          if (++this.trailerBytes > MAX_TRAILER_BYTES) return this.fail('trailer section too large');
          i++;
          continue;
        }
        case TRAILER_LF:
          if (buf[i] !== 10) return this.fail('trailer lines must end in CRLF');
          this.state = TRAILER_START;
          i++;
          continue;
        case END_LF:
          if (buf[i] !== 10) return this.fail('the chunked body must end in CRLF');
          this.state = DONE;
          return i + 1;
        default:
          return i;
      }
    }
    return i;
  }

  private fail(message: string): number {
    this.error = message;
    return -1;
  }
}

/**
 * HTTP/1.x message heads (RFC 9112): parsing a request head from a client and a response head
 * from a backend, and writing the heads the proxy forwards.
 *
 * Parsing is strict where leniency lets a client smuggle a second request past the proxy:
 * lines end in CRLF (a bare CR or LF is rejected, and so is NUL), no whitespace between a field
 * name and its colon, no obs-fold, Content-Length is digits only and must agree with itself, a
 * request with both Content-Length and Transfer-Encoding is rejected, and a request's
 * Transfer-Encoding must end in `chunked`. Other control characters in field values pass
 * through as bytes (RFC 9110 §5.5 lets a recipient keep them); backends decide about them.
 *
 * This runs for every request and response, so it avoids regular expressions over the whole
 * head and lowercasing every field name: names are told apart by length, then compared
 * case-insensitively in place.
 *
 * Hop-by-hop fields (Connection, the fields it names, Keep-Alive, Proxy-Connection, TE,
 * Upgrade) are dropped from what is forwarded; Transfer-Encoding stays because chunked bodies
 * are forwarded as they are, framing included.
 */

export interface RequestHead {
  method: string;
  /** Request target as forwarded (origin-form; an absolute-form target is reduced to it). */
  target: string;
  /** Target up to `?`, for routing. */
  path: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  /** Lowercased host without port, for routing; '' when the request names none. */
  host: string;
  /** The Host field as received. */
  hostHeader: string | undefined;
  /** The head as received (latin1, without the final CRLFCRLF); `fields` points into it. */
  text: string;
  /**
   * Where the field lines to forward lie in `text` (hop-by-hop and X-Forwarded-* removed):
   * start and end (before its CRLF) pairs, adjacent lines merged, so a head that keeps all its
   * fields is one pair. Forwarding slices these instead of making a string per line.
   */
  fields: number[];
  /** `text` starts with the request line exactly as forwarded (HTTP/1.1, origin-form target). */
  lineVerbatim: boolean;
  /** -1 when absent. */
  contentLength: number;
  chunked: boolean;
  /** The client wants the connection closed after this exchange. */
  close: boolean;
  /** Upgrade protocol(s) when the request asks for one (Connection: upgrade). */
  upgrade: string | undefined;
  xForwardedFor: string | undefined;
  xForwardedProto: string | undefined;
  xForwardedHost: string | undefined;
  /** The client prefers JSON (for the proxy's own error responses). */
  acceptsJson: boolean;
}

export interface HeadError {
  status: 400 | 501 | 505;
  message: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** tchar (RFC 9110 §5.6.2) by character code. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
  TCHAR[c.charCodeAt(0)] = 1;

/** Whether the characters [a, b) of `text` are a token. */
function isToken(text: string, a: number, b: number): boolean {
  for (let i = a; i < b; i++) {
    const c = text.charCodeAt(i);
    if (c > 127 || TCHAR[c] !== 1) return false;
  }
  return true;
}
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const TARGET_BAD = /[\x00-\x20\x7f]/;
const DIGITS = /^\d{1,15}$/;
/** NUL, or a CR or LF that is not part of a CRLF: what could split or smuggle a message. */
function hasBadBreakOrNul(text: string): boolean {
  if (text.indexOf('\u0000') !== -1) return true;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1))
    if (text.charCodeAt(i - 1) !== 13) return true;
  for (let i = text.indexOf('\r'); i !== -1; i = text.indexOf('\r', i + 1))
    if (text.charCodeAt(i + 1) !== 10) return true;
  return false;
}

/** The fields the parsers act on. */
const F_OTHER = 0;
const F_HOST = 1;
const F_CONTENT_LENGTH = 2;
const F_TRANSFER_ENCODING = 3;
const F_CONNECTION = 4;
const F_UPGRADE = 5;
const F_HOP = 6; // Keep-Alive, Proxy-Connection, TE: dropped
const F_XFF = 7;
const F_XF_PROTO = 8;
const F_XF_HOST = 9;
const F_ACCEPT = 10;

const FIELDS: readonly [string, number][] = [
  ['host', F_HOST],
  ['content-length', F_CONTENT_LENGTH],
  ['transfer-encoding', F_TRANSFER_ENCODING],
  ['connection', F_CONNECTION],
  ['upgrade', F_UPGRADE],
  ['keep-alive', F_HOP],
  ['proxy-connection', F_HOP],
  ['te', F_HOP],
  ['x-forwarded-for', F_XFF],
  ['x-forwarded-proto', F_XF_PROTO],
  ['x-forwarded-host', F_XF_HOST],
  ['accept', F_ACCEPT],
];
/** FIELDS by name length. */
const FIELDS_BY_LENGTH: [string, number][][] = [];
for (const f of FIELDS) (FIELDS_BY_LENGTH[f[0].length] ??= []).push([...f]);

/** Which field the name of `n` characters at `start` of `text` is. */
function fieldOf(text: string, start: number, n: number): number {
  const candidates = FIELDS_BY_LENGTH[n];
  if (candidates === undefined) return F_OTHER;
  for (let k = 0; k < candidates.length; k++) {
    const [name, code] = candidates[k] as [string, number];
    let i = 0;
    // | 0x20 lowercases letters and keeps '-' (CR, the only other match, cannot be in a line).
    while (i < n && (text.charCodeAt(start + i) | 0x20) === name.charCodeAt(i)) i++;
    if (i === n) return code;
  }
  return F_OTHER;
}

/** Adds the line [a, b) of the head text to `spans`, merged with the previous one when adjacent. */
function keepLine(spans: number[], a: number, b: number): void {
  const n = spans.length;
  if (n !== 0 && (spans[n - 1] as number) + 2 === a) spans[n - 1] = b;
  else spans.push(a, b);
}

/** Drops the kept lines whose (lowercase) name is in `names`; splits merged spans back into lines. */
function dropNamedLines(text: string, spans: number[], names: readonly string[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < spans.length; i += 2) {
    const end = spans[i + 1] as number;
    let a = spans[i] as number;
    while (a < end) {
      const crlf = text.indexOf('\r\n', a);
      const b = crlf === -1 || crlf > end ? end : crlf;
      if (!names.includes(text.slice(a, text.indexOf(':', a)).toLowerCase())) keepLine(out, a, b);
      a = b + 2;
    }
  }
  return out;
}

/** The field lines a request head forwards, without CRLF (for tests and diagnostics). */
export function forwardedLines(h: RequestHead): string[] {
  const lines: string[] = [];
  for (let i = 0; i < h.fields.length; i += 2) lines.push(...h.text.slice(h.fields[i], h.fields[i + 1]).split('\r\n'));
  return lines;
}

function bad(message: string): HeadError {
  return { status: 400, message };
}

/** The value of the field whose colon is at `colon` and whose line ends at `eol`, without surrounding whitespace. */
function valueIn(text: string, colon: number, eol: number): string {
  let a = colon + 1;
  let b = eol;
  while (a < b && (text.charCodeAt(a) === 32 || text.charCodeAt(a) === 9)) a++;
  while (b > a && (text.charCodeAt(b - 1) === 32 || text.charCodeAt(b - 1) === 9)) b--;
  return text.slice(a, b);
}

const KEEP_ALIVE_TOKENS: readonly string[] = ['keep-alive'];

function tokens(value: string): string[] {
  return value
    .toLowerCase()
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

/** `text` is the head without its final CRLFCRLF, decoded as latin1. */
export function parseRequestHead(text: string): RequestHead | HeadError {
  if (hasBadBreakOrNul(text)) return bad('the request head contains NUL, or a CR or LF outside a line end');
  let pos = 0;
  // A client may send empty lines before a request (RFC 9112 §2.2).
  while (text.startsWith('\r\n', pos)) pos += 2;
  // Every LF follows a CR (checked above), so lines end one before each LF.
  let nl = text.indexOf('\n', pos);
  let eol = nl === -1 ? text.length : nl - 1;
  const requestLine = text.slice(pos, eol);
  const sp1 = requestLine.indexOf(' ');
  const sp2 = requestLine.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 === -1 || requestLine.indexOf(' ', sp2 + 1) !== -1) {
    return bad('the request line must be METHOD SP TARGET SP HTTP/1.1');
  }
  const method = requestLine.slice(0, sp1);
  let target = requestLine.slice(sp1 + 1, sp2);
  const version = requestLine.slice(sp2 + 1);
  let minor: number;
  if (version === 'HTTP/1.1') minor = 1;
  else if (version === 'HTTP/1.0') minor = 0;
  else if (/^HTTP\/\d\.\d$/.test(version)) return { status: 505, message: `${version} is not supported; use HTTP/1.1` };
  else return bad(`"${version}" is not an HTTP version`);
  if (!TOKEN.test(method)) return bad('the method is not a token');
  if (target === '' || TARGET_BAD.test(target))
    return bad('the request target is empty or contains whitespace or control characters');
  if (method === 'CONNECT') return { status: 501, message: 'CONNECT is not supported: this is a reverse proxy' };

  let host = '';
  let targetHost: string | undefined;
  const c0 = target.charCodeAt(0);
  if (c0 !== 47 /* / */) {
    if (target === '*' && method === 'OPTIONS') {
      // asterisk-form: routed as /
    } else {
      const m = /^https?:\/\/([^/?#]*)(.*)$/i.exec(target);
      if (!m) return bad('the request target must start with / (or be an absolute http URL)');
      targetHost = m[1] as string;
      const rest = m[2] as string;
      target = rest === '' ? '/' : rest.charCodeAt(0) === 63 /* ? */ ? `/${rest}` : rest;
    }
  }
  const lineVerbatim = pos === 0 && minor === 1 && targetHost === undefined && target !== '*';
  const q = target.indexOf('?');
  const path = target === '*' ? '/' : q === -1 ? target : target.slice(0, q);

  let fields: number[] = [];
  let hostHeader: string | undefined;
  let contentLength = -1;
  let transferEncoding: string | undefined;
  let connection: readonly string[] | undefined;
  let upgradeValue: string | undefined;
  let xff: string | undefined;
  let xfProto: string | undefined;
  let xfHost: string | undefined;
  let acceptsJson = false;

  pos = eol + 2;
  while (pos < text.length) {
    nl = text.indexOf('\n', pos);
    eol = nl === -1 ? text.length : nl - 1;
    // Scanned in place in `text` (a flat string, fast to index); only kept lines are sliced.
    const colon = text.indexOf(':', pos);
    if (colon === -1 || colon >= eol || colon === pos) {
      const c = text.charCodeAt(pos);
      return bad(c === 32 || c === 9 ? 'folded header lines are not allowed' : 'a header line has no name or no colon');
    }
    if (!isToken(text, pos, colon))
      return bad(
        `header name "${text.slice(pos, Math.min(colon, pos + 40))}" is not a token (no spaces before the colon)`,
      );
    switch (fieldOf(text, pos, colon - pos)) {
      case F_HOST:
        if (hostHeader !== undefined) return bad('the request has two Host headers');
        hostHeader = valueIn(text, colon, eol);
        keepLine(fields, pos, eol);
        break;
      case F_CONTENT_LENGTH: {
        const v = valueIn(text, colon, eol);
        if (!DIGITS.test(v)) return bad(`Content-Length "${v.slice(0, 40)}" is not a number of bytes`);
        const n = Number(v);
        if (contentLength !== -1 && contentLength !== n)
          return bad('the request has two different Content-Length headers');
        if (contentLength === -1) keepLine(fields, pos, eol);
        contentLength = n;
        break;
      }
      case F_TRANSFER_ENCODING:
        transferEncoding =
          transferEncoding === undefined
            ? valueIn(text, colon, eol)
            : `${transferEncoding}, ${valueIn(text, colon, eol)}`;
        keepLine(fields, pos, eol);
        break;
      case F_CONNECTION: {
        const v = valueIn(text, colon, eol);
        const t = v.length === 10 && v.toLowerCase() === 'keep-alive' ? KEEP_ALIVE_TOKENS : tokens(v);
        connection = connection ? connection.concat(t) : t;
        break;
      }
      case F_UPGRADE:
        upgradeValue = valueIn(text, colon, eol);
        break;
      case F_HOP:
        break;
      case F_XFF:
        xff = xff === undefined ? valueIn(text, colon, eol) : `${xff}, ${valueIn(text, colon, eol)}`;
        break;
      case F_XF_PROTO:
        xfProto = valueIn(text, colon, eol);
        break;
      case F_XF_HOST:
        xfHost = valueIn(text, colon, eol);
        break;
      case F_ACCEPT: {
        const j = text.indexOf('json', colon);
        if (j !== -1 && j < eol) acceptsJson = true;
        keepLine(fields, pos, eol);
        break;
      }
      default:
        keepLine(fields, pos, eol);
    }
    pos = eol + 2;
  }

  let chunked = false;
  if (transferEncoding !== undefined) {
    if (minor === 0) return bad('Transfer-Encoding is not allowed in an HTTP/1.0 request');
    if (contentLength !== -1) return bad('the request has both Content-Length and Transfer-Encoding');
    const codings = tokens(transferEncoding);
    if (codings[codings.length - 1] !== 'chunked' || codings.indexOf('chunked') !== codings.length - 1) {
      return bad(`Transfer-Encoding "${transferEncoding.slice(0, 60)}" must end in chunked (once)`);
    }
    chunked = true;
  }
  if (minor === 1 && hostHeader === undefined) return bad('an HTTP/1.1 request needs a Host header');
  const routingHost = targetHost ?? hostHeader;
  if (routingHost !== undefined) host = normalizeHost(routingHost);

  let close = minor === 0;
  let upgrade: string | undefined;
  if (connection) {
    const custom: string[] = [];
    for (const t of connection) {
      if (t === 'close') close = true;
      else if (t === 'keep-alive') {
        if (minor === 0) close = connection.includes('close');
      } else if (t === 'upgrade') upgrade = upgradeValue;
      else custom.push(t);
    }
    // Fields named in Connection are hop-by-hop too; framing and Host are never dropped.
    const drop = custom.filter((t) => t !== 'host' && t !== 'content-length' && t !== 'transfer-encoding');
    if (drop.length) fields = dropNamedLines(text, fields, drop);
  }
  if (upgrade === '') upgrade = undefined;

  return {
    method,
    target,
    path,
    minor,
    host,
    hostHeader,
    text,
    fields,
    lineVerbatim,
    contentLength,
    chunked,
    close,
    upgrade,
    xForwardedFor: xff,
    xForwardedProto: xfProto,
    xForwardedHost: xfHost,
    acceptsJson,
  };
}

/** `Example.COM:8080` → `example.com`, `[::1]:80` → `[::1]`; a trailing dot is dropped. */
export function normalizeHost(raw: string): string {
  let h = raw;
  if (h.charCodeAt(0) === 91 /* [ */) {
    const end = h.indexOf(']');
    h = end === -1 ? h : h.slice(0, end + 1);
  } else {
    const colon = h.indexOf(':');
    if (colon !== -1) h = h.slice(0, colon);
  }
  if (h.charCodeAt(h.length - 1) === 46 /* . */) h = h.slice(0, -1);
  // Most clients send lowercase already; skip the copy then.
  return /[A-Z]/.test(h) ? h.toLowerCase() : h;
}

export interface ForwardedFields {
  /** Client address, appended to X-Forwarded-For. */
  client: string;
  /** Scheme the client used to reach the proxy. */
  proto: string;
  /** Keep X-Forwarded-Proto/-Host from the client (only behind a proxy you trust). */
  trust: boolean;
}

/** The head sent to a backend: always HTTP/1.1 and keep-alive, with X-Forwarded-* set. */
export function forwardRequestHead(h: RequestHead, f: ForwardedFields, backendAuthority: string): string {
  const t = h.text;
  const fields = h.fields;
  let s: string;
  let i = 0;
  if (h.lineVerbatim && fields.length !== 0 && fields[0] === t.indexOf('\n') + 1) {
    // The request line and the first kept lines in one slice (all of them when none was dropped).
    s = `${t.slice(0, fields[1])}\r\n`;
    i = 2;
  } else s = `${h.method} ${h.target} HTTP/1.1\r\n`;
  for (; i < fields.length; i += 2) s += `${t.slice(fields[i], fields[i + 1])}\r\n`;
  if (h.hostHeader === undefined) s += `host: ${backendAuthority}\r\n`;
  s += `x-forwarded-for: ${h.xForwardedFor ? `${h.xForwardedFor}, ${f.client}` : f.client}\r\n`;
  s += `x-forwarded-proto: ${(f.trust && h.xForwardedProto) || f.proto}\r\n`;
  const fwdHost = (f.trust && h.xForwardedHost) || h.hostHeader;
  if (fwdHost !== undefined) s += `x-forwarded-host: ${fwdHost}\r\n`;
  if (h.upgrade !== undefined) s += `connection: upgrade\r\nupgrade: ${h.upgrade}\r\n`;
  return `${s}\r\n`;
}

/**
 * A backend's response head, parsed from the bytes it arrived in. Its kept field lines are
 * positions in those bytes; strings are made only when the head must be rewritten (`lines`,
 * `statusLine`), which the common case never needs. Those two read the bytes, so they are only
 * valid while the buffer is (during the call that parsed it).
 */
export class ResponseHead {
  private kept: string[] | undefined;

  constructor(
    private readonly buf: Buffer,
    readonly status: number,
    readonly minor: number,
    /** Start and end of the status line's reason (after the code) and of each kept field line. */
    private readonly spans: number[],
    /** -1 when absent. */
    readonly contentLength: number,
    readonly chunked: boolean,
    /** Transfer-Encoding other than chunked last: the body ends when the backend closes. */
    readonly closeDelimited: boolean,
    /** The backend keeps the connection open after this response. */
    readonly keepAlive: boolean,
    readonly upgrade: string | undefined,
    /**
     * The head as received can go unchanged to an HTTP/1.1 client that keeps its connection:
     * HTTP/1.1, and no hop-by-hop field but `Connection: keep-alive`.
     */
    readonly verbatim: boolean,
  ) {}

  /** The status line with the version replaced by HTTP/1.1. */
  get statusLine(): string {
    return `HTTP/1.1 ${this.status}${this.buf.toString('latin1', this.spans[0], this.spans[1])}`;
  }

  /** Field lines to forward (hop-by-hop removed), without CRLF. */
  get lines(): string[] {
    if (this.kept === undefined) {
      this.kept = [];
      for (let i = 2; i < this.spans.length; i += 2)
        this.kept.push(this.buf.toString('latin1', this.spans[i], this.spans[i + 1]));
    }
    return this.kept;
  }
}

const CR = 13;
const LF = 10;
const COLON = 58;

function isSpaceByte(c: number | undefined): boolean {
  return c === 32 || c === 9;
}

/** Which field the name of `n` bytes at `start` is. */
function fieldOfBytes(buf: Buffer, start: number, n: number): number {
  const candidates = FIELDS_BY_LENGTH[n];
  if (candidates === undefined) return F_OTHER;
  for (let k = 0; k < candidates.length; k++) {
    const [name, code] = candidates[k] as [string, number];
    let i = 0;
    while (i < n && ((buf[start + i] as number) | 0x20) === name.charCodeAt(i)) i++;
    if (i === n) return code;
  }
  return F_OTHER;
}

/** End of the line starting at `start` (its CR), or -1 when a CR or LF stands alone; `end` counts as a line end. */
function lineEnd(buf: Buffer, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c === CR) return buf[i + 1] === LF ? i : -1;
    if (c === LF) return -1;
  }
  return end;
}

/** Whether the bytes [a, b) are `lower` (lowercase ASCII letters and '-'), ignoring case. */
function bytesAre(buf: Buffer, a: number, b: number, lower: string): boolean {
  if (b - a !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) if (((buf[a + i] as number) | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/**
 * Parses the head in `buf` before `end` (where its final CRLFCRLF starts). Returns an error
 * message when it is invalid. Backends are trusted with the bytes of their field values; what
 * is checked is that the framing cannot be read two ways: CRLF line ends only, no field name
 * that is empty or starts or ends with whitespace, Content-Length digits that agree.
 */
/** What a response head's error says: `what` and up to 60 bytes of the offending part. */
function invalidPart(buf: Buffer, what: string, a: number, b: number): string {
  return `${what} "${buf.toString('latin1', a, Math.min(b, a + 60))}"`;
}

export function parseResponseHead(buf: Buffer, end: number): ResponseHead | string {
  // The status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF.
  let eol = lineEnd(buf, 0, end);
  if (eol < 0) return invalidPart(buf, 'a bare CR or LF in', 0, end);
  if (
    eol < 12 ||
    buf[0] !== 72 ||
    buf[1] !== 84 ||
    buf[2] !== 84 ||
    buf[3] !== 80 ||
    buf[4] !== 47 ||
    buf[5] !== 49 ||
    buf[6] !== 46 ||
    buf[8] !== 32 ||
    (eol > 12 && buf[12] !== 32)
  ) {
    return invalidPart(buf, 'invalid status line', 0, eol);
  }
  const minor = (buf[7] as number) - 48;
  if (minor !== 0 && minor !== 1) return invalidPart(buf, 'unsupported version in', 0, eol);
  const d0 = (buf[9] as number) - 48;
  const d1 = (buf[10] as number) - 48;
  const d2 = (buf[11] as number) - 48;
  if (d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return invalidPart(buf, 'invalid status line', 0, eol);
  const status = d0 * 100 + d1 * 10 + d2;

  const spans: number[] = [12, eol];
  let verbatim = minor === 1;
  let contentLength = -1;
  let transferEncoding: string | undefined;
  let connection: string[] | undefined;
  let upgrade: string | undefined;
  let keepAliveToken = false;
  let pos = eol + 2;
  while (pos < end) {
    // One pass over the line: its first colon, and its end (a CR that must be followed by LF).
    let colon = -1;
    let i = pos;
    for (; i < end; i++) {
      const c = buf[i] as number;
      if (c === CR || c === LF) break;
      if (c === COLON && colon === -1) colon = i;
    }
    eol = i;
    if (i < end && (buf[i] !== CR || buf[i + 1] !== LF)) return invalidPart(buf, 'a bare CR or LF in', pos, eol);
    if (colon === -1 || colon === pos || isSpaceByte(buf[pos]) || isSpaceByte(buf[colon - 1]))
      return invalidPart(buf, 'invalid header line', pos, eol);
    let a = colon + 1;
    let b = eol;
    while (a < b && isSpaceByte(buf[a])) a++;
    while (b > a && isSpaceByte(buf[b - 1])) b--;
    switch (fieldOfBytes(buf, pos, colon - pos)) {
      case F_CONTENT_LENGTH: {
        let len = 0;
        if (b === a || b - a > 15) return invalidPart(buf, 'invalid Content-Length', a, b);
        for (let i = a; i < b; i++) {
          const d = (buf[i] as number) - 48;
          if (d < 0 || d > 9) return invalidPart(buf, 'invalid Content-Length', a, b);
          len = len * 10 + d;
        }
        if (contentLength !== -1 && contentLength !== len) return 'two different Content-Length headers';
        if (contentLength === -1) spans.push(pos, eol);
        else verbatim = false;
        contentLength = len;
        break;
      }
      case F_TRANSFER_ENCODING: {
        const v = bytesAre(buf, a, b, 'chunked') ? 'chunked' : buf.toString('latin1', a, b);
        transferEncoding = transferEncoding === undefined ? v : `${transferEncoding}, ${v}`;
        spans.push(pos, eol);
        break;
      }
      case F_CONNECTION:
        if (bytesAre(buf, a, b, 'keep-alive')) {
          keepAliveToken = true; // the common case, and forwarding it unchanged is right
          break;
        }
        connection = (connection ?? []).concat(tokens(buf.toString('latin1', a, b)));
        verbatim = false;
        break;
      case F_UPGRADE:
        upgrade = buf.toString('latin1', a, b);
        verbatim = false;
        break;
      case F_HOP:
        verbatim = false;
        break;
      default:
        spans.push(pos, eol);
    }
    pos = eol + 2;
  }
  let chunked = false;
  let closeDelimited = false;
  // Removes kept lines whose (lowercase) name is in `names`.
  const dropNamed = (names: readonly string[]) => {
    for (let i = spans.length - 2; i >= 2; i -= 2) {
      const s0 = spans[i] as number;
      if (names.includes(buf.toString('latin1', s0, buf.indexOf(COLON, s0)).toLowerCase())) spans.splice(i, 2);
    }
  };
  if (transferEncoding !== undefined) {
    const codings = transferEncoding === 'chunked' ? ['chunked'] : tokens(transferEncoding);
    if (codings[codings.length - 1] === 'chunked') chunked = true;
    else closeDelimited = true;
    if (contentLength !== -1) {
      // Transfer-Encoding wins; a proxy must not forward both (RFC 9112 §6.3).
      contentLength = -1;
      dropNamed(['content-length']);
      verbatim = false;
    }
  }
  let keepAlive = minor === 1;
  if (keepAliveToken && minor === 0 && !connection?.includes('close')) keepAlive = true;
  if (connection) {
    const custom: string[] = [];
    for (const t of connection) {
      if (t === 'close') keepAlive = false;
      else if (t === 'keep-alive') {
        if (minor === 0 && !connection.includes('close')) keepAlive = true;
      } else if (t !== 'upgrade') custom.push(t);
    }
    const drop = custom.filter((t) => t !== 'content-length' && t !== 'transfer-encoding');
    if (drop.length) dropNamed(drop);
  }
  return new ResponseHead(
    buf,
    status,
    minor,
    spans,
    contentLength,
    chunked,
    closeDelimited,
    keepAlive,
    upgrade,
    verbatim,
  );
}

/** The head sent to the client when the backend's head cannot go unchanged. */
export function clientResponseHead(r: ResponseHead, dropTransferEncoding: boolean, extra: string): string {
  let s = `${r.statusLine}\r\n`;
  const lines = r.lines;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] as string;
    if (
      dropTransferEncoding &&
      l.length > 17 &&
      l.charCodeAt(17) === 58 /* : */ &&
      l.slice(0, 17).toLowerCase() === 'transfer-encoding'
    )
      continue;
    s += `${l}\r\n`;
  }
  return `${s}${extra}\r\n`;
}

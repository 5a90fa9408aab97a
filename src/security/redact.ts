/**
 * Redaction by value: every known secret value, and the forms it most often leaks in (base64,
 * base64url, URL-encoded), is replaced by `[secret:NAME]` wherever text leaves Groundwork: service
 * logs, build and deploy output, API answers, error messages.
 *
 * Values shorter than MIN_REDACTED_LENGTH are not redacted: a 2-character "secret" would turn every
 * log into confetti, and `groundwork secret set` warns about such a value instead.
 */

export interface NamedSecretValue {
  name: string;
  value: string;
}

/** Shorter values are not redacted (see above). */
export const MIN_REDACTED_LENGTH = 4;

/** The forms of a value that are redacted, each different from the others. */
export function redactedForms(value: string): string[] {
  const b64 = Buffer.from(value, 'utf8').toString('base64');
  const forms = [
    value,
    b64,
    b64.replace(/=+$/, ''),
    Buffer.from(value, 'utf8').toString('base64url'),
    encodeURIComponent(value),
    // application/x-www-form-urlencoded writes a space as `+`.
    encodeURIComponent(value).replace(/%20/g, '+'),
    // Inside a JSON string (API answers, NDJSON): `"`, `\\` and control characters escaped.
    JSON.stringify(value).slice(1, -1),
  ];
  return [...new Set(forms)].filter((f) => f.length >= MIN_REDACTED_LENGTH);
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class Redactor {
  private readonly pattern: RegExp | null;
  private readonly nameOf = new Map<string, string>();
  /** Length of the longest form: how much a stream must hold back (see StreamRedactor). */
  readonly longest: number;

  /**
   * @param opts.bytes redact text that is bytes read as latin1 (`buf.toString('latin1')`): the
   *   forms are matched as their UTF-8 bytes, so bytes that are not UTF-8 pass through unchanged.
   */
  constructor(secrets: readonly NamedSecretValue[], opts: { bytes?: boolean } = {}) {
    const asBytes = (f: string) => (opts.bytes ? Buffer.from(f, 'utf8').toString('latin1') : f);
    for (const s of secrets) {
      if (s.value.length < MIN_REDACTED_LENGTH) continue;
      for (const f of redactedForms(s.value)) if (!this.nameOf.has(asBytes(f))) this.nameOf.set(asBytes(f), s.name);
    }
    // Longest first, so a value that contains another secret's value is replaced whole.
    const forms = [...this.nameOf.keys()].sort((a, b) => b.length - a.length);
    this.pattern = forms.length ? new RegExp(forms.map(escapeRegExp).join('|'), 'g') : null;
    this.longest = forms[0]?.length ?? 0;
  }

  /** A redactor that redacts nothing (no secret known). */
  static readonly none = new Redactor([]);

  get empty(): boolean {
    return this.pattern === null;
  }

  redact(text: string): string {
    if (!this.pattern) return text;
    return text.replace(this.pattern, (m) => `[secret:${this.nameOf.get(m) ?? '?'}]`);
  }

  /** Every string in a JSON-like value, redacted (objects and arrays are copied, never changed in place). */
  redactDeep<T>(value: T): T {
    if (!this.pattern) return value;
    return this.walk(value) as T;
  }

  private walk(v: unknown): unknown {
    if (typeof v === 'string') return this.redact(v);
    if (Array.isArray(v)) return v.map((x) => this.walk(x));
    if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[this.redact(k)] = this.walk(x);
      return out;
    }
    return v;
  }

  /**
   * Splits `text` at a cut point that no match straddles: [redacted text before the cut, raw rest].
   * The rest is at most `longest - 1` characters, plus any match that starts before the cut point.
   */
  redactUpToSafeCut(text: string): [string, string] {
    if (!this.pattern) return [text, ''];
    let cut = Math.max(0, text.length - (this.longest - 1));
    let out = '';
    let at = 0;
    this.pattern.lastIndex = 0;
    for (let m = this.pattern.exec(text); m; m = this.pattern.exec(text)) {
      const end = m.index + m[0].length;
      if (m.index >= cut) break;
      // A match that straddles the cut: emit it whole, the cut moves past it.
      if (end > cut) cut = end;
      out += `${text.slice(at, m.index)}[secret:${this.nameOf.get(m[0]) ?? '?'}]`;
      at = end;
    }
    this.pattern.lastIndex = 0;
    return [out + text.slice(at, cut), text.slice(cut)];
  }
}

/**
 * Redaction of a stream cut into arbitrary chunks: a value split over two chunks is still
 * replaced, because the last `longest - 1` characters are held back until more text (or the end)
 * comes. Output is delayed by at most that many characters.
 */
export class StreamRedactor {
  private held = '';

  constructor(private readonly redactor: Redactor) {}

  push(chunk: string): string {
    const [out, rest] = this.redactor.redactUpToSafeCut(this.held + chunk);
    this.held = rest;
    return out;
  }

  end(): string {
    const out = this.redactor.redact(this.held);
    this.held = '';
    return out;
  }
}

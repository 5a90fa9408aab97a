/**
 * `${...}` references inside stack-file strings. `$${` writes a literal `${`.
 * A reference is kept as text through plan and state; only the runtime resolves it.
 */
export type Reference =
  | { kind: 'port'; name: string }
  | { kind: 'var'; name: string }
  | { kind: 'secret'; name: string }
  | { kind: 'volume'; name: string }
  /** The stable port of a service's port, at its stable address (see kinds/service/service-address.ts). */
  | { kind: 'service-port'; service: string; port: string }
  /** `host:port` (address) or `http://host:port` (url) of a service's stable address. */
  | { kind: 'service-address'; service: string; port: string; form: 'address' | 'url' }
  /** The host of a service's stable address (its own loopback address). */
  | { kind: 'service-host'; service: string };

/** The service a reference points into, if any. */
export function referencedService(ref: Reference | undefined): string | undefined {
  return ref?.kind === 'service-port' || ref?.kind === 'service-address' || ref?.kind === 'service-host'
    ? ref.service
    : undefined;
}

export interface ReferenceMatch {
  text: string;
  offset: number;
  ref?: Reference;
  /** Why the text is not a reference, when it is not. */
  problem?: string;
}

const REF = /\$(\$?)\{([^}]*)\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export function findReferences(value: string): ReferenceMatch[] {
  const out: ReferenceMatch[] = [];
  // Every match of REF contains `${`; most strings have none (checked for every string of a stack).
  if (!value.includes('${')) return out;
  for (const m of value.matchAll(REF)) {
    if (m[1] === '$') continue; // escaped
    out.push({ text: m[0], offset: m.index ?? 0, ...parseReference(m[2] ?? '') });
  }
  return out;
}

function parseReference(body: string): { ref?: Reference; problem?: string } {
  const parts = body.trim().split('.');
  const bad = parts.find((p) => !NAME.test(p));
  if (bad !== undefined) return { problem: `\`\${${body}}\` is not a reference` };
  const [head, a, b, c] = parts;
  switch (head) {
    case 'port':
    case 'var':
    case 'secret':
    case 'volume':
      if (parts.length === 2 && a) return { ref: { kind: head, name: a } };
      break;
    case 'service':
      if (parts.length === 4 && a && b === 'port' && c) return { ref: { kind: 'service-port', service: a, port: c } };
      if (parts.length === 4 && a && (b === 'address' || b === 'url') && c)
        return { ref: { kind: 'service-address', service: a, port: c, form: b } };
      if (parts.length === 3 && a && b === 'host') return { ref: { kind: 'service-host', service: a } };
      break;
    default:
      break;
  }
  return { problem: `\`\${${body}}\` is not a known reference form` };
}

export const REFERENCE_FORMS =
  '${port.NAME}, ${var.NAME}, ${secret.NAME}, ${volume.NAME}, ${service.NAME.address.PORT}, ${service.NAME.url.PORT}, ${service.NAME.host}, ${service.NAME.port.PORT}';

/**
 * Replaces references for which `resolve` has a value. `unescape` turns `$${` into `${`; only the
 * last substitution (at run time) does that. Unknown forms are left as written.
 */
export function substitute(
  value: string,
  resolve: (ref: Reference) => string | undefined,
  opts: { unescape: boolean },
): string {
  if (!value.includes('${')) return value;
  return value.replace(REF, (whole, esc: string, body: string) => {
    if (esc === '$') return opts.unescape ? whole.slice(1) : whole;
    const { ref } = parseReference(body);
    if (!ref) return whole;
    const v = resolve(ref);
    return v === undefined ? whole : v;
  });
}

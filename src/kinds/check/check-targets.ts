/**
 * Recorded checks as the runner takes them: references in targets (`${service.api.url.http}`)
 * resolved against the recorded stable addresses of services, the push token's hash from
 * outputs. A reference without a value (the service has no address yet) does not stop the other
 * checks: that check fails each run, saying which reference.
 */
import { findReferences, substitute, type Reference } from '../../config/references.js';
import { address, type Address, type Json, type JsonObject, type ResourceKindName } from '../../model/resource.js';
import { parseCheckSpec, type CheckType } from '../../observe/checks/check-spec.js';
import type { RunnableCheck } from '../../observe/checks/check-runner.js';
import { errorMessage } from '../../util/error-message.js';
import { formatAddress, parseServiceAddress } from '../service/service-address.js';

export interface RecordedRow {
  address: Address;
  kind: ResourceKindName;
  spec: JsonObject;
  outputs: JsonObject;
}

function resolveRef(rows: Map<string, RecordedRow>, r: Reference): string | undefined {
  if (r.kind !== 'service-port' && r.kind !== 'service-address' && r.kind !== 'service-host') return undefined;
  const a = parseServiceAddress(rows.get(address('service', r.service))?.outputs.address);
  if (!a) return undefined;
  if (r.kind === 'service-host') return a.host;
  if (r.kind === 'service-port') return a.ports[r.port] === undefined ? undefined : String(a.ports[r.port]);
  return formatAddress(a, r.port, r.form);
}

function resolveDeep(v: Json, resolve: (s: string) => string): Json {
  if (typeof v === 'string') return resolve(v);
  if (Array.isArray(v)) return v.map((x) => resolveDeep(x, resolve));
  if (v && typeof v === 'object') {
    const o: JsonObject = {};
    for (const [k, x] of Object.entries(v)) o[k] = resolveDeep(x, resolve);
    return o;
  }
  return v;
}

/** The type of a recorded check spec (for a status row when the spec cannot be read). */
export function recordedCheckType(spec: JsonObject): CheckType {
  const t = spec.type;
  return t === 'http' || t === 'tcp' || t === 'dns' || t === 'tls' || t === 'exec' || t === 'push' ? t : 'exec';
}

export function runnableChecks(rows: readonly RecordedRow[]): RunnableCheck[] {
  const byAddress = new Map(rows.map((r) => [r.address as string, r]));
  const out: RunnableCheck[] = [];
  for (const row of rows) {
    if (row.kind !== 'check') continue;
    const name = row.address.slice('check.'.length);
    const missing: string[] = [];
    const resolve = (s: string): string => {
      for (const m of findReferences(s)) if (m.ref && resolveRef(byAddress, m.ref) === undefined) missing.push(m.text);
      return substitute(s, (r) => resolveRef(byAddress, r), { unescape: true });
    };
    const target = row.spec.target;
    const spec: JsonObject = { ...row.spec, target: target === undefined ? null : resolveDeep(target, resolve) };
    const hash = typeof row.outputs.token_hash === 'string' ? row.outputs.token_hash : undefined;
    try {
      const parsed = parseCheckSpec(name, spec);
      out.push({
        spec: parsed,
        ...(hash ? { pushTokenHash: hash } : {}),
        ...(missing.length
          ? { problem: `${missing.join(', ')} has no value yet (is the service applied and does it have that port?)` }
          : {}),
      });
    } catch (e) {
      // A spec recorded by another version: run nothing, say why on every run.
      const fallback = parseCheckSpec(name, {
        type: 'exec',
        interval: typeof row.spec.interval === 'string' ? row.spec.interval : '30s',
        timeout: '1s',
        failures: 1,
        successes: 1,
        target: { command: ['true'], shell: null },
      });
      out.push({
        spec: { ...fallback, target: { type: 'exec', argv: ['true'] } },
        problem: `the recorded check cannot be read: ${errorMessage(e)}`,
      });
    }
  }
  return out;
}

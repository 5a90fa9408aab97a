/**
 * Checks that need the whole document: references, dependencies, cycles, port conflicts.
 * Runs on whatever parts of the document have the right shape, so schema problems elsewhere
 * do not hide these.
 */
import path from 'node:path';
import { didYouMean } from '../util/did-you-mean.js';
import type { Diagnostic } from './diagnostic.js';
import { findReferences, REFERENCE_FORMS } from './references.js';
import { alertingChecks } from './alerting-checks.js';
import { oncallChecks } from './oncall-checks.js';
import { changeChecks } from './schema-change.js';
import { dnsChecks } from './dns-checks.js';
import { checkChecks } from './check-checks.js';
import { scrapeChecks } from './schema-scrape.js';
import { tlsChecks } from './tls-checks.js';
import { envFileChecks } from './env-file.js';

export type Locate = (path: (string | number)[], key?: boolean) => { line: number; column: number };

interface Ctx {
  file: string;
  locate: Locate;
  out: Diagnostic[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const keysOf = (v: unknown): string[] => (isObj(v) ? Object.keys(v) : []);

function push(
  ctx: Ctx,
  path: (string | number)[],
  d: Omit<Diagnostic, 'file' | 'line' | 'column' | 'path' | 'severity'> & { severity?: 'error' | 'warning' },
  key = false,
): void {
  const pos = ctx.locate(path, key);
  ctx.out.push({ severity: 'error', file: ctx.file, line: pos.line, column: pos.column, path: path.join('.'), ...d });
}

function suggest(name: string, candidates: string[], what: string): string {
  const guess = didYouMean(name, candidates);
  if (guess) return `did you mean \`${guess}\`?`;
  return candidates.length
    ? `use one of the declared ${what}: ${candidates.slice(0, 10).join(', ')}`
    : `declare it under ${what}`;
}

export function semanticChecks(doc: unknown, file: string, locate: Locate, dir = path.dirname(file)): Diagnostic[] {
  const ctx: Ctx = { file, locate, out: [] };
  if (!isObj(doc)) return ctx.out;
  const services = isObj(doc.services) ? doc.services : {};
  // Lists for suggestions (in document order), sets for membership: a large stack has thousands.
  const serviceNames = Object.keys(services);
  const varNames = keysOf(doc.variables);
  const secretNames = keysOf(doc.secrets);
  const volumeNames = keysOf(doc.volumes);
  const serviceSet = new Set(serviceNames);
  const varSet = new Set(varNames);
  const secretSet = new Set(secretNames);
  const volumeSet = new Set(volumeNames);
  const portNames = new Map<string, { names: string[]; set: Set<string> }>();
  const portsEntry = (svc: string) => {
    let e = portNames.get(svc);
    if (!e) {
      const names = keysOf((services[svc] as Record<string, unknown> | undefined)?.ports);
      e = { names, set: new Set(names) };
      portNames.set(svc, e);
    }
    return e;
  };
  const portsOf = (svc: string): string[] => portsEntry(svc).names;
  const hasPort = (svc: string, port: string): boolean => portsEntry(svc).set.has(port);
  const edges = new Map<string, Set<string>>();
  const edge = (from: string, to: string) => {
    if (!edges.has(from)) edges.set(from, new Set());
    edges.get(from)?.add(to);
  };

  const checkRefs = (
    value: unknown,
    path: (string | number)[],
    owner: string | undefined,
    where: 'env' | 'command' | 'other',
  ) => {
    if (typeof value !== 'string') return;
    for (const m of findReferences(value)) {
      if (!m.ref) {
        push(ctx, path, {
          code: 'invalid-value',
          message: m.problem ?? 'bad reference',
          found: m.text,
          expected: `one of ${REFERENCE_FORMS}`,
          fix: 'fix the reference, or write $${ for a literal ${',
        });
        continue;
      }
      const r = m.ref;
      const dangling = (what: string, name: string, candidates: string[], plural: string) =>
        push(ctx, path, {
          code: 'dangling-reference',
          message: `${m.text} refers to ${what} \`${name}\`, which is not declared`,
          expected: `a declared ${what}`,
          found: `\`${name}\``,
          fix: suggest(name, candidates, plural),
        });
      switch (r.kind) {
        case 'var':
          if (!varSet.has(r.name)) dangling('variable', r.name, varNames, 'variables');
          break;
        case 'secret':
          if (!secretSet.has(r.name)) dangling('secret', r.name, secretNames, 'secrets');
          else if (where !== 'env')
            push(ctx, path, {
              code: 'invalid-value',
              message: `${m.text} may only be used in env`,
              found: `a secret in ${path.join('.')}`,
              fix: 'pass the secret through an env variable; command lines are visible to every user (ps)',
            });
          break;
        case 'volume':
          if (!volumeSet.has(r.name)) dangling('volume', r.name, volumeNames, 'volumes');
          else if (owner) edge(`service.${owner}`, `volume.${r.name}`);
          break;
        case 'port':
          if (!owner)
            push(ctx, path, {
              code: 'invalid-value',
              message: `${m.text} only makes sense inside a service`,
              fix: 'use ${service.NAME.port.PORT} or a variable',
            });
          else if (!hasPort(owner, r.name)) dangling('port', r.name, portsOf(owner), `ports of service ${owner}`);
          break;
        case 'service-port':
        case 'service-address':
        case 'service-host': {
          if (!serviceSet.has(r.service)) {
            dangling('service', r.service, serviceNames, 'services');
            break;
          }
          if (r.kind !== 'service-host' && !hasPort(r.service, r.port)) {
            dangling(`port of service ${r.service}`, r.port, portsOf(r.service), `ports of service ${r.service}`);
            break;
          }
          if (r.kind === 'service-host' && portsOf(r.service).length === 0) {
            push(ctx, path, {
              code: 'invalid-value',
              message: `${m.text}: service \`${r.service}\` has no ports, so it has no address`,
              fix: `declare its ports under services.${r.service}.ports`,
            });
            break;
          }
          const target = services[r.service];
          const onSwarm = isObj(target) && target.runtime === 'swarm';
          // On Swarm, ${service.X.port.P} keeps its meaning: slot 1's host port (see swarm-service.ts).
          if (onSwarm && r.kind !== 'service-port') {
            push(ctx, path, {
              code: 'invalid-value',
              message: `${m.text}: service \`${r.service}\` runs on Swarm, which has no stable address here yet`,
              fix: `run ${r.service} with runtime process or docker, or reach it through a Swarm network`,
            });
            break;
          }
          if (!onSwarm && r.kind === 'service-port' && /(127\.0\.0\.1|localhost):$/.test(value.slice(0, m.offset))) {
            // The old meaning: the port of the first instance, on 127.0.0.1. It changed on every deploy.
            const name = (b: string) => `\${service.${r.service}.${b}.${r.port}}`;
            push(ctx, path, {
              code: 'invalid-value',
              message: `${m.text} is now the stable port of ${r.service} at its own address, not on ${value.slice(0, m.offset).endsWith('localhost:') ? 'localhost' : '127.0.0.1'}`,
              found: value,
              fix: `write ${name('address')} (host:port) or ${name('url')} (http://host:port); it stays the same across deploys, rollbacks and restarts`,
            });
            break;
          }
          if (owner) {
            if (r.service === owner)
              push(ctx, path, {
                code: 'invalid-value',
                message: `${m.text} refers to the service itself`,
                fix: r.kind === 'service-host' ? 'use 127.0.0.1' : `use \${port.${r.port}}`,
              });
            else edge(`service.${owner}`, `service.${r.service}`);
          }
          break;
        }
      }
    }
  };

  const fixedPorts = new Map<number, string>();
  for (const [name, raw] of Object.entries(services)) {
    if (!isObj(raw)) continue;
    const base = ['services', name];
    checkRefs(raw.command, [...base, 'command'], name, 'command');
    if (Array.isArray(raw.args)) raw.args.forEach((a, i) => checkRefs(a, [...base, 'args', i], name, 'command'));
    checkRefs(raw.cwd, [...base, 'cwd'], name, 'other');
    if (isObj(raw.env)) for (const [k, v] of Object.entries(raw.env)) checkRefs(v, [...base, 'env', k], name, 'env');
    if (Array.isArray(raw.depends_on)) {
      raw.depends_on.forEach((d, i) => {
        if (typeof d !== 'string') return;
        if (!serviceSet.has(d)) {
          push(ctx, [...base, 'depends_on', i], {
            code: 'dangling-reference',
            message: `service \`${name}\` depends on \`${d}\`, which is not declared`,
            found: `\`${d}\``,
            expected: 'a declared service',
            fix: suggest(
              d,
              serviceNames.filter((s) => s !== name),
              'services',
            ),
          });
        } else if (d === name) {
          push(ctx, [...base, 'depends_on', i], {
            code: 'cycle',
            message: `service \`${name}\` depends on itself`,
            fix: 'remove it from its own depends_on',
          });
        } else edge(`service.${name}`, `service.${d}`);
      });
    }
    const ports = isObj(raw.ports) ? raw.ports : {};
    const replicas = typeof raw.replicas === 'number' ? raw.replicas : 1;
    for (const [pn, pv] of Object.entries(ports)) {
      if (typeof pv !== 'number') continue;
      if (replicas > 1)
        push(ctx, [...base, 'ports', pn], {
          code: 'conflict',
          message: `port ${pn} is fixed at ${pv} but the service has ${replicas} replicas`,
          expected: 'one port per instance',
          found: `${replicas} instances sharing ${pv}`,
          fix: `use \`${pn}: auto\`, or set replicas: 1`,
        });
      const other = fixedPorts.get(pv);
      if (other)
        push(ctx, [...base, 'ports', pn], {
          code: 'conflict',
          message: `port ${pv} is already used by ${other}`,
          fix: 'choose another port, or use auto',
        });
      else fixedPorts.set(pv, `services.${name}.ports.${pn}`);
    }
    for (const probeKey of ['health', 'liveness'] as const) {
      const probe = raw[probeKey];
      if (!isObj(probe)) continue;
      const kinds = ['http', 'tcp', 'exec'].filter((k) => probe[k] !== undefined);
      if (kinds.length !== 1) {
        push(ctx, [...base, probeKey], {
          code: 'invalid-value',
          message: `\`${probeKey}\` needs exactly one of http, tcp or exec`,
          found: kinds.length ? kinds.join(' and ') : 'none',
          fix: kinds.length ? `keep one of ${kinds.join(', ')}` : 'add e.g. `http: { path: /healthz }`',
        });
      }
      for (const k of ['http', 'tcp'] as const) {
        const p = probe[k];
        if (!isObj(p)) continue;
        if (typeof p.port === 'string' && !hasPort(name, p.port)) {
          push(ctx, [...base, probeKey, k, 'port'], {
            code: 'dangling-reference',
            message: `${probeKey} probe uses port \`${p.port}\`, which service \`${name}\` does not declare`,
            fix: suggest(p.port, portsOf(name), `ports of service ${name}`),
          });
        } else if (p.port === undefined && portsOf(name).length === 0) {
          push(ctx, [...base, probeKey, k], {
            code: 'missing-key',
            message: `a${k === 'http' ? 'n' : ''} ${k} probe needs a port, and service \`${name}\` declares none`,
            fix: 'add `ports: { http: auto }` to the service',
          });
        }
      }
    }
    const runtime = typeof raw.runtime === 'string' ? raw.runtime : 'process';
    if (runtime === 'process') {
      if (raw.command === undefined)
        push(
          ctx,
          base,
          {
            code: 'missing-key',
            message: `service \`${name}\` needs a \`command\``,
            expected: 'a command to run',
            found: 'nothing',
            fix: 'add `command: ...`, or set `runtime: docker` with an `image:`',
          },
          true,
        );
      for (const k of ['image', 'mounts', 'dockerfile'] as const) {
        if (raw[k] !== undefined)
          push(
            ctx,
            [...base, k],
            {
              code: 'invalid-value',
              message: `\`${k}\` only applies to runtime docker or swarm`,
              found: `runtime ${runtime}`,
              fix: `set \`runtime: docker\`, or remove \`${k}\``,
            },
            true,
          );
      }
    } else {
      if (raw.image === undefined && raw.dockerfile === undefined)
        push(
          ctx,
          base,
          {
            code: 'missing-key',
            message: `service \`${name}\` runs on ${runtime} and needs an \`image\``,
            found: 'nothing',
            fix: 'add `image: NAME:TAG`' + (runtime === 'docker' ? ', or `dockerfile:` to build one' : ''),
          },
          true,
        );
      if (runtime === 'swarm' && raw.dockerfile !== undefined)
        push(
          ctx,
          [...base, 'dockerfile'],
          {
            code: 'unsupported',
            message: 'swarm services need a pushed image; `dockerfile` builds only for runtime docker',
            fix: 'build and tag the image, then set `image:`',
          },
          true,
        );
      if (raw.user !== undefined) {
        /* container user: passed to the engine */
      }
    }
    if (isObj(raw.mounts)) {
      for (const [target, src] of Object.entries(raw.mounts)) {
        if (typeof src === 'string' && !src.startsWith('/') && !volumeSet.has(src)) {
          push(ctx, ['services', name, 'mounts', target], {
            code: 'dangling-reference',
            message: `mount ${target} refers to volume \`${src}\`, which is not declared`,
            fix: suggest(src, volumeNames, 'volumes'),
          });
        } else if (typeof src === 'string' && volumeSet.has(src)) edge(`service.${name}`, `volume.${src}`);
      }
    }
  }

  const listenerNames = keysOf(doc.listeners);
  const listenerSet = new Set(listenerNames);
  const listenerPorts = new Map<number, string>();
  for (const [name, raw] of Object.entries(isObj(doc.listeners) ? doc.listeners : {})) {
    if (!isObj(raw)) continue;
    const base = ['listeners', name];
    if (typeof raw.port === 'number') {
      const other = listenerPorts.get(raw.port) ?? fixedPorts.get(raw.port);
      if (other)
        push(ctx, [...base, 'port'], {
          code: 'conflict',
          message: `listener port ${raw.port} is already used by ${other}`,
          fix: 'choose another port',
        });
      else listenerPorts.set(raw.port, `listeners.${name}`);
    }
    if (raw.protocol === 'tcp') {
      if (typeof raw.service !== 'string')
        push(
          ctx,
          base,
          {
            code: 'missing-key',
            message: `tcp listener \`${name}\` needs a \`service\``,
            fix: 'add `service: NAME` and `target_port: PORT`',
          },
          true,
        );
      else if (!serviceSet.has(raw.service))
        push(ctx, [...base, 'service'], {
          code: 'dangling-reference',
          message: `listener \`${name}\` forwards to service \`${raw.service}\`, which is not declared`,
          fix: suggest(raw.service, serviceNames, 'services'),
        });
      else if (typeof raw.target_port === 'string' && !hasPort(raw.service, raw.target_port))
        push(ctx, [...base, 'target_port'], {
          code: 'dangling-reference',
          message: `listener \`${name}\` uses port \`${raw.target_port}\`, which service \`${raw.service}\` does not declare`,
          fix: suggest(raw.target_port, portsOf(raw.service), `ports of service ${raw.service}`),
        });
      else if (raw.target_port === undefined)
        push(
          ctx,
          base,
          {
            code: 'missing-key',
            message: `tcp listener \`${name}\` needs a \`target_port\``,
            fix: `add \`target_port: ${portsOf(raw.service)[0] ?? 'PORT'}\``,
          },
          true,
        );
    } else if (raw.service !== undefined || raw.target_port !== undefined) {
      push(
        ctx,
        base,
        {
          code: 'invalid-value',
          message: `http listener \`${name}\` takes its services from routes`,
          fix: 'remove `service`/`target_port`, or set `protocol: tcp`',
        },
        true,
      );
    }
  }

  for (const [name, raw] of Object.entries(isObj(doc.volumes) ? doc.volumes : {})) {
    if (isObj(raw)) checkRefs(raw.path, ['volumes', name, 'path'], undefined, 'other');
  }

  if (Array.isArray(doc.routes)) {
    doc.routes.forEach((r, i) => {
      if (!isObj(r)) return;
      if (typeof r.service === 'string') {
        if (!serviceSet.has(r.service)) {
          push(ctx, ['routes', i, 'service'], {
            code: 'dangling-reference',
            message: `route ${i} sends traffic to service \`${r.service}\`, which is not declared`,
            found: `\`${r.service}\``,
            fix: suggest(r.service, serviceNames, 'services'),
          });
        } else if (typeof r.port === 'string' && !hasPort(r.service, r.port)) {
          push(ctx, ['routes', i, 'port'], {
            code: 'dangling-reference',
            message: `route ${i} uses port \`${r.port}\`, which service \`${r.service}\` does not declare`,
            fix: suggest(r.port, portsOf(r.service), `ports of service ${r.service}`),
          });
        }
      }
      if (isObj(r.match)) checkRefs(r.match.host, ['routes', i, 'match', 'host'], undefined, 'other');
      if (typeof r.listener === 'string') {
        const l = isObj(doc.listeners) ? doc.listeners[r.listener] : undefined;
        if (!listenerSet.has(r.listener))
          push(ctx, ['routes', i, 'listener'], {
            code: 'dangling-reference',
            message: `route ${i} belongs to listener \`${r.listener}\`, which is not declared`,
            fix: suggest(r.listener, listenerNames, 'listeners'),
          });
        else if (isObj(l) && l.protocol === 'tcp')
          push(ctx, ['routes', i, 'listener'], {
            code: 'invalid-value',
            message: `route ${i} is an HTTP route on tcp listener \`${r.listener}\``,
            fix: 'attach it to an http listener',
          });
      }
    });
  }

  ctx.out.push(...dnsChecks(doc, file, locate));
  ctx.out.push(...alertingChecks(doc, file, locate));
  ctx.out.push(...oncallChecks(doc, file, locate));
  ctx.out.push(...changeChecks(doc, file, locate));

  // Check targets may name services (${service.api.url.http}); secrets and ${port.X} make no sense there.
  for (const [name, raw] of Object.entries(isObj(doc.checks) ? doc.checks : {})) {
    if (!isObj(raw)) continue;
    const base = ['checks', name];
    if (isObj(raw.http)) checkRefs(raw.http.url, [...base, 'http', 'url'], undefined, 'other');
    checkRefs(raw.tcp, [...base, 'tcp'], undefined, 'other');
    if (isObj(raw.tls)) checkRefs(raw.tls.address, [...base, 'tls', 'address'], undefined, 'other');
    if (isObj(raw.dns)) checkRefs(raw.dns.name, [...base, 'dns', 'name'], undefined, 'other');
    if (isObj(raw.exec)) {
      checkRefs(raw.exec.shell, [...base, 'exec', 'shell'], undefined, 'command');
      if (Array.isArray(raw.exec.command))
        raw.exec.command.forEach((a, i) => checkRefs(a, [...base, 'exec', 'command', i], undefined, 'command'));
    }
  }
  ctx.out.push(...checkChecks(doc, file, locate));
  ctx.out.push(...scrapeChecks(doc, file, locate));
  ctx.out.push(...tlsChecks(doc, file, locate));
  for (const d of envFileChecks(services, dir, (p) => locate(p, false)))
    push(ctx, d.path, { code: 'invalid-value', message: d.message, fix: d.fix });

  // A person limited to a service that does not exist would hold a token for nothing (or, after
  // a rename, for the wrong thing): name it.
  if (isObj(doc.people))
    for (const [user, u] of Object.entries(doc.people)) {
      if (!isObj(u) || !Array.isArray(u.services)) continue;
      u.services.forEach((svc, i) => {
        if (typeof svc === 'string' && !serviceSet.has(svc))
          push(ctx, ['people', user, 'services', i], {
            code: 'dangling-reference',
            message: `person \`${user}\` is limited to service \`${svc}\`, which is not declared`,
            expected: 'a declared service',
            found: `\`${svc}\``,
            fix: suggest(svc, serviceNames, 'services'),
          });
      });
    }

  for (const cycle of findCycles(edges)) {
    const [kind, name] = (cycle[0] ?? '').split('.');
    push(
      ctx,
      [kind === 'service' ? 'services' : 'volumes', name ?? ''],
      {
        code: 'cycle',
        message: `dependency cycle: ${[...cycle, cycle[0]].join(' → ')}`,
        found: `${cycle.length} resources that wait for each other`,
        fix: 'remove one depends_on or reference in the cycle',
      },
      true,
    );
  }
  return ctx.out;
}

/** Every elementary cycle found by a depth-first search, each reported once. */
export function findCycles(edges: Map<string, Set<string>>): string[][] {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const visit = (n: string) => {
    state.set(n, 'visiting');
    stack.push(n);
    for (const m of [...(edges.get(n) ?? [])].sort()) {
      const s = state.get(m);
      if (s === 'visiting') {
        const cycle = stack.slice(stack.indexOf(m));
        const key = [...cycle].sort().join('|');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(cycle);
        }
      } else if (s === undefined) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of [...edges.keys()].sort()) if (!state.has(n)) visit(n);
  return cycles;
}

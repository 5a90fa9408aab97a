/**
 * A compose project → a Groundwork stack (the same shape as groundwork.yaml) and a report of what
 * was mapped, approximated and left out, each with the compose key's file:line.
 *
 * Networking. Groundwork runs containers on the host network and gives each service a stable
 * loopback address (127.77.x.y, derived from the stack and service names: loopbackHostFor). A
 * container reaches another by its compose name because the docker runtime writes an /etc/hosts
 * entry per name (GROUNDWORK_EXTRA_HOSTS, see src/runtime/docker/container-create.ts) pointing
 * at that address. Ports:
 *   - a container port stays where the image listens (`ports: { http: 8080 }`): on the host
 *     network `api:8080` reaches the instance directly, as in compose. One instance at a time
 *     (a deploy stops the old one before the new one takes the port);
 *   - when the service reads its port from the environment (`PORT: 8080` next to `8080:8080`,
 *     or `x-groundwork: { port_env: PORT }`), the port becomes `auto` and that variable
 *     `${port.NAME}`: instances get their own ports and deploys overlap with no failed request.
 *     Callers then reach it through the data plane at the stable address, whose port Groundwork
 *     allocates (30000-32767), so `api:8080` in other services' environment is rewritten to
 *     `api:${service.api.port.http}` (the name still resolves to the stable address). A port
 *     written in a command or a config file cannot be rewritten: the report says so.
 */
import path from 'node:path';
import type { ProbeConfig, ServiceConfig, StackConfig } from '../config/schema.js';
import { ENV_NAME_PATTERN } from '../config/schema-parts.js';
import { loopbackHostFor } from '../kinds/service/service-address.js';
import { EXTRA_HOSTS_ENV } from '../runtime/docker/container-create.js';
import type { ComposePort, ComposeProject, ComposeService, Pos } from './compose-project.js';

const ENV_NAME = new RegExp(ENV_NAME_PATTERN);

export type ReportKind = 'mapped' | 'approximated' | 'unsupported';

export interface ReportEntry {
  kind: ReportKind;
  /** e.g. services.web.ports[0] */
  key: string;
  at: Pos;
  message: string;
  /** What to do about it (approximated and unsupported). */
  fix?: string;
}

export interface ImportResult {
  stack: StackConfig;
  report: ReportEntry[];
  /** Comments for the written file: top-level key path → text. */
  comments: Map<string, string>;
}

const NAME_RE = /^[a-z][a-z0-9-]{0,62}$/;
/** The stack file's image pattern (src/config/schema.ts). */
const IMAGE_RE = /^[a-z0-9][a-z0-9._/:@-]*$/;
const DURATION_RE = /^(\d+(\.\d+)?(ms|s|m|h|d))+$/;
/** Container ports that speak HTTP in the images people run (proxied request by request). */
const HTTP_PORTS = new Set([
  80, 3000, 3001, 5000, 5678, 8000, 8008, 8080, 8081, 8088, 8096, 8443, 9000, 9090, 9093, 3100, 2283, 8384,
]);
const TLS_PORTS = new Set([443, 8443]);

/** A Groundwork name from a compose name: lowercase, `_` and `.` as `-`, starting with a letter. */
export function groundworkName(n: string): string {
  let s = n
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .replace(/-$/, '');
  if (!/^[a-z]/.test(s)) s = `s-${s}`;
  return s.slice(0, 63);
}

interface PortPlan {
  name: string;
  target: number;
  http: boolean;
  /** The instance port is allocated (the service reads it from `envVar`). */
  auto: boolean;
  envVar?: string;
}

export function composeToStack(project: ComposeProject, outDir: string): ImportResult {
  const report: ReportEntry[] = [];
  const comments = new Map<string, string>();
  const note = (kind: ReportKind, key: string, at: Pos, message: string, fix?: string) =>
    report.push({ kind, key, at, message, ...(fix ? { fix } : {}) });
  const stackName = groundworkName(project.name);
  const names = new Map(Object.keys(project.services).map((n) => [n, groundworkName(n)]));
  const rel = (p: string) => path.relative(outDir, p) || '.';

  // Ports first: other services' environment is rewritten against them.
  const portPlans = new Map<string, PortPlan[]>();
  for (const [cn, s] of Object.entries(project.services)) portPlans.set(cn, planPorts(s));

  // Hosts entries: every compose name (and network alias, hostname, container_name). A service
  // without declared ports gets one too: on the host network, a port its image listens on
  // (postgres on 5432) answers at any loopback address, its stable one included.
  const hostEntries: string[] = [];
  for (const [cn, s] of Object.entries(project.services)) {
    const host = loopbackHostFor(stackName, names.get(cn) as string);
    const aliases = new Set([cn, ...Object.values(s.networks).flatMap((n) => n.value.aliases)]);
    const hostname = s.other.hostname?.value;
    if (typeof hostname === 'string') aliases.add(hostname);
    const containerName = s.other.container_name?.value;
    if (typeof containerName === 'string') aliases.add(containerName);
    for (const a of aliases) hostEntries.push(`${a}=${host}`);
  }

  const volumes: NonNullable<StackConfig['volumes']> = {};
  for (const [vn, v] of Object.entries(project.volumes)) {
    const gv = groundworkName(vn);
    if (v.value.external === true)
      note(
        'approximated',
        `volumes.${vn}`,
        v.at,
        `external volume \`${vn}\` becomes a directory volumes/${gv} that Groundwork creates`,
        `copy the data of the Docker volume into volumes/${gv} (docker run --rm -v ${vn}:/from -v $PWD/volumes/${gv}:/to busybox cp -a /from/. /to/)`,
      );
    else if (v.value.driver !== undefined || v.value.driver_opts !== undefined)
      note(
        'approximated',
        `volumes.${vn}`,
        v.at,
        `volume driver options of \`${vn}\` are not used: it is a local directory`,
      );
    else note('mapped', `volumes.${vn}`, v.at, `named volume → volume ${gv} (directory volumes/${gv})`);
    volumes[gv] = { path: `volumes/${gv}` };
  }

  const secrets: NonNullable<StackConfig['secrets']> = {};
  for (const [sn, s] of Object.entries(project.secrets)) {
    const gs = groundworkName(sn);
    secrets[gs] = {
      description: `compose secret ${sn}${typeof s.value.file === 'string' ? ` (was the file ${s.value.file})` : ''}`,
    };
    note(
      'approximated',
      `secrets.${sn}`,
      s.at,
      `secret \`${sn}\` → stack secret ${gs}; services get it in an environment variable, not as a file under /run/secrets`,
      `set its value with \`groundwork secret set ${gs}\`${typeof s.value.file === 'string' ? ` (from ${s.value.file})` : ''}; a service that only reads /run/secrets/${sn} needs a *_FILE variable or a bind mount of the file`,
    );
  }
  for (const [cn, c] of Object.entries(project.configs))
    note(
      'unsupported',
      `configs.${cn}`,
      c.at,
      `config \`${cn}\` is not created`,
      'bind-mount the file into the services that read it',
    );
  for (const [nn, n] of Object.entries(project.networks))
    note(
      'approximated',
      `networks.${nn}`,
      n.at,
      `network \`${nn}\` is not created: containers use the host network and reach each other by name through their stable addresses (no isolation between networks)`,
    );
  for (const n of project.inactive)
    note(
      'mapped',
      `services.${n}`,
      { file: project.files[0] ?? '', line: 1, column: 1 },
      `service \`${n}\` is left out: not in an active profile`,
      'pass --profile NAME to include it',
    );

  // On the host network two containers cannot listen on one port: say so at the compose key.
  const fixedOwner = new Map<number, string>();
  for (const [cn, plans] of portPlans)
    for (const p of plans) {
      if (p.auto) continue;
      const other = fixedOwner.get(p.target);
      const s = project.services[cn] as ComposeService;
      const at =
        s.ports.find((x) => x.target === p.target)?.at ?? s.expose.find((x) => x.value === p.target)?.at ?? s.at;
      if (other)
        note(
          'unsupported',
          `services.${cn}.ports`,
          at,
          `container port ${p.target} of ${cn} is also the port of ${other}: containers share the host network, so both cannot listen on it`,
          `make one of them listen elsewhere: set its port in the environment (PORT: "${p.target}" next to the port, or x-groundwork: { port_env: NAME }) so that Groundwork allocates it, or change the port the image listens on`,
        );
      else fixedOwner.set(p.target, cn);
    }

  const services: NonNullable<StackConfig['services']> = {};
  const listeners: NonNullable<StackConfig['listeners']> = {};
  const routes: NonNullable<StackConfig['routes']> = [];
  for (const [cn, s] of Object.entries(project.services)) {
    const gn = names.get(cn) as string;
    const key = (k: string) => `services.${cn}.${k}`;
    const svc: ServiceConfig = { runtime: 'docker' };
    if (gn !== cn)
      note(
        'approximated',
        `services.${cn}`,
        s.at,
        `service \`${cn}\` is named ${gn} (Groundwork names are lowercase with dashes)`,
      );
    const plans = portPlans.get(cn) ?? [];

    // Image or build.
    if (s.build) {
      svc.dockerfile = s.build.value.dockerfile ?? 'Dockerfile';
      svc.source = { path: rel(s.build.value.context) };
      note(
        'mapped',
        key('build'),
        s.build.at,
        `build context ${rel(s.build.value.context)} → source.path, dockerfile ${svc.dockerfile}`,
      );
      if (s.build.value.args)
        note(
          'unsupported',
          key('build.args'),
          s.build.at,
          'build args are not passed to the build',
          'write their values into the Dockerfile as ARG defaults',
        );
      if (s.image)
        note(
          'approximated',
          key('image'),
          s.image.at,
          `the built image is tagged by Groundwork, not as ${s.image.value}`,
        );
    } else if (s.image) {
      svc.image = s.image.value;
      if (IMAGE_RE.test(s.image.value)) note('mapped', key('image'), s.image.at, `image ${s.image.value}`);
      else
        note(
          'unsupported',
          key('image'),
          s.image.at,
          `image reference ${s.image.value} has characters the stack file does not accept (uppercase letters or _ in a tag)`,
          'tag the image with a lowercase tag (docker tag IMAGE NEWNAME) and use that name',
        );
    } else
      note(
        'unsupported',
        `services.${cn}`,
        s.at,
        `service \`${cn}\` has neither image nor build`,
        'add image: or build:',
      );

    // Command and entrypoint.
    const cmd = s.command ? argv(s.command.value) : undefined;
    const ep = s.entrypoint ? argv(s.entrypoint.value) : undefined;
    if (ep && ep.length > 0) {
      svc.command = escapeRefs(ep[0] as string);
      svc.args = [...ep.slice(1), ...(cmd ?? [])].map(escapeRefs);
      note(
        'mapped',
        key('entrypoint'),
        s.entrypoint?.at as Pos,
        'entrypoint (and command) → command + args, run without a shell',
      );
    } else if (cmd) {
      svc.args = cmd.map(escapeRefs);
      note(
        'mapped',
        key('command'),
        s.command?.at as Pos,
        "command → args (replaces the image's CMD, its ENTRYPOINT stays)",
      );
    }

    // Ports.
    if (plans.length) {
      svc.ports = Object.fromEntries(plans.map((p) => [p.name, p.auto ? 'auto' : p.target]));
    }
    for (const p of plans)
      if (p.auto)
        note(
          'approximated',
          key('ports'),
          s.ports.find((x) => x.target === p.target)?.at ?? s.at,
          `container port ${p.target} is allocated per instance (the service reads it from ${p.envVar}), so deploys overlap; other services reach it at ${cn}:\${service.${gn}.port.${p.name}}`,
          `a port written in a command or a config file elsewhere must use the stable port: see \`groundwork status\``,
        );
    for (const port of s.ports) {
      const plan = plans.find((p) => p.target === port.target);
      if (port.protocol !== 'tcp' || !plan) {
        note(
          'unsupported',
          key('ports'),
          port.at,
          `${port.protocol} port ${port.target} is not forwarded: Groundwork's data plane forwards TCP`,
          'run the service on the host network port itself (it already is: containers use the host network)',
        );
        continue;
      }
      if (port.published === undefined || port.published === '') {
        note(
          'mapped',
          key('ports'),
          port.at,
          `port ${port.target} without a published port: reachable at the stable address only`,
        );
        continue;
      }
      if (!/^\d+$/.test(port.published)) {
        note(
          'unsupported',
          key('ports'),
          port.at,
          `published port range ${port.published} is not supported`,
          'publish one port per line',
        );
        continue;
      }
      const published = Number(port.published);
      if (published === port.target && !plan.auto) {
        note(
          'approximated',
          key('ports'),
          port.at,
          `${published}:${port.target}: the container listens on host port ${published} itself (host network); no listener is needed, and ${port.host_ip ? `the bind address ${port.host_ip} is not applied` : 'it is reachable on every address'}`,
        );
        continue;
      }
      const ln = groundworkName(`${gn}-${published}`);
      const address = port.host_ip ?? '0.0.0.0';
      if (plan.http) {
        listeners[ln] = { port: published, address, protocol: 'http' };
        routes.push({ listener: ln, match: { path: '/' }, service: gn, port: plan.name });
        note(
          'mapped',
          key('ports'),
          port.at,
          `${published}:${port.target} → http listener ${ln} on ${address}:${published} with a route to ${gn}:${plan.name}`,
        );
      } else {
        listeners[ln] = { port: published, address, protocol: 'tcp', service: gn, target_port: plan.name };
        note(
          'mapped',
          key('ports'),
          port.at,
          `${published}:${port.target} → tcp listener ${ln} on ${address}:${published} forwarding to ${gn}:${plan.name}${TLS_PORTS.has(port.target) ? ' (TLS passes through)' : ''}`,
        );
      }
    }

    // Environment.
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.environment)) {
      if (!ENV_NAME.test(k)) {
        note(
          'unsupported',
          key(`environment.${k}`),
          v.at,
          `environment name \`${k}\` is not a valid variable name for Groundwork`,
          'rename it with letters, digits, _ and . (not starting with a digit)',
        );
        continue;
      }
      const plan = plans.find((p) => p.envVar === k);
      if (plan) {
        env[k] = `\${port.${plan.name}}`;
        continue;
      }
      if (v.value === null) {
        note(
          'unsupported',
          key(`environment.${k}`),
          v.at,
          `\`${k}\` without a value is taken from the shell of \`docker compose up\`; Groundwork has no such shell`,
          `write its value, or use a stack variable: ${k}: \${var.${k.toLowerCase()}}`,
        );
        continue;
      }
      const { text, rewrites } = rewriteAddresses(escapeRefs(v.value), project, names, portPlans);
      env[k] = text;
      for (const r of rewrites)
        note(
          'approximated',
          key(`environment.${k}`),
          v.at,
          `${r} → stable port of the service (its instances' ports are allocated)`,
        );
    }
    if (hostEntries.length) env[EXTRA_HOSTS_ENV] = hostEntries.join(' ');
    for (const sec of s.secrets) {
      const gs = groundworkName(sec.value.source);
      const ev = `${gs.toUpperCase().replace(/-/g, '_')}`;
      env[ev] = `\${secret.${gs}}`;
      note(
        'approximated',
        key('secrets'),
        sec.at,
        `secret ${sec.value.source} → environment variable ${ev} (not the file /run/secrets/${sec.value.target ?? sec.value.source})`,
        `make the service read ${ev}, or its *_FILE variant from a mounted file`,
      );
    }
    if (Object.keys(env).length) svc.env = env;

    // Volumes and mounts.
    const mounts: Record<string, string> = {};
    for (const m of s.volumes) {
      if (m.type === 'volume' && m.source) {
        const gv = groundworkName(m.source);
        if (!volumes[gv]) volumes[gv] = { path: `volumes/${gv}` };
        mounts[m.target] = gv;
        note(
          m.read_only ? 'approximated' : 'mapped',
          key('volumes'),
          m.at,
          `volume ${m.source} at ${m.target}${m.read_only ? ' (read-write: mounts have no read-only flag)' : ''}`,
        );
      } else if (m.type === 'volume') {
        const gv = groundworkName(`${gn}${m.target.replace(/\//g, '-')}`);
        volumes[gv] = { path: `volumes/${gv}` };
        mounts[m.target] = gv;
        note(
          'approximated',
          key('volumes'),
          m.at,
          `anonymous volume at ${m.target} → volume ${gv} (kept across restarts, unlike an anonymous volume)`,
        );
      } else if (m.type === 'bind' && m.source) {
        if (m.source.startsWith('~')) {
          note('unsupported', key('volumes'), m.at, `bind mount ${m.source} uses ~`, 'write the absolute path');
          continue;
        }
        mounts[m.target] = m.source;
        note(
          'approximated',
          key('volumes'),
          m.at,
          `bind mount → ${m.source} (absolute path: mounts take host paths as written)${m.read_only ? '; read-write, mounts have no read-only flag' : ''}`,
        );
      } else
        note(
          'unsupported',
          key('volumes'),
          m.at,
          `${m.type} mount at ${m.target} is not supported`,
          'use a named volume or a bind mount',
        );
    }
    if (Object.keys(mounts).length) svc.mounts = mounts;

    // Health.
    const hc = s.other.healthcheck;
    if (hc && isObj(hc.value)) {
      const probe = healthOf(hc.value, plans);
      if (probe.probe) svc.health = probe.probe;
      note(probe.kind, key('healthcheck'), hc.at, probe.message, probe.fix);
    }

    // Dependencies.
    const deps = Object.entries(s.depends_on).filter(([d, dep]) => {
      if (project.services[d]) return true;
      note(
        'unsupported',
        key(`depends_on.${d}`),
        dep.at,
        `depends on \`${d}\`, which is not an active service`,
        'add the service, or its profile',
      );
      return false;
    });
    if (deps.length) {
      svc.depends_on = deps.map(([d]) => names.get(d) as string);
      for (const [d, dep] of deps)
        note(
          dep.condition === 'service_completed_successfully' ? 'approximated' : 'mapped',
          key(`depends_on.${d}`),
          dep.at,
          dep.condition === 'service_completed_successfully'
            ? `${d} must complete → ${d} is applied first (Groundwork runs services, it does not wait for one to exit)`
            : `${d} (${dep.condition}) → depends_on: ${d} is applied first and its instances are ready before ${gn} starts`,
        );
    }

    // Restart, replicas, resources, stop grace.
    const restart = s.other.restart;
    if (restart) {
      const r = String(restart.value);
      const map: Record<string, ServiceConfig['restart']> = {
        no: 'never',
        always: 'always',
        'unless-stopped': 'always',
        'on-failure': 'on-failure',
      };
      const gr = map[r.split(':')[0] ?? ''];
      if (gr) svc.restart = gr;
      note(
        r === 'unless-stopped' || r.includes(':') ? 'approximated' : 'mapped',
        key('restart'),
        restart.at,
        `restart ${r} → ${gr ?? 'default (always)'}`,
      );
    } else svc.restart = 'never';
    const deploy = isObj(s.other.deploy?.value) ? (s.other.deploy?.value as Record<string, unknown>) : {};
    const deployAt = s.other.deploy?.at ?? s.at;
    const scale = s.other.scale?.value;
    const replicas =
      typeof deploy.replicas === 'number' ? deploy.replicas : typeof scale === 'number' ? scale : undefined;
    if (replicas !== undefined) {
      svc.replicas = replicas;
      note(
        'mapped',
        typeof deploy.replicas === 'number' ? key('deploy.replicas') : key('scale'),
        typeof deploy.replicas === 'number' ? deployAt : (s.other.scale?.at ?? s.at),
        `replicas ${replicas}`,
      );
    }
    const limits = isObj(deploy.resources) && isObj(deploy.resources.limits) ? deploy.resources.limits : {};
    const memory = limits.memory ?? s.other.mem_limit?.value;
    const cpus = limits.cpus ?? s.other.cpus?.value;
    if (memory !== undefined || cpus !== undefined) {
      const resources: NonNullable<ServiceConfig['resources']> = {};
      const mem = memory === undefined ? undefined : byteSize(String(memory));
      if (mem) resources.memory = mem;
      if (cpus !== undefined && Number(cpus) > 0) resources.cpu = Number(cpus);
      svc.resources = resources;
      note(
        'mapped',
        key('deploy.resources'),
        deployAt,
        `limits → resources${mem ? ` memory ${mem}` : ''}${resources.cpu ? ` cpu ${resources.cpu}` : ''}`,
      );
    }
    const grace = s.other.stop_grace_period;
    if (grace) {
      const g = String(grace.value);
      if (DURATION_RE.test(g)) svc.stop_grace = g;
      note(
        DURATION_RE.test(g) ? 'mapped' : 'unsupported',
        key('stop_grace_period'),
        grace.at,
        `stop_grace_period ${g}${DURATION_RE.test(g) ? ' → stop_grace' : ' is not a duration Groundwork reads'}`,
      );
    }

    // What has no place in a Groundwork service.
    if (s.other.user)
      note(
        'approximated',
        key('user'),
        s.other.user.at,
        `user ${String(s.other.user.value)} is not set: Groundwork's user: is a host OS user; the container runs as its image's user`,
        'set USER in the image',
      );
    if (s.other.working_dir)
      note(
        'approximated',
        key('working_dir'),
        s.other.working_dir.at,
        `working_dir ${String(s.other.working_dir.value)} is not set: the image's WORKDIR is used`,
        'set WORKDIR in the image, or cd in the command',
      );
    if (Object.keys(s.labels).length)
      note(
        'unsupported',
        key('labels'),
        Object.values(s.labels)[0]?.at ?? s.at,
        `labels (${Object.keys(s.labels).join(', ')}) are not put on the containers`,
        'Groundwork labels its containers itself; routes replace proxy labels (traefik.*)',
      );
    for (const [k, kind, message] of QUIET_KEYS) {
      const v = s.other[k];
      if (v) note(kind, key(k), v.at, message);
    }
    const nm = s.other.network_mode;
    if (nm?.value === 'host')
      note('mapped', key('network_mode'), nm.at, 'network_mode host: every Groundwork container uses the host network');
    else if (nm)
      note(
        'unsupported',
        key('network_mode'),
        nm.at,
        `network_mode ${String(nm.value)}: containers always use the host network`,
        'remove network_mode; reach other services by name',
      );
    for (const k of IGNORED_KEYS)
      if (s.other[k])
        note(
          'unsupported',
          key(k),
          s.other[k].at,
          `\`${k}\` is not supported by Groundwork's docker runtime and is left out`,
          IGNORED_FIX[k] ?? 'remove it, or run this service with docker compose',
        );
    for (const k of Object.keys(s.other))
      if (!HANDLED_KEYS.has(k) && !IGNORED_KEYS.includes(k) && !k.startsWith('x-'))
        note(
          'unsupported',
          key(k),
          s.other[k]?.at as Pos,
          `\`${k}\` is left out`,
          'remove it, or run this service with docker compose',
        );
    services[gn] = svc;
  }

  const stack: StackConfig = { stack: stackName };
  if (Object.keys(secrets).length) stack.secrets = secrets;
  if (Object.keys(services).length) stack.services = services;
  if (Object.keys(volumes).length) stack.volumes = volumes;
  if (routes.length) stack.routes = routes;
  if (Object.keys(listeners).length) stack.listeners = listeners;
  comments.set('stack', `Imported by \`groundwork import compose\` from ${project.files.map(rel).join(', ')}`);
  for (const [cn, s] of Object.entries(project.services))
    comments.set(`services.${names.get(cn)}`, `compose service ${cn} (${rel(s.at.file)}:${s.at.line})`);
  if (hostEntries.length)
    comments.set(
      'env-hosts',
      `${EXTRA_HOSTS_ENV}: /etc/hosts entries in the container, so compose service names resolve to stable addresses`,
    );
  return { stack, report, comments };
}

const HANDLED_KEYS = new Set([
  'healthcheck',
  'restart',
  'deploy',
  'scale',
  'mem_limit',
  'cpus',
  'stop_grace_period',
  'user',
  'working_dir',
  'network_mode',
  'env_file',
  'hostname',
  'container_name',
  'links',
  'pull_policy',
  'logging',
  'init',
  'tty',
  'stdin_open',
]);
/** Keys with nothing to carry over, each said in the report all the same. */
const QUIET_KEYS: [string, ReportKind, string][] = [
  ['links', 'mapped', 'links: every service name resolves already (hosts entries)'],
  ['init', 'mapped', 'init: every Groundwork container runs under an init (tini)'],
  ['logging', 'approximated', "logging: Groundwork's json-file rotation (10 MB × 3) is used"],
  ['pull_policy', 'approximated', 'pull_policy: a missing image is pulled, a present one is used'],
  ['tty', 'approximated', 'tty: containers run without a terminal'],
  ['stdin_open', 'approximated', 'stdin_open: containers run without stdin'],
  [
    'hostname',
    'mapped',
    'hostname: resolves to the stable address like the service name (the container keeps the host name)',
  ],
  [
    'container_name',
    'approximated',
    'container_name: Groundwork names containers gw-<stack>-<instance>; the name resolves to the stable address',
  ],
  ['env_file', 'mapped', 'env_file: read into env (environment wins)'],
];
const IGNORED_KEYS = [
  'cap_add',
  'cap_drop',
  'devices',
  'privileged',
  'sysctls',
  'ulimits',
  'shm_size',
  'security_opt',
  'tmpfs',
  'extra_hosts',
  'dns',
  'group_add',
  'read_only',
  'pid',
  'ipc',
  'stop_signal',
  'volumes_from',
  'configs',
];
const IGNORED_FIX: Record<string, string> = {
  extra_hosts: 'add the hosts to the image, or reach the machine by its address',
  tmpfs: 'use a volume',
  configs: 'bind-mount the config file instead',
};

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The service's ports: published and exposed container ports, named, and whether they are allocated. */
function planPorts(s: ComposeService): PortPlan[] {
  const targets: number[] = [];
  const add = (t: number) => {
    if (Number.isInteger(t) && t > 0 && t < 65536 && !targets.includes(t)) targets.push(t);
  };
  for (const p of s.ports) if (p.protocol === 'tcp') add(p.target);
  for (const e of s.expose) add(e.value);
  const ext = s.other['x-groundwork']?.value;
  const portEnv = isObj(ext) && typeof ext.port_env === 'string' ? ext.port_env : undefined;
  let httpSeen = false;
  return targets.map((t, i): PortPlan => {
    const http = HTTP_PORTS.has(t) && !TLS_PORTS.has(t);
    const name = http ? (httpSeen ? `http-${t}` : 'http') : `p${t}`;
    if (http) httpSeen = true;
    // The service reads its port from the environment: a *PORT variable set to this very port.
    const envVar =
      (i === 0 ? portEnv : undefined) ??
      Object.entries(s.environment).find(([k, v]) => /(^|_)PORT$/.test(k) && v.value === String(t))?.[0];
    return { name, target: t, http, auto: envVar !== undefined, ...(envVar ? { envVar } : {}) };
  });
}

/** `${` is Groundwork's reference syntax: a literal one in compose text is escaped. */
function escapeRefs(s: string): string {
  // A function, not a replacement string: there `$$` would mean one `$`.
  return s.replace(/\$\{/g, () => '$${');
}

/**
 * `name:PORT` of a service whose port is allocated → `name:${service.N.port.P}`: the name still
 * resolves (hosts entry), the port is the stable address's.
 */
function rewriteAddresses(
  text: string,
  project: ComposeProject,
  names: Map<string, string>,
  plans: Map<string, PortPlan[]>,
): { text: string; rewrites: string[] } {
  const rewrites: string[] = [];
  const out = text.replace(
    /(?<![A-Za-z0-9_.-])([A-Za-z0-9][A-Za-z0-9_.-]*):(\d{1,5})(?!\d)/g,
    (whole, host: string, port: string) => {
      if (!project.services[host]) return whole;
      const plan = (plans.get(host) ?? []).find((p) => p.target === Number(port));
      if (!plan?.auto) return whole;
      rewrites.push(whole);
      return `${host}:\${service.${names.get(host)}.port.${plan.name}}`;
    },
  );
  return { text: out, rewrites };
}

/** Compose's string command is split like a shell would split words (no expansion). */
export function argv(v: string[] | string): string[] {
  if (Array.isArray(v)) return v;
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let has = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i] as string;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < v.length) cur += v[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < v.length) {
      cur += v[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else cur += c;
  }
  if (has || cur) out.push(cur);
  return out;
}

/** `512m`, `1g`, `1.5G`, `256MiB` → a size Groundwork reads. */
export function byteSize(s: string): string | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(s.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? '').toUpperCase();
  return unit ? `${m[1]}${unit}iB` : `${m[1]}B`;
}

function healthOf(
  hc: Record<string, unknown>,
  plans: PortPlan[],
): { kind: ReportKind; probe?: ProbeConfig; message: string; fix?: string } {
  const test = hc.test;
  const testText = Array.isArray(test) ? test.map(String) : typeof test === 'string' ? ['CMD-SHELL', test] : [];
  if (hc.disable === true || testText[0] === 'NONE')
    return { kind: 'mapped', message: 'healthcheck disabled → no health probe' };
  const timing: Partial<ProbeConfig> = {};
  const notes: string[] = [];
  for (const [c, g] of [
    ['interval', 'interval'],
    ['timeout', 'timeout'],
    ['start_period', 'start_period'],
  ] as const) {
    const v = hc[c];
    if (typeof v !== 'string') continue;
    if (DURATION_RE.test(v)) timing[g] = v;
    else notes.push(`${c} ${v} is not read`);
  }
  if (typeof hc.retries === 'number' && hc.retries >= 1) timing.unhealthy = Math.min(100, hc.retries);
  const shell = testText.slice(1).join(' ');
  // An HTTP check of the container itself (curl/wget localhost) becomes an HTTP probe.
  const url = /https?:\/\/(?:localhost|127\.0\.0\.1|0\.0\.0\.0)(?::(\d+))?(\/[^\s'"|;&]*)?/.exec(shell);
  if (url) {
    const port = Number(url[1] ?? 80);
    const plan = plans.find((p) => p.target === port) ?? plans[0];
    if (plan && !plan.auto) {
      return {
        kind: notes.length ? 'approximated' : 'mapped',
        probe: { http: { path: url[2] ?? '/', port: plan.name }, ...timing },
        message: `healthcheck ${shell} → http probe ${url[2] ?? '/'} on ${plan.name}${notes.length ? `; ${notes.join(', ')}` : ''}`,
      };
    }
    if (plan)
      return {
        kind: 'approximated',
        probe: { http: { path: url[2] ?? '/', port: plan.name }, ...timing },
        message: `healthcheck ${shell} → http probe ${url[2] ?? '/'} on ${plan.name} (its allocated port)`,
      };
  }
  const first = plans[0];
  if (first)
    return {
      kind: 'approximated',
      probe: { tcp: { port: first.name }, ...timing },
      message: `healthcheck \`${shell}\` runs inside the container; Groundwork probes from the host: → tcp probe on ${first.name}`,
      fix: 'if the port accepts connections before the service is ready, give it an HTTP endpoint and write an http probe',
    };
  return {
    kind: 'unsupported',
    message: `healthcheck \`${shell}\` runs inside the container and the service has no port to probe from the host`,
    fix: 'expose a port (expose:) so that Groundwork can probe it',
  };
}

export { NAME_RE };
export type { ComposePort };

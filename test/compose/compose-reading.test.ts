/**
 * The compose-reading rules, each on a small file in a temporary directory: interpolation, .env,
 * env_file, extends, profiles, -f merging, short and long syntaxes, and located errors.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { interpolate, InterpolationError, parseDotEnv } from '../../src/compose/interpolate.js';
import { loadCompose, parseMount, parsePort, type ComposeProject } from '../../src/compose/compose-project.js';
import { argv, byteSize, composeToStack } from '../../src/compose/to-stack.js';
import { extraHosts } from '../../src/runtime/docker/container-create.js';

const at = { file: 'f', line: 1, column: 1 };
let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

function files(entries: Record<string, string>): string {
  dir = mkdtempSync(path.join(os.tmpdir(), 'gw-compose-read-'));
  for (const [n, t] of Object.entries(entries)) writeFileSync(path.join(dir, n), t);
  return dir;
}

function load(entries: Record<string, string>, names: string[], env: Record<string, string> = {}, profiles?: string[]) {
  const d = files(entries);
  return loadCompose({ files: names.map((n) => path.join(d, n)), env, ...(profiles ? { profiles } : {}) });
}

function project(r: ReturnType<typeof load>): ComposeProject {
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r.project as ComposeProject;
}

describe('interpolation', () => {
  const env: Record<string, string> = { A: 'a', EMPTY: '' };
  const get = (n: string) => env[n];
  it.each([
    ['$A ${A}', 'a a'],
    ['${MISSING:-d} ${EMPTY:-d} ${EMPTY-d} ${MISSING-d}', 'd d  d'],
    ['${A:+set} ${EMPTY:+set} ${EMPTY+set}', 'set  set'],
    ['$$A $${A} a $ b', '$A ${A} a $ b'],
    ['${MISSING:-${A}-x}', 'a-x'],
  ])('%s → %s', (text, want) => {
    expect(interpolate(text, get)).toBe(want);
  });

  it('a required variable that is missing or empty fails with the file’s message', () => {
    expect(() => interpolate('${MISSING:?set it in .env}', get)).toThrow(
      new InterpolationError('required variable MISSING is not set: set it in .env'),
    );
    expect(() => interpolate('${EMPTY:?}', get)).toThrow(/EMPTY is empty/);
    expect(interpolate('${EMPTY?}', get)).toBe('');
  });

  it('.env: comments, export, quotes, references to lines above', () => {
    const v = parseDotEnv('# c\nexport A=1\nB=\'$A lit\'\nC="x${A}\\ny"\nD=plain # comment\nE\n', (n) =>
      n === 'E' ? 'from-env' : undefined,
    );
    expect(Object.fromEntries(v)).toEqual({ A: '1', B: '$A lit', C: 'x1\ny', D: 'plain', E: 'from-env' });
  });
});

describe('short and long syntaxes', () => {
  it('ports', () => {
    const t = (p: unknown) => parsePort(p, at).map(({ at: _at, ...rest }) => rest);
    expect(t('80')).toEqual([{ target: 80, protocol: 'tcp' }]);
    expect(t('8080:80/udp')).toEqual([{ target: 80, published: '8080', protocol: 'udp' }]);
    expect(t('127.0.0.1:8080:80')).toEqual([{ target: 80, published: '8080', host_ip: '127.0.0.1', protocol: 'tcp' }]);
    expect(t('[::1]:53:53')).toEqual([{ target: 53, published: '53', host_ip: '::1', protocol: 'tcp' }]);
    expect(t('9000-9001:9000-9001')).toEqual([
      { target: 9000, published: '9000', protocol: 'tcp' },
      { target: 9001, published: '9001', protocol: 'tcp' },
    ]);
    expect(t({ target: 80, published: '8080', host_ip: '0.0.0.0', protocol: 'tcp' })).toEqual([
      { target: 80, published: '8080', host_ip: '0.0.0.0', protocol: 'tcp' },
    ]);
  });

  it('volumes', () => {
    const t = (m: unknown) => {
      const { at: _at, ...rest } = parseMount(m, '/srv/app', at);
      return rest;
    };
    expect(t('data:/var/lib/x')).toEqual({ type: 'volume', source: 'data', target: '/var/lib/x', read_only: false });
    expect(t('./conf:/etc/x:ro')).toEqual({ type: 'bind', source: '/srv/app/conf', target: '/etc/x', read_only: true });
    expect(t('/cache')).toEqual({ type: 'volume', target: '/cache', read_only: false });
    expect(t({ type: 'bind', source: '../shared', target: '/s', read_only: true })).toEqual({
      type: 'bind',
      source: '/srv/shared',
      target: '/s',
      read_only: true,
    });
  });

  it('commands are split like shell words', () => {
    expect(argv(`sh -c "echo 'a b'" x\\ y ''`)).toEqual(['sh', '-c', "echo 'a b'", 'x y', '']);
    expect(argv(['a b'])).toEqual(['a b']);
  });

  it('sizes', () => {
    expect(byteSize('512M')).toBe('512MiB');
    expect(byteSize('1g')).toBe('1GiB');
    expect(byteSize('1.5GB')).toBe('1.5GiB');
    expect(byteSize('1024')).toBe('1024B');
  });

  it('environment and depends_on lists and maps read the same', () => {
    const p = project(
      load(
        {
          'compose.yaml':
            'services:\n  a:\n    image: x\n    environment: [K=v, BARE]\n    depends_on: [b]\n  b:\n    image: y\n    environment: { K: v, N: 1 }\n    depends_on:\n      a: { condition: service_healthy }\n',
        },
        ['compose.yaml'],
      ),
    );
    expect(p.services.a?.environment.K?.value).toBe('v');
    expect(p.services.a?.environment.BARE?.value).toBeNull();
    expect(p.services.b?.environment.N?.value).toBe('1');
    expect(p.services.a?.depends_on.b?.condition).toBe('service_started');
    expect(p.services.b?.depends_on.a?.condition).toBe('service_healthy');
    expect(p.services.b?.depends_on.a?.at.line).toBe(10);
  });
});

describe('files, extends, profiles', () => {
  it('.env feeds interpolation and the process environment wins', () => {
    const p = project(
      load(
        { '.env': 'TAG=1.0\nREG=from-dotenv\n', 'compose.yaml': 'services:\n  a:\n    image: ${REG}/app:${TAG}\n' },
        ['compose.yaml'],
        {
          REG: 'from-env',
        },
      ),
    );
    expect(p.services.a?.image?.value).toBe('from-env/app:1.0');
  });

  it('env_file is read, environment wins over it, a missing one is located', () => {
    const p = project(
      load(
        {
          'app.env': 'A=file\nB=file\n',
          'compose.yaml': 'services:\n  a:\n    image: x\n    env_file: app.env\n    environment: { B: own }\n',
        },
        ['compose.yaml'],
      ),
    );
    expect(p.services.a?.environment.A?.value).toBe('file');
    expect(p.services.a?.environment.B?.value).toBe('own');
    const bad = load({ 'compose.yaml': 'services:\n  a:\n    image: x\n    env_file: [nope.env]\n' }, ['compose.yaml']);
    expect(bad.project).toBeUndefined();
    expect(bad.diagnostics[0]).toMatchObject({
      line: 4,
      message: expect.stringMatching(/env_file .*nope\.env does not exist/),
    });
  });

  it('-f files merge in order: scalars replaced, maps merged, ports appended, volumes by target', () => {
    const p = project(
      load(
        {
          'a.yaml':
            'services:\n  w:\n    image: w:1\n    command: one\n    environment: { A: "1", B: "1" }\n    ports: ["80:80"]\n    volumes: ["d:/data", "./x:/x"]\n',
          'b.yaml':
            'services:\n  w:\n    image: w:2\n    environment: { B: "2" }\n    ports: ["443:443"]\n    volumes: ["e:/data"]\n',
        },
        ['a.yaml', 'b.yaml'],
      ),
    );
    const w = p.services.w;
    expect(w?.image?.value).toBe('w:2');
    expect(w?.command?.value).toBe('one');
    expect(Object.fromEntries(Object.entries(w?.environment ?? {}).map(([k, v]) => [k, v.value]))).toEqual({
      A: '1',
      B: '2',
    });
    expect(w?.ports.map((x) => x.target)).toEqual([80, 443]);
    expect(w?.volumes.map((v) => `${v.source}:${v.target}`)).toEqual([`${dir}/x:/x`, 'e:/data']);
    expect(w?.image?.at.file).toBe(path.join(dir, 'b.yaml'));
  });

  it('extends (same file and another file), without depends_on', () => {
    const p = project(
      load(
        {
          'base.yaml':
            'services:\n  base:\n    image: b\n    environment: { L: info }\n    depends_on: [x]\n  x:\n    image: x\n',
          'compose.yaml':
            'services:\n  mid:\n    extends: { file: base.yaml, service: base }\n    environment: { M: "1" }\n  top:\n    extends: mid\n    environment: { L: debug }\n',
        },
        ['compose.yaml'],
      ),
    );
    expect(p.services.top?.image?.value).toBe('b');
    expect(Object.keys(p.services.top?.environment ?? {}).sort()).toEqual(['L', 'M']);
    expect(p.services.top?.environment.L?.value).toBe('debug');
    expect(p.services.top?.depends_on).toEqual({});
  });

  it('an extends cycle is located', () => {
    const r = load(
      { 'compose.yaml': 'services:\n  a:\n    extends: b\n    image: x\n  b:\n    extends: a\n    image: y\n' },
      ['compose.yaml'],
    );
    expect(r.project).toBeUndefined();
    expect(r.diagnostics.some((d) => d.code === 'cycle' && d.line > 1)).toBe(true);
  });

  it('profiles: inactive services left out, unless named or needed by an active one', () => {
    const text =
      'services:\n  app:\n    image: a\n    depends_on: [db]\n  db:\n    image: d\n    profiles: [data]\n  debug:\n    image: b\n    profiles: [debug]\n';
    const p = project(load({ 'compose.yaml': text }, ['compose.yaml']));
    expect(Object.keys(p.services).sort()).toEqual(['app', 'db']);
    expect(p.inactive).toEqual(['debug']);
    const q = project(load({ 'compose.yaml': text }, ['compose.yaml'], {}, ['debug']));
    expect(Object.keys(q.services).sort()).toEqual(['app', 'db', 'debug']);
  });

  it('YAML anchors and merge keys', () => {
    const p = project(
      load(
        {
          'compose.yaml':
            'x-base: &base\n  image: app:1\n  environment: { A: "1" }\nservices:\n  a:\n    <<: *base\n  b:\n    <<: *base\n    image: app:2\n',
        },
        ['compose.yaml'],
      ),
    );
    expect(p.services.a?.image?.value).toBe('app:1');
    expect(p.services.b?.image?.value).toBe('app:2');
  });

  it('schema violations are errors at the key; keys of newer specs are warnings', () => {
    const r = load({ 'compose.yaml': 'name: x\nservices:\n  a:\n    image: x\n    restrat: always\n    ports: 80\n' }, [
      'compose.yaml',
    ]);
    expect(r.project).toBeUndefined();
    expect(r.diagnostics.find((d) => /unknown key `restrat`/.test(d.message))).toMatchObject({
      line: 5,
      severity: 'error',
    });
    expect(r.diagnostics.find((d) => d.path === 'services.a.ports')).toMatchObject({ line: 6, severity: 'error' });
    expect(r.diagnostics.find((d) => /`name` is newer/.test(d.message))).toMatchObject({
      line: 1,
      severity: 'warning',
    });
  });
});

describe('mapping', () => {
  it('a service reading its port from PORT gets an allocated port; callers are rewritten to the stable port', () => {
    const p = project(
      load(
        {
          'compose.yaml':
            'services:\n  api:\n    image: a\n    environment: { PORT: "8080" }\n    expose: [8080]\n  web:\n    image: w\n    environment:\n      API: http://api:8080/v1\n      DB: postgres://u:p@db:5432/x\n      LIT: "$${HOME}"\n  db:\n    image: postgres\n    expose: [5432]\n',
        },
        ['compose.yaml'],
      ),
    );
    const { stack, report } = composeToStack(p, dir);
    expect(stack.services?.api?.ports).toEqual({ http: 'auto' });
    expect(stack.services?.api?.env?.PORT).toBe('${port.http}');
    expect(stack.services?.web?.env?.API).toBe('http://api:${service.api.port.http}/v1');
    // db's port is where the image listens: the name alone is enough.
    expect(stack.services?.web?.env?.DB).toBe('postgres://u:p@db:5432/x');
    expect(stack.services?.web?.env?.LIT).toBe('$${HOME}');
    expect(extraHosts(stack.services?.web?.env as Record<string, string>).map((h) => h.split(':')[0])).toEqual([
      'api',
      'web',
      'db',
    ]);
    expect(report.find((e) => e.key === 'services.web.environment.API')).toMatchObject({
      kind: 'approximated',
      at: { line: 9 },
    });
  });

  it('a literal ${ in a command (compose $${) stays literal in the stack file', () => {
    const p = project(
      load({ 'compose.yaml': 'services:\n  a:\n    image: x\n    command: sh -c "echo $${HOME} $$PATH"\n' }, [
        'compose.yaml',
      ]),
    );
    expect(composeToStack(p, dir).stack.services?.a?.args).toEqual(['sh', '-c', 'echo $${HOME} $PATH']);
  });

  it('the docker runtime turns GROUNDWORK_EXTRA_HOSTS into hosts entries and skips malformed ones', () => {
    expect(extraHosts({ GROUNDWORK_EXTRA_HOSTS: 'api=127.77.1.2  db=127.77.3.4 bad=x;y =1.2.3.4' })).toEqual([
      'api:127.77.1.2',
      'db:127.77.3.4',
    ]);
    expect(extraHosts({})).toEqual([]);
  });
});

/**
 * Issue 18's acceptance on a corpus of compose files in the shapes people run (test/compose/corpus):
 * every one imports to a stack that validates and plans, or fails with a located, fix-oriented
 * message; and the imported stack means what `docker-compose config` (Debian's docker-compose
 * 1.29, the oracle) says the compose file means: services, images, published ports, environment
 * and volume targets.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import type { StackConfig } from '../../src/config/schema.js';
import type { ReportEntry } from '../../src/compose/to-stack.js';

const CORPUS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'corpus');
const dirs = readdirSync(CORPUS).sort();
const out = mkdtempSync(path.join(os.tmpdir(), 'gw-compose-corpus-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Files that must fail, with the compose file's line and a word of the message. */
const EXPECTED_FAILURES: Record<string, { line: number; says: RegExp; stage: 'compose' | 'stack' }> = {
  'bad-required-var': { line: 5, says: /required variable API_KEY is not set: set API_KEY in \.env/, stage: 'compose' },
  'bad-unknown-key': { line: 4, says: /unknown key `port` in services\.app/, stage: 'compose' },
  traefik: { line: 17, says: /container port 80 of whoami is also the port of traefik/, stage: 'stack' },
};

interface ImportJson {
  ok: boolean;
  stack: StackConfig;
  report: ReportEntry[];
  diagnostics: { severity: string; file: string; line: number; message: string; fix?: string }[];
}

const imported = new Map<string, ImportJson>();

async function importDir(name: string): Promise<{ code: number; json: ImportJson; stackFile: string }> {
  const dest = path.join(out, name);
  const r = await runCli(['import', 'compose', '--out', dest, '--json'], { cwd: path.join(CORPUS, name) });
  const json = JSON.parse(r.stdout) as ImportJson;
  return { code: r.code, json, stackFile: path.join(dest, 'groundwork.yaml') };
}

describe('import compose: the corpus', () => {
  it('has at least 30 compose files', () => {
    expect(dirs.length).toBeGreaterThanOrEqual(30);
  });

  it.each(dirs.filter((d) => !EXPECTED_FAILURES[d]))('%s imports to a stack that validates and plans', async (name) => {
    const { code, json, stackFile } = await importDir(name);
    expect(json.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(code).toBe(0);
    imported.set(name, json);
    // Every report entry is located in a compose file of this directory.
    for (const e of json.report) {
      expect(e.at.file.startsWith(path.join(CORPUS, name))).toBe(true);
      expect(e.at.line).toBeGreaterThan(0);
      if (e.kind !== 'mapped') expect(e.message.length).toBeGreaterThan(10);
    }
    // Nothing is dropped silently: every key of every service has a report entry, except those
    // whose mapping is the value itself (environment without rewriting, ports named from expose)
    // or is reported where it is declared (networks, profiles).
    const raw = parse(readFileSync(path.join(CORPUS, name, 'compose.yaml'), 'utf8')) as {
      services: Record<string, Record<string, unknown>>;
    };
    const quiet = new Set(['environment', 'expose', 'networks', 'profiles', 'extends', '<<']);
    for (const [svc, keys] of Object.entries(raw.services))
      for (const k of Object.keys(keys)) {
        if (quiet.has(k) || k.startsWith('x-')) continue;
        const inactive = json.report.some(
          (e) => e.key === `services.${svc}` && /not in an active profile/.test(e.message),
        );
        if (inactive) continue;
        expect(
          json.report.some((e) => e.key === `services.${svc}.${k}` || e.key.startsWith(`services.${svc}.${k}.`)),
          `${name}: services.${svc}.${k} has no report entry`,
        ).toBe(true);
      }
    const v = await runCli(['validate', '-f', stackFile, '--json'], { cwd: out });
    expect(v.code, v.stderr).toBe(0);
    const p = await runCli(['plan', '-f', stackFile, '--json'], { cwd: out });
    expect(p.code, p.stderr).toBe(0);
    const plan = JSON.parse(p.stdout) as { steps: { address: string; action: string }[] };
    for (const s of Object.keys(json.stack.services ?? {}))
      expect(plan.steps.map((st) => st.address)).toContain(`service.${s}`);
  });

  it.each(Object.entries(EXPECTED_FAILURES))('%s fails with a located, fix-oriented message', async (name, want) => {
    const { code, json } = await importDir(name);
    expect(code).toBe(1);
    expect(json.ok === undefined || json.ok === false).toBe(true);
    if (want.stage === 'compose') {
      const d = json.diagnostics.find((x) => want.says.test(x.message));
      expect(d, JSON.stringify(json.diagnostics)).toBeDefined();
      expect(d?.line).toBe(want.line);
      expect(d?.file).toBe(path.join(CORPUS, name, 'compose.yaml'));
      expect(d?.fix).toBeTruthy();
    } else {
      const e = json.report.find((x) => x.kind === 'unsupported' && want.says.test(x.message));
      expect(e, JSON.stringify(json.report.filter((x) => x.kind !== 'mapped'))).toBeDefined();
      expect(e?.at.line).toBe(want.line);
      expect(e?.fix).toBeTruthy();
    }
  });
});

/**
 * docker-compose 1.29 (Debian 12's package), when installed: the oracle of what a file means. Its
 * `config` command runs for every directory of the corpus in one Python process
 * (compose-config-batch.py: the same calls, one start-up instead of 2-4 s per file), with the
 * interpreter its script names.
 */
const composePython = (() => {
  try {
    const script = execFileSync('sh', ['-c', 'command -v docker-compose'], { encoding: 'utf8' }).trim();
    const shebang = /^#!\s*(\S+)/.exec(readFileSync(script, 'utf8').split('\n')[0] ?? '')?.[1];
    return shebang && existsSync(shebang) ? shebang : undefined;
  } catch {
    return undefined;
  }
})();

type OracleAnswer = { dir: string; ok: true; config: string } | { dir: string; ok: false; error: string };

/**
 * What docker-compose 1.29 rejects, and why: features newer than its schema. The test checks the
 * oracle still rejects exactly these (with this reason); our own model is checked by the corpus test.
 */
const ORACLE_REJECTS: Record<string, RegExp> = {
  // The top-level `name:` (compose-spec 2021) is newer than docker-compose 1.29's schema.
  immich: /'name' does not match any of the regexes: '\^x-'/,
};

interface OracleService {
  image?: string;
  build?: unknown;
  ports?: { target: number; published?: number | string; protocol?: string }[];
  environment?: Record<string, string | null>;
  volumes?: ({ type: string; source?: string; target: string } | string)[];
  profiles?: string[];
}

describe.skipIf(!composePython && process.env.GROUNDWORK_REQUIRE_DOCKER !== '1')(
  'import compose: docker-compose config as the oracle',
  () => {
    const answers = new Map<string, OracleAnswer>();
    beforeAll(async () => {
      const { stdout } = await promisify(execFile)(
        composePython ?? 'python3',
        [path.join(path.dirname(CORPUS), 'compose-config-batch.py'), ...dirs],
        { cwd: CORPUS, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }, maxBuffer: 64 << 20 },
      );
      for (const line of stdout.split('\n').filter((l) => l.trim()))
        answers.set((JSON.parse(line) as OracleAnswer).dir, JSON.parse(line) as OracleAnswer);
    }, 60_000);

    it.each(Object.keys(EXPECTED_FAILURES).filter((d) => EXPECTED_FAILURES[d]?.stage === 'compose'))(
      '%s is refused by docker-compose config too',
      (name) => {
        expect(answers.get(name)?.ok).toBe(false);
      },
    );

    it.each(Object.entries(ORACLE_REJECTS))('%s is rejected by docker-compose 1.29, for its age', (name, why) => {
      const a = answers.get(name);
      expect(a?.ok).toBe(false);
      expect(a && !a.ok ? a.error : '').toMatch(why);
    });

    it.each(dirs.filter((d) => !EXPECTED_FAILURES[d] && !ORACLE_REJECTS[d]))(
      '%s means what docker-compose config says',
      async (name) => {
        const answer = answers.get(name);
        if (!answer?.ok)
          throw new Error(`docker-compose config refused ${name}: ${answer ? answer.error : 'no answer'}`);
        const json = imported.get(name) ?? (await importDir(name)).json;
        const want = (parse(answer.config) as { services: Record<string, OracleService> }).services;
        const stack = json.stack;
        const gw = (n: string) => n.toLowerCase().replace(/[^a-z0-9-]/g, '-');
        // Services (docker-compose config lists profiled services too: only active ones are compared).
        const active = Object.entries(want).filter(([, s]) => !s.profiles?.length);
        for (const [n, s] of active) {
          const got = stack.services?.[gw(n)];
          expect(got, `service ${n}`).toBeDefined();
          if (!got) continue;
          if (!s.build) expect(got.image).toBe(s.image);
          // Environment: every variable with its value (ours may add hosts entries, secrets and allocated ports).
          for (const [k, v] of Object.entries(s.environment ?? {})) {
            if (v === null) continue;
            const mine = got.env?.[k];
            if (typeof mine === 'string' && mine.includes('${')) {
              expect(mine.replace(/\$\{[^}]+\}/g, 'X')).toBe(
                String(v)
                  .replace(/\b\d{2,5}\b/g, 'X')
                  .replace(/\$\{/g, 'X'),
              );
            } else expect(String(mine), `${n}.environment.${k}`).toBe(String(v).replace(/\$\{/g, () => '$${'));
          }
          // Ports: each published TCP port is a listener, or the container's own host port (same number).
          for (const p of s.ports ?? []) {
            if ((p.protocol ?? 'tcp') !== 'tcp' || p.published === undefined) continue;
            const pub = Number(p.published);
            const listener = Object.values(stack.listeners ?? {}).find((l) => l.port === pub);
            const own = Object.values(got.ports ?? {}).includes(pub);
            expect(listener !== undefined || own, `${n} port ${pub}`).toBe(true);
          }
          // Volumes: every target is mounted.
          for (const v of s.volumes ?? []) {
            // docker-compose 1.29 writes the short syntax: source:target:mode.
            const target = typeof v === 'string' ? (v.split(':')[1] ?? v) : v.type === 'tmpfs' ? undefined : v.target;
            if (target === undefined) continue;
            expect(Object.keys(got.mounts ?? {}), `${n} volume ${target}`).toContain(target);
          }
        }
        expect(Object.keys(stack.services ?? {}).length).toBe(active.length);
      },
    );
  },
);

it('the written stack file says where each service came from', () => {
  const text = readFileSync(path.join(out, 'wordpress', 'groundwork.yaml'), 'utf8');
  expect(text).toMatch(/# compose service wordpress \(.*compose\.yaml:12\)/);
});

it('stack commands run a compose file directly: validate and plan -f compose.yaml', async () => {
  const copy = path.join(out, 'direct');
  cpSync(path.join(CORPUS, 'multi-file'), copy, { recursive: true });
  const v = await runCli(['validate', '-f', 'compose.yaml'], { cwd: copy });
  expect(v.code, v.stderr).toBe(0);
  expect(v.stdout).toContain(path.join(copy, '.groundwork-compose', 'groundwork.yaml'));
  const p = await runCli(['plan', '-f', 'compose.yaml', '--json'], { cwd: copy });
  expect(p.code, p.stderr).toBe(0);
  const steps = (JSON.parse(p.stdout) as { steps: { address: string }[] }).steps.map((s) => s.address);
  expect(steps).toEqual(expect.arrayContaining(['service.web', 'service.db']));
  // The override file was merged: its image and its published port.
  const text = readFileSync(path.join(copy, '.groundwork-compose', 'groundwork.yaml'), 'utf8');
  expect(text).toContain('ghcr.io/example/web:1-debug');
  // A compose file with errors is refused with its located problem.
  const bad = await runCli(['plan', '-f', path.join(CORPUS, 'bad-unknown-key', 'compose.yaml')], { cwd: copy });
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/bad-unknown-key\/compose\.yaml:4:5: error: unknown key `port`/);
});

/**
 * groundwork.config.ts (`export default defineStack({...})`, importing from 'groundwork') is the
 * same stack as its YAML twin: same configHash, same plan. A broken TS file is a clear diagnostic.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Plan } from '../../src/engine/plan.js';
import { jsonOf, runCli, runCliOk, STACK_FRAME } from '../helpers/cli.js';
import { killProcessesUnder } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const TS_STACK = `import { defineStack } from 'groundwork';

const port = '\${port.http}';

export default defineStack({
  stack: 'tslab',
  variables: { greeting: { default: 'hello' } },
  volumes: { data: { path: './data', mode: '0750' } },
  services: {
    api: {
      command: 'node',
      args: ['server.mjs'],
      ports: { http: 'auto' },
      env: { PORT: port, GREETING: '\${var.greeting}', DATA: '\${volume.data}' },
      health: { http: { path: '/healthz' } },
    },
    web: {
      command: 'node server.mjs',
      replicas: 2,
      ports: { http: 'auto' },
      env: { PORT: port, API: '\${service.api.url.http}' },
      depends_on: ['api'],
    },
  },
  routes: [{ match: { host: 'web.lab.test' }, service: 'web', port: 'http' }],
});
`;

const YAML_STACK = `stack: tslab
variables:
  greeting: { default: hello }
volumes:
  data: { path: ./data, mode: "0750" }
services:
  api:
    command: node
    args: [server.mjs]
    ports: { http: auto }
    env: { PORT: "\${port.http}", GREETING: "\${var.greeting}", DATA: "\${volume.data}" }
    health: { http: { path: /healthz } }
  web:
    command: node server.mjs
    replicas: 2
    ports: { http: auto }
    env:
      PORT: \${port.http}
      API: \${service.api.url.http}
    depends_on: [api]
routes:
  - { match: { host: web.lab.test }, service: web, port: http }
`;

describe('groundwork.config.ts', () => {
  let dir: string;
  let tsDir: string;
  let yamlDir: string;

  beforeEach(() => {
    dir = makeTempDir('ts');
    tsDir = path.join(dir, 'ts');
    yamlDir = path.join(dir, 'yaml');
    mkdirSync(tsDir);
    mkdirSync(yamlDir);
    writeFileSync(path.join(tsDir, 'groundwork.config.ts'), TS_STACK);
    writeFileSync(path.join(yamlDir, 'groundwork.yaml'), YAML_STACK);
  });

  afterEach(async () => {
    expect(await killProcessesUnder(dir)).toBe(0);
    removeTempDir(dir);
  });

  it('validates and plans exactly like the equivalent YAML', async () => {
    const v = await runCliOk(['validate'], { cwd: tsDir });
    expect(v.stdout).toContain('groundwork.config.ts is valid: 4 resources');
    const vj = jsonOf<{ valid: boolean; file: string }>(await runCliOk(['validate', '--json'], { cwd: tsDir }));
    expect(vj).toMatchObject({ valid: true, file: path.join(tsDir, 'groundwork.config.ts') });

    const fromTs = jsonOf<Plan>(await runCliOk(['plan', '--json'], { cwd: tsDir }));
    const fromYaml = jsonOf<Plan>(await runCliOk(['plan', '--json'], { cwd: yamlDir }));
    expect(fromTs.configHash).toMatch(/^[0-9a-f]{64}$/);
    expect(fromTs.configHash).toBe(fromYaml.configHash);
    expect(fromTs.steps).toEqual(fromYaml.steps);
    expect(fromTs.planHash).toBe(fromYaml.planHash);
    expect(fromTs.summary).toEqual({ create: 4, update: 0, replace: 0, delete: 0, unchanged: 0 });

    // Variables work the same way.
    const withVar = jsonOf<Plan>(await runCliOk(['plan', '--json', '--var', 'greeting=hi'], { cwd: tsDir }));
    expect(withVar.steps.find((s) => s.address === 'service.api')?.spec?.env).toMatchObject({ GREETING: 'hi' });
    // -f names the TS file explicitly.
    const explicit = await runCliOk(['validate', '-f', path.join('ts', 'groundwork.config.ts')], { cwd: dir });
    expect(explicit.stdout).toContain('is valid');
  });

  it('a schema problem in a TS stack is reported like in YAML (exit 1)', async () => {
    const text = TS_STACK.replace('replicas: 2', 'replica: 2');
    writeFileSync(path.join(tsDir, 'groundwork.config.ts'), text);
    const r = await runCli(['validate'], { cwd: tsDir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('replica');
    expect(r.stderr).toContain('replicas');
    expect(r.stderr).not.toMatch(STACK_FRAME);
    // Located in the TypeScript file, at the key, not at 1:1.
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.includes('replica: 2')) + 1;
    const column = (lines[line - 1] as string).indexOf('replica') + 1;
    const j = jsonOf<{ diagnostics: { line: number; column: number; path: string }[] }>(
      await runCli(['validate', '--json'], { cwd: tsDir }),
    );
    expect(j.diagnostics.find((d) => d.path.startsWith('services.web'))).toMatchObject({ line, column });
  });

  it('a problem in a part held by a const is located at that const', async () => {
    const text = `import { defineStack } from 'groundwork';

const web = {
  command: 'node server.mjs',
  replicas: 'two',
};

export default defineStack({ stack: 'tslab', services: { web } });
`;
    writeFileSync(path.join(tsDir, 'groundwork.config.ts'), text);
    const j = jsonOf<{ diagnostics: { line: number; column: number; path: string }[] }>(
      await runCli(['validate', '--json'], { cwd: tsDir }),
    );
    expect(j.diagnostics[0]).toMatchObject({ path: 'services.web.replicas', line: 5, column: 3 });
  });

  it('a TypeScript syntax error is a clear diagnostic with its position (exit 1)', async () => {
    writeFileSync(path.join(tsDir, 'groundwork.config.ts'), TS_STACK.replace("stack: 'tslab',", "stack: 'tslab',,, ]"));
    for (const argv of [['validate'], ['plan'], ['apply']]) {
      const r = await runCli(argv, { cwd: tsDir });
      expect(r.code, `groundwork ${argv.join(' ')}`).toBe(1);
      expect(r.stderr).toMatch(/groundwork\.config\.ts:6:\d+.*TypeScript syntax error/);
      expect(r.stderr).toContain('groundwork.config.ts');
      expect(r.stdout + r.stderr).not.toMatch(STACK_FRAME);
    }
    const j = await runCli(['validate', '--json'], { cwd: tsDir });
    expect(j.code).toBe(1);
    expect(jsonOf<{ valid: boolean; diagnostics: { message: string }[] }>(j).diagnostics[0]?.message).toMatch(
      /TypeScript syntax error/,
    );
  });

  it('a TS file that throws or has no default export is a clear diagnostic (exit 1)', async () => {
    // Thrown on line 4, column 9 of the TypeScript (types stripped before it: the position is
    // mapped back from the transpiled module).
    writeFileSync(
      path.join(tsDir, 'groundwork.config.ts'),
      "interface Port { n: number }\nconst p: Port = { n: 1 };\nif (p.n === 1) {\n  throw new Error('boom from config');\n}\nexport default {};\n",
    );
    const thrown = await runCli(['validate'], { cwd: tsDir });
    expect(thrown.code).toBe(1);
    expect(thrown.stderr).toContain('boom from config');
    expect(thrown.stderr).toMatch(/groundwork\.config\.ts:4:9\b/);
    expect(thrown.stderr).not.toMatch(STACK_FRAME);

    writeFileSync(path.join(tsDir, 'groundwork.config.ts'), "export const stack = { stack: 'x' };\n");
    const none = await runCli(['validate'], { cwd: tsDir });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no default export');
  });
});

/**
 * The layering check (`npm run deps:check`, dependency-cruiser with .dependency-cruiser.cjs) is
 * proven to fail: each case copies src/ to a temp dir, writes one deliberate violation into the
 * copy and runs the real depcruise on it, which must exit non-zero naming the rule and the import.
 * The unchanged tree must pass.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, copyFileSync, cpSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEPCRUISE = path.join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

interface Cruise {
  code: number;
  output: string;
}

async function depcruise(cwd: string): Promise<Cruise> {
  try {
    const r = await promisify(execFile)(
      process.execPath,
      [DEPCRUISE, 'src', '--config', '.dependency-cruiser.cjs', '--no-progress'],
      // CI=true makes its colour library print escapes; the assertions read plain text.
      { cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } },
    );
    return { code: 0, output: r.stdout + r.stderr };
  } catch (e) {
    const failed = e as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

/** A copy of src/ and the config in a temp dir, with node_modules linked. */
function copyTree(): string {
  const dir = makeTempDir('layers');
  cpSync(path.join(ROOT, 'src'), path.join(dir, 'src'), { recursive: true });
  for (const f of ['.dependency-cruiser.cjs', 'tsconfig.json', 'package.json'])
    copyFileSync(path.join(ROOT, f), path.join(dir, f));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

/** The violation line depcruise prints for `rule` on the import `from` → `to`. */
const violation = (rule: string, from: string, to: string) =>
  new RegExp(`error ${rule}: ${from.replace(/[.]/g, '\\.')} → ${to.replace(/[.]/g, '\\.')}`);

describe('layer boundaries (dependency-cruiser)', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(removeTempDir));

  it('passes on the tree as it is', async () => {
    const dir = copyTree();
    dirs.push(dir);
    const r = await depcruise(dir);
    expect(r.output).toContain('no dependency violations found');
    expect(r.code).toBe(0);
  });

  // One copy holds every deliberate violation (one depcruise run); each must be reported by its rule.
  describe('fails on deliberate violations', () => {
    let r: Cruise;
    beforeAll(async () => {
      const dir = copyTree();
      dirs.push(dir);
      const write = (file: string, text: string) => writeFileSync(path.join(dir, file), text);
      const addImport = (file: string, spec: string) => appendFileSync(path.join(dir, file), `\nimport '${spec}';\n`);
      write('src/util/x.ts', "import '../cli/run.js';\nexport const x = 1;\n");
      addImport('src/engine/plan.ts', '../kinds/service/port-allocator.js');
      write('src/util/ping.ts', "import { pong } from './pong.js';\nexport const ping = (): string => pong();\n");
      write('src/util/pong.ts', "import { ping } from './ping.js';\nexport const pong = (): string => ping();\n");
      // A folder cycle without a module cycle.
      write('src/observe/uses-security.ts', "import '../security/secret-source.js';\n");
      write('src/security/uses-observe.ts', "import '../observe/probe.js';\n");
      addImport('src/kinds/volume/volume-kind.ts', '../../deploy/release-builder.js');
      addImport('src/deploy/release-builder.ts', '../daemon/supervisor.js');
      addImport('src/core/alerting.ts', '../store/sqlite/sqlite-store.js');
      addImport('src/engine/plan.ts', 'node:fs');
      r = await depcruise(dir);
    });

    it('exits non-zero', () => expect(r.code).not.toBe(0));

    it('util imports the cli', () => {
      expect(r.output).toMatch(violation('util-imports-nothing', 'src/util/x.ts', 'src/cli/run.ts'));
      expect(r.output).toMatch(violation('nothing-imports-cli', 'src/util/x.ts', 'src/cli/run.ts'));
    });

    it('the engine imports a resource kind implementation instead of the contract', () =>
      expect(r.output).toMatch(
        violation('engine-knows-kinds-by-contract', 'src/engine/plan.ts', 'src/kinds/service/port-allocator.ts'),
      ));

    it('a module cycle', () => expect(r.output).toMatch(/error no-circular: src\/util\/p[io]ng\.ts → /));

    it('a cycle between folders', () =>
      expect(r.output).toMatch(/error no-folder-cycle: src\/(observe|security) → \s*src\/(observe|security) →/));

    it('a kind imports deploy/', () =>
      expect(r.output).toMatch(
        violation('kinds-not-deploy', 'src/kinds/volume/volume-kind.ts', 'src/deploy/release-builder.ts'),
      ));

    it('something below the adapters imports the daemon', () =>
      expect(r.output).toMatch(
        violation('nothing-imports-daemon', 'src/deploy/release-builder.ts', 'src/daemon/supervisor.ts'),
      ));

    it('core reaches past the store contract into SQLite', () =>
      expect(r.output).toMatch(
        violation('sqlite-behind-the-store-contract', 'src/core/alerting.ts', 'src/store/sqlite/sqlite-store.ts'),
      ));

    it('the planner does I/O', () =>
      expect(r.output).toMatch(/error plan-is-pure: src\/engine\/plan\.ts → (node:)?fs/));
  });
});

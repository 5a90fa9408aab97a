/**
 * Runs the benchmarks: every `bench/*.bench.ts` default-exports a Bench (harness/bench.ts).
 * Prints one table of results, with the ratio against a reference measured in the same run
 * where a bench has one, and pass/fail against each target; writes bench/results/latest.json.
 *
 *   npm run bench                          build, then run every bench
 *   npm run bench -- --only plan-scale     run the named bench(es) only (repeatable, or a,b)
 *   npm run bench -- --profile             also write CPU profiles of the first run of each
 *                                          measurement and print their hot spots (src/ file:line)
 *   npm run bench -- --repeat 5 --keep     5 runs per measurement; keep the scratch directories
 *
 * Exit code: 0 all targets met, 1 a target missed or a bench failed, 2 bad usage.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { judge, type Bench, type BenchContext, type JudgedResult } from './harness/bench.js';
import { renderProfileSummary, summariseProfile } from './harness/cpu-profile.js';
import { staleDistFiles } from './harness/dist.js';
import { renderTable } from './harness/table.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH_DIR);
const RESULTS_DIR = path.join(BENCH_DIR, 'results');

class UsageError extends Error {}

function isBench(v: unknown): v is Bench {
  const b = v as Partial<Bench> | null;
  return typeof b === 'object' && b !== null && typeof b.name === 'string' && typeof b.run === 'function';
}

async function discover(): Promise<Bench[]> {
  const files = readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.bench.ts'))
    .sort();
  const benches: Bench[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(path.join(BENCH_DIR, f)).href)) as { default?: unknown };
    if (!isBench(mod.default))
      throw new Error(`bench/${f} must \`export default defineBench({ name, description, run })\``);
    benches.push(mod.default);
  }
  const seen = new Set<string>();
  for (const b of benches) {
    if (seen.has(b.name)) throw new Error(`two benches are named ${b.name}; bench names must be unique`);
    seen.add(b.name);
  }
  return benches;
}

function gitCommit(): string | undefined {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain'], {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim() !== '';
    return `${head}${dirty ? ' (dirty)' : ''}`;
  } catch {
    return undefined;
  }
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string', multiple: true },
      repeat: { type: 'string', default: '3' },
      profile: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run bench -- [--only NAME[,NAME]]... [--repeat N] [--profile] [--keep] [--list]\n',
    );
    return 0;
  }
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1)
    throw new UsageError(`--repeat needs a whole number of at least 1, found "${values.repeat}"`);

  const all = await discover();
  if (values.list) {
    for (const b of all) process.stdout.write(`${b.name.padEnd(24)} ${b.description}\n`);
    return 0;
  }
  const only = (values.only ?? [])
    .flatMap((o) => o.split(','))
    .map((o) => o.trim())
    .filter(Boolean);
  const unknown = only.filter((o) => !all.some((b) => b.name === o));
  if (unknown.length)
    throw new UsageError(`no bench named ${unknown.join(', ')}; the benches are: ${all.map((b) => b.name).join(', ')}`);
  const selected = only.length ? all.filter((b) => only.includes(b.name)) : all;

  const stale = staleDistFiles(ROOT);
  if (stale.length) {
    throw new UsageError(
      `dist/ is older than ${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ` and ${stale.length - 3} more` : ''}; run \`npm run build\` first (\`npm run bench\` does)`,
    );
  }

  const log = (line: string) => process.stderr.write(`${line}\n`);
  const startedAt = new Date();
  const rows: JudgedResult[] = [];
  const profileReports: string[] = [];
  if (values.profile)
    log('--profile: the first run of each measurement runs under the V8 profiler, which adds some overhead to it');
  for (const bench of selected) {
    const workDir = mkdtempSync(path.join(os.tmpdir(), `groundwork-bench-${bench.name}-`));
    const cpuProfileDir = values.profile ? path.join(RESULTS_DIR, 'profiles', bench.name) : undefined;
    if (cpuProfileDir) {
      rmSync(cpuProfileDir, { recursive: true, force: true });
      mkdirSync(cpuProfileDir, { recursive: true });
    }
    const ctx: BenchContext = {
      root: ROOT,
      workDir,
      repeat,
      cpuProfileDir,
      log: (line) => log(`[${bench.name}] ${line}`),
    };
    log(`[${bench.name}] ${bench.description}`);
    const t0 = performance.now();
    try {
      for (const r of await bench.run(ctx)) rows.push(judge(bench.name, r));
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      log(`[${bench.name}] failed: ${e instanceof Error ? (e.stack ?? message) : message}`);
      rows.push({
        bench: bench.name,
        name: '(bench failed)',
        metric: '',
        value: Number.NaN,
        unit: '',
        ratio: undefined,
        status: 'error',
        error: message.split('\n')[0] ?? message,
      });
    } finally {
      if (values.keep) log(`[${bench.name}] scratch kept in ${workDir}`);
      else rmSync(workDir, { recursive: true, force: true });
    }
    log(`[${bench.name}] done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    if (cpuProfileDir) {
      for (const f of readdirSync(cpuProfileDir)
        .filter((p) => p.endsWith('.cpuprofile'))
        .sort()) {
        profileReports.push(renderProfileSummary(summariseProfile(path.join(cpuProfileDir, f), ROOT), ROOT));
      }
    }
  }

  const colour = process.stdout.isTTY === true && !process.env.NO_COLOR;
  process.stdout.write(`\n${renderTable(rows, colour)}`);
  if (profileReports.length) {
    const text = `${profileReports.join('\n\n')}\n`;
    writeFileSync(path.join(RESULTS_DIR, 'profiles', 'hotspots.txt'), text);
    process.stdout.write(`\nCPU hot spots (also in bench/results/profiles/hotspots.txt):\n\n${text}`);
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    commit: gitCommit(),
    node: process.version,
    platform: `${process.platform} ${os.release()} ${process.arch}`,
    cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown'}`,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    argv,
    repeat,
    results: rows,
  };
  writeFileSync(path.join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  const failed = rows.filter((r) => r.status === 'fail' || r.status === 'error');
  process.stdout.write(
    `\n${rows.length} results, ${rows.filter((r) => r.status === 'pass').length} passed, ${failed.length} failed; written to bench/results/latest.json\n`,
  );
  return failed.length ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError || (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      process.stderr.write(`bench: ${(e as Error).message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    }
  },
);

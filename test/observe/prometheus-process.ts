/** A real Prometheus server (Debian's `prometheus` 2.42) for oracle tests: own data dir, loopback port. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../helpers/ports.js';

export interface PrometheusServer {
  url: string;
  process: ChildProcess;
  /** The server's stderr so far, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** A scrape job; `authorization` lines (YAML, under the job) e.g. `authorization: { credentials_file: F }`. */
export interface ScrapeJob {
  job: string;
  target: string;
  authorization?: string;
}

export async function startPrometheus(
  dir: string,
  scrapeTargets: ScrapeJob[],
  intervalS = 1,
): Promise<PrometheusServer> {
  const port = await freePort();
  const config = [
    'global:',
    `  scrape_interval: ${intervalS}s`,
    `  scrape_timeout: ${intervalS}s`,
    'scrape_configs:',
    ...scrapeTargets.flatMap((t) => [
      `  - job_name: ${t.job}`,
      ...(t.authorization ? [`    ${t.authorization}`] : []),
      '    static_configs:',
      `      - targets: ['${t.target}']`,
    ]),
  ].join('\n');
  const configFile = path.join(dir, 'prometheus.yml');
  writeFileSync(configFile, config + '\n');
  const child = spawn(
    'prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`prometheus exited with ${child.exitCode} before it was ready:\n${stderr}`);
    try {
      const res = await fetch(`${url}/-/ready`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`prometheus did not become ready on ${url} within 20 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    process: child,
    log: () => stderr,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

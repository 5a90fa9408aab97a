/**
 * `groundwork status` on a terminal: a TRAFFIC section with each service's request rate and p95
 * latency over the last 15 minutes as sparklines, read from the metrics store (here the file,
 * as when no daemon runs). Not on a pipe, not with --json.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderTraffic } from '../../src/cli/commands/status.js';
import { MetricsDb } from '../../src/observe/tsdb/metrics-db.js';
import { runCli } from '../helpers/cli.js';
import { nodeService, writeServiceScript } from '../helpers/service-script.js';
import { writeStack } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('traffic sparklines', () => {
  it('renders the latest rate and p95 with one block character per step, blanks where no data', () => {
    const lines = renderTraffic([
      { service: 'web', rate: [0, 1, 2, 3, 4, 5, 6, 7], p95Seconds: [0.01, 0.01, NaN, 0.02, 0.03, 0.04, 0.05, 0.045] },
      { service: 'api', rate: [2, 2, 2, 2], p95Seconds: [1.5, 1.5, NaN, NaN] },
    ]);
    expect(lines).toEqual([
      'TRAFFIC (15 min)      REQUESTS                                     P95',
      'web                   7.00/s      ▁▂▃▄▅▆▇█                         45 ms     ▁▁ ▃▄▆█▇',
      'api                   2.00/s      ▄▄▄▄                             1.50 s    ▄▄',
    ]);
    expect(renderTraffic([])).toEqual([]);
  });

  describe('in `status`', () => {
    let dir = '';
    beforeEach(() => {
      dir = makeTempDir('status-spark');
      writeServiceScript(dir);
      writeStack(dir, { stack: 'spark', services: { web: nodeService('status-spark'), idle: nodeService('idle') } });
      mkdirSync(path.join(dir, '.groundwork'), { recursive: true });
      // 20 minutes of what the daemon records for a service behind the data plane: requests by
      // status class and a latency histogram, every 15 s, ending now. `idle` has no requests.
      const db = MetricsDb.open({ path: path.join(dir, '.groundwork', 'metrics.db') });
      const end = Date.now();
      let count = 0;
      const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, Infinity];
      const cumulative = buckets.map(() => 0);
      for (let t = end - 20 * 60_000; t <= end; t += 15_000) {
        // The rate climbs from 1/s to 11/s over the window; latencies sit in the 10-25 ms bucket.
        const minute = (t - (end - 20 * 60_000)) / 60_000;
        const n = Math.round((1 + minute / 2) * 15);
        count += n;
        db.append({ __name__: 'groundwork_service_requests_total', service: 'web', status_class: '2xx' }, t, count);
        db.append({ __name__: 'groundwork_service_requests_total', service: 'idle', status_class: '2xx' }, t, 0);
        buckets.forEach((le, i) => {
          cumulative[i]! += le >= 0.025 ? n : 0;
          db.append(
            {
              __name__: 'groundwork_service_request_duration_seconds_bucket',
              service: 'web',
              le: le === Infinity ? '+Inf' : String(le),
            },
            t,
            cumulative[i]!,
          );
        });
      }
      db.close();
    });
    afterEach(() => removeTempDir(dir));

    it('shows a TRAFFIC section on a terminal only, NO_COLOR or not, and never in --json', async () => {
      const tty = await runCli(['status'], { cwd: dir, isTty: true });
      expect(tty.code, tty.stderr).toBe(0);
      const section = tty.stdout.slice(tty.stdout.indexOf('TRAFFIC (15 min)'));
      const web = section.split('\n').find((l) => l.startsWith('web '));
      expect(web, tty.stdout).toBeDefined();
      // 10.50/s now (the last minute's rate), rising: the sparkline ends on the highest block.
      expect(web).toMatch(/^web +1\d\.\d\/s +[▁-█]{20,31} +2\d ms +[▁-█]+$/);
      expect(web!.match(/[▁-█]+/)![0].at(-1)).toBe('█');
      expect(section).not.toMatch(/^idle /m);

      // Colour on (no NO_COLOR): the same characters.
      const colour = await runCli(['status'], { cwd: dir, isTty: true, env: { NO_COLOR: undefined } });
      expect(colour.stdout).toContain('TRAFFIC (15 min)');

      const pipe = await runCli(['status'], { cwd: dir, isTty: false });
      expect(pipe.code).toBe(0);
      expect(pipe.stdout).not.toContain('TRAFFIC');
      const json = await runCli(['status', '--json'], { cwd: dir, isTty: true });
      expect(json.stdout).not.toContain('TRAFFIC');
      expect(() => JSON.parse(json.stdout) as unknown).not.toThrow();
    });
  });
});

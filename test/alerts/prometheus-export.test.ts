/**
 * `groundwork alerts export --prometheus`: the stack's expr and check rules as a Prometheus rule
 * file, checked by the real `promtool check rules` (Debian package prometheus, installed by
 * .ci/run), with event rules listed as skipped.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonOf, runCli } from '../helpers/cli.js';
import { writeStack } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('alerts export --prometheus', () => {
  const dir = makeTempDir('alerts-export');
  afterAll(() => removeTempDir(dir));
  writeStack(dir, {
    stack: 'lab',
    checks: { web: { tcp: '127.0.0.1:9' } },
    alerts: {
      'web-down': { check: 'web', severity: 'page', for: '30s', summary: '{{ $labels.check }} is down' },
      'slow-checks': {
        expr: 'groundwork_check_latency_seconds > 0.5',
        interval: '10s',
        keep_firing_for: '1m',
        labels: { team: 'lab' },
        summary: '{{ $labels.check }} answers in {{ $value }} s',
        runbook: 'https://wiki.lab.test/slow',
      },
      crashing: { event: 'crashloop' },
    },
    notify: { channels: { ops: { webhook: { url: 'http://127.0.0.1:9/hook' } } } },
  });

  it('writes a rule file that promtool accepts (groups in the order of the rule names); event rules are skipped with the reason', async () => {
    const file = path.join(dir, 'rules.yml');
    const r = await runCli(['alerts', 'export', '--prometheus', '-o', file], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('wrote 2 rules');
    expect(r.stderr).toMatch(/skipped crashing: event rules \(crashloop\)/);
    const check = execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    expect(check).toMatch(/SUCCESS: 2 rules found/);
    const doc = yaml.load(readFileSync(file, 'utf8'));
    expect(doc).toEqual({
      groups: [
        {
          name: 'lab-every-10s',
          interval: '10s',
          rules: [
            {
              alert: 'slow-checks',
              expr: 'groundwork_check_latency_seconds > 0.5',
              keep_firing_for: '1m',
              labels: { team: 'lab', severity: 'warning' },
              annotations: {
                summary: '{{ $labels.check }} answers in {{ $value }} s',
                runbook_url: 'https://wiki.lab.test/slow',
              },
            },
          ],
        },
        {
          name: 'lab',
          rules: [
            {
              alert: 'web-down',
              expr: 'groundwork_check_up{check="web"} == 0',
              for: '30s',
              labels: { severity: 'page' },
              annotations: { summary: '{{ $labels.check }} is down' },
            },
          ],
        },
      ],
    });
  });

  it('--json gives the groups and the skipped rules; no format is a usage error', async () => {
    const r = await runCli(['alerts', 'export', '--prometheus', '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(jsonOf<{ rules: number; skipped: { alert: string }[] }>(r)).toMatchObject({
      rules: 2,
      skipped: [{ alert: 'crashing' }],
    });
    const bad = await runCli(['alerts', 'export'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/needs a format: --prometheus/);
  });
});

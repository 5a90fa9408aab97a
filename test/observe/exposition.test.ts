import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { renderExposition, type MetricFamily } from '../../src/observe/exposition.js';
import { parseExposition } from '../../src/observe/scrape/text-format.js';

const FAMILIES: MetricFamily[] = [
  {
    name: 'groundwork_http_requests_total',
    help: 'HTTP requests served by the data plane, by route and status class.\nSecond line with a \\ backslash.',
    type: 'counter',
    samples: [
      { labels: { route: 'web', status: '2xx' }, value: 1027 },
      { labels: { route: 'api "v2"\\beta\nnext', status: '5xx' }, value: 3 },
    ],
  },
  { name: 'groundwork_up', help: 'Whether the daemon is up.', type: 'gauge', samples: [{ value: 1 }] },
  {
    name: 'groundwork_request_duration_seconds',
    help: 'Request latency.',
    type: 'histogram',
    samples: [
      { suffix: '_bucket', labels: { le: '0.1' }, value: 5 },
      { suffix: '_bucket', labels: { le: '1' }, value: 9 },
      { suffix: '_bucket', labels: { le: '+Inf' }, value: 10 },
      { suffix: '_sum', value: 3.25 },
      { suffix: '_count', value: 10 },
    ],
  },
  {
    name: 'groundwork_check_latency_seconds',
    help: 'Check latency quantiles.',
    type: 'summary',
    samples: [
      { labels: { quantile: '0.5' }, value: 0.012 },
      { labels: { quantile: '0.99' }, value: NaN },
      { suffix: '_sum', value: 1.5 },
      { suffix: '_count', value: 100 },
    ],
  },
  {
    name: 'groundwork_temperature_celsius',
    help: 'A gauge at -Inf.',
    type: 'gauge',
    samples: [{ value: -Infinity, timestampMs: 1_700_000_000_000 }],
  },
];

describe('exposition format', () => {
  it('renders text that promtool check metrics accepts', () => {
    const text = renderExposition(FAMILIES);
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(r.error, 'promtool (Debian package prometheus) must be installed').toBeUndefined();
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('promtool does flag a bad family, so the check above can fail', () => {
    const text = renderExposition([
      { name: 'requests', help: 'no _total suffix', type: 'counter', samples: [{ value: 1 }] },
    ]);
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toMatch(/_total/);
  });

  it('round-trips through the parser: names, escaped labels, special values, timestamps, types and help', () => {
    const parsed = parseExposition(renderExposition(FAMILIES));
    expect(parsed.samples).toHaveLength(13);
    expect(parsed.samples[1]).toEqual({
      name: 'groundwork_http_requests_total',
      labels: { route: 'api "v2"\\beta\nnext', status: '5xx' },
      value: 3,
    });
    expect(parsed.samples[9]!.value).toBeNaN();
    expect(parsed.samples[12]).toEqual({
      name: 'groundwork_temperature_celsius',
      labels: {},
      value: -Infinity,
      timestampMs: 1_700_000_000_000,
    });
    expect(parsed.families.get('groundwork_request_duration_seconds')?.type).toBe('histogram');
    expect(parsed.families.get('groundwork_http_requests_total')?.help).toBe(FAMILIES[0]!.help);
  });

  it('refuses invalid names, naming the family and label', () => {
    expect(() => renderExposition([{ name: '9lives', help: '', type: 'gauge', samples: [] }])).toThrow(
      /"9lives": not a valid metric name/,
    );
    expect(() =>
      renderExposition([
        { name: 'ok', help: '', type: 'gauge', samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] },
      ]),
    ).toThrow(/label "bad-label"/);
  });
});

import { describe, expect, it } from 'vitest';
import { ExpositionParseError, parseExposition } from '../../../src/observe/scrape/text-format.js';

describe('text exposition parser', () => {
  it('reads counters, gauges, histograms, summaries and untyped samples with optional timestamps', () => {
    const text = [
      '# HELP http_requests_total The total number of HTTP requests.',
      '# TYPE http_requests_total counter',
      'http_requests_total{method="post",code="200"} 1027 1395066363000',
      'http_requests_total{method="post",code="400"}    3 1395066363000',
      '',
      '# A normal comment.',
      'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9',
      'metric_without_timestamp_and_labels 12.47',
      '# TYPE something_weird gauge',
      'something_weird{problem="division by zero"} +Inf -3982045',
      '# TYPE http_request_duration_seconds histogram',
      'http_request_duration_seconds_bucket{le="0.05"} 24054',
      'http_request_duration_seconds_bucket{le="+Inf"} 144320',
      'http_request_duration_seconds_sum 53423',
      'http_request_duration_seconds_count 144320',
      '# TYPE rpc_duration_seconds summary',
      'rpc_duration_seconds{quantile="0.99",} NaN',
      'untyped_metric{} -0.5',
    ].join('\n');
    const { samples, families } = parseExposition(text);
    expect(samples).toHaveLength(11);
    expect(samples[0]).toEqual({
      name: 'http_requests_total',
      labels: { method: 'post', code: '200' },
      value: 1027,
      timestampMs: 1395066363000,
    });
    expect(samples[2]!.labels).toEqual({ path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' });
    expect(samples[2]!.value).toBe(1.458255915e9);
    expect(samples[4]).toEqual({
      name: 'something_weird',
      labels: { problem: 'division by zero' },
      value: Infinity,
      timestampMs: -3982045,
    });
    expect(samples[9]!.value).toBeNaN();
    expect(samples[10]).toEqual({ name: 'untyped_metric', labels: {}, value: -0.5 });
    expect(families.get('http_requests_total')).toEqual({
      type: 'counter',
      help: 'The total number of HTTP requests.',
    });
    expect(families.get('rpc_duration_seconds')?.type).toBe('summary');
  });

  it('names the line and what was wrong', () => {
    expect(() => parseExposition('ok 1\nbad{a="x} 1')).toThrow(/line 2.*unterminated value of label a/);
    expect(() => parseExposition('x{a="\\q"} 1')).toThrow(ExpositionParseError);
    expect(() => parseExposition('x one')).toThrow(/line 1: "one" is not a sample value/);
    expect(() => parseExposition('x 1 2 3')).toThrow(/at most a value and a timestamp/);
    expect(() => parseExposition('# TYPE x countr')).toThrow(/unknown metric type "countr"/);
  });
});

/**
 * Where check samples go: any object of this shape (the metrics store the daemon composes).
 * Labels carry the metric name as `__name__`, as in Prometheus.
 */
export interface SampleSink {
  append(labels: Record<string, string>, timestampMs: number, value: number): void;
}

export const CHECK_METRICS = {
  up: 'groundwork_check_up',
  latency: 'groundwork_check_latency_seconds',
  tlsDaysLeft: 'groundwork_check_tls_days_left',
} as const;

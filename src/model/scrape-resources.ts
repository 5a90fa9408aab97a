/**
 * The `scrape:` section as resources: `scrape.NAME` per target, its spec with every default
 * written out (so writing a default is not a change), and `metrics.default` with the interval of
 * the daemon's own collection when `scrape.interval` is set. The daemon scrapes what state
 * records, like the checks it runs.
 */
import { DEFAULT_SCRAPE_INTERVAL, DEFAULT_SERIES_LIMIT, type ScrapeConfig } from '../config/schema-scrape.js';
import { Duration } from '../util/duration.js';
import { address, type DesiredResource, type Json, type JsonObject } from './resource.js';

export function scrapeResources(scrape: ScrapeConfig | undefined, deep: (v: unknown) => Json): DesiredResource[] {
  if (!scrape) return [];
  const out: DesiredResource[] = [];
  const interval = scrape.interval ?? DEFAULT_SCRAPE_INTERVAL;
  if (scrape.interval !== undefined)
    out.push({
      address: address('metrics', 'default'),
      kind: 'metrics',
      name: 'default',
      dependsOn: [],
      spec: deep({ interval }) as JsonObject,
    });
  for (const [name, t] of Object.entries(scrape.targets ?? {})) {
    const every = t.interval ?? interval;
    const everyMs = Duration.tryParse(every)?.toMilliseconds() ?? 15_000;
    out.push({
      address: address('scrape', name),
      kind: 'scrape',
      name,
      dependsOn: [],
      spec: deep({
        url: t.url,
        interval: every,
        timeout: t.timeout ?? Duration.milliseconds(Math.min(10_000, everyMs)).toString(),
        labels: t.labels ?? {},
        series_limit: t.series_limit ?? DEFAULT_SERIES_LIMIT,
      }) as JsonObject,
    });
  }
  return out;
}

/**
 * The logs of a service: process instances' log files (across rotated parts, `since` through the
 * daemon's time index, `follow` across rotations), container logs from the engine.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { handleOf } from '../kinds/service/service-kind.js';
import { serviceOutputsOf, serviceSpecOf } from '../kinds/service/service-spec.js';
import type { Address } from '../model/resource.js';
import { readLog, tailLogWithCursor, type LogCursor, type LogIndex } from '../observe/log-files.js';
import { Duration } from '../util/duration.js';
import { OperationError } from './errors.js';
import type { Installation } from './installation.js';

export interface LogsQuery {
  /** Only this instance (its log file is read even when it is stopped). */
  instance?: number;
  /** The last N lines of each file (default 200); ignored with `since`. */
  lines?: number;
  /** A duration (`10m`) back from now, or a timestamp. */
  since?: string;
  /** Only lines written before this: a duration (`5m`) back from now, or a timestamp. Not with follow. */
  until?: string;
  /** Keep streaming new lines until `signal` aborts. */
  follow?: boolean;
}

/** `10m` back from now, or an ISO timestamp, as Unix ms; undefined when it is neither. */
function pointInTime(text: string, nowMs: number): number | undefined {
  const d = Duration.tryParse(text);
  const t = d ? nowMs - d.toMilliseconds() : /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  return Number.isFinite(t) ? t : undefined;
}

/** How often a follow looks for new lines. */
const FOLLOW_EVERY_MS = 250;

export async function readServiceLogs(
  inst: Installation,
  address: Address,
  query: LogsQuery,
  write: (text: string) => void,
  signal: AbortSignal | undefined,
  /** The daemon's time → offset index of log files; without it `since` cannot be answered. */
  index: LogIndex | undefined,
): Promise<void> {
  const name = address.slice('service.'.length);
  const row = await inst.store.resources.tryGetResource(address);
  const lines = query.lines ?? 200;
  if (!Number.isInteger(lines) || lines < 1)
    throw new OperationError('bad-request', `lines must be a whole number of at least 1, found ${lines}`, 'e.g. -n 50');
  let since: number | undefined;
  const now = inst.clock.now().getTime();
  if (query.since) {
    since = pointInTime(query.since, now);
    if (since === undefined)
      throw new OperationError(
        'bad-request',
        `since must be a duration (10m) or a timestamp, found "${query.since}"`,
        'e.g. --since 10m or --since 2026-12-01T10:00:00Z',
      );
  }
  let until: number | undefined;
  if (query.until) {
    until = pointInTime(query.until, now);
    if (until === undefined)
      throw new OperationError(
        'bad-request',
        `until must be a duration (5m) or a timestamp, found "${query.until}"`,
        'e.g. --until 5m or --until 2026-12-01T11:00:00Z',
      );
    if (query.follow)
      throw new OperationError('bad-request', 'until and follow contradict each other', 'leave one of them out');
    if (since !== undefined && until < since)
      throw new OperationError(
        'bad-request',
        `until (${new Date(until).toISOString()}) is before since (${new Date(since).toISOString()})`,
        'swap them, or widen the range',
      );
  }
  const instances = serviceOutputsOf(row).instances.filter(
    (i) => query.instance === undefined || i.index === query.instance,
  );
  const spec = row ? serviceSpecOf(row) : undefined;
  if (spec && spec.runtime !== 'process') {
    // Containers: the engine keeps (and rotates) the logs.
    const driver = inst.drivers.drivers[spec.runtime];
    if (query.follow)
      throw new OperationError(
        'bad-request',
        `following logs of a ${spec.runtime} service is not supported yet`,
        'use `docker logs -f CONTAINER` (see `groundwork status --json` for instance ids)',
      );
    for (const i of instances) {
      const text = driver ? await driver.logs(handleOf(i, name), { lines }) : '';
      for (const l of text.split('\n').filter((x) => x !== ''))
        write(`${instances.length > 1 ? `[${name}/${i.index}] ` : ''}${l}\n`);
    }
    return;
  }
  if ((since !== undefined || until !== undefined) && !index)
    throw new OperationError(
      'unavailable',
      '--since and --until need the daemon: it keeps the index of when each log line was written (service logs carry no timestamps)',
      'start it with `groundwork up`, or use -n N for the last N lines',
    );
  const files = [...new Set(instances.map((i) => i.logFile))];
  // A stopped instance still has its log file; an index that never ran has none.
  if (query.instance !== undefined && files.length === 0) {
    const file = inst.drivers.process.logFileFor(name, query.instance);
    if (!existsSync(file)) {
      const known = serviceOutputsOf(row).instances.map((i) => i.index);
      throw new OperationError(
        'not-found',
        `${name} has no instance ${query.instance}: it has ${known.length} (${known.join(', ') || 'none running'})`,
        known.length ? `e.g. --instance ${known[0]}` : `start it with \`groundwork apply\``,
      );
    }
    files.push(file);
  }
  const cursors = new Map<string, LogCursor>();
  const prefix = (f: string) => (files.length > 1 ? `[${name}/${path.basename(f, '.log')}] ` : '');
  for (const f of files) {
    // Across the rotated parts (N.log.1 ...), so a rotation just before does not hide lines.
    const read =
      (since !== undefined || until !== undefined) && index
        ? readLog(f, since === undefined ? undefined : index.cursorAt(f, since))
        : tailLogWithCursor(f, lines);
    const { next } = read;
    let text = read.text;
    if (until !== undefined && index) {
      // What was written after `until` is the end of what was read: read it from there and cut it
      // off (across rotated parts, as the cursors are). Before the first sample: nothing.
      const at = index.cursorAt(f, until);
      const bytes = Buffer.from(text);
      const after = at ? Buffer.byteLength(readLog(f, at).text) : bytes.length;
      text = bytes.subarray(0, Math.max(0, bytes.length - after)).toString('utf8');
    }
    const all = text.split('\n');
    if (all[all.length - 1] === '') all.pop();
    // A range without since: its last N lines.
    if (since === undefined && until !== undefined && all.length > lines) all.splice(0, all.length - lines);
    for (const l of all) write(`${prefix(f)}${l}\n`);
    cursors.set(f, next);
  }
  if (!query.follow || signal?.aborted) return;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      for (const f of files) {
        // The cursor follows a part renamed by the writer's rotation: its rest, then the new N.log.
        const { text, next } = readLog(f, cursors.get(f));
        if (text)
          for (const l of text.split('\n').filter((x, i, arr) => i < arr.length - 1 || x !== ''))
            write(`${prefix(f)}${l}\n`);
        cursors.set(f, next);
      }
    }, FOLLOW_EVERY_MS);
    const done = () => {
      clearInterval(timer);
      resolve();
    };
    if (!signal) return; // follows until the process ends (the CLI without a daemon: Ctrl-C)
    if (signal.aborted) done();
    else signal.addEventListener('abort', done, { once: true });
  });
}

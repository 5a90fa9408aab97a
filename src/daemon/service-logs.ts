/**
 * `GET /v1/services/:name/logs`: process instances' log files (with `--since` through the time
 * index and `--follow`), container logs from the engine.
 */
import type http from 'node:http';
import path from 'node:path';
import type { Installation } from '../core/installation.js';
import type { LocalOperations } from '../core/local-operations.js';
import { handleOf } from '../kinds/service/service-kind.js';
import { asServiceOutputs, asServiceSpec } from '../kinds/service/service-spec.js';
import { Duration } from '../util/duration.js';
import { ApiError } from './api/http-app.js';
import { readLog, tailLogWithCursor, type LogCursor, type LogIndex } from '../observe/log-files.js';
import { intParam } from './routes.js';

export async function serveLogs(
  inst: Installation,
  ops: LocalOperations,
  logIndex: LogIndex,
  name: string,
  q: URLSearchParams,
  write: (t: string) => void,
  req: http.IncomingMessage,
): Promise<void> {
  const a = ops.serviceAddress(name);
  const row = inst.store.tryGetResource(a);
  const wanted = q.get('instance');
  const instanceIdx = wanted === null ? undefined : intParam(q, 'instance', 0, 0, 1000);
  const lines = intParam(q, 'lines', 200, 1, 100_000);
  const follow = q.get('follow') === '1' || q.get('follow') === 'true';
  const sinceText = q.get('since');
  let since: number | undefined;
  if (sinceText) {
    const d = Duration.tryParse(sinceText);
    const t = d
      ? inst.clock.now().getTime() - d.toMilliseconds()
      : /^\d{4}-\d{2}-\d{2}/.test(sinceText)
        ? Date.parse(sinceText)
        : NaN;
    if (!Number.isFinite(t))
      throw new ApiError(400, 'bad-request', `since must be a duration (10m) or a timestamp, found "${sinceText}"`);
    since = t;
  }
  const instances = asServiceOutputs(row?.outputs ?? {}).instances.filter(
    (i) => instanceIdx === undefined || i.index === instanceIdx,
  );
  const spec = row ? asServiceSpec(row.spec) : undefined;
  if (spec && spec.runtime !== 'process') {
    // Containers: the engine keeps (and rotates) the logs.
    const driver = inst.drivers.drivers[spec.runtime];
    if (follow)
      throw new ApiError(
        400,
        'bad-request',
        `following logs of a ${spec.runtime} service is not supported yet`,
        'use `docker logs -f CONTAINER` (see `groundwork status --json` for instance ids)',
      );
    for (const i of instances) {
      const text = driver ? await driver.logs(handleOf(i, name), { lines }) : '';
      for (const l of text.split('\n').filter((x) => x !== ''))
        write(`${instances.length > 1 ? `[${name}/${i.index}] ` : ''}${l}\n`);
    }
    write('');
    return;
  }
  const files = [...new Set(instances.map((i) => i.logFile))];
  // A stopped instance still has its log file.
  if (instanceIdx !== undefined && files.length === 0) files.push(inst.drivers.process.logFileFor(name, instanceIdx));
  const cursors = new Map<string, LogCursor>();
  const prefix = (f: string) => (files.length > 1 ? `[${name}/${path.basename(f, '.log')}] ` : '');
  for (const f of files) {
    // Across the rotated parts (N.log.1 ...), so a rotation just before does not hide lines.
    const { text, next } = since !== undefined ? readLog(f, logIndex.cursorAt(f, since)) : tailLogWithCursor(f, lines);
    const all = text.split('\n');
    if (all[all.length - 1] === '') all.pop();
    for (const l of all) write(`${prefix(f)}${l}\n`);
    cursors.set(f, next);
  }
  if (!follow) {
    write('');
    return;
  }
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
    }, 250);
    req.socket.once('close', () => {
      clearInterval(timer);
      resolve();
    });
  });
}

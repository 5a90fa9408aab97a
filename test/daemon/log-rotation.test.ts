/**
 * Log rotation (copy-truncate) and the time→offset index, on real files, with a real process
 * that keeps appending (O_APPEND) while its file is rotated under it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogIndex, readFrom, rotateIfLarge } from '../../src/daemon/log-files.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { isAlive, killProcessesUnder } from '../helpers/processes.js';
import { request, startInProcess, writeStack, type InProcessDaemon } from './daemon-harness.js';

describe('rotateIfLarge', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir('logrot');
  });
  afterEach(() => {
    removeTempDir(dir);
  });

  it('leaves a file at or under maxBytes alone, and a missing file too', () => {
    const f = path.join(dir, 'a.log');
    writeFileSync(f, 'x'.repeat(100));
    expect(rotateIfLarge(f, { maxBytes: 100, keep: 3 })).toBe(false);
    expect(readFileSync(f, 'utf8')).toHaveLength(100);
    expect(existsSync(`${f}.1`)).toBe(false);
    expect(rotateIfLarge(path.join(dir, 'missing.log'), { maxBytes: 1, keep: 3 })).toBe(false);
  });

  it('moves the content to file.1 (the newest old part), empties the file, and keeps only `keep` parts', () => {
    const f = path.join(dir, 'a.log');
    for (let round = 1; round <= 5; round++) {
      writeFileSync(f, `round ${round}\n`.repeat(20));
      expect(rotateIfLarge(f, { maxBytes: 50, keep: 3 })).toBe(true);
      expect(statSync(f).size).toBe(0);
    }
    // Rounds 5, 4, 3 are kept as .1, .2, .3; rounds 1 and 2 are gone.
    expect(readFileSync(`${f}.1`, 'utf8')).toMatch(/^round 5\n/);
    expect(readFileSync(`${f}.2`, 'utf8')).toMatch(/^round 4\n/);
    expect(readFileSync(`${f}.3`, 'utf8')).toMatch(/^round 3\n/);
    expect(existsSync(`${f}.4`)).toBe(false);
    expect(readFileSync(`${f}.1`, 'utf8')).toBe('round 5\n'.repeat(20));
  });

  it('keep: 1 keeps exactly one old part', () => {
    const f = path.join(dir, 'b.log');
    for (const r of ['first', 'second', 'third']) {
      writeFileSync(f, `${r}\n`.repeat(10));
      rotateIfLarge(f, { maxBytes: 10, keep: 1 });
    }
    expect(readFileSync(`${f}.1`, 'utf8')).toBe('third\n'.repeat(10));
    expect(existsSync(`${f}.2`)).toBe(false);
  });

  describe('with a process appending to the file', () => {
    let writer: ChildProcess | undefined;
    afterEach(async () => {
      if (writer?.pid && isAlive(writer.pid)) {
        writer.kill('SIGKILL');
        await waitFor(() => !isAlive(writer?.pid as number), { what: 'the writer to exit' });
      }
      writer = undefined;
    });

    it('the writer (O_APPEND, as instances write) keeps writing at the start of the truncated file', async () => {
      const f = path.join(dir, 'svc.log');
      // `>>` opens with O_APPEND, like the process driver's openSync(logFile, 'a').
      writer = spawn('/bin/sh', ['-c', `i=0; while :; do i=$((i+1)); echo "line $i"; sleep 0.005; done >> '${f}'`], {
        stdio: 'ignore',
      });
      await waitFor(() => existsSync(f) && statSync(f).size > 2000, { what: 'the writer to write 2 kB' });
      expect(rotateIfLarge(f, { maxBytes: 1000, keep: 2 })).toBe(true);
      const old = readFileSync(`${f}.1`, 'utf8');
      const lastOld = Number(/line (\d+)\n$/.exec(old)?.[1]);
      expect(lastOld).toBeGreaterThan(0);
      // New lines keep arriving, at offset 0 of the truncated file: no hole of NUL bytes.
      const after = await waitFor(
        () => {
          const t = readFileSync(f, 'utf8');
          return t.split('\n').length > 20 ? t : undefined;
        },
        { what: 'new lines after the rotation' },
      );
      expect(after.charCodeAt(0)).not.toBe(0);
      expect(after).not.toContain('\0');
      expect(after).toMatch(/^line \d+\n/);
      const firstNew = Number(/^line (\d+)/.exec(after)?.[1]);
      // Lines written between the copy and the truncate may be lost (copy-truncate), but no more than a few.
      expect(firstNew).toBeGreaterThan(lastOld);
      expect(firstNew - lastOld).toBeLessThan(50);
      // And it keeps going: the file grows on, line by line, after a second rotation too.
      await waitFor(() => statSync(f).size > 1500, { what: 'the file to pass 1.5 kB again' });
      expect(rotateIfLarge(f, { maxBytes: 1000, keep: 2 })).toBe(true);
      await waitFor(() => readFileSync(f, 'utf8').split('\n').length > 5, { what: 'lines after the second rotation' });
      const again = readFileSync(f, 'utf8');
      expect(again).not.toContain('\0');
      // The first rotation's part moved on to .2, unchanged.
      expect(readFileSync(`${f}.2`, 'utf8')).toBe(old);
    });
  });
});

describe('LogIndex', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir('logidx');
  });
  afterEach(() => {
    removeTempDir(dir);
  });

  it('maps a time to the file offset sampled at or before it', () => {
    const f = path.join(dir, 'a.log');
    const idx = new LogIndex();
    writeFileSync(f, '');
    idx.sample(f, 1000);
    appendFileSync(f, 'one\n');
    idx.sample(f, 2000);
    appendFileSync(f, 'two\n');
    idx.sample(f, 3000);
    expect(idx.offsetAt(f, 500)).toBe(0);
    expect(idx.offsetAt(f, 1000)).toBe(0);
    expect(idx.offsetAt(f, 1999)).toBe(0);
    expect(idx.offsetAt(f, 2000)).toBe(4);
    expect(idx.offsetAt(f, 2500)).toBe(4);
    expect(idx.offsetAt(f, 99_999)).toBe(8);
    // Reading from the offset of t=2500 gives what was written after the 2000 sample.
    expect(readFrom(f, idx.offsetAt(f, 2500)).text).toBe('two\n');
  });

  it('does not add a sample while the size stays the same', () => {
    const f = path.join(dir, 'a.log');
    const idx = new LogIndex();
    writeFileSync(f, 'abc\n');
    idx.sample(f, 1000);
    idx.sample(f, 2000);
    idx.sample(f, 3000);
    // An unchanged size adds no sample: one sample at 1000 answers for every later time.
    expect(idx.offsetAt(f, 2500)).toBe(4);
    expect(idx.offsetAt(f, 999)).toBe(0);
  });

  it('starts over after a rotation (the file got smaller)', () => {
    const f = path.join(dir, 'a.log');
    const idx = new LogIndex();
    writeFileSync(f, 'x'.repeat(100));
    idx.sample(f, 1000);
    appendFileSync(f, 'y'.repeat(100));
    idx.sample(f, 2000);
    expect(rotateIfLarge(f, { maxBytes: 150, keep: 1 })).toBe(true);
    appendFileSync(f, 'after\n');
    idx.sample(f, 3000);
    // Nothing from before the rotation points into the new, shorter file.
    expect(idx.offsetAt(f, 2500)).toBe(0);
    expect(idx.offsetAt(f, 3500)).toBe(6);
    expect(readFrom(f, idx.offsetAt(f, 2500)).text).toBe('after\n');
  });

  it('ignores a missing file and answers 0 for an unknown one', () => {
    const idx = new LogIndex();
    idx.sample(path.join(dir, 'nope.log'), 1000);
    expect(idx.offsetAt(path.join(dir, 'nope.log'), 2000)).toBe(0);
  });

  it('keeps at most 2000 samples per file', () => {
    const f = path.join(dir, 'a.log');
    const idx = new LogIndex();
    writeFileSync(f, '');
    for (let i = 1; i <= 2100; i++) {
      appendFileSync(f, 'z');
      idx.sample(f, i);
    }
    // The oldest 100 samples are dropped: times before the first kept one map to offset 0.
    expect(idx.offsetAt(f, 100)).toBe(0);
    expect(idx.offsetAt(f, 101)).toBe(101);
    expect(idx.offsetAt(f, 2100)).toBe(2100);
  });
});

describe('readFrom', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir('logread');
  });
  afterEach(() => {
    removeTempDir(dir);
  });

  it('reads from an offset, restarts at 0 when the file was truncated below it, and is empty for a missing file', () => {
    const f = path.join(dir, 'a.log');
    writeFileSync(f, 'hello\nworld\n');
    expect(readFrom(f, 6)).toEqual({ text: 'world\n', next: 12 });
    expect(readFrom(f, 12)).toEqual({ text: '', next: 12 });
    writeFileSync(f, 'new\n');
    expect(readFrom(f, 12)).toEqual({ text: 'new\n', next: 4 });
    expect(readFrom(path.join(dir, 'none'), 5)).toEqual({ text: '', next: 0 });
  });

  it('reads at most `max` bytes and says where to go on', () => {
    const f = path.join(dir, 'a.log');
    writeFileSync(f, 'abcdefghij');
    expect(readFrom(f, 0, 4)).toEqual({ text: 'abcd', next: 4 });
    expect(readFrom(f, 4, 4)).toEqual({ text: 'efgh', next: 8 });
  });
});

describe('rotation in a running daemon', () => {
  let dir: string;
  let d: InProcessDaemon | undefined;
  beforeEach(() => {
    dir = makeTempDir('logd');
  });
  afterEach(async () => {
    const t = d ? await d.close() : { downCompleted: true, leftovers: await killProcessesUnder(dir) };
    d = undefined;
    removeTempDir(dir);
    expect(t.leftovers).toBe(0);
  });

  it("rotates a chatty instance's log by size while the instance keeps logging, and `logs` still shows the newest lines", async () => {
    writeStack(dir, {
      stack: 'logd',
      services: {
        chatty: {
          command:
            'i=0; while :; do i=$((i+1)); echo "tick $i ................................................"; sleep 0.01; done',
          stop_grace: '1s',
        },
      },
    });
    d = await startInProcess(dir, { rotation: { maxBytes: 4096, keep: 2 } });
    const log = path.join(dir, '.groundwork', 'logs', 'chatty', '0.log');
    // Housekeeping runs every 2 s.
    await waitFor(() => existsSync(`${log}.1`), { what: 'the first rotation', timeoutMs: 15_000, intervalMs: 100 });
    const rotated = readFileSync(`${log}.1`, 'utf8');
    expect(rotated).toMatch(/^tick \d+ /);
    await waitFor(() => existsSync(`${log}.2`), { what: 'the second rotation', timeoutMs: 15_000, intervalMs: 100 });
    await waitFor(() => statSync(log).size > 200, { what: 'new lines in the live file after rotation' });
    const live = readFileSync(log, 'utf8');
    expect(live).not.toContain('\0');
    expect(live).toMatch(/^tick \d+ /);
    expect(existsSync(`${log}.3`), 'keep: 2 keeps two parts').toBe(false);
    const api = d.api;
    const r = await request(api.url, 'GET', '/v1/services/chatty/logs?lines=3', { token: api.token });
    expect(r.status).toBe(200);
    const lines = r.text.trim().split('\n');
    expect(lines).toHaveLength(3);
    const newest = Number(/tick (\d+)/.exec(lines[2] ?? '')?.[1]);
    const lastRotated = Math.max(...[...rotated.matchAll(/tick (\d+)/g)].map((m) => Number(m[1])));
    expect(newest).toBeGreaterThan(lastRotated);
  });
});

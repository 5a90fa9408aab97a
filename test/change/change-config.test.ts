/** The `changes:` section as the stack file's loader checks it: every problem at once, located, with a fix. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStack } from '../../src/config/load.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { writeStack } from '../helpers/stack-file.js';

describe('changes: in the stack file', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir('change-config');
  });
  afterAll(() => removeTempDir(dir));

  it('reports dangling services and channels, a freeze without one schedule, a bad time zone', async () => {
    const file = writeStack(dir, {
      stack: 'cfg',
      services: { web: { command: 'true' } },
      notify: { channels: { ops: { webhook: { url: 'http://127.0.0.1:9/hook' } } } },
      changes: {
        approvals: { review: { services: ['wbe'], approvals: 1 } },
        freezes: {
          empty: {},
          weekend: { weekly: { days: ['sat'], from: '00:00', to: '23:59', timezone: 'Mars/Olympus' } },
          backwards: { once: { start: '2026-12-24T00:00:00Z', end: '2026-12-23T00:00:00Z' } },
        },
        notify: ['opps'],
      },
    });
    const loaded = await loadStack(file);
    expect(loaded.config).toBeUndefined();
    const found = loaded.diagnostics.map((d) => `${d.path}: ${d.message} (${d.fix ?? ''})`);
    expect(found).toEqual(
      expect.arrayContaining([
        'changes.approvals.review.services.0: no service named `wbe` (did you mean `web`?)',
        expect.stringContaining('changes.freezes.empty: freeze window `empty` needs exactly one of once, weekly'),
        expect.stringContaining('changes.freezes.weekend.weekly.timezone: unknown time zone `Mars/Olympus`'),
        expect.stringContaining('changes.freezes.backwards.once.end: freeze window `backwards` ends before it starts'),
        'changes.notify.0: no channel named `opps` (did you mean `ops`?)',
      ]),
    );
    for (const d of loaded.diagnostics) expect(d.line).toBeGreaterThan(0);
  });

  it('accepts a valid policy', async () => {
    const file = writeStack(dir, {
      stack: 'cfg',
      services: { web: { command: 'true' } },
      changes: {
        approvals: { review: { services: ['web'], approvals: 2 } },
        freezes: { weekend: { weekly: { days: ['fri'], from: '18:00', to: '08:00', timezone: 'Europe/Berlin' } } },
      },
    });
    const loaded = await loadStack(file);
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.config?.changes?.approvals?.review?.approvals).toBe(2);
  });
});

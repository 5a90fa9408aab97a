/** The check kind: another type replaces the check; an update keeps its push token and status. */
import { describe, expect, it } from 'vitest';
import { CheckKind } from '../../../src/kinds/check/check-kind.js';
import type { KindContext } from '../../../src/kinds/resource-kind.js';
import { checkResources } from '../../../src/model/check-resources.js';
import { address, type JsonObject } from '../../../src/model/resource.js';
import type { CheckConfig } from '../../../src/config/schema.js';
import { pushTokenHash } from '../../../src/observe/checks/push-token.js';

const spec = (c: CheckConfig): JsonObject =>
  checkResources({ x: c }, (v) => JSON.parse(JSON.stringify(v)) as JsonObject)[0]?.spec ?? {};

describe('check kind', () => {
  const kind = new CheckKind();
  const a = address('check', 'x');

  it('a changed interval is an update; another type is a replace', () => {
    const tcp = spec({ tcp: '127.0.0.1:1', interval: '5s', timeout: '2s' });
    expect(kind.diff(tcp, spec({ tcp: '127.0.0.1:1', interval: '10s', timeout: '2s' }))).toMatchObject({
      changes: ['interval'],
      replaces: [],
    });
    const d = kind.diff(tcp, spec({ http: { url: 'http://127.0.0.1:1/' }, interval: '5s' }));
    expect(d.replaces).toEqual(['type']);
  });

  it('a push check gets a token at create: its hash in outputs, the URL once in progress; update keeps both', async () => {
    const shown: string[] = [];
    const ctx = { progress: (_a: string, m: string) => shown.push(m) } as Pick<KindContext, 'progress'>;
    const push = spec({ push: { grace: '1m' }, interval: '1h' });
    const outputs = await kind.create(ctx as KindContext, a, push);
    const token = /\/v1\/push\/([A-Za-z0-9_-]+)/.exec(shown.join('\n'))?.[1] ?? '';
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(outputs).toEqual({ token_hash: pushTokenHash(token) });
    expect(JSON.stringify(outputs)).not.toContain(token);
    const kept = { ...outputs, status: { state: 'up' } };
    const next = spec({ push: { grace: '2m' }, interval: '1h' });
    expect(await kind.update(ctx as KindContext, a, push, next, kept)).toEqual(kept);
    expect(kind.check(a, next)).toEqual([]);
  });
});

/**
 * TokenStore and AuditStore: tokens saved, found by hash and id, listed, revoked once; audit
 * appends chained on the head read in the same transaction, so concurrent appends (from two
 * handles, as the daemon and a CLI run) give gapless numbers, an unbroken chain, and the head
 * of the last entry.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AuditHead, AuditRow, TokenRecord } from '../../../src/store/store.js';
import { openEach, type OpenedStore, type StoreTarget } from './target.js';

const GENESIS = '0'.repeat(64);
const hashOf = (seq: number, at: string, prev: string, entry: string) =>
  createHash('sha256').update(`${seq}\n${at}\n${prev}\n${entry}`).digest('hex');
/** The row after `head`, as security/audit.ts makes it (the store must not care how). */
const next =
  (entry: string) =>
  (head: AuditHead | undefined): AuditRow => {
    const seq = (head?.seq ?? 0) + 1;
    const prevHash = head?.hash ?? GENESIS;
    const at = '2026-12-01T10:00:00.000Z';
    return { seq, at, entry, prevHash, hash: hashOf(seq, at, prevHash, entry) };
  };

const token = (id: string, over: Partial<TokenRecord> = {}): TokenRecord => ({
  id,
  hash: createHash('sha256').update(id).digest('hex'),
  role: 'viewer',
  services: null,
  user: null,
  label: '',
  createdAt: '2026-12-01T10:00:00.000Z',
  expiresAt: null,
  revokedAt: null,
  ...over,
});

export function describeAccessContract(target: StoreTarget): void {
  describe(`${target.name}: tokens and audit`, () => {
    let t: OpenedStore;
    openEach(target, (o) => (t = o));

    it('a token is found by its hash and its id, listed, and revoked once', async () => {
      const a = token('tok_a', { services: ['web', 'api'], user: 'ana', expiresAt: '2027-01-01T00:00:00.000Z' });
      await t.store.tokens.saveToken(a);
      await t.store.tokens.saveToken(token('tok_b', { role: 'admin', label: 'ci deploys' }));
      expect(await t.store.tokens.tryGetTokenByHash(a.hash)).toEqual(a);
      expect(await t.store.tokens.tryGetToken('tok_a')).toEqual(a);
      expect(await t.store.tokens.tryGetToken('tok_none')).toBeUndefined();
      expect(await t.store.tokens.tryGetTokenByHash('f'.repeat(64))).toBeUndefined();
      expect((await t.store.tokens.listTokens()).map((x) => x.id).sort()).toEqual(['tok_a', 'tok_b']);
      const at = '2026-12-02T09:00:00.000Z';
      const other = await t.openAnother();
      const revokes = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? other : t.store).tokens.revokeToken('tok_a', at)),
      );
      expect(revokes.filter(Boolean)).toHaveLength(1);
      expect((await t.store.tokens.tryGetToken('tok_a'))?.revokedAt).toBe(at);
      expect(await t.store.tokens.revokeToken('tok_none', at)).toBe(false);
    });

    it('50 concurrent appends over two handles: gapless numbers, an unbroken chain, the head is the last', async () => {
      const other = await t.openAnother();
      const rows = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 ? other : t.store).audit.appendAudit(next(`{"n":${i}}`))),
      );
      expect(rows.map((r) => r.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      const listed = await t.store.audit.listAudit();
      expect(listed.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      let prev = GENESIS;
      for (const r of listed) {
        expect(r.prevHash).toBe(prev);
        expect(r.hash).toBe(hashOf(r.seq, r.at, r.prevHash, r.entry));
        prev = r.hash;
      }
      expect(new Set(listed.map((r) => r.entry)).size).toBe(50);
      expect(await t.store.audit.auditHead()).toEqual({ seq: 50, hash: listed[49]?.hash });
      expect(await other.audit.auditHead()).toEqual({ seq: 50, hash: listed[49]?.hash });
    });

    it('lists after a seq, at most a limit, in order; an empty log has no head', async () => {
      expect(await t.store.audit.auditHead()).toBeUndefined();
      expect(await t.store.audit.listAudit()).toEqual([]);
      for (let i = 1; i <= 5; i++) await t.store.audit.appendAudit(next(`{"n":${i}}`));
      expect((await t.store.audit.listAudit(2)).map((r) => r.seq)).toEqual([3, 4, 5]);
      expect((await t.store.audit.listAudit(1, 2)).map((r) => r.seq)).toEqual([2, 3]);
      expect(await t.store.audit.listAudit(5)).toEqual([]);
    });

    it('a failing make is a rejection and appends nothing', async () => {
      await t.store.audit.appendAudit(next('{"n":1}'));
      await expect(
        t.store.audit.appendAudit(() => {
          throw new Error('cannot encode the entry');
        }),
      ).rejects.toThrow('cannot encode the entry');
      expect((await t.store.audit.listAudit()).map((r) => r.seq)).toEqual([1]);
      expect((await t.store.audit.auditHead())?.seq).toBe(1);
    });
  });
}

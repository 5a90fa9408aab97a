/**
 * The audit log: who (token, person), what (route, operation, service), when, from where, and
 * the result, for every API call that changes something, every secret read and every denied
 * request. Entries are hash-chained: each holds the hash of the one before it, and its own hash
 * covers its number, time, content and that previous hash. `verify` recomputes the chain and
 * names the first entry that was edited, deleted or moved; the store also keeps the newest
 * entry's number and hash (the head), so deleting the last entries is noticed too.
 *
 * What the chain cannot catch on its own: someone who rewrites every entry after the one they
 * changed, and the head with them. An exported copy (`audit export`) kept elsewhere is the
 * anchor for that: verify it against the store's entries.
 */
import { createHash } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { AuditRow, AuditStore } from '../store/store.js';
import type { Clock } from '../util/clock.js';

export const AuditEntrySchema = Type.Object(
  {
    /** The token's id (`admin` for the daemon's own), or null when no known token was sent. */
    token: Type.Union([Type.String(), Type.Null()]),
    user: Type.Union([Type.String(), Type.Null()]),
    /** The caller's address (the socket's), or `cli` for a local command. */
    remote: Type.String(),
    method: Type.String(),
    path: Type.String(),
    /** The route as declared (`POST /v1/services/:name/deploy`); null when the path matched none. */
    route: Type.Union([Type.String(), Type.Null()]),
    /** The permission the operation needs (permissions.ts), or a local command's name. */
    operation: Type.Union([Type.String(), Type.Null()]),
    service: Type.Union([Type.String(), Type.Null()]),
    decision: Type.Union([Type.Literal('allowed'), Type.Literal('denied')]),
    /** The HTTP status (for a stream, the status it started with). */
    status: Type.Integer(),
    /** Why it was denied, or what a local command did. */
    reason: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export type AuditEntry = Static<typeof AuditEntrySchema>;

/** An entry as listed and exported: its number, time, content and chain. */
export type AuditRecord = { seq: number; at: string; prevHash: string; hash: string } & AuditEntry;

export const GENESIS_HASH = '0'.repeat(64);

/** The hash of one entry: its number, time, previous hash and content, one per line. */
export function entryHash(seq: number, at: string, prevHash: string, entry: string): string {
  return createHash('sha256').update(`${seq}\n${at}\n${prevHash}\n${entry}`, 'utf8').digest('hex');
}

/** Canonical JSON of an entry: keys in the schema's order, so the same entry always hashes the same. */
function canonical(e: AuditEntry): string {
  const order = Object.keys(AuditEntrySchema.properties);
  const fields = Object.entries(e)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
  return JSON.stringify(Object.fromEntries(fields));
}

export interface AuditProblem {
  /** The entry it concerns (for a missing tail: the first missing number). */
  seq: number;
  kind: 'edited' | 'broken-chain' | 'missing' | 'unreadable';
  message: string;
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  head: { seq: number; hash: string } | undefined;
  problems: AuditProblem[];
}

export class AuditLog {
  constructor(
    private readonly store: AuditStore,
    private readonly clock: Clock,
  ) {}

  async append(entry: AuditEntry): Promise<AuditRecord> {
    const at = this.clock.now().toISOString();
    const text = canonical(entry);
    const row = await this.store.appendAudit((head) => {
      const seq = (head?.seq ?? 0) + 1;
      const prevHash = head?.hash ?? GENESIS_HASH;
      return { seq, at, entry: text, prevHash, hash: entryHash(seq, at, prevHash, text) };
    });
    return { seq: row.seq, at: row.at, prevHash: row.prevHash, hash: row.hash, ...entry };
  }

  /** Entries in order, oldest first (a damaged one is shown with what can be read of it). */
  async list(afterSeq = 0, limit?: number): Promise<AuditRecord[]> {
    return (await this.store.listAudit(afterSeq, limit)).map(recordOf);
  }

  /** Recomputes the chain; every problem names its entry. */
  async verify(): Promise<AuditVerification> {
    // The head before the entries: an append between the two reads then only adds entries after
    // the head (the chain still checks them). Read the other way round, that append would look
    // like entries deleted from the end.
    let head = await this.store.auditHead();
    const rows = await this.store.listAudit(0);
    // No head but entries: the first entries may have been appended between the two reads.
    const headAfterRows = !head && rows.length > 0;
    if (headAfterRows) head = await this.store.auditHead();
    const problems: AuditProblem[] = [];
    let prev: AuditRow | undefined;
    for (const r of rows) {
      const expectedSeq = (prev?.seq ?? 0) + 1;
      if (r.seq !== expectedSeq)
        problems.push({
          seq: expectedSeq,
          kind: 'missing',
          message:
            r.seq > expectedSeq
              ? `entry #${expectedSeq}${r.seq - expectedSeq > 1 ? `-#${r.seq - 1}` : ''} is missing: the log goes from #${prev?.seq ?? 0} to #${r.seq} (deleted)`
              : `entry #${r.seq} is out of order after #${prev?.seq ?? 0}`,
        });
      if (entryHash(r.seq, r.at, r.prevHash, r.entry) !== r.hash)
        problems.push({
          seq: r.seq,
          kind: 'edited',
          message: `entry #${r.seq} (${r.at}) does not match its hash: it was edited, or moved from another position`,
        });
      else if (r.prevHash !== (prev?.hash ?? GENESIS_HASH))
        problems.push({
          seq: r.seq,
          kind: 'broken-chain',
          message: `entry #${r.seq} (${r.at}) does not chain on entry #${prev?.seq ?? 0}: an entry before it was rewritten, deleted or reordered`,
        });
      if (!Value.Check(AuditEntrySchema, parseJson(r.entry)))
        problems.push({ seq: r.seq, kind: 'unreadable', message: `entry #${r.seq} is not a well-formed audit entry` });
      prev = r;
    }
    // The entry the head names (the last one, unless some were appended since the head was read).
    const atHead = head && rows.find((r) => r.seq === head.seq);
    // A head read after the entries may name entries appended since: not a deletion.
    if (head && !headAfterRows && (prev?.seq ?? 0) < head.seq)
      problems.push({
        seq: (prev?.seq ?? 0) + 1,
        kind: 'missing',
        message: `entries #${(prev?.seq ?? 0) + 1}-#${head.seq} are missing: the log ends at #${prev?.seq ?? 0} but #${head.seq} was written (deleted from the end)`,
      });
    else if (head && atHead && atHead.hash !== head.hash)
      problems.push({
        seq: atHead.seq,
        kind: 'edited',
        message: `entry #${atHead.seq} is not the entry that was written last (its hash differs from the recorded head): it was replaced`,
      });
    else if (!head && prev)
      problems.push({
        seq: prev.seq,
        kind: 'missing',
        message: 'the audit head is missing from the store while entries exist: the store was edited',
      });
    return { ok: problems.length === 0, entries: rows.length, head, problems };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function recordOf(r: AuditRow): AuditRecord {
  const v = parseJson(r.entry);
  const chain = { seq: r.seq, at: r.at, prevHash: r.prevHash, hash: r.hash };
  if (Value.Check(AuditEntrySchema, v)) return { ...chain, ...v };
  // Shown, not hidden: verify names it.
  return {
    ...chain,
    token: null,
    user: null,
    remote: '',
    method: '',
    path: '',
    route: null,
    operation: null,
    service: null,
    decision: 'denied',
    status: 0,
    reason: `unreadable entry: ${r.entry.slice(0, 200)}`,
  };
}

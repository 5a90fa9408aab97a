import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../../util/clock.js';
import type { Address, JsonObject, ResourceKindName } from '../../model/resource.js';
import type {
  AlertStore,
  ChangeNote,
  ReleaseStore,
  ChangeOutcome,
  ChangeRecord,
  IncidentStore,
  InstanceEvent,
  JournalEntry,
  LeaseHolder,
  LeaseResult,
  OutboxStore,
  LeaseStore,
  EventStore,
  TokenStore,
  AuditStore,
  ChangeRequestStore,
  ResourceRow,
  JournalStore,
  ResourceStore,
  SkippedStep,
  StepStatus,
  StepWrite,
  Store,
} from '../store.js';
import { asyncFacade } from './async-facade.js';
import { errorMessage } from '../../util/error-message.js';
import { MIGRATIONS } from './migrations.js';
import { SqliteAlerts } from './sqlite-alerts.js';
import { SqliteIncidents } from './sqlite-incidents.js';
import { SqliteOutbox } from './sqlite-outbox.js';
import { SqliteAudit, SqliteTokens } from './sqlite-access.js';
import { SqliteChangeRequests } from './sqlite-change-requests.js';
import { SqliteReleases } from './sqlite-releases.js';
import {
  backupDirOf,
  backupName,
  checkStoreFile,
  describeSqliteFailure,
  ensureStateDir,
  isDamage,
  listBackups,
  privateFile,
  StoreDamagedError,
} from './store-files.js';

export interface StoreBackups {
  /** How many backups to keep (newest first). */
  keep: number;
}

export interface SqliteStoreOptions {
  /** Run SQLite's quick integrity check before opening an existing file. */
  check?: boolean;
  /** Back up after every change that changed something. */
  backups?: StoreBackups;
}

interface ResourceDbRow {
  address: string;
  kind: string;
  spec: string;
  outputs: string;
  depends_on: string;
  serial: number;
  updated_at: string;
}
interface ChangeDbRow {
  id: number;
  kind: string;
  author: string;
  message: string;
  plan_hash: string;
  serial_before: number;
  serial_after: number | null;
  summary: string;
  started_at: string;
  finished_at: string | null;
  outcome: string;
  request: number | null;
  decisions: string;
  break_glass: string | null;
}
interface JournalDbRow {
  id: number;
  change_id: number;
  address: string;
  action: string;
  status: string;
  error: string | null;
  started_at: string;
  finished_at: string | null;
  serial: number | null;
}
interface LockDbRow {
  name: string;
  holder: string;
  pid: number;
  host: string;
  command: string;
  acquired_at: string;
  expires_at: string;
}

/**
 * SQLite in WAL mode: readers never block the writer, and a kill -9 at any moment leaves a
 * database the next open recovers (SQLite's own guarantee; synchronous=FULL for the journal).
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  /** The synchronous outbox: the alerts and incidents cores enqueue through it inside their transactions. */
  readonly outboxCore: SqliteOutbox;
  readonly outbox: OutboxStore;
  readonly alertsCore: SqliteAlerts;
  readonly alerts: AlertStore;
  readonly incidentsCore: SqliteIncidents;
  readonly incidents: IncidentStore;
  readonly tokensCore: SqliteTokens;
  readonly tokens: TokenStore;
  readonly auditCore: SqliteAudit;
  readonly audit: AuditStore;
  readonly changeRequestsCore: SqliteChangeRequests;
  readonly changeRequests: ChangeRequestStore;
  readonly releasesCore: SqliteReleases;
  readonly releases: ReleaseStore;
  /** The lease methods below, as the async contract. */
  readonly leases: LeaseStore;
  /** recordEvents (as `record`) and listEvents below, as the async contract. */
  readonly events: EventStore;
  readonly journal: JournalStore;
  readonly resources: ResourceStore;

  /** Why the last backup failed, if it did (a full disk must not fail the change itself). */
  lastBackupError: string | undefined;

  private constructor(
    db: Database.Database,
    private readonly clock: Clock,
    private readonly file: string,
    private readonly backups: StoreBackups | undefined,
  ) {
    this.db = db;
    this.outboxCore = new SqliteOutbox(db, clock);
    this.outbox = asyncFacade(this.outboxCore, [
      'enqueue',
      'claimDue',
      'finishAttempt',
      'recoverSending',
      'listOutbox',
      'attemptsOf',
      'nextDueAt',
      'cancelPending',
      'pruneDelivered',
    ]) satisfies OutboxStore;
    this.alertsCore = new SqliteAlerts(db, clock, this.outboxCore);
    this.alerts = asyncFacade(this.alertsCore, [
      'listAlerts',
      'tryGetAlert',
      'saveAlert',
      'saveAlerts',
      'deleteAlert',
      'addSilence',
      'expireSilence',
      'listSilences',
    ]) satisfies AlertStore;
    this.incidentsCore = new SqliteIncidents(db, clock, this.outboxCore);
    this.incidents = asyncFacade(this.incidentsCore, [
      'openIncidentByKey',
      'tryGetIncident',
      'listIncidents',
      'saveIncident',
      'openIncident',
      'timeline',
      'queuedKeys',
      'addActionItem',
      'setActionItemDone',
      'tryGetActionItem',
      'actionItems',
      'addOverride',
      'listOverrides',
      'removeOverride',
    ]) satisfies IncidentStore;
    this.releasesCore = new SqliteReleases(db);
    this.releases = asyncFacade(this.releasesCore, [
      'createRelease',
      'updateRelease',
      'settle',
      'listReleases',
      'latestByService',
      'tryGetRelease',
    ]) satisfies ReleaseStore;
    this.tokensCore = new SqliteTokens(db);
    this.tokens = asyncFacade(this.tokensCore, [
      'saveToken',
      'tryGetTokenByHash',
      'tryGetToken',
      'listTokens',
      'revokeToken',
    ]) satisfies TokenStore;
    this.auditCore = new SqliteAudit(db);
    this.audit = asyncFacade(this.auditCore, ['appendAudit', 'listAudit', 'auditHead']) satisfies AuditStore;
    this.changeRequestsCore = new SqliteChangeRequests(db, clock);
    this.changeRequests = asyncFacade(this.changeRequestsCore, [
      'saveRequest',
      'tryGetRequest',
      'listRequests',
      'addApproval',
      'claimRequest',
      'releaseRequest',
      'refuseRequest',
    ]) satisfies ChangeRequestStore;
    this.leases = asyncFacade<SqliteStore, keyof LeaseStore>(this, [
      'acquireLease',
      'renewLease',
      'releaseLease',
      'tryGetLease',
      'forceReleaseLease',
    ]) satisfies LeaseStore;
    const events = asyncFacade<SqliteStore, 'recordEvents' | 'listEvents'>(this, ['recordEvents', 'listEvents']);
    this.events = { record: events.recordEvents, listEvents: events.listEvents } satisfies EventStore;
    // `this` is polymorphic inside the class; the facade needs the concrete type's methods.
    this.resources = asyncFacade(this as SqliteStore, [
      'serial',
      'listResources',
      'tryGetResource',
      'readState',
      'recordRuntimeOutputs',
      'updateOutputs',
    ]) satisfies ResourceStore;
    this.journal = asyncFacade(this as SqliteStore, [
      'beginChange',
      'finishChange',
      'listChanges',
      'noteChange',
      'tryGetChange',
      'entries',
      'startStep',
      'finishStep',
      'skipSteps',
      'recoverInterrupted',
    ]) satisfies JournalStore;
  }

  /**
   * Opens (creating) the store. A damaged file throws StoreDamagedError naming the last good
   * backup; the quick integrity check runs only on stores opened with `check` (the daemon, the
   * state command), since a single command's open must stay fast.
   */
  static open(file: string, clock: Clock, opts: SqliteStoreOptions = {}): SqliteStore {
    ensureStateDir(path.dirname(file));
    const existed = existsSync(file);
    if (existed && opts.check) {
      const r = checkStoreFile(file);
      if (!r.ok) throw new StoreDamagedError(file, r.problem, listBackups(file)[0]);
    }
    let db: Database.Database | undefined;
    try {
      db = new Database(file, { timeout: 5000 });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      const store = new SqliteStore(db, clock, file, opts.backups);
      store.migrate();
      for (const f of [file, `${file}-wal`, `${file}-shm`]) privateFile(f);
      return store;
    } catch (e) {
      db?.close();
      if (existed && isDamage(e)) throw new StoreDamagedError(file, describeSqliteFailure(e), listBackups(file)[0]);
      throw e;
    }
  }

  /** A consistent copy of the store (safe while it is in use). */
  backupTo(dest: string): void {
    mkdirSync(path.dirname(dest), { recursive: true, mode: 0o700 });
    const tmp = `${dest}.tmp`;
    rmSync(tmp, { force: true });
    this.db.prepare('VACUUM INTO ?').run(tmp);
    chmodSync(tmp, 0o600);
    renameSync(tmp, dest);
  }

  /** After every finished change: a backup, keeping the newest `keep`. */
  private backupAfterChange(): void {
    if (!this.backups) return;
    try {
      const dir = backupDirOf(this.file);
      this.backupTo(path.join(dir, backupName(this.serial(), this.clock.now())));
      for (const old of listBackups(this.file).slice(this.backups.keep)) rmSync(old.file, { force: true });
      this.lastBackupError = undefined;
    } catch (e) {
      this.lastBackupError = errorMessage(e);
    }
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new Error(
        `the state store was written by a newer Groundwork (schema ${version}, this one knows ${MIGRATIONS.length}); upgrade Groundwork`,
      );
    }
    for (let i = version; i < MIGRATIONS.length; i++) {
      this.db
        .transaction(() => {
          this.db.exec(MIGRATIONS[i] as string);
          this.db.pragma(`user_version = ${i + 1}`);
        })
        .immediate();
    }
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  /** Statements of the read paths, prepared once: serial() runs in every step's transaction. */
  private readonly reads = new Map<string, Database.Statement>();

  private read(sql: string): Database.Statement {
    let st = this.reads.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.reads.set(sql, st);
    }
    return st;
  }

  serial(): number {
    const r = this.read(`SELECT value FROM meta WHERE key = 'serial'`).get() as { value: string };
    return Number(r.value);
  }

  listResources(): ResourceRow[] {
    return (
      this.read(
        'SELECT address, kind, spec, outputs, depends_on, serial, updated_at FROM resources ORDER BY address',
      ).all() as ResourceDbRow[]
    ).map(toResource);
  }

  tryGetResource(address: Address): ResourceRow | undefined {
    const r = this.read(
      'SELECT address, kind, spec, outputs, depends_on, serial, updated_at FROM resources WHERE address = ?',
    ).get(address) as ResourceDbRow | undefined;
    return r && toResource(r);
  }

  beginChange(c: Pick<ChangeRecord, 'kind' | 'author' | 'message' | 'planHash' | 'summary'>): number {
    const r = this.db
      .prepare(
        `INSERT INTO changes (kind, author, message, plan_hash, serial_before, summary, started_at, outcome)
      VALUES (?, ?, ?, ?, ?, ?, ?, 'running')`,
      )
      .run(c.kind, c.author, c.message, c.planHash, this.serial(), JSON.stringify(c.summary), this.now());
    return Number(r.lastInsertRowid);
  }

  finishChange(id: number, outcome: ChangeOutcome, summary: Record<string, number>): void {
    this.db
      .prepare('UPDATE changes SET outcome = ?, summary = ?, finished_at = ?, serial_after = ? WHERE id = ?')
      .run(outcome, JSON.stringify(summary), this.now(), this.serial(), id);
    // A no-op changed nothing worth a copy.
    if (outcome !== 'no-op') this.backupAfterChange();
  }

  listChanges(limit = 50): ChangeRecord[] {
    return (this.db.prepare('SELECT * FROM changes ORDER BY id DESC LIMIT ?').all(limit) as ChangeDbRow[]).map(
      toChange,
    );
  }

  noteChange(id: number, note: ChangeNote): void {
    this.db
      .prepare('UPDATE changes SET request = ?, decisions = ?, break_glass = ? WHERE id = ?')
      .run(note.request, JSON.stringify(note.decisions), note.breakGlass, id);
  }

  tryGetChange(id: number): ChangeRecord | undefined {
    const r = this.db.prepare('SELECT * FROM changes WHERE id = ?').get(id) as ChangeDbRow | undefined;
    return r && toChange(r);
  }

  entries(changeId: number): JournalEntry[] {
    return (
      this.db.prepare('SELECT * FROM journal WHERE change_id = ? ORDER BY id').all(changeId) as JournalDbRow[]
    ).map(toJournal);
  }

  startStep(changeId: number, address: Address, action: string): number {
    const r = this.db
      .prepare(`INSERT INTO journal (change_id, address, action, status, started_at) VALUES (?, ?, ?, 'started', ?)`)
      .run(changeId, address, action, this.now());
    return Number(r.lastInsertRowid);
  }

  finishStep(journalId: number, status: Exclude<StepStatus, 'started'>, write: StepWrite, error?: string): number {
    return this.db
      .transaction(() => {
        let serial = this.serial();
        if (write.kind !== 'none') {
          serial += 1;
          this.db.prepare(`UPDATE meta SET value = ? WHERE key = 'serial'`).run(String(serial));
          if (write.kind === 'upsert') {
            const r = write.row;
            this.db
              .prepare(
                `INSERT INTO resources (address, kind, spec, outputs, depends_on, serial, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(address) DO UPDATE SET kind = excluded.kind, spec = excluded.spec, outputs = excluded.outputs,
            depends_on = excluded.depends_on, serial = excluded.serial, updated_at = excluded.updated_at`,
              )
              .run(
                r.address,
                r.kind,
                JSON.stringify(r.spec),
                JSON.stringify(r.outputs),
                JSON.stringify(r.dependsOn),
                serial,
                this.now(),
              );
          } else {
            this.db.prepare('DELETE FROM resources WHERE address = ?').run(write.address);
          }
        }
        this.db
          .prepare('UPDATE journal SET status = ?, error = ?, finished_at = ?, serial = ? WHERE id = ?')
          .run(status, error ?? null, this.now(), serial, journalId);
        return serial;
      })
      .immediate();
  }

  skipSteps(changeId: number, steps: readonly SkippedStep[]): void {
    if (steps.length === 0) return;
    this.db
      .transaction(() => {
        const at = this.now();
        const serial = this.serial();
        const insert = this.db.prepare(
          `INSERT INTO journal (change_id, address, action, status, error, started_at, finished_at, serial)
          VALUES (?, ?, ?, 'skipped', ?, ?, ?, ?)`,
        );
        for (const s of steps) insert.run(changeId, s.address, s.action, s.because, at, at, serial);
      })
      .immediate();
  }

  recoverInterrupted(): JournalEntry[] {
    return this.db
      .transaction(() => {
        const rows = (
          this.db.prepare(`SELECT * FROM journal WHERE status = 'started' ORDER BY id`).all() as JournalDbRow[]
        ).map(toJournal);
        this.db
          .prepare(`UPDATE journal SET status = 'interrupted', finished_at = ? WHERE status = 'started'`)
          .run(this.now());
        this.db
          .prepare(
            `UPDATE changes SET outcome = 'interrupted', finished_at = ?, serial_after = ? WHERE outcome = 'running'`,
          )
          .run(this.now(), this.serial());
        return rows;
      })
      .immediate();
  }

  acquireLease(
    name: string,
    h: Omit<LeaseHolder, 'acquiredAt' | 'expiresAt'>,
    ttlMs: number,
    isDead: (h: LeaseHolder) => boolean,
  ): LeaseResult {
    return this.db
      .transaction((): LeaseResult => {
        const now = this.clock.now();
        const cur = this.tryGetLease(name);
        if (cur && cur.holder !== h.holder && new Date(cur.expiresAt) > now && !isDead(cur))
          return { acquired: false, heldBy: cur };
        this.db
          .prepare(
            `INSERT OR REPLACE INTO locks (name, holder, pid, host, command, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            name,
            h.holder,
            h.pid,
            h.host,
            h.command,
            now.toISOString(),
            new Date(now.getTime() + ttlMs).toISOString(),
          );
        return { acquired: true };
      })
      .immediate();
  }

  renewLease(name: string, holder: string, ttlMs: number): boolean {
    const r = this.db
      .prepare('UPDATE locks SET expires_at = ? WHERE name = ? AND holder = ?')
      .run(new Date(this.clock.now().getTime() + ttlMs).toISOString(), name, holder);
    return r.changes === 1;
  }

  releaseLease(name: string, holder: string): void {
    this.db.prepare('DELETE FROM locks WHERE name = ? AND holder = ?').run(name, holder);
  }

  tryGetLease(name: string): LeaseHolder | undefined {
    const r = this.db.prepare('SELECT * FROM locks WHERE name = ?').get(name) as LockDbRow | undefined;
    return (
      r && {
        holder: r.holder,
        pid: r.pid,
        host: r.host,
        command: r.command,
        acquiredAt: r.acquired_at,
        expiresAt: r.expires_at,
      }
    );
  }

  forceReleaseLease(name: string): LeaseHolder | undefined {
    const cur = this.tryGetLease(name);
    this.db.prepare('DELETE FROM locks WHERE name = ?').run(name);
    return cur;
  }

  recordRuntimeOutputs(address: Address, outputs: JsonObject): void {
    this.db.prepare('UPDATE resources SET outputs = ? WHERE address = ?').run(JSON.stringify(outputs), address);
  }

  readState(): { serial: number; rows: ResourceRow[] } {
    return this.db.transaction(() => ({ serial: this.serial(), rows: this.listResources() }))();
  }

  updateOutputs(address: Address, update: (outputs: JsonObject) => JsonObject | undefined): boolean {
    return this.db
      .transaction((): boolean => {
        const r = this.read('SELECT outputs FROM resources WHERE address = ?').get(address) as
          { outputs: string } | undefined;
        if (!r) return false;
        const next = update(JSON.parse(r.outputs) as JsonObject);
        if (next === undefined) return false;
        this.recordRuntimeOutputs(address, next);
        return true;
      })
      .immediate();
  }

  recordEvents(rows: readonly Omit<InstanceEvent, 'id'>[]): void {
    if (rows.length === 0) return;
    const insert = this.db.prepare('INSERT INTO events (at, address, instance, type, reason) VALUES (?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const e of rows) insert.run(e.at, e.address, e.instance, e.type, e.reason);
    })();
  }

  listEvents(address?: string, limit = 100): InstanceEvent[] {
    const rows = address
      ? this.db.prepare('SELECT * FROM events WHERE address = ? ORDER BY id DESC LIMIT ?').all(address, limit)
      : this.db.prepare('SELECT * FROM events ORDER BY id DESC LIMIT ?').all(limit);
    return (rows as InstanceEvent[]).reverse();
  }

  /** Every SQLite call has finished when it returned, so nothing is in flight: closes at once. */
  close(): Promise<void> {
    this.closeNow();
    return Promise.resolve();
  }

  /** For synchronous callers of the SQLite core itself (tests that inspect a state file). */
  closeNow(): void {
    this.db.close();
  }
}

function toResource(r: ResourceDbRow): ResourceRow {
  return {
    address: r.address as Address,
    kind: r.kind as ResourceKindName,
    spec: JSON.parse(r.spec) as JsonObject,
    outputs: JSON.parse(r.outputs) as JsonObject,
    dependsOn: JSON.parse(r.depends_on) as Address[],
    serial: r.serial,
    updatedAt: r.updated_at,
  };
}

function toChange(r: ChangeDbRow): ChangeRecord {
  return {
    id: r.id,
    kind: r.kind as ChangeRecord['kind'],
    author: r.author,
    message: r.message,
    planHash: r.plan_hash,
    serialBefore: r.serial_before,
    serialAfter: r.serial_after,
    summary: JSON.parse(r.summary) as Record<string, number>,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    outcome: r.outcome as ChangeOutcome,
    request: r.request,
    decisions: JSON.parse(r.decisions) as number[],
    breakGlass: r.break_glass,
  };
}

function toJournal(r: JournalDbRow): JournalEntry {
  return {
    id: r.id,
    changeId: r.change_id,
    address: r.address as Address,
    action: r.action,
    status: r.status as StepStatus,
    error: r.error,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    serial: r.serial,
  };
}

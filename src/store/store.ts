/**
 * The state store. One writer; every write that changes resources bumps the serial in the same
 * transaction. SQLite is the embedded default (store/sqlite).
 */
import type { Address, JsonObject, ResourceKindName } from '../model/resource.js';

export interface ResourceRow {
  address: Address;
  kind: ResourceKindName;
  /** The spec last applied (or last observed by refresh). References unresolved. */
  spec: JsonObject;
  /** What the kind recorded about the real thing (pids, allocated ports, ...). */
  outputs: JsonObject;
  dependsOn: Address[];
  /** Serial at which this row last changed. */
  serial: number;
  updatedAt: string;
}

export const CHANGE_OUTCOMES = ['running', 'applied', 'partial', 'failed', 'interrupted', 'no-op'] as const;
export type ChangeOutcome = (typeof CHANGE_OUTCOMES)[number];
export const STEP_STATUSES = ['started', 'applied', 'failed', 'skipped', 'interrupted'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export interface ChangeRecord {
  id: number;
  /** `rotate`: a secret's new version (`groundwork secret rotate`). */
  kind: 'apply' | 'refresh' | 'destroy' | 'deploy' | 'rollback' | 'rotate';
  author: string;
  message: string;
  planHash: string;
  serialBefore: number;
  serialAfter: number | null;
  summary: Record<string, number>;
  startedAt: string;
  finishedAt: string | null;
  outcome: ChangeOutcome;
  /** The approved change request this change carried out (change/), if any. */
  request: number | null;
  /** Numbers of the decision records (docs/decisions/NNNN-*.md) it implements. */
  decisions: number[];
  /** The reason given to make it during a freeze window (`--break-glass`), if any. */
  breakGlass: string | null;
}

/** What change management adds to a change record once the operation has made it. */
export type ChangeNote = Pick<ChangeRecord, 'request' | 'decisions' | 'breakGlass'>;

export interface JournalEntry {
  id: number;
  changeId: number;
  address: Address;
  action: string;
  status: StepStatus;
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
  serial: number | null;
}

export interface LeaseHolder {
  holder: string;
  pid: number;
  host: string;
  command: string;
  acquiredAt: string;
  expiresAt: string;
}

export type LeaseResult = { acquired: true } | { acquired: false; heldBy: LeaseHolder };

/** What a step's completion writes, atomically with its journal row and the serial bump. */
export type StepWrite =
  | { kind: 'upsert'; row: Omit<ResourceRow, 'serial' | 'updatedAt'> }
  | { kind: 'delete'; address: Address }
  | { kind: 'none' };

export interface InstanceEvent {
  id: number;
  at: string;
  address: string;
  instance: string;
  type: string;
  reason: string;
}

export const RELEASE_STATUSES = [
  'building',
  'build-failed',
  'deploying',
  'active',
  'superseded',
  'failed',
  'rolled-back',
  'pruned',
] as const;
export type ReleaseStatus = (typeof RELEASE_STATUSES)[number];

/** An immutable release of a service: code directory plus a snapshot of its resolved config. */
export interface ReleaseRecord {
  service: string;
  /** v1, v2, ... per service. */
  seq: number;
  /** Content hash of code and config. */
  hash: string;
  status: ReleaseStatus;
  /** deploy: new code; config: an apply changed the config; rollback: restored an older release. */
  kind: 'deploy' | 'config' | 'rollback';
  /** e.g. `git main@1a2b3c4`, `working tree`, `stack directory`. */
  source: string;
  /** The service spec snapshot (references unresolved; no secret values). */
  spec: JsonObject;
  /** Directory instances run in (relative paths of the spec resolve against it). */
  dir: string;
  buildLog: string | null;
  message: string;
  author: string;
  createdAt: string;
  finishedAt: string | null;
  /** Why it failed or was rolled back. */
  detail: string | null;
}

/** Resources: what was applied, a row each, and the serial that every change bumps. */
export interface ResourceStore {
  serial(): Promise<number>;
  listResources(): Promise<ResourceRow[]>;
  tryGetResource(address: Address): Promise<ResourceRow | undefined>;
  /**
   * The serial and every row, read in one transaction: a plan made from them names the serial
   * its rows belong to (two separate reads could pair rows with a newer serial).
   */
  readState(): Promise<{ serial: number; rows: ResourceRow[] }>;
  /**
   * Runtime facts (a restarted instance's new pid) for an existing resource. Does not bump the
   * serial: the applied configuration did not change, so saved plans stay valid.
   */
  recordRuntimeOutputs(address: Address, outputs: JsonObject): Promise<void>;
  /**
   * Reads a resource's outputs, hands them to `update` and writes what it returns, in one
   * transaction, so concurrent edits of different parts (one instance each) are all kept.
   * `update` is synchronous and pure; returning undefined writes nothing. Does not bump the
   * serial. False when there is no such resource or nothing was written.
   */
  updateOutputs(address: Address, update: (outputs: JsonObject) => JsonObject | undefined): Promise<boolean>;
}

/** Changes and their step journal: intent before a step touches the world, result after. */
export interface JournalStore {
  beginChange(c: Pick<ChangeRecord, 'kind' | 'author' | 'message' | 'planHash' | 'summary'>): Promise<number>;
  finishChange(id: number, outcome: ChangeOutcome, summary: Record<string, number>): Promise<void>;
  listChanges(limit?: number): Promise<ChangeRecord[]>;
  /** Records the change request, decisions and break-glass reason of a change. */
  noteChange(id: number, note: ChangeNote): Promise<void>;
  tryGetChange(id: number): Promise<ChangeRecord | undefined>;
  /** The steps of a change, in the order they were journaled. */
  entries(changeId: number): Promise<JournalEntry[]>;
  /** Journals the intent before the step touches the world. */
  startStep(changeId: number, address: Address, action: string): Promise<number>;
  /** Records the result, applies the state write and bumps the serial, in one transaction. Returns the new serial. */
  finishStep(
    journalId: number,
    status: Exclude<StepStatus, 'started'>,
    write: StepWrite,
    error?: string,
  ): Promise<number>;
  /**
   * Journals steps that never ran (a prerequisite failed or was skipped), in this order, in one
   * transaction: each as `skipped` with its reason. Changes no resource and not the serial.
   */
  skipSteps(changeId: number, steps: readonly SkippedStep[]): Promise<void>;
  /** Steps and changes left `started`/`running` by a process that died; marks them interrupted and returns them. */
  recoverInterrupted(): Promise<JournalEntry[]>;
}

/** A step apply skipped, and why (`service.db failed`). */
export interface SkippedStep {
  address: Address;
  action: string;
  because: string;
}

/** The one-writer lease. */
export interface LeaseStore {
  /** Takes the lease unless a live holder has it; `isDead` runs inside the transaction, so it is synchronous and pure. */
  acquireLease(
    name: string,
    holder: Omit<LeaseHolder, 'acquiredAt' | 'expiresAt'>,
    ttlMs: number,
    isDead: (h: LeaseHolder) => boolean,
  ): Promise<LeaseResult>;
  renewLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;
  tryGetLease(name: string): Promise<LeaseHolder | undefined>;
  forceReleaseLease(name: string): Promise<LeaseHolder | undefined>;
}

/** What a release is recorded with; the store numbers it (`createRelease`). */
export type NewRelease = Omit<ReleaseRecord, 'seq' | 'dir'> & {
  /**
   * Directory instances run in. A function when the directory is named after the release's number
   * (`releases/web/v3`): it runs inside the transaction that takes the number, so it must be
   * synchronous and pure.
   */
  dir: string | ((seq: number) => string);
};

/** A change to a recorded release. */
export type ReleasePatch = Partial<
  Pick<ReleaseRecord, 'status' | 'detail' | 'finishedAt' | 'buildLog' | 'hash' | 'spec' | 'source'>
>;

/** Releases of services. */
export interface ReleaseStore {
  /**
   * Records a new release with the next number of its service (v1, v2, ...) and returns that number.
   * Taking the number and inserting the row are one transaction, so concurrent calls never share a number.
   */
  createRelease(r: NewRelease): Promise<number>;
  updateRelease(service: string, seq: number, patch: ReleasePatch): Promise<void>;
  /**
   * Records how a rollout of a release ended. With `supersedeActive`, every other `active` release of
   * the service becomes `superseded` in the same transaction, so exactly one release stays active.
   */
  settle(service: string, seq: number, patch: ReleasePatch, opts: { supersedeActive: boolean }): Promise<void>;
  /** Newest first; `limit` defaults to 50. */
  listReleases(service: string, limit?: number): Promise<ReleaseRecord[]>;
  /** The newest release of each service that has one (one query, for checks that look at every service). */
  latestByService(): Promise<Map<string, ReleaseRecord>>;
  tryGetRelease(service: string, seq: number): Promise<ReleaseRecord | undefined>;
}

/** Instance events (written by the bus's store subscriber). */
export interface EventStore {
  /**
   * Appends the events in one transaction, in the given order (ids increase along the array).
   * `at` is when each happened: a batch is written a little after its events.
   */
  record(rows: readonly Omit<InstanceEvent, 'id'>[]): Promise<void>;
  /** The newest `limit` events (default 100; of one address if given), oldest first. */
  listEvents(address?: string, limit?: number): Promise<InstanceEvent[]>;
}

export const OUTBOX_STATUSES = ['pending', 'sending', 'delivered'] as const;
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];

/** One notification to one channel, kept until the channel has it (notify/outbox.ts). */
export interface OutboxRow {
  id: number;
  channel: string;
  /** Ordering key (an alert on a channel): a row is sent only after every earlier row of its stream. */
  stream: string;
  /** Unique per channel: enqueueing the same event twice keeps one row. Sent as the idempotency key. */
  dedupKey: string;
  payload: JsonObject;
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

export type OutboxEnqueue = Pick<OutboxRow, 'channel' | 'stream' | 'dedupKey' | 'payload'>;

export interface OutboxAttempt {
  id: number;
  notificationId: number;
  at: string;
  ok: boolean;
  detail: string;
  durationMs: number;
}

/**
 * The durable notification outbox. An alert's or incident's notifications enter it through
 * `saveAlert` / `saveIncident`, in the same transaction as the state change, so both commit
 * together; `enqueue` is for notifications that stand alone (a break-glass notice).
 */
export interface OutboxStore {
  /** Returns the new rows' ids; a (channel, dedupKey) already queued or sent is skipped. */
  enqueue(rows: OutboxEnqueue[]): Promise<number[]>;
  /**
   * Marks up to `limit` due rows `sending` and returns them: the oldest undelivered row of each
   * stream whose next attempt is due, skipping `busy` streams.
   */
  claimDue(limit: number, busy: ReadonlySet<string>): Promise<OutboxRow[]>;
  /** Records an attempt; delivered rows are done, failed ones wait until `retryAt`. */
  finishAttempt(
    id: number,
    result: { ok: true } | { ok: false; error: string; retryAt: Date },
    durationMs: number,
  ): Promise<void>;
  /** Rows a killed sender left `sending` go back to `pending` (sent again with the same key). */
  recoverSending(): Promise<number>;
  listOutbox(filter?: { status?: OutboxStatus; channel?: string; limit?: number }): Promise<OutboxRow[]>;
  attemptsOf(id: number): Promise<OutboxAttempt[]>;
  /** The earliest next attempt among the streams' head rows, for the sender's timer. */
  nextDueAt(): Promise<Date | undefined>;
  /**
   * Withdraws the rows of `stream` with these dedup keys that still wait (`pending`, including
   * ones waiting to retry), with their failed attempts, and returns them. A row already `sending`
   * is in flight and is not withdrawn; a delivered one stays on record. (An acknowledged incident
   * withdraws its pages not yet sent.)
   */
  cancelPending(stream: string, dedupKeys: readonly string[]): Promise<OutboxRow[]>;
  /** Deletes delivered rows (and their attempts) delivered before `before`; returns how many. */
  pruneDelivered(before: Date): Promise<number>;
}

export const ALERT_STATES = ['pending', 'firing', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

/** One alert instance: a rule and one label set (alerts/). Kept across daemon restarts. */
export interface AlertRow {
  /** Hash of rule and labels; the outbox stream of its notifications. */
  fingerprint: string;
  rule: string;
  labels: Record<string, string>;
  state: AlertState;
  /** When the condition became true (pending since). */
  activeAt: string;
  /** The last evaluation at which the condition was true. */
  lastActiveAt: string;
  firedAt: string | null;
  resolvedAt: string | null;
  value: number | null;
  /** When the current firing was last sent to channels (null: not yet, e.g. silenced). */
  notifiedAt: string | null;
  /** How many notifications of the current firing were sent (first + repeats). */
  notifications: number;
  /** Why the current firing is not being sent: `silence 3`, `maintenance backup-window`. */
  suppressedBy: string | null;
  ackedAt: string | null;
  ackedBy: string | null;
}

export interface LabelMatcher {
  name: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

export interface SilenceRow {
  id: number;
  matchers: LabelMatcher[];
  startsAt: string;
  endsAt: string;
  author: string;
  comment: string;
  createdAt: string;
}

/** Alert instances and silences. */
export interface AlertStore {
  listAlerts(filter?: { rule?: string; state?: AlertState }): Promise<AlertRow[]>;
  tryGetAlert(fingerprint: string): Promise<AlertRow | undefined>;
  /** Writes the alert and queues its notifications in one transaction: both happen or neither. */
  saveAlert(row: AlertRow, notifications: OutboxEnqueue[]): Promise<void>;
  /** Several alerts and their notifications in one transaction (a group notification marks all its alerts sent). */
  saveAlerts(rows: readonly AlertRow[], notifications: OutboxEnqueue[]): Promise<void>;
  /** A pending alert whose condition went away before `for` never existed for anyone. */
  deleteAlert(fingerprint: string): Promise<void>;
  addSilence(s: Omit<SilenceRow, 'id' | 'createdAt'>): Promise<number>;
  /** Ends a silence now; false when there is no such silence or it already ended. */
  expireSilence(id: number): Promise<boolean>;
  listSilences(): Promise<SilenceRow[]>;
}

export const INCIDENT_STATUSES = ['triggered', 'acknowledged', 'resolved'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];

export interface IncidentRow {
  id: number;
  /** Deduplication key: a later alert with the same key attaches to the open incident. */
  key: string;
  title: string;
  severity: string;
  service: string | null;
  status: IncidentStatus;
  createdAt: string;
  ackedAt: string | null;
  ackedBy: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
  assignee: string | null;
  /** Escalation policy followed, and where in it: step index, loop, when the step began. */
  policy: string | null;
  step: number;
  loop: number;
  stepStartedAt: string;
}

export interface IncidentEvent {
  id: number;
  incidentId: number;
  at: string;
  /** triggered, alert, notified, escalated, acknowledged, note, assigned, deploy, resolved, ... */
  kind: string;
  actor: string;
  text: string;
}

export interface ActionItem {
  id: number;
  incidentId: number;
  text: string;
  owner: string;
  due: string | null;
  done: boolean;
}

/** Someone covering a schedule for a while (`groundwork oncall override`). */
export interface OverrideRow {
  id: number;
  schedule: string;
  who: string;
  /** ISO instants. */
  from: string;
  to: string;
  reason: string;
  author: string;
  createdAt: string;
}

/**
 * Incidents, their timelines and action items, and on-call overrides. At most one incident per
 * key is open (not resolved) at a time: the store refuses a second one.
 */
export interface IncidentStore {
  /** The open (not resolved) incident with this key. */
  openIncidentByKey(key: string): Promise<IncidentRow | undefined>;
  tryGetIncident(id: number): Promise<IncidentRow | undefined>;
  listIncidents(filter?: { status?: IncidentStatus; limit?: number }): Promise<IncidentRow[]>;
  /**
   * Creates or updates an incident, appends its timeline events and queues its notifications, in
   * one transaction. Returns the incident's id. Creating one whose key already has an open
   * incident fails (use `openIncident`).
   */
  saveIncident(
    row: Omit<IncidentRow, 'id'> & { id?: number },
    events: Omit<IncidentEvent, 'id' | 'incidentId' | 'at'>[],
    notifications: OutboxEnqueue[],
  ): Promise<number>;
  /**
   * Opens an incident with `events`, or, when one with its key is already open, joins it: appends
   * `joinEvents` to the open one instead. One transaction, so two alerts of one key that fire at
   * the same moment (in one process or two) open one incident.
   */
  openIncident(
    row: Omit<IncidentRow, 'id'>,
    events: Omit<IncidentEvent, 'id' | 'incidentId' | 'at'>[],
    joinEvents: Omit<IncidentEvent, 'id' | 'incidentId' | 'at'>[],
  ): Promise<{ id: number; opened: boolean }>;
  timeline(id: number): Promise<IncidentEvent[]>;
  /** Dedup keys of the outbox rows queued for this incident (what was already sent or is on its way). */
  queuedKeys(id: number): Promise<Set<string>>;
  addActionItem(item: Omit<ActionItem, 'id' | 'done'>): Promise<number>;
  setActionItemDone(id: number, done: boolean): Promise<boolean>;
  tryGetActionItem(id: number): Promise<ActionItem | undefined>;
  actionItems(incidentId: number): Promise<ActionItem[]>;
  addOverride(o: Omit<OverrideRow, 'id' | 'createdAt'>): Promise<number>;
  /** Overrides of a schedule (all schedules when omitted) that end after `endingAfter`. */
  listOverrides(filter?: { schedule?: string; endingAfter?: string }): Promise<OverrideRow[]>;
  /** False when there is no such override. */
  removeOverride(id: number): Promise<boolean>;
}

/**
 * An API token as stored: never the token itself, only its SHA-256 (the token has 256 bits of
 * randomness, so a plain hash cannot be reversed by guessing). Who may do what with it is
 * security/'s business; the store keeps the row.
 */
export interface TokenRecord {
  /** Public id (`tok_…`), shown in lists and the audit log; not a secret. */
  id: string;
  /** Hex SHA-256 of the token. */
  hash: string;
  role: string;
  /** Services it is limited to; null: every service (and stack-wide operations). */
  services: string[] | null;
  /** The person of the stack file it was made for; null: a token of no person (CI, scripts). */
  user: string | null;
  /** Free text, e.g. "ci deploys". */
  label: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

/** Tokens: made, looked up by hash, listed, revoked. */
export interface TokenStore {
  saveToken(t: TokenRecord): Promise<void>;
  tryGetTokenByHash(hash: string): Promise<TokenRecord | undefined>;
  tryGetToken(id: string): Promise<TokenRecord | undefined>;
  listTokens(): Promise<TokenRecord[]>;
  /** Marks it revoked at `at`; false when there is no such token or it was already revoked. */
  revokeToken(id: string, at: string): Promise<boolean>;
}

/** One audit entry as stored: its content (JSON), the hash of the entry before it, its own hash. */
export interface AuditRow {
  /** 1, 2, 3, … with no gap. */
  seq: number;
  at: string;
  /** The entry's fields as canonical JSON (what the hash covers, with seq, at and prevHash). */
  entry: string;
  prevHash: string;
  hash: string;
}

/** The newest entry's seq and hash: where the next one chains on. */
export interface AuditHead {
  seq: number;
  hash: string;
}

/**
 * The audit log: append-only, hash-chained. The chaining is security/'s; the store makes an
 * append atomic with reading the head (two processes may append) and keeps the head in meta, so
 * a deleted last entry is noticed too.
 */
export interface AuditStore {
  /** In one write transaction: reads the head, asks `make` for the row that follows it, stores it. */
  appendAudit(make: (head: AuditHead | undefined) => AuditRow): Promise<AuditRow>;
  /** Entries in seq order from `afterSeq` (exclusive), at most `limit`. */
  listAudit(afterSeq?: number, limit?: number): Promise<AuditRow[]>;
  /** The head recorded with the last append (not read from the entries: that is what verify compares). */
  auditHead(): Promise<AuditHead | undefined>;
}

// rotate: a new version of a secret that services under an approval policy use (change/rotation-gate.ts).
export const CHANGE_REQUEST_KINDS = ['apply', 'deploy', 'rollback', 'rotate'] as const;
export type ChangeRequestKind = (typeof CHANGE_REQUEST_KINDS)[number];

export interface ChangeApproval {
  by: string;
  at: string;
  comment: string;
}

/** A request turned down: by an approver (rejected) or by its author (withdrawn); it can no longer be approved or carried out. */
export interface ChangeRequestRefusal {
  by: string;
  at: string;
  /** Why: required, shown to the author and wherever the request is shown. */
  reason: string;
}

/**
 * A change awaiting approval (change/change-requests.ts): what will be done, exactly (`subject`:
 * a saved plan, or a deploy's inputs), and the hash that approvers sign.
 */
export interface ChangeRequestRow {
  id: number;
  kind: ChangeRequestKind;
  /** The service of a deploy or rollback; null for an apply. */
  service: string | null;
  subject: JsonObject;
  /** SHA-256 of the subject: what is approved. */
  hash: string;
  author: string;
  message: string;
  decisions: number[];
  createdAt: string;
  /** The change that carried it out; null while it waits. */
  appliedChange: number | null;
  approvals: ChangeApproval[];
  /** Who refused it, when and why; null while nobody has. */
  refusal: ChangeRequestRefusal | null;
}

/** Change requests and their approvals. */
export interface ChangeRequestStore {
  saveRequest(
    r: Omit<ChangeRequestRow, 'id' | 'createdAt' | 'appliedChange' | 'approvals' | 'refusal'>,
  ): Promise<number>;
  tryGetRequest(id: number): Promise<ChangeRequestRow | undefined>;
  listRequests(limit?: number): Promise<ChangeRequestRow[]>;
  /** False when this person already approved it. */
  addApproval(id: number, approval: ChangeApproval): Promise<boolean>;
  /**
   * Claims the request for a change, once: false when it was already carried out or was refused
   * (so two applies of one approval cannot both run, and a refused one never runs).
   */
  claimRequest(id: number, changeId: number): Promise<boolean>;
  /** Gives a claim back when the operation was refused before it changed anything. */
  releaseRequest(id: number, changeId: number): Promise<void>;
  /**
   * Refuses the request, once: false when it was already refused or carried out (checked in the
   * same statement, so a refusal and a claim racing cannot both win).
   */
  refuseRequest(id: number, refusal: ChangeRequestRefusal): Promise<boolean>;
}

/**
 * The whole store, split by area so each user depends on the part it needs and another backend
 * (PostgreSQL for teams) implements the same parts.
 */
export interface Store {
  readonly resources: ResourceStore;
  readonly journal: JournalStore;
  readonly leases: LeaseStore;
  readonly releases: ReleaseStore;
  readonly events: EventStore;
  readonly tokens: TokenStore;
  readonly audit: AuditStore;
  readonly outbox: OutboxStore;
  readonly alerts: AlertStore;
  readonly incidents: IncidentStore;
  readonly changeRequests: ChangeRequestStore;
  /** Waits for what is in flight (an async subscriber's last batch is the caller's: drain the bus first), then closes. */
  close(): Promise<void>;
}

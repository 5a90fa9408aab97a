/** Ordered, append-only. PRAGMA user_version records how many have run. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   INSERT INTO meta (key, value) VALUES ('serial', '0');
   CREATE TABLE resources (
     address TEXT PRIMARY KEY, kind TEXT NOT NULL, spec TEXT NOT NULL, outputs TEXT NOT NULL,
     depends_on TEXT NOT NULL, serial INTEGER NOT NULL, updated_at TEXT NOT NULL);
   CREATE TABLE changes (
     id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, author TEXT NOT NULL, message TEXT NOT NULL,
     plan_hash TEXT NOT NULL, serial_before INTEGER NOT NULL, serial_after INTEGER, summary TEXT NOT NULL,
     started_at TEXT NOT NULL, finished_at TEXT, outcome TEXT NOT NULL);
   CREATE TABLE journal (
     id INTEGER PRIMARY KEY AUTOINCREMENT, change_id INTEGER NOT NULL REFERENCES changes(id), address TEXT NOT NULL,
     action TEXT NOT NULL, status TEXT NOT NULL, error TEXT, started_at TEXT NOT NULL, finished_at TEXT, serial INTEGER);
   CREATE INDEX journal_change ON journal(change_id);
   CREATE TABLE locks (
     name TEXT PRIMARY KEY, holder TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL, command TEXT NOT NULL,
     acquired_at TEXT NOT NULL, expires_at TEXT NOT NULL);`,
  `CREATE TABLE events (
     id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, address TEXT NOT NULL, instance TEXT NOT NULL,
     type TEXT NOT NULL, reason TEXT NOT NULL);
   CREATE INDEX events_address ON events(address, id);`,
  `CREATE TABLE releases (
     service TEXT NOT NULL, seq INTEGER NOT NULL, hash TEXT NOT NULL, status TEXT NOT NULL, kind TEXT NOT NULL,
     source TEXT NOT NULL, spec TEXT NOT NULL, dir TEXT NOT NULL, build_log TEXT, message TEXT NOT NULL, author TEXT NOT NULL,
     created_at TEXT NOT NULL, finished_at TEXT, detail TEXT, PRIMARY KEY (service, seq));`,
  `CREATE TABLE outbox (
     id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, stream TEXT NOT NULL, dedup_key TEXT NOT NULL,
     payload TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT NOT NULL,
     last_error TEXT, created_at TEXT NOT NULL, delivered_at TEXT, UNIQUE (channel, dedup_key));
   CREATE INDEX outbox_undelivered ON outbox(status, channel, stream, id);
   CREATE TABLE outbox_attempts (
     id INTEGER PRIMARY KEY AUTOINCREMENT, notification_id INTEGER NOT NULL REFERENCES outbox(id), at TEXT NOT NULL,
     ok INTEGER NOT NULL, detail TEXT NOT NULL, duration_ms INTEGER NOT NULL);
   CREATE INDEX outbox_attempts_of ON outbox_attempts(notification_id, id);`,
  `CREATE TABLE alerts (
     fingerprint TEXT PRIMARY KEY, rule TEXT NOT NULL, labels TEXT NOT NULL, state TEXT NOT NULL,
     active_at TEXT NOT NULL, last_active_at TEXT NOT NULL, fired_at TEXT, resolved_at TEXT, value REAL,
     notified_at TEXT, notifications INTEGER NOT NULL DEFAULT 0, suppressed_by TEXT, acked_at TEXT, acked_by TEXT);
   CREATE INDEX alerts_rule ON alerts(rule, state);
   CREATE TABLE silences (
     id INTEGER PRIMARY KEY AUTOINCREMENT, matchers TEXT NOT NULL, starts_at TEXT NOT NULL, ends_at TEXT NOT NULL,
     author TEXT NOT NULL, comment TEXT NOT NULL, created_at TEXT NOT NULL);`,
  `CREATE TABLE incidents (
     id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, title TEXT NOT NULL, severity TEXT NOT NULL, service TEXT,
     status TEXT NOT NULL, created_at TEXT NOT NULL, acked_at TEXT, acked_by TEXT, resolved_at TEXT, resolved_by TEXT,
     assignee TEXT, policy TEXT, step INTEGER NOT NULL, loop INTEGER NOT NULL, step_started_at TEXT NOT NULL);
   CREATE INDEX incidents_open ON incidents(key, status);
   CREATE TABLE incident_events (
     id INTEGER PRIMARY KEY AUTOINCREMENT, incident_id INTEGER NOT NULL REFERENCES incidents(id), at TEXT NOT NULL,
     kind TEXT NOT NULL, actor TEXT NOT NULL, text TEXT NOT NULL);
   CREATE INDEX incident_events_of ON incident_events(incident_id, id);
   CREATE TABLE action_items (
     id INTEGER PRIMARY KEY AUTOINCREMENT, incident_id INTEGER NOT NULL REFERENCES incidents(id), text TEXT NOT NULL,
     owner TEXT NOT NULL, due TEXT, done INTEGER NOT NULL DEFAULT 0);`,
  // Access: tokens (hashes only) and the hash-chained audit log. The audit head lives in meta.
  `CREATE TABLE tokens (
     id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL, services TEXT, user TEXT,
     label TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT);
   CREATE TABLE audit (
     seq INTEGER PRIMARY KEY, at TEXT NOT NULL, entry TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);`,
  // On-call overrides: who covers a schedule from when to when (groundwork oncall override).
  `CREATE TABLE oncall_overrides (
     id INTEGER PRIMARY KEY AUTOINCREMENT, schedule TEXT NOT NULL, who TEXT NOT NULL, from_at TEXT NOT NULL,
     to_at TEXT NOT NULL, reason TEXT NOT NULL, author TEXT NOT NULL, created_at TEXT NOT NULL);
   CREATE INDEX oncall_overrides_of ON oncall_overrides(schedule, to_at);`,
  // Change management: what a change carried out and why; change requests and their approvals.
  `ALTER TABLE changes ADD COLUMN request INTEGER;
   ALTER TABLE changes ADD COLUMN decisions TEXT NOT NULL DEFAULT '[]';
   ALTER TABLE changes ADD COLUMN break_glass TEXT;
   CREATE TABLE change_requests (
     id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, service TEXT, subject TEXT NOT NULL, hash TEXT NOT NULL,
     author TEXT NOT NULL, message TEXT NOT NULL, decisions TEXT NOT NULL, created_at TEXT NOT NULL, applied_change INTEGER);
   CREATE TABLE change_approvals (
     request_id INTEGER NOT NULL REFERENCES change_requests(id), by TEXT NOT NULL, at TEXT NOT NULL,
     comment TEXT NOT NULL, PRIMARY KEY (request_id, by));`,
  // A change request refused by an approver or withdrawn by its author: who, when, why.
  `ALTER TABLE change_requests ADD COLUMN refused_by TEXT;
   ALTER TABLE change_requests ADD COLUMN refused_at TEXT;
   ALTER TABLE change_requests ADD COLUMN refused_reason TEXT;`,
  // One open incident per key, kept by the database (the store became asynchronous, so "look for
  // the open one, then insert" is no longer atomic by itself). A store written before may hold
  // several open ones of a key (two processes raced): all but the newest are resolved, and their
  // timelines say so, or the index could not be made.
  `INSERT INTO incident_events (incident_id, at, kind, actor, text)
     SELECT o.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'resolved', 'groundwork',
       'resolved on upgrade: incident #' || (SELECT MAX(n.id) FROM incidents n WHERE n.key = o.key AND n.status != 'resolved')
         || ' is open for the same key, and only one may be'
     FROM incidents o
     WHERE o.status != 'resolved'
       AND o.id < (SELECT MAX(n.id) FROM incidents n WHERE n.key = o.key AND n.status != 'resolved');
   UPDATE incidents SET status = 'resolved', resolved_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), resolved_by = 'groundwork'
     WHERE status != 'resolved'
       AND id < (SELECT MAX(n.id) FROM incidents n WHERE n.key = incidents.key AND n.status != 'resolved');
   CREATE UNIQUE INDEX incidents_one_open ON incidents(key) WHERE status != 'resolved';`,
];

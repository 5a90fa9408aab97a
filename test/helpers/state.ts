/** Reads the state store a CLI run wrote: a real SQLite file opened through the real store. */
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { ChangeRecord, JournalEntry, ResourceRow } from '../../src/store/store.js';
import { serviceOutputsOf, type InstanceOutput } from '../../src/kinds/service/service-spec.js';
import { systemClock } from '../../src/util/clock.js';
import type { Address } from '../../src/model/resource.js';

export function stateDbOf(stackDir: string): string {
  return path.join(stackDir, '.groundwork', 'state.db');
}

export interface StateSnapshot {
  serial: number;
  resources: ResourceRow[];
  changes: ChangeRecord[];
  journal: (changeId: number) => JournalEntry[];
}

/** Opens the store, copies out what the test needs, closes it. */
export function readState(stackDir: string): StateSnapshot {
  const store = SqliteStore.open(stateDbOf(stackDir), systemClock);
  try {
    const changes = store.listChanges(1000);
    const journals = new Map(changes.map((c) => [c.id, store.entries(c.id)]));
    return {
      serial: store.serial(),
      resources: store.listResources(),
      changes,
      journal: (id) => journals.get(id) ?? [],
    };
  } finally {
    store.closeNow();
  }
}

export function resourceOf(stackDir: string, addr: string): ResourceRow | undefined {
  return readState(stackDir).resources.find((r) => r.address === (addr as Address));
}

/** The recorded instances of a service (live ones only unless `all`). */
export function instancesOf(stackDir: string, service: string, all = false): InstanceOutput[] {
  const row = resourceOf(stackDir, `service.${service}`);
  const inst = row ? serviceOutputsOf(row).instances : [];
  return all ? inst : inst.filter((i) => !i.gone);
}

export function httpPortsOf(stackDir: string, service: string, portName = 'http'): number[] {
  return instancesOf(stackDir, service).map((i) => {
    const p = i.ports[portName];
    if (p === undefined) throw new Error(`service ${service} instance ${i.index} has no port ${portName} in state`);
    return p;
  });
}

/** A second, read-only connection, as another process would have. */
export function withReadConnection<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 2000 });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

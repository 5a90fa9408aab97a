/** The store contract (test/store/contract/) against the embedded SQLite store. */
import { describe, expect, it } from 'vitest';
import { describeAlertsContract } from './contract/alerts.contract.js';
import { describeIncidentsContract } from './contract/incidents.contract.js';
import { describeOutboxContract } from './contract/outbox.contract.js';
import { describeAccessContract } from './contract/access.contract.js';
import { describeChangeRequestsContract } from './contract/change-requests.contract.js';
import { describeEventsContract } from './contract/events.contract.js';
import { describeLeasesContract } from './contract/leases.contract.js';
import { describeJournalContract } from './contract/journal.contract.js';
import { describeResourcesContract } from './contract/resources.contract.js';
import { slowSqliteTarget, sqliteTarget } from './contract/target.js';
import { describeReleasesContract } from './contract/releases.contract.js';

describe('sqlite contract target', () => {
  it('opens two handles on one store and removes it afterwards', async () => {
    const t = await sqliteTarget.open();
    const other = await t.openAnother();
    expect(other).not.toBe(t.store);
    await t.dispose();
  });
});

// Every area against SQLite as it is, and answering a turn late.
for (const target of [sqliteTarget, slowSqliteTarget]) {
  describeReleasesContract(target);
  describeOutboxContract(target);
  describeAlertsContract(target);
  describeIncidentsContract(target);
  describeLeasesContract(target);
  describeEventsContract(target);
  describeAccessContract(target);
  describeChangeRequestsContract(target);
  describeJournalContract(target);
  describeResourcesContract(target);
}

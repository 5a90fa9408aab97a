/** The store contract (test/store/contract/) against the embedded SQLite store. */
import { describe, expect, it } from 'vitest';
import { describeJournalContract } from './contract/journal.contract.js';
import { describeResourcesContract } from './contract/resources.contract.js';
import { sqliteTarget } from './contract/target.js';

describe('sqlite contract target', () => {
  it('opens two handles on one store and removes it afterwards', async () => {
    const t = await sqliteTarget.open();
    const other = await t.openAnother();
    expect(other).not.toBe(t.store);
    await t.dispose();
  });
});

// One call per area below, as the areas move to the async contract (issue 8).
describeJournalContract(sqliteTarget);
describeResourcesContract(sqliteTarget);

// Property: whatever order a source delivers versioned updates in, the store keeps the newest one,
// rejects exactly the updates older than what it holds, and never changes on a rejection.
import fc from 'fast-check';
import { openSqliteStore } from '../../src/state/store';
import { StaleUpdateError } from '../../src/state/errors';

test('out-of-order delivery converges on the highest version', () => {
  fc.assert(
    fc.property(fc.array(fc.record({ version: fc.integer({ min: 0, max: 20 }), compliant: fc.boolean() }), { minLength: 1, maxLength: 30 }), (updates) => {
      const store = openSqliteStore({ path: ':memory:' });
      try {
        let max = -1;
        let expected: boolean | undefined;
        for (const u of updates) {
          let stale = false;
          try {
            store.putDevice('d', { owner: 'u', ownership: 'corporate', ...u });
          } catch (err) {
            if (!(err instanceof StaleUpdateError)) throw err;
            stale = true;
          }
          expect(stale).toBe(u.version < max);
          if (!stale) {
            max = u.version;
            expected = u.compliant;
          }
          expect(store.getDevice('d')?.version).toBe(max);
          expect(store.getDevice('d')?.compliant).toBe(expected);
        }
      } finally {
        store.close();
      }
    }),
    { numRuns: 200 },
  );
});

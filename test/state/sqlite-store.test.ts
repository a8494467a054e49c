// The SQLite store: alias resolution, owner binding, version ordering and tombstones, cache
// invalidation (reads see writes), change events, exceptions/break-glass bounds, bulk import.
import { openSqliteStore, type StateStore } from '../../src/state/store';
import { AliasConflictError, NotFoundError, StaleUpdateError, ValidationError } from '../../src/state/errors';
import type { ChangeEvent } from '../../src/state/types';
import { active, device, editBehindTheStore, risk } from './helpers';

let store: StateStore;
let now = new Date('2026-01-01T00:00:00Z');
beforeEach(() => {
  now = new Date('2026-01-01T00:00:00Z');
  store = openSqliteStore({ path: ':memory:', now: () => now, maxExceptionHours: 72, maxBreakGlassMinutes: 60 });
});
afterEach(() => store.close());


describe('identities and aliases', () => {
  test('an identity resolves by id and by any alias, aliases case-insensitively', () => {
    store.putIdentity('u1', active({ aliases: ['Alice@Example.com', '00u123'] }));
    expect(store.getIdentity('u1')?.id).toBe('u1');
    expect(store.getIdentity('alice@example.com')?.id).toBe('u1');
    expect(store.getIdentity('ALICE@EXAMPLE.COM')?.id).toBe('u1');
    expect(store.getIdentity('00u123')?.id).toBe('u1');
    expect(store.resolveIdentityId('00U123')).toBe('u1');
    expect(store.getIdentity('nobody')).toBeUndefined();
  });

  test('defaults fill omitted fields and activated_at starts when status becomes active', () => {
    now = new Date('2026-01-01T10:00:00Z');
    const p = store.putIdentity('u1', { status: 'provisioned' }).record;
    expect(p).toMatchObject({ type: 'employee', risk_tier: 'standard', proofed: false, aliases: [], activated_at: null, version: 1 });
    now = new Date('2026-01-02T10:00:00Z');
    const a = store.putIdentity('u1', active()).record;
    expect(a.activated_at).toBe('2026-01-02T10:00:00.000Z');
    now = new Date('2026-01-03T10:00:00Z');
    expect(store.putIdentity('u1', active()).record.activated_at).toBe('2026-01-02T10:00:00.000Z');
    expect(store.putIdentity('u1', active({ activated_at: '2025-12-31T00:00:00Z' })).record.activated_at).toBe('2025-12-31T00:00:00Z');
  });

  test('an identity staying active keeps activated_at null (no grace) when a re-sync omits it', () => {
    store.putIdentity('u1', active({ activated_at: null }));
    now = new Date('2026-01-05T00:00:00Z');
    expect(store.putIdentity('u1', active()).record.activated_at).toBeNull();
    store.putIdentity('u1', { status: 'suspended' });
    expect(store.putIdentity('u1', active()).record.activated_at).toBe('2026-01-05T00:00:00.000Z');
  });

  test('changing aliases drops the old ones from the index', () => {
    store.putIdentity('u1', active({ aliases: ['old@x.com'] }));
    expect(store.getIdentity('old@x.com')?.id).toBe('u1');
    store.putIdentity('u1', active({ aliases: ['new@x.com'] }));
    expect(store.getIdentity('old@x.com')).toBeUndefined();
    expect(store.getIdentity('new@x.com')?.id).toBe('u1');
  });

  test('an alias owned by another identity (or another id) is a conflict and nothing changes', () => {
    store.putIdentity('u1', active({ aliases: ['a@x.com'] }));
    store.putIdentity('u2', active());
    expect(() => store.putIdentity('u2', active({ aliases: ['ok@x.com', 'A@X.COM'] }))).toThrow(AliasConflictError);
    expect(() => store.putIdentity('u3', active({ aliases: ['u1'] }))).toThrow(AliasConflictError);
    expect(() => store.putIdentity('a@x.com', active())).toThrow(AliasConflictError);
    expect(store.getIdentity('ok@x.com')).toBeUndefined();
    expect(store.getIdentity('u3')).toBeUndefined();
    expect(store.getIdentity('u2')?.version).toBe(1);
  });

  test('invalid records name every bad field and store nothing', () => {
    try {
      store.putIdentity('u1', { status: 'sleeping', proofed: 'yes', aliases: [1], extra: true });
      throw new Error('expected a ValidationError');
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).errors.map((e) => e.path).sort()).toEqual(['/aliases/0', '/extra', '/proofed', '/status']);
    }
    expect(() => store.putIdentity('u1', { ...active(), id: 'u2' })).toThrow(ValidationError);
    expect(store.getIdentity('u1')).toBeUndefined();
  });

  test('listIdentities pages by id with a cursor', () => {
    for (let i = 0; i < 25; i++) store.putIdentity(`u${String(i).padStart(2, '0')}`, active());
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = store.listIdentities({ after, limit: 10 });
      seen.push(...page.items.map((i) => i.id));
      if (!page.next_cursor) break;
      after = page.next_cursor;
    }
    expect(seen).toHaveLength(25);
    expect(new Set(seen).size).toBe(25);
  });
});

describe('devices and owners', () => {
  test('owner given as an alias is resolved to the identity id; listDevicesByOwner finds it', () => {
    store.putIdentity('u1', active({ aliases: ['alice@x.com'] }));
    const d = store.putDevice('mac-1', device('ALICE@x.com')).record;
    expect(d).toMatchObject({ owner: 'u1', owner_ref: 'ALICE@x.com', owner_resolved: true });
    expect(store.listDevicesByOwner('u1').map((x) => x.id)).toEqual(['mac-1']);
  });

  test('a device whose owner arrives later is bound when the identity is stored', () => {
    const events: ChangeEvent[] = [];
    store.onChange((e) => events.push(e));
    expect(store.putDevice('mac-1', device('bob@x.com')).record).toMatchObject({ owner: 'bob@x.com', owner_resolved: false });
    expect(store.listDevicesByOwner('u2')).toEqual([]);
    store.putIdentity('u2', active({ aliases: ['bob@x.com'] }));
    expect(store.getDevice('mac-1')).toMatchObject({ owner: 'u2', owner_resolved: true });
    expect(store.listDevicesByOwner('u2').map((x) => x.id)).toEqual(['mac-1']);
    const rebind = events.find((e) => e.kind === 'device' && e.before && e.after);
    expect(rebind).toBeDefined();
  });

  test('changing the owner moves the device between owners', () => {
    store.putIdentity('u1', active());
    store.putIdentity('u2', active());
    store.putDevice('d', device('u1'));
    expect(store.listDevicesByOwner('u1')).toHaveLength(1);
    store.putDevice('d', device('u2'));
    expect(store.listDevicesByOwner('u1')).toHaveLength(0);
    expect(store.listDevicesByOwner('u2')).toHaveLength(1);
  });

  test('ownership is required and booleans default to false (fail closed)', () => {
    expect(() => store.putDevice('d', { owner: 'u1' })).toThrow(ValidationError);
    expect(store.putDevice('d', { owner: 'u1', ownership: 'byod' }).record).toMatchObject({ enrolled: false, compliant: false, encrypted: false });
  });
});

describe('version ordering', () => {
  test('an older version is rejected with nothing changed; equal and newer are accepted', () => {
    store.putDevice('d', device('u1', { version: 5, compliant: true }));
    expect(() => store.putDevice('d', device('u1', { version: 4, compliant: false }))).toThrow(StaleUpdateError);
    expect(store.getDevice('d')).toMatchObject({ version: 5, compliant: true });
    expect(store.putDevice('d', device('u1', { version: 5, compliant: true })).created).toBe(false);
    expect(store.putDevice('d', device('u1', { version: 6, compliant: false })).record.compliant).toBe(false);
  });

  test('without a version, observed_at orders updates', () => {
    now = new Date('2026-01-02T00:00:00Z');
    store.putDevice('d', device('u1', { observed_at: '2026-01-01T12:00:00Z' }));
    expect(() => store.putDevice('d', device('u1', { observed_at: '2026-01-01T11:59:59Z', compliant: false }))).toThrow(StaleUpdateError);
    expect(store.getDevice('d')?.compliant).toBe(true);
    const r = store.putDevice('d', device('u1', { observed_at: '2026-01-01T12:00:01Z' })).record;
    expect(r.version).toBe(2); // assigned: previous + 1
  });

  test('the same version with an older observed_at is a delayed delivery: rejected, nothing changed', () => {
    now = new Date('2026-01-02T00:00:00Z');
    store.putDevice('d', device('u1', { version: 7, compliant: false, observed_at: '2026-01-01T06:00:00Z' }));
    const late = device('u1', { version: 7, compliant: true, observed_at: '2026-01-01T04:00:00Z' });
    expect(() => store.putDevice('d', late)).toThrow(/observed_at 2026-01-01T04:00:00Z is older than stored 2026-01-01T06:00:00Z \(same version 7\)/);
    expect(store.getDevice('d')).toMatchObject({ compliant: false, observed_at: '2026-01-01T06:00:00Z' });
    // The same version observed again (or later) is still an accepted redelivery.
    expect(store.putDevice('d', device('u1', { version: 7, compliant: false, observed_at: '2026-01-01T06:00:00Z' })).created).toBe(false);
    expect(store.putDevice('d', device('u1', { version: 7, compliant: false, observed_at: '2026-01-01T07:00:00Z' })).record.observed_at).toBe('2026-01-01T07:00:00Z');
    expect(store.putDevice('d', device('u1', { version: 7, compliant: false })).created).toBe(false);
  });

  test('a delete leaves a tombstone: a late older update cannot resurrect the record', () => {
    store.putIdentity('u1', active({ version: 7 }));
    expect(store.deleteIdentity('u1')?.id).toBe('u1');
    expect(() => store.putIdentity('u1', active({ version: 6 }))).toThrow(StaleUpdateError);
    expect(() => store.putIdentity('u1', active({ version: 7 }))).toThrow("identity u1: version 7 is not newer than the deleted record's version 7");
    expect(store.getIdentity('u1')).toBeUndefined();
    expect(store.putIdentity('u1', active({ version: 8 })).created).toBe(true);
  });

  test('a delete carrying an older version is stale', () => {
    store.putDevice('d', device('u1', { version: 3 }));
    expect(() => store.deleteDevice('d', { version: 2 })).toThrow(StaleUpdateError);
    expect(store.getDevice('d')).toBeDefined();
    expect(store.deleteDevice('d', { version: 3 })?.id).toBe('d');
    expect(store.deleteDevice('d')).toBeUndefined();
  });

  test('apps are versioned too', () => {
    store.putApp('payroll', { sensitivity: 'high', version: 2 });
    expect(() => store.putApp('payroll', { sensitivity: 'low', version: 1 })).toThrow(StaleUpdateError);
    expect(store.getApp('payroll')?.sensitivity).toBe('high');
  });
});

describe('times from the source', () => {
  test('observed_at or activated_at more than the allowed skew ahead of the clock is refused, naming the field', () => {
    const ahead = (ms: number) => new Date(now.getTime() + ms).toISOString();
    for (const write of [
      () => store.putDevice('d', device('u1', { observed_at: ahead(301_000) })),
      () => store.putIdentity('u1', active({ observed_at: ahead(3600_000) })),
      () => store.putIdentity('u1', active({ activated_at: ahead(365 * 86400_000) })),
    ]) {
      const err = (() => { try { write(); } catch (e) { return e; } })() as ValidationError;
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.errors).toEqual([{ path: expect.stringMatching(/^\/(observed_at|activated_at)$/), message: expect.stringContaining('is in the future (more than 300 s ahead') }]);
    }
    expect(store.getDevice('d')).toBeUndefined();
    expect(store.getIdentity('u1')).toBeUndefined();
    // Within the skew: accepted as sent.
    expect(store.putDevice('d', device('u1', { observed_at: ahead(299_000) })).record.observed_at).toBe(ahead(299_000));
  });

  test('the allowed skew is configurable', () => {
    const strict = openSqliteStore({ path: ':memory:', now: () => now, maxClockSkewSeconds: 0 });
    try {
      expect(() => strict.putDevice('d', device('u1', { observed_at: new Date(now.getTime() + 1000).toISOString() }))).toThrow(ValidationError);
      expect(strict.putDevice('d', device('u1', { observed_at: now.toISOString() })).created).toBe(true);
    } finally {
      strict.close();
    }
  });

  test('a time JavaScript cannot read (leap second, offset without minutes) is a 400, not a failure later', () => {
    for (const t of ['2026-12-31T23:59:60Z', '2025-12-31T10:00:00+01']) {
      expect(() => store.putDevice('d', device('u1', { observed_at: t }))).toThrow(ValidationError);
      expect(() => store.createException({ identity: 'u1', waives: ['device_not_compliant'], scope: { apps: ['wiki'] }, reason: 'r', approved_by: 'a', expires_at: t })).toThrow(ValidationError);
    }
    expect(store.getDevice('d')).toBeUndefined();
  });
});

describe('cache', () => {
  test('reads after writes see the write (identity, alias, device, owner list, apps, break-glass)', () => {
    store.putIdentity('u1', active({ aliases: ['a@x.com'], type: 'break_glass' }));
    store.putDevice('d', device('u1'));
    store.putApp('crm', { sensitivity: 'low' });
    // warm the cache
    expect(store.getIdentity('a@x.com')?.status).toBe('active');
    expect(store.getDevice('d')?.compliant).toBe(true);
    expect(store.listDevicesByOwner('u1')).toHaveLength(1);
    expect(store.listApps()).toHaveLength(1);
    expect(store.getBreakGlass('u1')).toBeUndefined();

    store.putIdentity('u1', { status: 'suspended', aliases: ['a@x.com'], type: 'break_glass' });
    store.putDevice('d', device('u1', { compliant: false }));
    store.putApp('erp', { sensitivity: 'high' });
    store.openBreakGlass('u1', { minutes: 10, reason: 'outage', approved_by: 'ciso' });
    expect(store.getIdentity('a@x.com')?.status).toBe('suspended');
    expect(store.getDevice('d')?.compliant).toBe(false);
    expect(store.listDevicesByOwner('u1')[0].compliant).toBe(false);
    expect(store.listApps().map((a) => a.id)).toEqual(['crm', 'erp']);
    expect(store.getBreakGlass('u1')).toBeDefined();

    store.deleteDevice('d');
    store.deleteIdentity('u1');
    expect(store.getDevice('d')).toBeUndefined();
    expect(store.listDevicesByOwner('u1')).toEqual([]);
    expect(store.getIdentity('a@x.com')).toBeUndefined();
  });

  test('a cached miss is replaced once the record is written', () => {
    expect(store.getIdentity('late@x.com')).toBeUndefined();
    expect(store.getIdentity('u9')).toBeUndefined();
    store.putIdentity('u9', active({ aliases: ['late@x.com'] }));
    expect(store.getIdentity('late@x.com')?.id).toBe('u9');
    expect(store.getIdentity('u9')?.id).toBe('u9');
  });

  test('callers cannot corrupt the cache: changing a returned record changes no later read', () => {
    store.putIdentity('u1', active({ aliases: ['x@y.z'] }));
    store.putDevice('d1', device('u1'));
    const rec = store.getIdentity('u1')!;
    (rec as { status: string }).status = 'deleted';
    rec.aliases.push('evil@y.z');
    const owned = store.listDevicesByOwner('u1');
    (owned[0] as { compliant: boolean }).compliant = false;
    owned.pop();
    expect(store.getIdentity('u1')).toMatchObject({ status: 'active', aliases: ['x@y.z'] });
    expect(store.getIdentity('evil@y.z')).toBeUndefined();
    expect(store.listDevicesByOwner('u1')).toMatchObject([{ id: 'd1', compliant: true }]);
  });

  test('a write rolled back by a listener leaves neither data nor stale cache behind', () => {
    store.putIdentity('u1', active());
    expect(store.getIdentity('u1')?.status).toBe('active');
    const off = store.onChange((e) => {
      store.getIdentity('u1'); // a read inside the transaction sees the uncommitted write
      if (e.kind === 'identity') throw new Error('listener refuses');
    });
    expect(() => store.putIdentity('u1', { status: 'suspended' })).toThrow('listener refuses');
    off();
    expect(store.getIdentity('u1')?.status).toBe('active');
  });
});

describe('change events', () => {
  test('every write reports (kind, before, after); onCommit fires after commit only', () => {
    const inside: string[] = [];
    const committed: string[] = [];
    store.onChange((e) => inside.push(`${e.kind}:${e.id}:${e.before ? 'b' : '-'}${e.after ? 'a' : '-'}`));
    store.onCommit((e) => committed.push(`${e.kind}:${e.id}`));
    store.putIdentity('u1', active());
    store.putIdentity('u1', { status: 'suspended' });
    store.putDevice('d', device('u1'));
    const exc = store.createException({
      identity: 'u1', waives: ['device_not_compliant'], scope: { apps: ['crm'] }, reason: 'r', approved_by: 'boss',
      expires_at: '2026-01-02T00:00:00Z',
    });
    store.deleteException(exc.id);
    store.deleteDevice('d');
    store.deleteIdentity('u1');
    expect(inside).toEqual([
      'identity:u1:-a', 'identity:u1:ba', 'device:d:-a', `exception:${exc.id}:-a`, `exception:${exc.id}:b-`, 'device:d:b-', 'identity:u1:b-',
    ]);
    expect(committed).toHaveLength(7);
  });

  test('a listener writing through store.db commits atomically with the change', () => {
    store.db.exec('CREATE TABLE test_outbox (kind TEXT, id TEXT)');
    const ins = store.db.prepare('INSERT INTO test_outbox VALUES (?, ?)');
    store.onChange((e) => ins.run(e.kind, e.id));
    store.putIdentity('u1', active());
    expect(() => store.putIdentity('u1', active({ version: 0 }))).toThrow(StaleUpdateError);
    store.transaction(() => {
      store.putIdentity('u2', active());
      store.putIdentity('u3', active());
    });
    expect(store.db.prepare('SELECT count(*) AS n FROM test_outbox').get()).toEqual({ n: 3 });
  });
});

test('an async transaction callback is refused and rolled back', () => {
  expect(() =>
    store.transaction(async () => {
      store.putIdentity('u1', { status: 'active' });
    }),
  ).toThrow(/synchronous/);
  expect(store.getIdentity('u1')).toBeUndefined();
});

describe('exceptions and break-glass', () => {
  const exc = (extra: object = {}) => ({
    identity: 'alice@x.com', waives: ['device_not_compliant'], scope: { max_sensitivity: 'moderate' },
    reason: 'laptop in repair', approved_by: 'manager', expires_at: '2026-01-02T00:00:00Z', ...extra,
  });
  beforeEach(() => store.putIdentity('u1', active({ aliases: ['alice@x.com'] })));

  test('an exception resolves the identity alias; expired ones are hidden by default', () => {
    const e = store.createException(exc());
    expect(e.identity).toBe('u1');
    expect(store.listExceptions('u1').map((x) => x.id)).toEqual([e.id]);
    now = new Date('2026-01-02T00:00:01Z');
    expect(store.listExceptions('u1')).toEqual([]);
    expect(store.listExceptions('u1', { includeExpired: true })).toHaveLength(1);
  });

  test('expires_at must be in the future and within the maximum; waives only device reasons', () => {
    const paths = (input: object) => {
      try {
        store.createException(input);
      } catch (err) {
        return (err as ValidationError).errors.map((e) => e.path);
      }
      return [];
    };
    expect(paths(exc({ expires_at: '2025-12-31T23:59:59Z' }))).toEqual(['/expires_at']);
    expect(paths(exc({ expires_at: '2026-01-04T00:00:01Z' }))).toEqual(['/expires_at']);
    expect(paths(exc({ waives: ['identity_not_active'] }))).toEqual(['/waives/0']);
    expect(paths(exc({ identity: 'ghost' }))).toEqual(['/identity']);
    expect(paths(exc({ scope: {} }))).toEqual(['/scope']);
    const { approved_by: _a, reason: _r, ...rest } = exc();
    expect(paths(rest).sort()).toEqual(['/approved_by', '/reason']);
    expect(store.listExceptions(undefined, { includeExpired: true })).toEqual([]);
  });

  test('break-glass windows are bounded and only for break_glass identities', () => {
    store.putIdentity('bg', { status: 'active', type: 'break_glass' });
    expect(() => store.openBreakGlass('bg', { minutes: 61, reason: 'x', approved_by: 'y' })).toThrow(ValidationError);
    expect(() => store.openBreakGlass('u1', { minutes: 5, reason: 'x', approved_by: 'y' })).toThrow(ValidationError);
    expect(() => store.openBreakGlass('ghost', { minutes: 5, reason: 'x', approved_by: 'y' })).toThrow(NotFoundError);
    const w = store.openBreakGlass('bg', { minutes: 30, reason: 'outage', approved_by: 'ciso' });
    expect(w.expires_at).toBe('2026-01-01T00:30:00.000Z');
    expect(store.getBreakGlass('bg')?.minutes).toBe(30);
    expect(store.closeBreakGlass('bg')?.identity).toBe('bg');
    expect(store.getBreakGlass('bg')).toBeUndefined();
  });
});

describe('record counts', () => {
  const counted = (s: StateStore) => {
    const c = (t: string) => (s.db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
    return { identity: c('identities'), device: c('devices'), exception: c('exceptions'), break_glass: c('break_glass'), app: c('apps'), subscription: c('subscriptions') };
  };

  test('follow creates, replaces, deletes, imports and rollbacks without counting again', () => {
    expect(store.counts()).toEqual(counted(store));
    const countQueries = jest.spyOn(store.db, 'prepare');
    store.putIdentity('u1', active());
    store.putIdentity('u1', active({ risk_tier: 'high' }));
    store.putIdentity('u2', active());
    store.putDevice('d1', device('u1'));
    store.putDevice('d2', device('u9')); // owner not known yet: still a device
    store.deleteIdentity('u2');
    store.importBatch([
      { line: 1, text: JSON.stringify({ kind: 'identity', record: { id: 'u3', status: 'active' } }) },
      { line: 2, text: JSON.stringify({ kind: 'device', record: { id: 'd3', owner: 'u3' } }) },
      { line: 3, text: '{"kind":"identity","record":{}}' },
    ]);
    store.putApp('wiki', { sensitivity: 'low' });
    store.deleteDevice('d1');
    const kept = store.counts();
    expect(countQueries.mock.calls.filter(([sql]) => /count\(\*\)/.test(sql))).toHaveLength(0);
    countQueries.mockRestore();
    expect(kept).toEqual(counted(store));
    expect(() =>
      store.transaction(() => {
        store.putIdentity('u4', active());
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(store.counts()).toEqual(counted(store));
    expect(store.counts().identity).toBe(2);
  });
});

describe('bulk import', () => {
  test('bad lines are rejected alone with line numbers; good lines commit', () => {
    const lines = [
      '{"kind":"identity","record":{"id":"u1","status":"active","aliases":["a@x.com"]}}',
      'not json',
      '{"kind":"robot","record":{"id":"r"}}',
      '{"kind":"device","record":{"id":"d1","owner":"a@x.com","ownership":"corporate","enrolled":"yes"}}',
      '{"kind":"device","record":{"id":"d2","owner":"a@x.com","ownership":"corporate","enrolled":true}}',
      '{"kind":"identity","record":{"id":"u2","status":"active","aliases":["A@x.com"]}}',
    ].map((text, i) => ({ line: i + 1, text }));
    const r = store.importBatch(lines);
    expect(r.imported).toBe(2);
    expect(r.rejected).toBe(4);
    expect(r.errors.map((e) => [e.line, e.code])).toEqual([
      [2, 'invalid_json'], [3, 'invalid_input'], [4, 'invalid_input'], [6, 'alias_conflict'],
    ]);
    expect(r.errors[2].errors).toEqual([{ path: '/record/enrolled', message: 'must be boolean' }]);
    expect(store.getDevice('d2')?.owner).toBe('u1');
    expect(store.getDevice('d1')).toBeUndefined();
    expect(store.getIdentity('u2')).toBeUndefined();
  });

  test('a stale line is rejected with stale_update', () => {
    store.putIdentity('u1', active({ version: 10 }));
    const r = store.importBatch([{ line: 1, text: '{"kind":"identity","record":{"id":"u1","status":"suspended","version":9}}' }]);
    expect(r.errors[0].code).toBe('stale_update');
    expect(store.getIdentity('u1')?.status).toBe('active');
  });

  test('counts and source marks reflect writes', () => {
    store.putIdentity('u1', active({ source: 'okta' }));
    store.putDevice('d', device('u1', { source: 'jamf' }));
    expect(store.counts()).toMatchObject({ identity: 1, device: 1, exception: 0 });
    expect(store.sourceMarks().map((m) => `${m.kind}/${m.source}`)).toEqual(['device/jamf', 'identity/okta']);
  });
});

// The cache is observed by editing a row behind the store's back: a cached record keeps its old value.

// A store whose cache holds 16 entries, with active identities u0..u(n-1); closed afterwards.
function withSmallStore(n: number, fn: (small: StateStore) => void): void {
  const small = openSqliteStore({ path: ':memory:', cacheSize: 16 });
  try {
    for (let i = 0; i < n; i++) small.putIdentity(`u${i}`, active());
    fn(small);
  } finally {
    small.close();
  }
}

describe('cache bypass for background passes', () => {

  test('reads inside withoutCaching neither evict the working set nor cache what they read', () => {
    withSmallStore(40, (small) => {
      expect(risk(small, 'u0')).toBe('standard'); // cached now
      small.withoutCaching(() => {
        for (let i = 1; i < 40; i++) expect(risk(small, `u${i}`)).toBe('standard');
      });
      editBehindTheStore(small, 'u0');
      editBehindTheStore(small, 'u1');
      expect(risk(small, 'u0')).toBe('standard'); // still the cached copy: the pass evicted nothing
      expect(risk(small, 'u1')).toBe('edited'); // read from the table: the pass cached nothing
    });
  });

  test('without the bypass, the same pass evicts the working set (the test can fail)', () => {
    withSmallStore(40, (small) => {
      expect(risk(small, 'u0')).toBe('standard');
      // Twice each: a full cache admits a key on its second miss (see 'cache admission' below).
      for (let i = 1; i < 40; i++) risk(small, `u${i}`);
      for (let i = 1; i < 40; i++) risk(small, `u${i}`);
      editBehindTheStore(small, 'u0');
      expect(risk(small, 'u0')).toBe('edited');
    });
  });
});

describe('cache admission', () => {

  test('a full cache admits a record on its second miss, not its first', () => {
    withSmallStore(40, (small) => {
      for (let i = 0; i < 16; i++) risk(small, `u${i}`); // fills the cache (room: admitted at once)
      expect(risk(small, 'u30')).toBe('standard'); // first miss of a full cache: remembered, not cached
      editBehindTheStore(small, 'u30');
      expect(risk(small, 'u30')).toBe('edited'); // read from the table again; second miss: cached now
      small.db.prepare(`UPDATE identities SET body = json_set(body, '$.risk_tier', 'standard') WHERE id = 'u30'`).run();
      expect(risk(small, 'u30')).toBe('edited'); // the cached copy
    });
  });

  test('a pass over many records asked for once each leaves the working set cached', () => {
    withSmallStore(200, (small) => {
      for (let i = 0; i < 16; i++) risk(small, `u${i}`);
      for (let i = 16; i < 200; i++) risk(small, `u${i}`); // uniformly spread traffic: each user once
      editBehindTheStore(small, 'u0');
      expect(risk(small, 'u0')).toBe('standard');
    });
  });

  test('an alias is resolved in one read and then served from the cache', () => {
    withSmallStore(0, (small) => {
      small.putIdentity('u1', active({ aliases: ['Ada@Example.com'] }));
      expect(small.getIdentity('ada@example.com')?.id).toBe('u1');
      expect(small.resolveIdentityId('ADA@example.com')).toBe('u1');
      editBehindTheStore(small, 'u1');
      expect(risk(small, 'ada@example.com')).toBe('standard'); // alias and record both cached
      expect(small.getIdentity('nobody@example.com')).toBeUndefined();
      small.putIdentity('nobody@example.com', active()); // a cached miss never hides a later write
      expect(small.getIdentity('nobody@example.com')?.id).toBe('nobody@example.com');
    });
  });
});

// The SQLite StateStore records: identities with an alias index, devices bound to owners, tombstones for
// out-of-order deletes, exceptions, break-glass windows, apps and subscriptions, with an LRU cache in
// front of the decision-path reads. Connection, durability and transactions: ./sqlite-base.ts.
import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { AliasConflictError, NotFoundError, StateUnavailableError, ValidationError, type FieldError } from './errors';
import { applyImportBatch } from './import-lines';
import { NONE, SqliteBase, deepFreeze, lower, parse, type Cached, type Row, type SqliteStoreOptions, type VersionRow } from './sqlite-base';
import { type FillSource, keysetSource } from './resident-replica';
import { validateAll } from './validation';
import {
  type DeviceInput,
  type IdentityInput,
  validateApp,
  validateBreakGlass,
  validateDevice,
  validateException,
  validateIdentity,
  validateSubscription,
} from './schemas';
import type {
  DeleteOptions,
  ImportBatchResult,
  ImportLine,
  ListOptions,
  Page,
  PutResult,
  SourceMark,
  StateStore,
} from './store';
import type { App, BreakGlass, Device, Exception, Identity, RecordKind, Subscription } from './types';

export type { SqliteStoreOptions } from './sqlite-base';

/** Opens (creating if needed) the SQLite store at `opts.path`. */
export function openSqliteStore(opts: SqliteStoreOptions): SqliteStateStore {
  return new SqliteStateStore(opts);
}

/** The SQLite implementation of StateStore. */
export class SqliteStateStore extends SqliteBase implements StateStore {
  private readonly maxExceptionMs: number;
  private readonly maxSkewMs: number;
  private readonly maxBreakGlassMinutes: number;
  // Bulk-import fast paths. Both flags are conservative: they only turn false after a query proved
  // the table empty, and turn true on any write that could add a row (even one later rolled back)
  // and on every rollback.
  private mayHaveTombstones = true;
  private mayHavePendingDevices = true;
  lastImportAt = -Infinity;
  // Source marks are rewritten at most once per second per (kind, source): the metric has 1 s precision.
  private readonly markedAt = new Map<string, number>();
  // Identity ids this transaction wrote, so a device naming its owner by id skips the lookup (an export of
  // users with their devices names an owner written a few lines before). Valid while writeEpoch stays the
  // same: a new transaction or any rollback starts it afresh; a delete takes its id out.
  private readonly writtenIds = new Set<string>();
  private writtenEpoch = -1;
  private readonly st: ReturnType<SqliteStateStore['prepare']>;
  // Identities that have (or had) an exception / a break-glass window. Most identities have neither,
  // so the decision path answers them from memory instead of two queries and two cache entries each.
  // Supersets by construction: added on every write (even one later rolled back), never removed.
  // Loaded at open, outside any transaction, so a rolled-back delete can never leave them short.
  private readonly exceptionHolders: Set<string>;
  private readonly breakGlassHolders: Set<string>;

  constructor(opts: SqliteStoreOptions) {
    super(opts);
    this.maxExceptionMs = (opts.maxExceptionHours ?? 72) * 3600_000;
    this.maxSkewMs = (opts.maxClockSkewSeconds ?? 300) * 1000;
    this.maxBreakGlassMinutes = opts.maxBreakGlassMinutes ?? 240;
    this.st = this.prepare();
    this.exceptionHolders = new Set(this.st.exceptionHolders.all().map((r) => r.identity));
    this.breakGlassHolders = new Set(this.st.breakGlassHolders.all().map((r) => r.identity));
    // What every decision reads: the subject by id or alias, and its devices. A device asked for by id
    // that its subject does not own (rare) still comes through the LRU cache.
    this.replica = this.residentReplica({
      name: 'state',
      prefixes: ['i:', 'a:', 'o:'],
      load: (key) => this.loadResident(key),
      sources: [keysetSource('i:', this.st.fillIdentities), keysetSource('a:', this.st.fillAliases), this.ownerLists()],
    });
  }

  protected override absent(key: string): Cached {
    return key.startsWith('o:') ? '[]' : NONE;
  }

  private loadResident(key: string): string | undefined {
    const ref = key.slice(2);
    if (key.startsWith('i:')) return this.st.identity.get(ref)?.body;
    if (key.startsWith('a:')) return this.st.alias.get(ref)?.identity_id;
    const list = this.ownerListOf(ref);
    return list === '[]' ? undefined : list; // absent() stands for an empty list
  }

  /** The owner's devices as the JSON array text the cache and the replica hold. */
  private ownerListOf(owner: string): string {
    return ownerList(this.st.devicesByOwner.all(owner).map((r) => r.body));
  }

  // Devices in (owner, id) order, cut at owner boundaries: an owner's list is only complete once its
  // last device is read, so a page ends before a group the limit split (re-read on the next page).
  private ownerLists(): FillSource {
    return {
      page: (cursor, limit) => {
        const rows = this.st.fillOwners.all(cursor ?? '', limit);
        const last = rows.length < limit;
        const entries: Array<[string, string]> = [];
        for (let i = 0; i < rows.length; ) {
          const owner = rows[i][0];
          let j = i;
          while (j < rows.length && rows[j][0] === owner) j++;
          if (j === rows.length && !last) {
            // One owner with more devices than a page: read it whole.
            if (i === 0) return { entries: [['o:' + owner, this.ownerListOf(owner)]], next: owner };
            break;
          }
          entries.push(['o:' + owner, ownerList(rows.slice(i, j).map((r) => r[1]))]);
          i = j;
        }
        return { entries, next: last ? null : entries[entries.length - 1][0].slice(2) };
      },
    };
  }

  private prepare() {
    const db = this.db;
    return {
      identity: db.prepare<[string], Row>('SELECT body FROM identities WHERE id = ?'),
      identityVer: db.prepare<[string], VersionRow>('SELECT version, observed_at FROM identities WHERE id = ?'),
      identityExists: db.prepare<[string], { id: string }>('SELECT id FROM identities WHERE id = ?'),
      putIdentity: db.prepare('INSERT OR REPLACE INTO identities (id, version, observed_at, body) VALUES (?, ?, ?, ?)'),
      delIdentity: db.prepare('DELETE FROM identities WHERE id = ?'),
      listIdentities: db.prepare<[string, number], Row>('SELECT body FROM identities WHERE id > ? ORDER BY id LIMIT ?'),
      fillIdentities: db.prepare<[string, number], [string, string]>('SELECT id, body FROM identities WHERE id > ? ORDER BY id LIMIT ?').raw(),
      fillAliases: db.prepare<[string, number], [string, string]>('SELECT alias, identity_id FROM aliases WHERE alias > ? ORDER BY alias LIMIT ?').raw(),
      fillOwners: db
        .prepare<[string, number], [string, string]>('SELECT owner, body FROM devices WHERE owner IS NOT NULL AND owner > ? ORDER BY owner, id LIMIT ?')
        .raw(),
      alias: db.prepare<[string], { identity_id: string }>('SELECT identity_id FROM aliases WHERE alias = ?'),
      // An id or, failing that, an alias: the id wins when a name is both (aliases never equal another
      // identity's id, so both rows are then the same identity).
      resolve: db.prepare<[string, string], { id: string; body: string; via_alias: number }>(
        'SELECT id, body, 0 AS via_alias FROM identities WHERE id = ? ' +
          'UNION ALL SELECT i.id, i.body, 1 FROM aliases a JOIN identities i ON i.id = a.identity_id WHERE a.alias = ? ' +
          'ORDER BY via_alias LIMIT 1',
      ),
      // Who else already answers to this name: an alias (case-insensitive) or an exact identity id.
      nameOwners: db.prepare<[string, string], { owner: string }>(
        'SELECT identity_id AS owner FROM aliases WHERE alias = ? UNION ALL SELECT id AS owner FROM identities WHERE id = ?',
      ),
      anyTomb: db.prepare<[], { one: number }>('SELECT 1 AS one FROM tombstones LIMIT 1'),
      anyPending: db.prepare<[], { one: number }>('SELECT 1 AS one FROM devices WHERE owner IS NULL LIMIT 1'),
      putAlias: db.prepare('INSERT INTO aliases (alias, identity_id) VALUES (?, ?)'),
      delAlias: db.prepare('DELETE FROM aliases WHERE alias = ? AND identity_id = ?'),
      device: db.prepare<[string], Row>('SELECT body FROM devices WHERE id = ?'),
      putDevice: db.prepare('INSERT OR REPLACE INTO devices (id, owner, owner_key, version, observed_at, body) VALUES (?, ?, ?, ?, ?, ?)'),
      delDevice: db.prepare('DELETE FROM devices WHERE id = ?'),
      devicesByOwner: db.prepare<[string], Row>('SELECT body FROM devices WHERE owner = ? ORDER BY id'),
      pendingDevices: db.prepare<[string], Row>(
        'SELECT body FROM devices WHERE owner IS NULL AND owner_key IN (SELECT value FROM json_each(?))',
      ),
      listDevices: db.prepare<[string, number], Row>('SELECT body FROM devices WHERE id > ? ORDER BY id LIMIT ?'),
      tomb: db.prepare<[string, string], VersionRow>('SELECT version, observed_at FROM tombstones WHERE kind = ? AND id = ?'),
      putTomb: db.prepare('INSERT OR REPLACE INTO tombstones (kind, id, version, observed_at, deleted_at) VALUES (?, ?, ?, ?, ?)'),
      delTomb: db.prepare('DELETE FROM tombstones WHERE kind = ? AND id = ?'),
      exception: db.prepare<[string], Row>('SELECT body FROM exceptions WHERE id = ?'),
      exceptionHolders: db.prepare<[], { identity: string }>('SELECT DISTINCT identity FROM exceptions'),
      breakGlassHolders: db.prepare<[], { identity: string }>('SELECT identity FROM break_glass'),
      exceptionsOf: db.prepare<[string], Row>('SELECT body FROM exceptions WHERE identity = ? ORDER BY expires_at, id'),
      exceptionsAll: db.prepare<[], Row>('SELECT body FROM exceptions ORDER BY expires_at, id'),
      putException: db.prepare('INSERT INTO exceptions (id, identity, expires_at, body) VALUES (?, ?, ?, ?)'),
      delException: db.prepare('DELETE FROM exceptions WHERE id = ?'),
      breakGlass: db.prepare<[string], Row>('SELECT body FROM break_glass WHERE identity = ?'),
      putBreakGlass: db.prepare('INSERT OR REPLACE INTO break_glass (identity, expires_at, body) VALUES (?, ?, ?)'),
      delBreakGlass: db.prepare('DELETE FROM break_glass WHERE identity = ?'),
      app: db.prepare<[string], Row>('SELECT body FROM apps WHERE id = ?'),
      apps: db.prepare<[], Row>('SELECT body FROM apps ORDER BY id'),
      putApp: db.prepare('INSERT OR REPLACE INTO apps (id, version, body) VALUES (?, ?, ?)'),
      delApp: db.prepare('DELETE FROM apps WHERE id = ?'),
      subscription: db.prepare<[string], Row>('SELECT body FROM subscriptions WHERE id = ?'),
      subscriptions: db.prepare<[], Row>('SELECT body FROM subscriptions ORDER BY id'),
      putSubscription: db.prepare('INSERT OR REPLACE INTO subscriptions (id, body) VALUES (?, ?)'),
      delSubscription: db.prepare('DELETE FROM subscriptions WHERE id = ?'),
      mark: db.prepare(
        'INSERT INTO source_marks (kind, source, last_updated_at) VALUES (?, ?, ?) ' +
          'ON CONFLICT (kind, source) DO UPDATE SET last_updated_at = excluded.last_updated_at',
      ),
      marks: db.prepare<[], { kind: RecordKind; source: string; last_updated_at: string }>(
        'SELECT kind, source, last_updated_at FROM source_marks ORDER BY kind, source',
      ),
    };
  }

  // The checks of a PUT's body beyond its schema: the id in the path, and the clock for `times`.
  private putErrors(path: string, body: Record<string, unknown>, times: string[]): FieldError[] {
    const errors = idErrors(path);
    if (body.id !== undefined && body.id !== path) errors.push({ path: '/id', message: `must equal the id in the path ("${path}")` });
    if (times.length) errors.push(...this.aheadErrors(this.now(), body, times));
    if (nestedDeeper(body.attributes, MAX_ATTRIBUTE_DEPTH)) errors.push({ path: '/attributes', message: `must not nest deeper than ${MAX_ATTRIBUTE_DEPTH} levels` });
    return errors;
  }

  // After a rollback, state derived from undone writes is dropped: a source mark may not have been
  // written after all, and a table proved empty inside the transaction may have its rows back.
  protected override rolledBack(): void {
    this.markedAt.clear();
    this.mayHaveTombstones = true;
    this.mayHavePendingDevices = true;
  }

  private mark(kind: RecordKind, source: string | undefined, at: string, t: number): void {
    if (!source) return;
    const key = kind + '\0' + source;
    if (t - (this.markedAt.get(key) ?? -Infinity) < 1000) return;
    this.st.mark.run(kind, source, at);
    this.markedAt.set(key, t);
  }

  private tombstone(kind: RecordKind, id: string): VersionRow | undefined {
    if (!this.mayHaveTombstones) return undefined;
    if (!this.st.anyTomb.get()) {
      this.mayHaveTombstones = false;
      return undefined;
    }
    return this.st.tomb.get(kind, id);
  }

  // A time from the source later than this server's clock plus the allowed skew is refused: a future
  // observed_at would count as fresh until it came true and make every real update look older (409),
  // and a future activated_at would hold the enrollment grace open.
  private aheadErrors(now: Date, body: Record<string, unknown>, fields: string[]): FieldError[] {
    const errors: FieldError[] = [];
    for (const field of fields) {
      const value = body[field];
      if (typeof value !== 'string' || !(Date.parse(value) - now.getTime() > this.maxSkewMs)) continue;
      errors.push({ path: '/' + field, message: `is in the future (more than ${this.maxSkewMs / 1000} s ahead of this server's clock, ${now.toISOString()})` });
    }
    return errors;
  }

  // ---------------------------------------------------------------- identities

  private lookupIdentityId(ref: string): string | undefined {
    if (this.writtenEpoch === this.writeEpoch && this.writtenIds.has(ref)) return ref;
    return this.st.identityExists.get(ref)?.id ?? this.st.alias.get(lower(ref))?.identity_id;
  }

  resolveIdentityId(idOrAlias: string): string | undefined {
    return this.identityText(idOrAlias)?.id;
  }

  getIdentity(idOrAlias: string): Identity | undefined {
    const found = this.identityText(idOrAlias);
    return found && (JSON.parse(found.text) as Identity);
  }

  /**
   * The identity an id or alias names, as its id and stored text. Cached under the same keys as
   * always ('i:' id → text or none, 'a:' alias → id), but a miss on all of them is one statement
   * instead of three: the decision path's cost at a large, uniformly asked store is its misses.
   */
  private identityText(ref: string): { id: string; text: string } | undefined {
    const byId = this.fromCache('i:' + ref);
    if (typeof byId === 'string') return { id: ref, text: byId };
    const key = lower(ref);
    if (byId === NONE) {
      const id = this.cached<string>('a:' + key, () => this.st.alias.get(key)?.identity_id);
      const text = id === undefined ? undefined : this.cached<string>('i:' + id, () => this.st.identity.get(id)?.body);
      return id === undefined || text === undefined ? undefined : { id, text };
    }
    const row = this.read(() => this.st.resolve.get(ref, key));
    if (!row) {
      this.admit('i:' + ref, undefined);
      this.admit('a:' + key, undefined);
      return undefined;
    }
    if (!row.via_alias) {
      this.admit('i:' + ref, row.body);
      return { id: ref, text: row.body };
    }
    this.admit('i:' + ref, undefined);
    this.admit('a:' + key, row.id);
    this.admit('i:' + row.id, row.body);
    return { id: row.id, text: row.body };
  }

  putIdentity(id: string, input: unknown): PutResult<Identity> {
    const body = validateAll(validateIdentity, input, (b) => this.putErrors(id, b, IDENTITY_TIMES));
    return this.transaction(() => this.planIdentity(id, body)());
  }

  // Every check of an identity write (ordering, alias conflicts) and the record to store, without
  // writing anything: a rejection leaves nothing to roll back. Returns the write itself.
  private planIdentity(id: string, body: IdentityInput): () => PutResult<Identity> {
    const nowDate = this.now();
    const before = parse<Identity>(this.st.identity.get(id));
    const tomb = before ? undefined : this.tombstone('identity', id);
    const prev = before ?? tomb;
    this.checkOrder('identity', id, prev, body, !before && !!tomb);

    // Aliases: case-insensitive, unique across identities, never another identity's id.
    const aliases: string[] = [];
    const keys: string[] = [];
    (body.aliases ?? []).forEach((a, i) => {
      const key = lower(a);
      if (keys.includes(key)) return;
      for (const { owner } of this.st.nameOwners.all(key, a))
        if (owner !== id) throw new AliasConflictError(a, owner, `/aliases/${i}`);
      aliases.push(a);
      keys.push(key);
    });
    const idKey = lower(id);
    const idOwner = this.st.alias.get(idKey)?.identity_id;
    if (idOwner !== undefined && idOwner !== id) throw new AliasConflictError(id, idOwner, '/id');

    const now = nowDate.toISOString();
    // activated_at: when status last became active. A record staying active keeps its value, even null
    // (activation time unknown: no enrollment grace), so a routine re-sync never restarts the grace.
    let activated_at: string | null;
    if (body.activated_at !== undefined) activated_at = body.activated_at;
    else if (body.status === 'active') activated_at = before?.status === 'active' ? before.activated_at : now;
    else activated_at = before?.activated_at ?? null;

    const record: Identity = {
      id,
      status: body.status,
      type: body.type ?? 'employee',
      risk_tier: body.risk_tier ?? 'standard',
      proofed: body.proofed ?? false,
      aliases,
      activated_at,
      ...(body.source !== undefined && { source: body.source }),
      ...(body.observed_at !== undefined && { observed_at: body.observed_at }),
      version: body.version ?? (prev ? prev.version + 1 : 1),
      updated_at: now,
      ...(body.attributes !== undefined && { attributes: body.attributes }),
    };

    return () => {
      this.st.putIdentity.run(id, record.version, record.observed_at ?? null, JSON.stringify(record));
      // The alias index holds exactly lower(aliases) of each stored identity, so only the difference
      // is written (a new identity: inserts only) and no index by identity_id is needed.
      const oldKeys = before ? before.aliases.map(lower) : [];
      for (const k of oldKeys) if (!keys.includes(k)) this.st.delAlias.run(k, id);
      for (const k of keys) if (!oldKeys.includes(k)) this.st.putAlias.run(k, id);
      if (tomb) this.st.delTomb.run('identity', id);
      this.noteWritten(id);
      this.mark('identity', record.source, now, nowDate.getTime());
      this.invalidate('i:' + id, 'a:' + idKey);
      for (const k of oldKeys) this.invalidate('a:' + k);
      for (const k of keys) this.invalidate('a:' + k);
      const frozen = deepFreeze(record);
      this.emit({ kind: 'identity', id, before, after: frozen });
      this.bindPendingDevices(frozen, now);
      return { record: frozen, created: !before };
    };
  }

  private noteWritten(id: string): void {
    if (this.writtenEpoch !== this.writeEpoch) {
      this.writtenIds.clear();
      this.writtenEpoch = this.writeEpoch;
    }
    this.writtenIds.add(id);
  }

  // Devices whose owner reference named this identity before it existed get bound to it now.
  private bindPendingDevices(identity: Identity, now: string): void {
    if (!this.mayHavePendingDevices) return;
    if (!this.st.anyPending.get()) {
      this.mayHavePendingDevices = false;
      return;
    }
    const keys = [lower(identity.id), ...identity.aliases.map(lower)];
    for (const row of this.st.pendingDevices.all(JSON.stringify(keys))) {
      const before = parse<Device>(row)!;
      const matches = before.owner_ref === identity.id || identity.aliases.some((a) => lower(a) === lower(before.owner_ref));
      if (!matches) continue;
      const after: Device = { ...before, owner: identity.id, owner_resolved: true, updated_at: now };
      this.writeDevice(after);
      this.invalidate('d:' + after.id, 'o:' + identity.id);
      this.emit({ kind: 'device', id: after.id, before, after: deepFreeze(after) });
    }
  }

  deleteIdentity(id: string, opts: DeleteOptions = {}): Identity | undefined {
    return this.transaction(() => {
      const before = parse<Identity>(this.st.identity.get(id));
      if (!before) return undefined;
      if (opts.version !== undefined) this.checkOrder('identity', id, before, { version: opts.version }, false);
      const version = Math.max(opts.version ?? before.version, before.version);
      this.st.delIdentity.run(id);
      this.writtenIds.delete(id);
      for (const a of before.aliases) this.st.delAlias.run(lower(a), id);
      this.mayHaveTombstones = true;
      this.st.putTomb.run('identity', id, version, before.observed_at ?? null, this.nowIso());
      this.invalidate('i:' + id, 'a:' + lower(id), ...before.aliases.map((a) => 'a:' + lower(a)));
      this.emit({ kind: 'identity', id, before, after: undefined });
      return before;
    });
  }

  listIdentities(opts: ListOptions = {}): Page<Identity> {
    return this.page(this.st.listIdentities, opts);
  }

  private page<T extends { id: string }>(stmt: Database.Statement<[string, number], Row>, opts: ListOptions): Page<T> {
    const limit = Math.min(Math.max(1, opts.limit ?? 500), 10_000);
    const items = this.read(() => stmt.all(opts.after ?? '', limit).map((r) => parse<T>(r)!));
    return { items, next_cursor: items.length === limit ? items[items.length - 1].id : null };
  }

  // ---------------------------------------------------------------- devices

  getDevice(id: string): Device | undefined {
    return this.cachedRecord<Device>('d:' + id, () => this.st.device.get(id)?.body);
  }

  private writeDevice(d: Device): void {
    if (!d.owner_resolved) this.mayHavePendingDevices = true;
    this.st.putDevice.run(d.id, d.owner_resolved ? d.owner : null, lower(d.owner_ref), d.version, d.observed_at ?? null, JSON.stringify(d));
  }

  putDevice(id: string, input: unknown): PutResult<Device> {
    const body = validateAll(validateDevice, input, (b) => this.putErrors(id, b, DEVICE_TIMES));
    return this.transaction(() => this.planDevice(id, body)());
  }

  // The checks of a device write and the record to store, without writing; returns the write.
  private planDevice(id: string, body: DeviceInput): () => PutResult<Device> {
    const nowDate = this.now();
    const before = parse<Device>(this.st.device.get(id));
    const tomb = before ? undefined : this.tombstone('device', id);
    this.checkOrder('device', id, before ?? tomb, body, !before && !!tomb);
    const resolved = this.lookupIdentityId(body.owner);
    const now = nowDate.toISOString();
    const prev = before ?? tomb;
    const record: Device = {
      id,
      owner: resolved ?? body.owner,
      owner_ref: body.owner,
      owner_resolved: resolved !== undefined,
      enrolled: body.enrolled ?? false,
      compliant: body.compliant ?? false,
      encrypted: body.encrypted ?? false,
      ...(body.platform !== undefined && { platform: body.platform }),
      ...(body.os_version !== undefined && { os_version: body.os_version }),
      ownership: body.ownership,
      ...(body.source !== undefined && { source: body.source }),
      ...(body.observed_at !== undefined && { observed_at: body.observed_at }),
      version: body.version ?? (prev ? prev.version + 1 : 1),
      updated_at: now,
      ...(body.attributes !== undefined && { attributes: body.attributes }),
    };
    return () => {
      this.writeDevice(record);
      if (tomb) this.st.delTomb.run('device', id);
      this.mark('device', record.source, now, nowDate.getTime());
      this.invalidate('d:' + id, 'o:' + record.owner);
      if (before && before.owner !== record.owner) this.invalidate('o:' + before.owner);
      const frozen = deepFreeze(record);
      this.emit({ kind: 'device', id, before, after: frozen });
      return { record: frozen, created: !before };
    };
  }

  deleteDevice(id: string, opts: DeleteOptions = {}): Device | undefined {
    return this.transaction(() => {
      const before = parse<Device>(this.st.device.get(id));
      if (!before) return undefined;
      if (opts.version !== undefined) this.checkOrder('device', id, before, { version: opts.version }, false);
      const version = Math.max(opts.version ?? before.version, before.version);
      this.st.delDevice.run(id);
      this.mayHaveTombstones = true;
      this.st.putTomb.run('device', id, version, before.observed_at ?? null, this.nowIso());
      this.invalidate('d:' + id, 'o:' + before.owner);
      this.emit({ kind: 'device', id, before, after: undefined });
      return before;
    });
  }

  listDevicesByOwner(identityId: string): Device[] {
    return this.cachedRecord<Device[]>('o:' + identityId, () => this.ownerListOf(identityId))!;
  }

  listDevices(opts: ListOptions = {}): Page<Device> {
    return this.page(this.st.listDevices, opts);
  }

  // ---------------------------------------------------------------- exceptions

  createException(input: unknown, opts: { maxMs?: number } = {}): Exception {
    const now = this.now();
    const maxMs = Math.min(this.maxExceptionMs, opts.maxMs ?? Infinity);
    let identity: string | undefined; // resolved once, by the check that names an unknown one
    const body = validateAll(validateException, input, (b) => {
      const errors: FieldError[] = [];
      if (typeof b.identity === 'string') identity = this.read(() => this.lookupIdentityId(b.identity as string));
      if (typeof b.identity === 'string' && identity === undefined)
        errors.push({ path: '/identity', message: `unknown identity "${b.identity}"` });
      const expires = typeof b.expires_at === 'string' ? Date.parse(b.expires_at) : NaN;
      if (expires <= now.getTime()) errors.push({ path: '/expires_at', message: 'must be in the future' });
      else if (expires - now.getTime() > maxMs)
        errors.push({ path: '/expires_at', message: `must be at most ${+(maxMs / 3600_000).toFixed(3)} h from now` });
      return errors;
    });
    const expires = Date.parse(body.expires_at);
    const record: Exception = {
      id: 'exc_' + randomUUID(),
      identity: identity!, // validateAll threw unless body.identity is a string that resolved
      waives: body.waives,
      scope: body.scope,
      reason: body.reason,
      approved_by: body.approved_by,
      created_at: now.toISOString(),
      expires_at: new Date(expires).toISOString(),
    };
    return this.transaction(() => {
      this.holdersOfExceptions().add(record.identity);
      this.st.putException.run(record.id, record.identity, record.expires_at, JSON.stringify(record));
      this.invalidate('x:' + record.identity);
      const frozen = deepFreeze(record);
      this.emit({ kind: 'exception', id: record.id, before: undefined, after: frozen });
      return frozen;
    });
  }

  // The holder sets, failing closed like any read once the store is closed.
  private holdersOfExceptions(): Set<string> {
    if (!this.isOpen) throw new StateUnavailableError('state store is closed');
    return this.exceptionHolders;
  }

  private holdersOfBreakGlass(): Set<string> {
    if (!this.isOpen) throw new StateUnavailableError('state store is closed');
    return this.breakGlassHolders;
  }

  getException(id: string): Exception | undefined {
    return this.read(() => parse<Exception>(this.st.exception.get(id)));
  }

  listExceptions(identityId?: string, opts: { includeExpired?: boolean } = {}): Exception[] {
    const all =
      identityId === undefined
        ? this.read(() => this.st.exceptionsAll.all().map((r) => parse<Exception>(r)!))
        : !this.holdersOfExceptions().has(identityId)
          ? NO_EXCEPTIONS
          : this.cached<Exception[]>('x:' + identityId, () =>
            deepFreeze(this.st.exceptionsOf.all(identityId).map((r) => parse<Exception>(r)!)),
          )!;
    if (opts.includeExpired) return all;
    const now = this.now().getTime();
    return all.filter((e) => Date.parse(e.expires_at) > now);
  }

  deleteException(id: string): Exception | undefined {
    return this.transaction(() => {
      const before = parse<Exception>(this.st.exception.get(id));
      if (!before) return undefined;
      this.st.delException.run(id);
      this.invalidate('x:' + before.identity);
      this.emit({ kind: 'exception', id, before, after: undefined });
      return before;
    });
  }

  // ---------------------------------------------------------------- break-glass

  openBreakGlass(identityIdOrAlias: string, input: unknown): BreakGlass {
    // A known identity of another type is a bad request like a bad body, named with it.
    const known = this.read(() => {
      const id = this.lookupIdentityId(identityIdOrAlias);
      return id === undefined ? undefined : parse<Identity>(this.st.identity.get(id));
    });
    const body = validateAll(validateBreakGlass, input, (b) => [
      ...(typeof b.minutes === 'number' && b.minutes > this.maxBreakGlassMinutes ? [{ path: '/minutes', message: `must be <= ${this.maxBreakGlassMinutes}` }] : []),
      ...(known && known.type !== 'break_glass' ? [notBreakGlass(known)] : []),
    ]);
    return this.transaction(() => {
      const id = this.lookupIdentityId(identityIdOrAlias);
      const identity = id === undefined ? undefined : parse<Identity>(this.st.identity.get(id));
      if (!identity) throw new NotFoundError(`unknown identity "${identityIdOrAlias}"`);
      if (identity.type !== 'break_glass') throw new ValidationError([notBreakGlass(identity)]);
      const now = this.now();
      const record: BreakGlass = {
        identity: identity.id,
        opened_at: now.toISOString(),
        expires_at: new Date(now.getTime() + body.minutes * 60_000).toISOString(),
        minutes: body.minutes,
        reason: body.reason,
        approved_by: body.approved_by,
      };
      const before = parse<BreakGlass>(this.st.breakGlass.get(identity.id));
      this.holdersOfBreakGlass().add(identity.id);
      this.st.putBreakGlass.run(identity.id, record.expires_at, JSON.stringify(record));
      this.invalidate('b:' + identity.id);
      const frozen = deepFreeze(record);
      this.emit({ kind: 'break_glass', id: identity.id, before, after: frozen });
      return frozen;
    });
  }

  getBreakGlass(identityId: string): BreakGlass | undefined {
    if (!this.holdersOfBreakGlass().has(identityId)) return undefined;
    return this.cached<BreakGlass>('b:' + identityId, () => parse<BreakGlass>(this.st.breakGlass.get(identityId)));
  }

  closeBreakGlass(identityIdOrAlias: string): BreakGlass | undefined {
    return this.transaction(() => {
      const id = this.lookupIdentityId(identityIdOrAlias) ?? identityIdOrAlias;
      const before = parse<BreakGlass>(this.st.breakGlass.get(id));
      if (!before) return undefined;
      this.st.delBreakGlass.run(id);
      this.invalidate('b:' + id);
      this.emit({ kind: 'break_glass', id, before, after: undefined });
      return before;
    });
  }

  // ---------------------------------------------------------------- apps

  putApp(id: string, input: unknown): PutResult<App> {
    const body = validateAll(validateApp, input, (b) => this.putErrors(id, b, NO_TIMES));
    return this.transaction(() => {
      const before = parse<App>(this.st.app.get(id));
      this.checkOrder('app', id, before, body, false);
      const now = this.nowIso();
      const record: App = {
        id,
        sensitivity: body.sensitivity,
        ...(body.admin !== undefined && { admin: body.admin }),
        ...(body.allow_service !== undefined && { allow_service: body.allow_service }),
        ...(body.name !== undefined && { name: body.name }),
        version: body.version ?? (before ? before.version + 1 : 1),
        updated_at: now,
      };
      this.st.putApp.run(id, record.version, JSON.stringify(record));
      this.invalidate('p:' + id, 'apps');
      const frozen = deepFreeze(record);
      this.emit({ kind: 'app', id, before, after: frozen });
      return { record: frozen, created: !before };
    });
  }

  getApp(id: string): App | undefined {
    return this.cached<App>('p:' + id, () => parse<App>(this.st.app.get(id)));
  }

  listApps(): App[] {
    return this.cached<App[]>('apps', () => deepFreeze(this.st.apps.all().map((r) => parse<App>(r)!)))!;
  }

  deleteApp(id: string): App | undefined {
    return this.transaction(() => {
      const before = parse<App>(this.st.app.get(id));
      if (!before) return undefined;
      this.st.delApp.run(id);
      this.invalidate('p:' + id, 'apps');
      this.emit({ kind: 'app', id, before, after: undefined });
      return before;
    });
  }

  // ---------------------------------------------------------------- subscriptions

  putSubscription(input: unknown): PutResult<Subscription> {
    // Credentials in the URL would be stored and shown in plain text, end up in logs, and fetch() refuses
    // such URLs anyway; the receiver authenticates Tether by the signature made with `secret`.
    const body = validateAll(validateSubscription, input, (b) => [
      ...(typeof b.id === 'string' ? idErrors(b.id) : []),
      ...(typeof b.url === 'string' && hasCredentials(b.url)
        ? [{ path: '/url', message: 'must not contain credentials (user:password@); receivers verify the X-Tether-Signature made with the secret' }]
        : []),
    ]);
    return this.transaction(() => {
      const id = body.id ?? 'sub_' + randomUUID();
      const before = parse<Subscription>(this.st.subscription.get(id));
      const record: Subscription = {
        id,
        url: body.url,
        secret: body.secret,
        events: body.events,
        created_at: before?.created_at ?? this.nowIso(),
      };
      this.st.putSubscription.run(id, JSON.stringify(record));
      const frozen = deepFreeze(record);
      this.invalidate();
      this.emit({ kind: 'subscription', id, before, after: frozen });
      return { record: frozen, created: !before };
    });
  }

  getSubscription(id: string): Subscription | undefined {
    return this.read(() => parse<Subscription>(this.st.subscription.get(id)));
  }

  listSubscriptions(): Subscription[] {
    return this.read(() => this.st.subscriptions.all().map((r) => parse<Subscription>(r)!));
  }

  deleteSubscription(id: string): Subscription | undefined {
    return this.transaction(() => {
      const before = parse<Subscription>(this.st.subscription.get(id));
      if (!before) return undefined;
      this.st.delSubscription.run(id);
      this.invalidate();
      this.emit({ kind: 'subscription', id, before, after: undefined });
      return before;
    });
  }

  // ---------------------------------------------------------------- bulk import

  importBatch(lines: ImportLine[]): ImportBatchResult {
    try {
      // A bulk load touches every record once: its owner lookups must not evict the decisions' working set.
      return this.withoutCaching(() => applyImportBatch(this, lines, (kind, record) => {
        // The same checks as putIdentity/putDevice (the path id is the record's own id).
        if (kind === 'identity') {
          const body = validateAll(validateIdentity, record, (b) => this.putErrors(record.id, b, IDENTITY_TIMES));
          return this.planIdentity(record.id, body);
        }
        const body = validateAll(validateDevice, record, (b) => this.putErrors(record.id, b, DEVICE_TIMES));
        return this.planDevice(record.id, body);
      }));
    } finally {
      this.lastImportAt = performance.now();
    }
  }

  // ---------------------------------------------------------------- stats, lifecycle

  counts(): Record<RecordKind, number> {
    this.liveCounts ??= this.read(() => {
      const c = (table: string) => (this.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
      return {
        identity: c('identities'),
        device: c('devices'),
        exception: c('exceptions'),
        break_glass: c('break_glass'),
        app: c('apps'),
        subscription: c('subscriptions'),
      };
    });
    return { ...this.liveCounts };
  }

  sourceMarks(): SourceMark[] {
    return this.read(() => this.st.marks.all());
  }
}

/** An owner's devices as one JSON array text (how the cache and the replica hold them). */
function ownerList(bodies: string[]): string {
  return `[${bodies.join(',')}]`;
}

// The source times of each record kind that must not be ahead of this server's clock.
const IDENTITY_TIMES = ['observed_at', 'activated_at'];
const DEVICE_TIMES = ['observed_at'];
const NO_TIMES: string[] = [];

const NO_EXCEPTIONS: Exception[] = Object.freeze([]) as unknown as Exception[];

// Free-form attributes are stored as JSON text: thousands of levels would overflow JSON.stringify's stack
// (a 500), and no source sends more than a few.
const MAX_ATTRIBUTE_DEPTH = 32;

/** True when `value` nests objects/arrays deeper than `max` levels (iterative: any depth is safe to test). */
function nestedDeeper(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

function idErrors(id: string): FieldError[] {
  // Same constraint as the schemas' `id`: the path segment must be a usable id.
  if (id.length === 0 || id.length > 256 || /[\u0000-\u001f\u007f]/.test(id))
    return [{ path: '/id', message: 'must be 1-256 characters without control characters' }];
  return [];
}

function notBreakGlass(identity: Identity): FieldError {
  return { path: '/identity', message: `identity "${identity.id}" is of type ${identity.type}, not break_glass` };
}

function hasCredentials(url: string): boolean {
  try {
    const u = new URL(url);
    return u.username !== '' || u.password !== '';
  } catch {
    return false; // not a URL: the schema names it
  }
}


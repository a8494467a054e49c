// The SQLite connection under the state store: opening (WAL, synchronous, exclusive lock), transactions
// with savepoints, cache invalidation, and change events. Records live in ./sqlite-store.ts.
//
// Durability: in WAL mode every commit appends to the -wal file before better-sqlite3 returns. That
// already survives kill -9 (the OS keeps the written pages); synchronous=FULL additionally fsyncs the
// WAL on every commit so an acknowledged write also survives power loss / kernel crash. We default to
// FULL because revocations must not silently come back; bulk import commits per batch, so the fsync
// cost is paid once per 1,000 records. TETHER_SQLITE_SYNC=normal trades the power-loss guarantee for
// cheaper single writes (kill -9 safety stays). The file is opened with locking_mode=EXCLUSIVE: one
// process owns it, so the LRU cache can never miss another writer's change.
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import { Doorkeeper } from './doorkeeper';
import { dropFileCache } from './file-cache';
import { StaleUpdateError, StateError, StateUnavailableError } from './errors';
import { MemoryBudget } from './memory-budget';
import { type ReplicaSpec, type ReplicaStats, ResidentReplica } from './resident-replica';
import { applySchema, type MigrationReport } from './sqlite-schema';
import type { ChangeListener } from './store';
import type { ChangeEvent, RecordKind } from './types';
import { checkWal, describeWalDamage } from './wal-check';

/** Options of openSqliteStore. */
export interface SqliteStoreOptions {
  /** Database file, or ':memory:' (tests). */
  path: string;
  /** 'full' (default: survives power loss) or 'normal' (survives kill -9 only). */
  synchronous?: 'full' | 'normal';
  /** Entries in the decision-path LRU cache (default 100,000). */
  cacheSize?: number;
  /** Longest exception, hours (default 72). */
  maxExceptionHours?: number;
  /** Longest break-glass window, minutes (default 240). */
  maxBreakGlassMinutes?: number;
  /**
   * How far ahead of this server's clock a record's `observed_at`/`activated_at` may be, seconds (default
   * 300). Later times are refused: a future observation would look fresh until it came true and would
   * make every real update look older (409).
   */
  maxClockSkewSeconds?: number;
  /**
   * Bytes of the database file read through mmap (default 0 = off: plain reads). Measured at 1M identities
   * with uniformly spread requests, mmap'd reads raised /v1/decide p99 from 3-20 ms to 30-60 ms (read
   * stalls), and an I/O error on a mapped page kills the process (SIGBUS) instead of failing one read.
   */
  mmapBytes?: number;
  /**
   * Bytes of memory for resident copies of the decision path's records (default 0 = off: the LRU cache
   * in front of SQLite only). See ./resident-replica.ts; the server turns it on (TETHER_RESIDENT_MEMORY).
   */
  residentBytes?: number;
  /** Told when a resident copy finished a fill, ran out of memory or failed a background read, and when the file's page cache was dropped (the server logs it). */
  onResidentEvent?: (event: 'filled' | 'full' | 'error' | 'released', fields: Record<string, unknown>) => void;
  /**
   * Once every resident replica is complete, ask the kernel to drop the store file's pages from the OS
   * page cache (./file-cache.ts): decisions no longer read them. The server turns it on with residency.
   */
  releaseFileCache?: boolean;
  /**
   * Told once when the store fails for good while open (corrupt or unreadable file, I/O error, the file
   * removed or replaced under it): from then on every read and write throws StateUnavailableError, so
   * decisions deny `state_unavailable` and readiness fails, until it is repaired and Tether restarted.
   */
  onFailure?: (err: StateUnavailableError) => void;
  /** How often to check that the store file is still the one opened, ms (default 2000; 0 = only before writes). */
  fileCheckMs?: number;
  /** Told before and after the store's tables are migrated from an earlier layout (the server logs it). */
  onMigrate?: (phase: 'start' | 'done', report: Partial<MigrationReport>) => void;
  /** How long to wait for a lock held by another process before failing (default 2,000 ms). */
  busyTimeoutMs?: number;
  /** Clock (tests). */
  now?: () => Date;
}

// Cache sentinel for "looked up, does not exist" (lru-cache values cannot be undefined).
export const NONE = Symbol('none');
export type Cached = object | string | typeof NONE;

export type Row = { body: string };
export type VersionRow = { version: number; observed_at: string | null };

export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

export function parse<T>(row: Row | undefined): T | undefined {
  return row ? deepFreeze(JSON.parse(row.body) as T) : undefined;
}

export const lower = (s: string) => s.toLowerCase();

/** Connection, transactions, cache invalidation and change events shared by the SQLite store. */
export abstract class SqliteBase {
  readonly backend = 'sqlite';
  readonly db: Database.Database;
  protected readonly cache: LRUCache<string, Cached>;
  private readonly doorkeeper: Doorkeeper;
  private cacheBypass = 0;
  /** Memory for resident replicas (undefined: residency off). */
  private readonly residentBudget?: MemoryBudget;
  private readonly replicas: Array<{ name: string; replica: ResidentReplica }> = [];
  private readonly path: string;
  private readonly releaseFileCache: boolean;
  private releasingFileCache = false;
  /** The store's own replica of its decision-path keys (set by the subclass when residency is on). */
  protected replica?: ResidentReplica;
  private readonly onResidentEvent: NonNullable<SqliteStoreOptions['onResidentEvent']>;
  protected readonly now: () => Date;
  private readonly changeListeners = new Set<ChangeListener>();
  private readonly commitListeners = new Set<ChangeListener>();
  private pendingCommit: ChangeEvent[] = [];
  private readonly touched = new Set<string>();
  private depth = 0;
  private epoch = 0;
  private open = true;
  private failure?: StateUnavailableError;
  private readonly onFailure: NonNullable<SqliteStoreOptions['onFailure']>;
  // The opened file's identity: a data dir deleted or the file replaced under a running server would
  // otherwise take every later write into an unlinked file, acknowledged and gone at the next start.
  private fileId?: { dev: number; ino: number };
  private fileCheck?: NodeJS.Timeout;
  /**
   * Records per kind, counted once and then kept in step by every committed change event: counting
   * 1M rows takes about half a second, which a metrics scrape after every write used to spend.
   * Dropped on a rollback (the undone events were already counted) and counted again when next asked.
   */
  protected liveCounts?: Record<RecordKind, number>;
  private readonly tx: Record<'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollbackTo', Database.Statement>;

  constructor(opts: SqliteStoreOptions) {
    this.now = opts.now ?? (() => new Date());
    this.cache = new LRUCache<string, Cached>({ max: Math.max(16, opts.cacheSize ?? 100_000) });
    this.doorkeeper = new Doorkeeper(this.cache.max);
    if ((opts.residentBytes ?? 0) > 0) this.residentBudget = new MemoryBudget(opts.residentBytes!);
    this.onResidentEvent = opts.onResidentEvent ?? (() => undefined);
    this.onFailure = opts.onFailure ?? (() => undefined);
    this.path = opts.path;
    this.releaseFileCache = !!opts.releaseFileCache && opts.path !== ':memory:';
    if (opts.path !== ':memory:') refuseDamagedWal(opts.path);
    let db: Database.Database | undefined;
    try {
      db = this.db = new Database(opts.path);
      db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 2000}`);
      // One process owns the store: its cache is only coherent if nobody else writes. EXCLUSIVE locking
      // makes a second server (or `tether import --direct` against a live server) fail fast instead.
      if (opts.path !== ':memory:') db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${opts.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
      db.pragma('temp_store = MEMORY');
      db.pragma('cache_size = -65536');
      if (opts.path !== ':memory:') db.pragma(`mmap_size = ${Math.max(0, Math.floor(opts.mmapBytes ?? 0))}`);
      applySchema(this.db, opts.onMigrate);
      this.tx = {
        begin: this.db.prepare('BEGIN IMMEDIATE'),
        commit: this.db.prepare('COMMIT'),
        rollback: this.db.prepare('ROLLBACK'),
        savepoint: this.db.prepare('SAVEPOINT tether_sp'),
        release: this.db.prepare('RELEASE tether_sp'),
        rollbackTo: this.db.prepare('ROLLBACK TO tether_sp'),
      };
    } catch (err) {
      try {
        db?.close();
      } catch {
        // already failing; the open error below is what matters
      }
      const msg = (err as Error).message;
      const hint = /locked|busy/i.test(msg) ? ' (another Tether process is using this data dir)' : '';
      throw new StateUnavailableError(`cannot open state store at ${opts.path}: ${msg}${hint}`, err);
    }
    if (opts.path !== ':memory:') {
      const st = fs.statSync(opts.path);
      this.fileId = { dev: st.dev, ino: st.ino };
      const every = opts.fileCheckMs ?? 2000;
      if (every > 0) this.fileCheck = setInterval(() => this.checkFile(), every).unref();
    }
  }

  get isOpen(): boolean {
    return this.open && this.db.open;
  }

  /** Why the store stopped serving while open (see SqliteStoreOptions.onFailure), or undefined. */
  get failed(): string | undefined {
    return this.failure?.message;
  }

  private usable(): void {
    if (!this.open) throw new StateUnavailableError('state store is closed');
    if (this.failure) throw this.failure;
  }

  // Failures that mean the file cannot be trusted any more; BUSY/LOCKED/FULL are transient (the write is
  // refused with 503 and the source retries), these are not.
  private noteFailure(err: unknown): void {
    const code = (err as { code?: unknown })?.code;
    const cause = (err as { cause?: { code?: unknown } })?.cause?.code;
    const c = typeof code === 'string' && code.startsWith('SQLITE_') ? code : typeof cause === 'string' ? cause : '';
    if (/^SQLITE_(CORRUPT|NOTADB|IOERR|READONLY|CANTOPEN)/.test(c)) this.markFailed(`state store ${this.path} failed: ${(err as Error).message}`, err);
  }

  private markFailed(message: string, cause?: unknown): void {
    if (this.failure) return;
    this.failure = new StateUnavailableError(`${message}; decisions deny state_unavailable until it is repaired and Tether restarted`, cause);
    this.onFailure(this.failure);
  }

  private checkFile(): void {
    if (!this.fileId || this.failure || !this.open) return;
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(this.path);
    } catch {
      st = undefined;
    }
    if (!st || st.dev !== this.fileId.dev || st.ino !== this.fileId.ino)
      this.markFailed(`state store file ${this.path} was ${st ? 'replaced' : 'removed'} while open (writes would go to a file no restart reads)`);
  }

  // ---------------------------------------------------------------- plumbing

  /** Runs a read, turning SQLite failures into StateUnavailableError so callers fail closed. */
  protected read<T>(fn: () => T): T {
    this.usable();
    try {
      return fn();
    } catch (err) {
      if (err instanceof StateError) throw err;
      this.noteFailure(err);
      throw new StateUnavailableError(`state store read failed: ${(err as Error).message}`, err);
    }
  }

  // Transactions use cached BEGIN/SAVEPOINT statements: better-sqlite3's db.transaction() builds a new
  // wrapper per call, which cost ~25% of bulk-import CPU. Nested calls become savepoints (same name
  // stacks in SQLite), so a failing inner write rolls back alone.
  transaction<T>(fn: () => T): T {
    this.usable();
    if (this.depth === 0 && !this.db.inTransaction) {
      this.checkFile();
      this.usable();
    }
    const mark = this.pendingCommit.length;
    if (this.depth === 0) this.epoch++;
    if (this.db.inTransaction) {
      this.tx.savepoint.run();
      try {
        const r = fn();
        assertSync(r);
        this.tx.release.run();
        if (this.depth === 0) this.afterCommit(); // outer transaction is not ours: best effort
        return r;
      } catch (err) {
        if (this.db.inTransaction) {
          this.tx.rollbackTo.run();
          this.tx.release.run();
        }
        this.epoch++;
        this.rolledBack();
        this.liveCounts = undefined;
        this.pendingCommit.length = mark;
        throw err;
      }
    }
    this.depth++;
    try {
      this.tx.begin.run();
      const r = fn();
      assertSync(r);
      this.tx.commit.run();
      this.depth--;
      this.afterCommit();
      return r;
    } catch (err) {
      this.depth--;
      if (this.db.inTransaction) this.tx.rollback.run();
      this.epoch++;
      this.rolledBack();
      this.liveCounts = undefined;
      this.pendingCommit.length = 0;
      this.flushTouched();
      this.noteFailure(err);
      throw wrapWriteError(err);
    }
  }

  /**
   * Changes when a top-level transaction() starts and when any part of one is rolled back: what a
   * component remembers of its own writes stays true while this stays the same.
   */
  get writeEpoch(): number {
    return this.epoch;
  }

  /** Called after a transaction or savepoint was rolled back (drop state derived from undone writes). */
  protected rolledBack(): void {}

  private afterCommit(): void {
    this.flushTouched();
    const events = this.pendingCommit;
    this.pendingCommit = [];
    for (const ev of events) {
      for (const l of this.commitListeners) {
        try {
          l(ev);
        } catch {
          // A commit listener must not undo or fail a committed write; it owns its own errors.
        }
      }
    }
  }

  // A write drops the keys it changes from the cache. Keys cached by a read made inside a transaction
  // (e.g. by a listener) are remembered in `touched` and dropped again at its end, so uncommitted or
  // rolled-back data never stays in the cache; writes themselves need no bookkeeping per key.
  protected invalidate(...keys: string[]): void {
    for (const k of keys) {
      this.cache.delete(k);
      this.replica?.invalidate(k);
    }
  }

  /**
   * A resident replica of some keys, sharing this store's memory budget and stopped with it; undefined
   * when residency is off. Other components (the lifecycle tracker) keep their own tables resident too.
   */
  residentReplica(spec: ReplicaSpec): ResidentReplica | undefined {
    if (!this.residentBudget || !this.open) return undefined;
    const replica = new ResidentReplica({
      ...spec,
      budget: this.residentBudget,
      busy: () => this.db.inTransaction,
      onFilled: (stats) => {
        this.onResidentEvent('filled', { replica: spec.name, ...stats });
        this.releaseFileCacheWhenComplete();
      },
      onFull: () => this.onResidentEvent('full', { replica: spec.name, budget_bytes: this.residentBudget!.maxBytes }),
      onError: (err) => this.onResidentEvent('error', { replica: spec.name, error: String((err as Error)?.message ?? err) }),
    });
    this.replicas.push({ name: spec.name, replica });
    return replica;
  }

  /** Drops the store file's OS page cache once every replica is complete (see SqliteStoreOptions.releaseFileCache). */
  private releaseFileCacheWhenComplete(): void {
    if (!this.releaseFileCache || this.releasingFileCache || !this.replicas.every(({ replica }) => replica.stats.complete)) return;
    this.releasingFileCache = true;
    const started = performance.now();
    void dropFileCache(this.path).then((dropped) => {
      this.releasingFileCache = false;
      if (dropped && this.open) this.onResidentEvent('released', { file: this.path, ms: Math.round(performance.now() - started) });
    });
  }

  /** Resident entries, bytes and completeness per replica (metrics). */
  residentStats(): Array<ReplicaStats & { name: string }> {
    return this.replicas.map(({ name, replica }) => ({ name, ...replica.stats }));
  }

  /** Resolves once every replica is filled and caught up with writes (benchmarks, tests). */
  async residentSettled(): Promise<void> {
    await Promise.all(this.replicas.map(({ replica }) => replica.settled()));
  }

  private flushTouched(): void {
    for (const k of this.touched) this.cache.delete(k);
    this.touched.clear();
  }

  protected emit(ev: ChangeEvent): void {
    if (this.liveCounts) this.liveCounts[ev.kind] += (ev.after ? 1 : 0) - (ev.before ? 1 : 0);
    for (const l of this.changeListeners) l(ev);
    this.pendingCommit.push(ev);
  }

  onChange(listener: ChangeListener): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  onCommit(listener: ChangeListener): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  /**
   * Runs `fn` with reads that neither fill nor reorder the cache: a background pass over every identity
   * (lifecycle catch-up after a bulk import, a sweep) would otherwise evict the decisions' working set.
   */
  withoutCaching<T>(fn: () => T): T {
    this.cacheBypass++;
    try {
      return fn();
    } finally {
      this.cacheBypass--;
    }
  }

  /** The cached value of `key` (NONE: known not to exist; undefined: not cached). */
  protected fromCache(key: string): Cached | undefined {
    if (this.failure) throw this.failure; // what is held in memory may no longer be what is stored
    if (this.replica) {
      const held = this.replica.lookup(key);
      if (held !== undefined) return held ?? this.absent(key);
    }
    // A background pass may use what is cached but must not reorder it.
    return this.cacheBypass > 0 ? this.cache.peek(key) : this.cache.get(key);
  }

  /** What a read of a key that does not exist yields (a list key: its empty list). */
  protected absent(_key: string): Cached {
    return NONE;
  }

  /** Caches what a read found: freely while the cache has room, once full only keys that missed before. */
  protected admit(key: string, v: Cached | undefined): void {
    if (this.cacheBypass > 0) return;
    if (this.cache.size >= this.cache.max && !this.doorkeeper.admit(key)) return;
    this.cache.set(key, v === undefined ? NONE : v);
    if (this.db.inTransaction) this.touched.add(key);
  }

  protected cached<T extends object | string>(key: string, load: () => T | undefined): T | undefined {
    const hit = this.fromCache(key);
    if (hit !== undefined) return hit === NONE ? undefined : (hit as T);
    const v = this.read(load);
    this.admit(key, v);
    return v;
  }

  /**
   * A record cached as its JSON text and parsed on every read. Text is one flat string to the garbage
   * collector where a parsed record is a graph of objects: with a large store and uniformly spread
   * requests the cache churns, and churned object graphs promoted to the old generation made major GCs
   * (and p99) grow with the store. Each read returns a fresh object, so callers cannot corrupt the cache.
   */
  protected cachedRecord<T>(key: string, loadText: () => string | undefined): T | undefined {
    const text = this.cached<string>(key, loadText);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  protected nowIso(): string {
    return this.now().toISOString();
  }

  /** Throws StaleUpdateError when `incoming` is older than `prev` (tombstones: not newer). */
  protected checkOrder(
    kind: RecordKind,
    id: string,
    prev: { version: number; observed_at?: string | null } | undefined,
    incoming: { version?: number; observed_at?: string },
    tombstone: boolean,
  ): void {
    if (!prev) return;
    const stored = { version: prev.version, observed_at: prev.observed_at ?? undefined };
    if (incoming.version !== undefined) {
      // Equal versions are accepted (idempotent redelivery), except against a delete or with an older
      // observed_at (a delayed delivery of the same version, which must not undo a newer observation).
      if (incoming.version < prev.version || (tombstone && incoming.version === prev.version))
        throw new StaleUpdateError(kind, id, stored, incoming, tombstone);
      if (incoming.version > prev.version || !incoming.observed_at || !prev.observed_at) return;
      if (Date.parse(incoming.observed_at) < Date.parse(prev.observed_at)) throw new StaleUpdateError(kind, id, stored, incoming, tombstone);
      return;
    }
    if (incoming.observed_at && prev.observed_at) {
      const a = Date.parse(incoming.observed_at);
      const b = Date.parse(prev.observed_at);
      if (a < b || (tombstone && a === b)) throw new StaleUpdateError(kind, id, stored, incoming, tombstone);
    }
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    clearInterval(this.fileCheck);
    this.cache.clear();
    for (const { replica } of this.replicas) replica.stop();
    if (this.db.open) {
      try {
        this.db.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // Checkpointing is an optimisation; the WAL is replayed on next open anyway.
      }
      this.db.close();
    }
  }
}

// Before SQLite opens the file: its recovery would silently drop acknowledged commits that follow a
// damaged part of the WAL (./wal-check.ts), and closing would then checkpoint and discard the rest.
function refuseDamagedWal(path: string): void {
  const wal = `${path}-wal`;
  let check: ReturnType<typeof checkWal>;
  try {
    check = checkWal(wal);
  } catch (err) {
    throw new StateUnavailableError(`cannot open state store at ${path}: cannot read its write-ahead log ${wal}: ${(err as Error).message}`, err);
  }
  if (check.state === 'damaged') throw new StateUnavailableError(`cannot open state store at ${path}: ${describeWalDamage(wal, check)}`);
}

// A transaction callback must finish synchronously: SQLite cannot hold a transaction across awaits.
export function assertSync(r: unknown): void {
  if (r && typeof (r as { then?: unknown }).then === 'function')
    throw new TypeError('store.transaction() callbacks must be synchronous (got a Promise)');
}

export function wrapWriteError(err: unknown): unknown {
  if (err instanceof StateError) return err;
  if (err instanceof Error && /^SQLITE_(IOERR|FULL|CORRUPT|CANTOPEN|BUSY|LOCKED|READONLY|NOTADB)/.test((err as { code?: string }).code ?? ''))
    return new StateUnavailableError(`state store write failed: ${err.message}`, err);
  return err;
}


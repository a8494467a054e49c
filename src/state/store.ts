// The StateStore contract: what the decision path, lifecycle and HTTP routes need from durable state.
// SQLite (./sqlite-store.ts) implements it today; a distributed backend can implement it later.
import type Database from 'better-sqlite3';
import type { FieldError } from './errors';
import type { ReplicaSpec, ReplicaStats, ResidentReplica } from './resident-replica';
import type { App, BreakGlass, ChangeEvent, Device, Exception, Identity, RecordKind, Subscription } from './types';

/** Result of a put: the stored record and whether it did not exist before. */
export interface PutResult<T> {
  record: T;
  created: boolean;
}

/** One page of a keyset-paginated listing; pass `next_cursor` as `after` to continue. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** Listing options: records with id strictly greater than `after`, at most `limit` (default 500, max 10,000). */
export interface ListOptions {
  after?: string;
  limit?: number;
}

/** Options for deletes: an optional source version (older than stored → StaleUpdateError). */
export interface DeleteOptions {
  version?: number;
}

/** One rejected NDJSON line of a bulk import. */
export interface ImportLineError {
  line: number;
  code: string;
  message: string;
  errors?: FieldError[];
}

/** One NDJSON line handed to importBatch (`line` is 1-based, for error reports). */
export interface ImportLine {
  line: number;
  text: string;
}

/** Outcome of one committed import batch. */
export interface ImportBatchResult {
  imported: number;
  rejected: number;
  errors: ImportLineError[];
}

/** Newest write per (kind, source), for the freshness metric. */
export interface SourceMark {
  kind: RecordKind;
  source: string;
  last_updated_at: string;
}

/** Listener of writes. */
export type ChangeListener = (event: ChangeEvent) => void;

/**
 * Durable state. All methods are synchronous (SQLite is in-process); reads on the decision path are
 * served from an LRU cache that every write invalidates, so a read after a write sees it.
 * Errors: ValidationError (400), StaleUpdateError (409), AliasConflictError (409), NotFoundError (404),
 * StateUnavailableError (503, fail closed).
 */
export interface StateStore {
  /** Backend name, e.g. "sqlite". */
  readonly backend: string;
  /** False once closed (readiness). */
  readonly isOpen: boolean;
  /** Why the store stopped serving while open (corrupt, unreadable, removed), or undefined (readiness). */
  readonly failed: string | undefined;
  /**
   * The SQLite handle for co-located tables of other components (lifecycle outbox, ...). Writes made
   * inside `transaction()` or an onChange listener commit atomically with the state write.
   */
  readonly db: Database.Database;

  /**
   * A resident (off-heap, complete) replica of some keys of a co-located table, sharing the store's
   * memory budget and stopped with it; undefined when residency is off (./resident-replica.ts).
   */
  residentReplica(spec: ReplicaSpec): ResidentReplica | undefined;
  /** Entries, bytes, dirty keys and completeness of each resident replica (metrics). */
  residentStats(): Array<ReplicaStats & { name: string }>;
  /** Resolves once every resident replica is filled and caught up with writes. */
  residentSettled(): Promise<void>;

  /** Runs `fn` with reads that neither fill nor reorder the decision cache (background passes over many records). */
  withoutCaching<T>(fn: () => T): T;

  /** Looks an identity up by exact id first, then by alias (case-insensitive). Cached. */
  getIdentity(idOrAlias: string): Identity | undefined;
  /** The identity id an id or alias names, or undefined. Cached. */
  resolveIdentityId(idOrAlias: string): string | undefined;
  /** Creates or replaces identity `id` (full replace; defaults for omitted fields). */
  putIdentity(id: string, input: unknown): PutResult<Identity>;
  /** Deletes identity `id` (exact id) and its aliases; returns the deleted record or undefined. Devices keep their owner id. */
  deleteIdentity(id: string, opts?: DeleteOptions): Identity | undefined;
  /** Identities ordered by id, keyset-paginated (lifecycle sweeps, drift). */
  listIdentities(opts?: ListOptions): Page<Identity>;

  /** A device by id. Cached. */
  getDevice(id: string): Device | undefined;
  /** Creates or replaces device `id`; `owner` may be an id or alias and is resolved. */
  putDevice(id: string, input: unknown): PutResult<Device>;
  /** Deletes device `id`; returns the deleted record or undefined. */
  deleteDevice(id: string, opts?: DeleteOptions): Device | undefined;
  /** Devices whose owner resolved to `identityId`, ordered by id. Cached. */
  listDevicesByOwner(identityId: string): Device[];
  /** All devices ordered by id, keyset-paginated. */
  listDevices(opts?: ListOptions): Page<Device>;

  /**
   * Creates an exception (expires_at in the future and within the configured maximum, or `opts.maxMs` from
   * now when that is shorter).
   */
  createException(input: unknown, opts?: { maxMs?: number }): Exception;
  /** An exception by id (expired or not). */
  getException(id: string): Exception | undefined;
  /**
   * Exceptions of one identity (cached) or of everyone (identityId undefined), unexpired unless
   * includeExpired. The decision path calls listExceptions(id).
   */
  listExceptions(identityId?: string, opts?: { includeExpired?: boolean }): Exception[];
  /** Deletes an exception; returns it or undefined. */
  deleteException(id: string): Exception | undefined;

  /** Opens (or replaces) the break-glass window of a `break_glass` identity for `minutes`. */
  openBreakGlass(identityIdOrAlias: string, input: unknown): BreakGlass;
  /** The stored window of an identity (possibly expired: compare expires_at). Cached. */
  getBreakGlass(identityId: string): BreakGlass | undefined;
  /** Closes the window; returns it or undefined. */
  closeBreakGlass(identityIdOrAlias: string): BreakGlass | undefined;

  /** Creates or replaces an app catalog entry. */
  putApp(id: string, input: unknown): PutResult<App>;
  /** An app by id. Cached. */
  getApp(id: string): App | undefined;
  /** The whole catalog ordered by id. Cached. */
  listApps(): App[];
  /** Deletes an app; returns it or undefined. */
  deleteApp(id: string): App | undefined;

  /** Creates or replaces a subscription (id generated when absent). */
  putSubscription(input: unknown): PutResult<Subscription>;
  /** A subscription by id. */
  getSubscription(id: string): Subscription | undefined;
  /** All subscriptions. */
  listSubscriptions(): Subscription[];
  /** Deletes a subscription; returns it or undefined. */
  deleteSubscription(id: string): Subscription | undefined;

  /**
   * Applies NDJSON lines `{"kind":"identity"|"device","record":{...}}` in ONE transaction; a bad line is
   * rejected alone (savepoint) and never aborts the rest. When this returns, the batch is durable.
   */
  importBatch(lines: ImportLine[]): ImportBatchResult;
  /** performance.now() when the last importBatch returned (-Infinity: none yet): tells background work a bulk import is running. */
  readonly lastImportAt: number;

  /** Records per kind: counted once (O(n)), then kept in step with every write. */
  counts(): Record<RecordKind, number>;
  /** Newest write per (kind, source). */
  sourceMarks(): SourceMark[];

  /**
   * Registers a listener called synchronously INSIDE each write's transaction with (kind, before, after):
   * writes it makes through `db` commit atomically with the change; throwing aborts the write.
   * Returns an unsubscribe function.
   */
  onChange(listener: ChangeListener): () => void;
  /** Registers a listener called after the transaction holding the change committed. */
  onCommit(listener: ChangeListener): () => void;
  /**
   * Changes when a top-level transaction() starts and when any part of one is rolled back, so a
   * component may remember what it wrote inside one transaction while this stays the same.
   */
  readonly writeEpoch: number;
  /** Runs fn in a transaction (a savepoint when nested); onCommit listeners fire after the outermost commit. */
  transaction<T>(fn: () => T): T;
  /** Closes the store (idempotent). */
  close(): void;
}

export { openSqliteStore, type SqliteStoreOptions } from './sqlite-store';

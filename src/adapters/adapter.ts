/**
 * The sync-adapter unit contract (start/stop/status, after OPA's plugin status) and the registry
 * the service lists in /health/ready, /v1/adapters and metrics.
 */

/** Adapter health, as OPA plugins report it. */
export type AdapterState = 'NOT_READY' | 'OK' | 'WARN' | 'ERROR';

/** What an adapter reports about itself. `last_success` is the last successful sync (RFC 3339) or null. */
export interface AdapterStatus {
  state: AdapterState;
  message: string;
  last_success: string | null;
}

/** One sync adapter: a source of identity/device state or a signal channel. */
export interface Adapter {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): AdapterStatus;
}

/** Options of a freshness tracker: how long a source may stay silent before it is flagged. */
export interface FreshnessOptions {
  /** Expected sync interval in ms; silence longer than this is WARN. 0/undefined = push source without a deadline. */
  intervalMs?: number;
  /** Silence longer than this is ERROR (default 3 × intervalMs). */
  errorAfterMs?: number;
  /** Clock, for tests. */
  now?: () => number;
  /** Pollers are NOT_READY until their first sync; push sources are OK once started. */
  poller?: boolean;
}

/**
 * Freshness bookkeeping shared by all adapters: records successes and failures and turns them into
 * a status, so a stalled source shows WARN then ERROR instead of a stale OK.
 */
export class FreshnessTracker {
  private started = false;
  private lastSuccessMs: number | null = null;
  private lastError: string | null = null;
  private consecutiveFailures = 0;
  private startedAtMs = 0;
  private readonly now: () => number;

  constructor(private readonly label: string, private readonly opts: FreshnessOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  /** Marks the adapter as running; push sources become OK at once. */
  markStarted(): void {
    this.started = true;
    this.startedAtMs = this.now();
  }

  /** Marks the adapter as stopped (NOT_READY). */
  markStopped(): void {
    this.started = false;
  }

  /** Records a successful sync/delivery. */
  success(): void {
    this.lastSuccessMs = this.now();
    this.lastError = null;
    this.consecutiveFailures = 0;
  }

  /** Records a failed sync attempt; the message must carry no secrets. */
  failure(message: string): void {
    this.lastError = message;
    this.consecutiveFailures += 1;
  }

  /** Time of the last success, RFC 3339, or null. */
  lastSuccess(): string | null {
    return this.lastSuccessMs === null ? null : new Date(this.lastSuccessMs).toISOString();
  }

  /** The status derived from the last success, the last error and the configured interval. */
  status(): AdapterStatus {
    const last_success = this.lastSuccess();
    if (!this.started) return { state: 'NOT_READY', message: `${this.label} not started`, last_success };
    const interval = this.opts.intervalMs ?? 0;
    const errorAfter = this.opts.errorAfterMs ?? interval * 3;
    const now = this.now();
    // A poller that never succeeded is judged from its start time, so it cannot stay "pending" forever.
    const reference = this.lastSuccessMs ?? this.startedAtMs;
    const silentMs = now - reference;
    if (interval > 0 && silentMs > errorAfter) {
      return { state: 'ERROR', message: this.staleMessage(silentMs), last_success };
    }
    if (interval > 0 && silentMs > interval) {
      return { state: 'WARN', message: this.staleMessage(silentMs), last_success };
    }
    if (this.lastError !== null) {
      const state: AdapterState = this.consecutiveFailures >= 3 ? 'ERROR' : 'WARN';
      return { state, message: `${this.label}: last attempt failed: ${this.lastError}`, last_success };
    }
    if (this.opts.poller && this.lastSuccessMs === null) {
      return { state: 'NOT_READY', message: `${this.label}: waiting for first sync`, last_success };
    }
    return { state: 'OK', message: `${this.label} running`, last_success };
  }

  private staleMessage(silentMs: number): string {
    const secs = Math.round(silentMs / 1000);
    const why = this.lastError ? ` (last error: ${this.lastError})` : '';
    return `${this.label}: no successful sync for ${secs}s, interval ${Math.round((this.opts.intervalMs ?? 0) / 1000)}s${why}`;
  }
}

/** One row of GET /v1/adapters. */
export interface AdapterInfo extends AdapterStatus {
  name: string;
}

/** The set of configured adapters: started and stopped together, listed by the API and metrics. */
export class AdapterRegistry {
  private readonly adapters = new Map<string, Adapter>();

  /** Adds an adapter; names are unique. */
  register(adapter: Adapter): void {
    if (this.adapters.has(adapter.name)) throw new Error(`adapter_duplicate: ${adapter.name}`);
    this.adapters.set(adapter.name, adapter);
  }

  /** The adapter with that name, if configured. */
  get<T extends Adapter = Adapter>(name: string): T | undefined {
    return this.adapters.get(name) as T | undefined;
  }

  /** Every configured adapter with its status, sorted by name. */
  list(): AdapterInfo[] {
    return [...this.adapters.values()]
      .map((a) => ({ name: a.name, ...safeStatus(a) }))
      .sort((x, y) => x.name.localeCompare(y.name));
  }

  /** True when no adapter is NOT_READY or ERROR (for /health/ready). */
  ready(): boolean {
    return this.list().every((a) => a.state === 'OK' || a.state === 'WARN');
  }

  /** Starts every adapter; one failing start does not stop the others (it shows as ERROR). */
  async startAll(): Promise<void> {
    await Promise.all([...this.adapters.values()].map((a) => a.start().catch(() => undefined)));
  }

  /**
   * Calls `report` whenever an adapter's state or message changes (checked every `everyMs`), so a failing
   * sync (an MDM API refusing, SET deliveries failing) reaches the log, not only /v1/adapters. Returns the
   * stop function. Status messages carry no secrets (FreshnessTracker.failure's contract).
   */
  watch(report: (name: string, now: AdapterStatus, before: AdapterStatus | undefined) => void, everyMs = 5000): () => void {
    const seen = new Map<string, AdapterStatus>();
    const check = () => {
      for (const a of this.adapters.values()) {
        const now = safeStatus(a);
        const before = seen.get(a.name);
        if (before && before.state === now.state && before.message === now.message) continue;
        seen.set(a.name, now);
        if (before || now.state === 'WARN' || now.state === 'ERROR') report(a.name, now, before);
      }
    };
    check();
    const timer = setInterval(check, everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Stops every adapter. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.adapters.values()].map((a) => a.stop().catch(() => undefined)));
  }
}

function safeStatus(a: Adapter): AdapterStatus {
  try {
    return a.status();
  } catch (err) {
    return { state: 'ERROR', message: `status failed: ${(err as Error).message}`, last_success: null };
  }
}

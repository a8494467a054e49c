/**
 * The Intune adapter: polls Microsoft Graph `deviceManagement/managedDevices` (client-credentials
 * token, @odata.nextLink paging, Retry-After, 401 refresh) every interval and writes Tether
 * devices. Graph offers no change notifications or delta for managedDevices, so each poll is a
 * full listing; devices that vanished from Intune become unenrolled.
 */
import type { StateStore } from '../../state/store';
import { StaleUpdateError } from '../../state/errors';
import { FreshnessTracker, type Adapter, type AdapterStatus } from '../adapter';
import { deviceAliases } from '../device-aliases';
import { checkMdmWrite, deviceInput } from '../ssf/apply-event';
import { ApiClient } from './http-client';
import { INTUNE_SELECT, mapManagedDevice, type ManagedDevice } from './intune-mapping';

/** Intune configuration. */
export interface IntuneConfig {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** Poll interval (default 15 min); status turns WARN when a poll has not succeeded within it. */
  intervalMs?: number;
  /** Graph base (default https://graph.microsoft.com), token authority (default https://login.microsoftonline.com). */
  graphBase?: string;
  authorityBase?: string;
  /** Graph version path: v1.0 (default) or beta (adds managementState). */
  apiVersion?: 'v1.0' | 'beta';
  pageSize?: number;
  graceIsCompliant?: boolean;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** Reads TETHER_INTUNE_*; undefined (adapter off) unless tenant, client id and secret are set. */
export function intuneConfigFromEnv(env: NodeJS.ProcessEnv = process.env): IntuneConfig | undefined {
  const { TETHER_INTUNE_TENANT_ID: tenantId, TETHER_INTUNE_CLIENT_ID: clientId, TETHER_INTUNE_CLIENT_SECRET: clientSecret } = env;
  if (!tenantId || !clientId || !clientSecret) return undefined;
  const interval = Number(env.TETHER_INTUNE_INTERVAL_SECONDS ?? '');
  return {
    tenantId,
    clientId,
    clientSecret,
    intervalMs: interval > 0 ? interval * 1000 : undefined,
    graphBase: env.TETHER_INTUNE_GRAPH_URL || undefined,
    authorityBase: env.TETHER_INTUNE_AUTHORITY_URL || undefined,
    apiVersion: env.TETHER_INTUNE_API_VERSION === 'beta' ? 'beta' : undefined,
  };
}

/** Counts of one poll. */
export interface PollResult {
  seen: number;
  written: number;
  /** Listed but identical to what is stored (no write). */
  unchanged: number;
  skipped: number;
  stale: number;
  unenrolled: number;
}

/** The Intune poller. */
export class IntuneAdapter implements Adapter {
  readonly name = 'intune';
  private readonly client: ApiClient;
  private readonly tracker: FreshnessTracker;
  private timer?: NodeJS.Timeout;
  private polling?: Promise<PollResult>;
  private stopped = true;
  /** Result of the last completed poll. */
  last?: PollResult;

  constructor(
    private readonly store: StateStore,
    private readonly cfg: IntuneConfig,
    private readonly now: () => number = Date.now,
  ) {
    const authority = (cfg.authorityBase ?? 'https://login.microsoftonline.com').replace(/\/$/, '');
    const graph = (cfg.graphBase ?? 'https://graph.microsoft.com').replace(/\/$/, '');
    this.client = new ApiClient({
      token: {
        url: `${authority}/${encodeURIComponent(cfg.tenantId)}/oauth2/v2.0/token`,
        form: { client_id: cfg.clientId, client_secret: cfg.clientSecret, scope: `${graph}/.default`, grant_type: 'client_credentials' },
      },
      sleep: cfg.sleep,
      now,
    });
    this.tracker = new FreshnessTracker('intune', { intervalMs: this.interval(), now, poller: true });
  }

  private interval(): number {
    return this.cfg.intervalMs ?? 15 * 60_000;
  }

  private firstPageUrl(): string {
    const graph = (this.cfg.graphBase ?? 'https://graph.microsoft.com').replace(/\/$/, '');
    const select = this.cfg.apiVersion === 'beta' ? [...INTUNE_SELECT, 'managementState'] : INTUNE_SELECT;
    const q = new URLSearchParams({ $select: select.join(','), $top: String(this.cfg.pageSize ?? 500) });
    return `${graph}/${this.cfg.apiVersion ?? 'v1.0'}/deviceManagement/managedDevices?${q.toString()}`;
  }

  /** Runs one full poll now (joins a poll already running). */
  poll(): Promise<PollResult> {
    this.polling ??= this.runPoll().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async runPoll(): Promise<PollResult> {
    const result: PollResult = { seen: 0, written: 0, unchanged: 0, skipped: 0, stale: 0, unenrolled: 0 };
    const seen = new Set<string>();
    const aliases = deviceAliases(this.store);
    try {
      let url: string | undefined = this.firstPageUrl();
      while (url) {
        const page: { value?: ManagedDevice[]; '@odata.nextLink'?: string } = await this.client.getJson(url);
        if (!Array.isArray(page.value)) throw new Error('Graph page without a value array');
        // One transaction per page: a page is written whole or not at all.
        this.store.transaction(() => {
          for (const d of page.value!) {
            result.seen++;
            const m = mapManagedDevice(d, this.now(), { graceIsCompliant: this.cfg.graceIsCompliant });
            if (!m.ok) {
              result.skipped++;
              continue;
            }
            seen.add(m.id);
            const check = checkMdmWrite(this.store.getDevice(m.id), m.record);
            if (check === 'unchanged') {
              result.unchanged++;
              continue;
            }
            if (check === 'stale') {
              // A CAEP verdict at least as new as this sync stands until Intune reports a newer sync.
              result.stale++;
              continue;
            }
            try {
              this.store.transaction(() => {
                this.store.putDevice(m.id, m.record);
                aliases.set(m.id, m.aliases);
              });
              result.written++;
            } catch (err) {
              // A newer observation (e.g. a CAEP verdict) already stored; invalid records are skipped, not fatal.
              if (err instanceof StaleUpdateError) result.stale++;
              else result.skipped++;
            }
          }
        });
        url = page['@odata.nextLink'];
      }
      result.unenrolled = this.unenrollMissing(seen);
      this.last = result;
      this.tracker.success();
      return result;
    } catch (err) {
      this.tracker.failure((err as Error).message);
      throw err;
    }
  }

  // After a complete listing: Intune devices we hold that Intune no longer lists were removed there.
  private unenrollMissing(seen: Set<string>): number {
    let n = 0;
    let after: string | undefined;
    for (;;) {
      const page = this.store.listDevices({ after, limit: 1000 });
      this.store.transaction(() => {
        for (const d of page.items) {
          // Intune's devices, including those a CAEP verdict touched since the last sync (source caep).
          const fromIntune = d.source === 'intune' || (d.source === 'caep' && d.attributes?.intune !== undefined);
          if (!fromIntune || seen.has(d.id) || !d.enrolled) continue;
          const input = deviceInput(d);
          input.enrolled = false;
          input.observed_at = new Date(Math.max(Date.parse(d.observed_at ?? '1970-01-01T00:00:00Z'), this.now())).toISOString();
          this.store.putDevice(d.id, input);
          n++;
        }
      });
      if (!page.next_cursor) return n;
      after = page.next_cursor;
    }
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.tracker.markStarted();
    const tick = () => {
      this.poll()
        .catch(() => undefined) // recorded in status
        .finally(() => {
          if (!this.stopped) {
            this.timer = setTimeout(tick, this.interval());
            this.timer.unref();
          }
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling?.catch(() => undefined);
    this.tracker.markStopped();
  }

  status(): AdapterStatus {
    return this.tracker.status();
  }
}

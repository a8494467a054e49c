/**
 * The Jamf Pro adapter: a webhook receiver (POST /v1/adapters/jamf/webhook, Basic or bearer auth,
 * since Jamf does not sign payloads) that re-reads each device from the Jamf Pro API before
 * trusting it, and a periodic inventory pull (computers-inventory, paged) for compliance.
 */
import { Router, type NextFunction, type Request, type Response } from 'express';
import { tokenMatches } from '../../api/auth';
import { bodyReader } from '../../api/body-reader';
import { ApiError, invalidInput } from '../../api/errors';
import { StaleUpdateError } from '../../state/errors';
import type { StateStore } from '../../state/store';
import { FreshnessTracker, type Adapter, type AdapterStatus } from '../adapter';
import { deviceAliases } from '../device-aliases';
import { checkMdmWrite, deviceInput } from '../ssf/apply-event';
import { ApiClient, MdmApiError } from './http-client';
import { mapJamfComputer, mapJamfMobile, parseJamfWebhook, type JamfMapped, type JamfMappingOptions } from './jamf-mapping';

/** Path of the Jamf webhook receiver. */
export const JAMF_WEBHOOK_PATH = '/v1/adapters/jamf/webhook';

/** Sections requested from computers-inventory. */
const SECTIONS = ['GENERAL', 'DISK_ENCRYPTION', 'SECURITY', 'OPERATING_SYSTEM', 'USER_AND_LOCATION', 'HARDWARE', 'GROUP_MEMBERSHIPS'];

/** Jamf configuration. */
export interface JamfConfig extends JamfMappingOptions {
  /** Jamf Pro base URL, e.g. https://acme.jamfcloud.com */
  url: string;
  clientId: string;
  clientSecret: string;
  /** Webhook credentials: Basic user/password or a bearer token (webhook off when neither). */
  webhookUser?: string;
  webhookPassword?: string;
  webhookToken?: string;
  /** Inventory pull interval (default 1 h). */
  intervalMs?: number;
  pageSize?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** Reads TETHER_JAMF_*; undefined (adapter off) unless URL, client id and secret are set. */
export function jamfConfigFromEnv(env: NodeJS.ProcessEnv = process.env): JamfConfig | undefined {
  if (!env.TETHER_JAMF_URL || !env.TETHER_JAMF_CLIENT_ID || !env.TETHER_JAMF_CLIENT_SECRET) return undefined;
  const interval = Number(env.TETHER_JAMF_INTERVAL_SECONDS ?? '');
  const own = env.TETHER_JAMF_DEFAULT_OWNERSHIP;
  return {
    url: env.TETHER_JAMF_URL,
    clientId: env.TETHER_JAMF_CLIENT_ID,
    clientSecret: env.TETHER_JAMF_CLIENT_SECRET,
    webhookUser: env.TETHER_JAMF_WEBHOOK_USER || undefined,
    webhookPassword: env.TETHER_JAMF_WEBHOOK_PASSWORD || undefined,
    webhookToken: env.TETHER_JAMF_WEBHOOK_TOKEN || undefined,
    intervalMs: interval > 0 ? interval * 1000 : undefined,
    compliantGroup: env.TETHER_JAMF_COMPLIANT_GROUP || undefined,
    defaultOwnership: own === 'byod' || own === 'contractor' ? own : undefined,
  };
}

/** Counts of one inventory pull. */
export interface JamfPullResult {
  seen: number;
  written: number;
  unchanged: number;
  skipped: number;
  stale: number;
}

/** The Jamf adapter. */
export class JamfAdapter implements Adapter {
  readonly name = 'jamf';
  readonly router: Router;
  private readonly client: ApiClient;
  private readonly base: string;
  private readonly tracker: FreshnessTracker;
  private timer?: NodeJS.Timeout;
  private pulling?: Promise<JamfPullResult>;
  private stopped = true;

  constructor(
    private readonly store: StateStore,
    private readonly cfg: JamfConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.base = cfg.url.replace(/\/$/, '');
    this.client = new ApiClient({
      token: { url: `${this.base}/api/oauth/token`, form: { client_id: cfg.clientId, client_secret: cfg.clientSecret, grant_type: 'client_credentials' } },
      sleep: cfg.sleep,
      now,
    });
    this.tracker = new FreshnessTracker('jamf', { intervalMs: cfg.intervalMs ?? 3_600_000, now, poller: true });
    this.router = this.buildRouter();
  }

  /** Writes one mapped device (its aliases too); stale observations are counted, not fatal. */
  private write(m: JamfMapped): 'written' | 'skipped' | 'stale' | 'unchanged' {
    if (!m.ok) return 'skipped';
    const check = checkMdmWrite(this.store.getDevice(m.id), m.record);
    if (check !== 'write') return check; // 'stale': a CAEP verdict stands until Jamf reports something newer
    try {
      this.store.transaction(() => {
        this.store.putDevice(m.id, m.record);
        deviceAliases(this.store).set(m.id, m.aliases);
      });
      return 'written';
    } catch (err) {
      if (err instanceof StaleUpdateError) return 'stale';
      throw err;
    }
  }

  /** Re-reads one computer from the Jamf Pro API and stores it. */
  async refreshComputer(jamfId: string): Promise<'written' | 'skipped' | 'stale' | 'unchanged'> {
    const c = await this.client.getJson<Record<string, unknown>>(`${this.base}/api/v1/computers-inventory-detail/${encodeURIComponent(jamfId)}`);
    return this.write(mapJamfComputer(c, this.cfg));
  }

  /** Re-reads one mobile device from the Jamf Pro API and stores it. */
  async refreshMobile(jamfId: string): Promise<'written' | 'skipped' | 'stale' | 'unchanged'> {
    const m = await this.client.getJson<Record<string, unknown>>(`${this.base}/api/v2/mobile-devices/${encodeURIComponent(jamfId)}/detail`);
    return this.write(mapJamfMobile(m, this.cfg));
  }

  /** Pulls the whole computer inventory (page by page). */
  pull(): Promise<JamfPullResult> {
    this.pulling ??= this.runPull().finally(() => (this.pulling = undefined));
    return this.pulling;
  }

  private async runPull(): Promise<JamfPullResult> {
    const r: JamfPullResult = { seen: 0, written: 0, unchanged: 0, skipped: 0, stale: 0 };
    const size = this.cfg.pageSize ?? 100;
    try {
      for (let page = 0; ; page++) {
        const q = new URLSearchParams(SECTIONS.map((s): [string, string] => ['section', s]));
        q.set('page', String(page));
        q.set('page-size', String(size));
        q.set('sort', 'id:asc');
        const body = await this.client.getJson<{ totalCount?: number; results?: Record<string, unknown>[] }>(`${this.base}/api/v1/computers-inventory?${q.toString()}`);
        if (!Array.isArray(body.results)) throw new MdmApiError('computers-inventory answered without results');
        for (const c of body.results) {
          r.seen++;
          r[this.write(mapJamfComputer(c, this.cfg))]++;
        }
        if (body.results.length < size || (typeof body.totalCount === 'number' && (page + 1) * size >= body.totalCount)) break;
      }
      this.tracker.success();
      return r;
    } catch (err) {
      this.tracker.failure((err as Error).message);
      throw err;
    }
  }

  private authorized(req: Request): boolean {
    const auth = req.get('authorization') ?? '';
    if (this.cfg.webhookToken && /^bearer\s+/i.test(auth)) return tokenMatches(auth.replace(/^bearer\s+/i, ''), this.cfg.webhookToken);
    if (this.cfg.webhookUser && this.cfg.webhookPassword && /^basic\s+/i.test(auth)) {
      const decoded = Buffer.from(auth.replace(/^basic\s+/i, ''), 'base64').toString('utf8');
      return tokenMatches(decoded, `${this.cfg.webhookUser}:${this.cfg.webhookPassword}`);
    }
    return false;
  }

  private buildRouter(): Router {
    const r = Router();
    if (!this.cfg.webhookToken && !(this.cfg.webhookUser && this.cfg.webhookPassword)) return r; // no credentials, no receiver
    r.post(JAMF_WEBHOOK_PATH, bodyReader({ as: 'buffer', limit: '256kb' }), async (req: Request, res: Response, next: NextFunction) => {
      try {
        if (!this.authorized(req)) {
          res.setHeader('WWW-Authenticate', 'Basic realm="tether-jamf"');
          throw new ApiError('unauthorized', 'missing or invalid webhook credentials');
        }
        let body: unknown;
        try {
          body = JSON.parse((Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)).toString('utf8'));
        } catch {
          throw invalidInput([{ path: '', message: 'is not valid JSON (configure the Jamf webhook with content type JSON)' }], 'request body is not valid JSON');
        }
        let action;
        try {
          action = parseJamfWebhook(body);
        } catch (err) {
          const [path, ...rest] = (err as Error).message.split(' ');
          throw invalidInput([{ path, message: rest.join(' ') }]);
        }
        if (action.kind === 'ignore') return void res.status(200).json({ status: 'ignored', event: action.event });
        if (action.kind === 'unenroll') {
          const aliases = deviceAliases(this.store);
          const id = (action.udid && aliases.resolveDevice(this.store, action.udid)) || (action.jamfId && aliases.resolveDevice(this.store, `jamf:mobile:${action.jamfId}`));
          if (!id) throw new ApiError('not_found', 'the unenrolled device is not known to Tether');
          const d = this.store.getDevice(id)!;
          const input = deviceInput(d);
          input.enrolled = false;
          input.compliant = false;
          input.source = 'jamf';
          input.observed_at = new Date(Math.max(Date.parse(d.observed_at ?? '1970-01-01T00:00:00Z'), Date.parse(action.at ?? '') || this.now())).toISOString();
          this.store.putDevice(id, input);
          this.tracker.success();
          return void res.status(200).json({ status: 'unenrolled', device: id });
        }
        const outcomes: string[] = [];
        for (const jamfId of action.jamfIds) {
          try {
            outcomes.push(action.device === 'computer' ? await this.refreshComputer(jamfId) : await this.refreshMobile(jamfId));
          } catch (err) {
            if (err instanceof MdmApiError && err.status === 404) throw new ApiError('not_found', `Jamf has no ${action.device} ${jamfId}`);
            throw err;
          }
        }
        this.tracker.success();
        res.status(200).json({ status: 'refreshed', results: outcomes });
      } catch (err) {
        if (err instanceof MdmApiError) {
          this.tracker.failure(err.message);
          return void res.status(502).json({ code: 'mdm_api_unavailable', message: `Jamf Pro API: ${err.message}` });
        }
        next(err);
      }
    });
    return r;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.tracker.markStarted();
    const tick = () => {
      this.pull()
        .catch(() => undefined)
        .finally(() => {
          if (!this.stopped) {
            this.timer = setTimeout(tick, this.cfg.intervalMs ?? 3_600_000);
            this.timer.unref();
          }
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.pulling?.catch(() => undefined);
    this.tracker.markStopped();
  }

  status(): AdapterStatus {
    return this.tracker.status();
  }
}

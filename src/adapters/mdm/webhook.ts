/**
 * The generic signed MDM webhook (POST /v1/adapters/mdm/webhook): any MDM that can POST
 * `{"device": {...}}` (decision-model device fields) signed as hmac.ts describes (HMAC-SHA256 over the
 * send time and the raw body). `{"event": "deleted", "device": {"id": ...}}` removes a device. Errors
 * are api.md's error body. A delivery is accepted within 5 minutes of its signed time, and once: the
 * same signed delivery again answers `{"status": "duplicate"}` and changes nothing, so a captured
 * request cannot be replayed to undo a later one. A device without `observed_at` is observed at the
 * signed time, so two deliveries apply in the order they were sent. A CAEP compliance verdict stands
 * against a device whose `observed_at` is not newer than the verdict's (409, as Intune and Jamf skip
 * such records: apply-event.ts checkMdmWrite).
 */
import type Database from 'better-sqlite3';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { bodyReader } from '../../api/body-reader';
import { ApiError, invalidInput, toApiError } from '../../api/errors';
import { ValidationError } from '../../state/errors';
import { validateDevice } from '../../state/schemas';
import type { StateStore } from '../../state/store';
import type { Device } from '../../state/types';
import { FreshnessTracker, type Adapter, type AdapterStatus } from '../adapter';
import { checkMdmWrite } from '../ssf/apply-event';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhook } from './hmac';

/** Path of the generic webhook. */
export const MDM_WEBHOOK_PATH = '/v1/adapters/mdm/webhook';

/** Generic webhook configuration. */
export interface MdmWebhookConfig {
  secret: string;
  /** Default `source` for devices that name none. */
  source?: string;
  /** Silence (ms) after which the adapter is flagged stale (WARN, then ERROR at 3×). */
  maxSilenceMs?: number;
  bodyLimit?: string;
}

/** Reads the webhook configuration; undefined (adapter off) without TETHER_MDM_WEBHOOK_SECRET. */
export function mdmWebhookConfigFromEnv(env: NodeJS.ProcessEnv = process.env): MdmWebhookConfig | undefined {
  const secret = env.TETHER_MDM_WEBHOOK_SECRET;
  if (!secret) return undefined;
  const silence = Number(env.TETHER_MDM_WEBHOOK_MAX_SILENCE_SECONDS ?? '');
  return { secret, source: env.TETHER_MDM_WEBHOOK_SOURCE || undefined, maxSilenceMs: silence > 0 ? silence * 1000 : undefined };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** How far a delivery's signed time may be from this server's clock. */
const TOLERANCE_MS = 5 * 60_000;

/** Outcome of one webhook delivery. */
export interface WebhookResult {
  status: 'stored' | 'deleted';
  device: Device;
}

/**
 * Applies one verified webhook payload to the store. Throws ApiError (400 naming fields, 404 unknown
 * device on delete, 409 stale: older than stored, or not newer than a CAEP verdict) and changes
 * nothing on failure.
 */
export function applyMdmWebhook(store: StateStore, payload: unknown, defaultSource = 'mdm', sentAt: Date = new Date()): WebhookResult {
  if (!isPlainObject(payload)) throw invalidInput([{ path: '', message: 'must be an object {"device": {...}}' }]);
  const device = payload.device;
  if (!isPlainObject(device)) throw invalidInput([{ path: '/device', message: 'is required and must be an object' }]);
  if (typeof device.id !== 'string' || device.id === '') throw invalidInput([{ path: '/device/id', message: 'is required and must be a non-empty string' }]);
  const event = payload.event;
  if (event !== undefined && event !== 'upsert' && event !== 'deleted') {
    throw invalidInput([{ path: '/event', message: 'must be "upsert" or "deleted"' }]);
  }
  const id = device.id;
  if (event === 'deleted') {
    const version = typeof device.version === 'number' ? device.version : undefined;
    const removed = withPrefix(() => store.deleteDevice(id, version === undefined ? undefined : { version }));
    if (!removed) throw new ApiError('not_found', `device ${id} is not known`);
    return { status: 'deleted', device: removed };
  }
  const record: Record<string, unknown> = { ...device };
  delete record.id; // the id travels as the store's key
  if (record.source === undefined) record.source = defaultSource;
  if (record.observed_at === undefined) record.observed_at = sentAt.toISOString();
  const put = withPrefix(() =>
    store.transaction(() => {
      validateDevice(record); // a malformed field (observed_at too) is a 400 before any staleness
      const stored = store.getDevice(id);
      if (checkMdmWrite(stored, record) === 'stale') {
        throw new ApiError(
          'stale_update',
          `device ${id}: observed_at ${String(record.observed_at)} is not newer than the CAEP compliance verdict's ${stored!.observed_at}; the verdict stands until the MDM reports a newer observation`,
        );
      }
      return store.putDevice(id, record); // 'unchanged' is written as before (the answer carries the new version)
    }),
  );
  return { status: 'stored', device: put.record };
}

// The store names fields relative to the record; the webhook body nests it under /device.
function withPrefix<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ValidationError) throw invalidInput(err.errors.map((e) => ({ path: '/device' + e.path, message: e.message })));
    throw toApiError(err);
  }
}

/**
 * Signatures of the deliveries applied within the tolerance window, with when they may be forgotten, in
 * the store's database and written in the transaction of the delivery's effect. They used to be held in
 * a Map: a restart (a kill -9 included) forgot them, so a delivery replayed within its 5 minutes after
 * a restart was applied a second time, and a replayed `deleted` event removed the device an
 * acknowledged later delivery had stored again.
 */
class AppliedDeliveries {
  private readonly st: { seen: Database.Statement; remember: Database.Statement; forget: Database.Statement };

  constructor(db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS mdm_webhook_deliveries (signature TEXT PRIMARY KEY, until_ms INTEGER NOT NULL) WITHOUT ROWID;
             CREATE INDEX IF NOT EXISTS mdm_webhook_deliveries_until ON mdm_webhook_deliveries (until_ms);`);
    this.st = {
      seen: db.prepare('SELECT 1 FROM mdm_webhook_deliveries WHERE signature = ? AND until_ms > ?'),
      remember: db.prepare('INSERT OR IGNORE INTO mdm_webhook_deliveries (signature, until_ms) VALUES (?, ?)'),
      forget: db.prepare('DELETE FROM mdm_webhook_deliveries WHERE until_ms <= ?'),
    };
  }

  /** True when the delivery was applied and is still within its window. */
  seen(signature: string, nowMs: number): boolean {
    return this.st.seen.get(signature, nowMs) !== undefined;
  }

  /** Records an applied delivery (inside its effect's transaction); false when it already was. */
  remember(signature: string, untilMs: number): boolean {
    return this.st.remember.run(signature, untilMs).changes > 0;
  }

  /** Forgets deliveries whose signed time is out of the window anyway (bounded table). */
  forget(nowMs: number): void {
    this.st.forget.run(nowMs);
  }
}

/** The generic MDM webhook adapter and its router (absolute path, reads its own raw body). */
export class MdmWebhookAdapter implements Adapter {
  readonly name = 'mdm-webhook';
  readonly router: Router;
  private readonly tracker: FreshnessTracker;
  private readonly now: () => number;
  /** Deliveries applied within the tolerance window (durable: a replay after a restart is still one). */
  private readonly applied: AppliedDeliveries;

  constructor(
    private readonly store: StateStore,
    private readonly cfg: MdmWebhookConfig,
    now?: () => number,
  ) {
    this.now = now ?? Date.now;
    this.tracker = new FreshnessTracker('mdm webhook', { intervalMs: cfg.maxSilenceMs, now });
    this.applied = new AppliedDeliveries(store.db);
    this.router = this.buildRouter();
  }

  private buildRouter(): Router {
    const r = Router();
    r.post(
      MDM_WEBHOOK_PATH,
      bodyReader({ as: 'buffer', limit: this.cfg.bodyLimit ?? '1mb' }),
      (req: Request, res: Response, next: NextFunction) => {
        try {
          const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
          // Authenticate before parsing: an unsigned body is never looked at.
          const nowMs = this.now();
          const verdict = verifyWebhook(this.cfg.secret, raw, req.get(SIGNATURE_HEADER), req.get(TIMESTAMP_HEADER), nowMs, TOLERANCE_MS);
          if (!verdict.ok) {
            res.setHeader('WWW-Authenticate', 'HMAC-SHA256 header="X-Tether-Signature"');
            throw new ApiError('unauthorized', verdict.problem);
          }
          if (this.applied.seen(verdict.signature, nowMs)) {
            res.status(200).json({ status: 'duplicate' });
            return;
          }
          let payload: unknown;
          try {
            payload = JSON.parse(raw.toString('utf8'));
          } catch {
            throw invalidInput([{ path: '', message: 'is not valid JSON' }], 'request body is not valid JSON');
          }
          // The delivery is remembered in the transaction of its effect: both commit (and survive a crash)
          // or neither does, so a refused delivery (400, 409) is not remembered, as before.
          const result = this.store.transaction(() => {
            this.applied.forget(nowMs);
            this.applied.remember(verdict.signature, verdict.atMs + TOLERANCE_MS);
            return applyMdmWebhook(this.store, payload, this.cfg.source ?? 'mdm', new Date(verdict.atMs));
          });
          this.tracker.success();
          res.status(200).json(result);
        } catch (err) {
          next(err);
        }
      },
    );
    return r;
  }

  async start(): Promise<void> {
    this.tracker.markStarted();
  }

  async stop(): Promise<void> {
    this.tracker.markStopped();
  }

  status(): AdapterStatus {
    return this.tracker.status();
  }
}

/**
 * CAEP/SSF transmitter: every revocation the lifecycle outbox emits becomes a signed SET per
 * enabled stream, queued durably in the same transaction as the state change (ssf_outbox) and
 * pushed per RFC 8935 with retries; plus the discovery, JWKS and stream-management endpoints.
 */
import { Router, type NextFunction, type Request, type Response } from 'express';
import { SignJWT } from 'jose';
import type Database from 'better-sqlite3';
import { ApiError, invalidInput } from '../../api/errors';
import { parseDeferredBody } from '../../api/deferred-body';
import type { StateStore } from '../../state/store';
import { DeliveryQueue, type DeliveryOutcome, type QueuedRow } from '../../lifecycle/delivery-queue';
import { FreshnessTracker, type Adapter, type AdapterStatus } from '../adapter';
import { jwksOf, loadOrCreateSigningKey, type SigningKey } from './keys';
import { revocationToCaep, setClaims, type OutgoingEvent, type RevocationLike } from './set-builder';
import { EVENT_TYPES } from './set-claims';
import { POLL_METHOD, PUSH_METHOD, StreamStore, eventsDelivered, type StaticReceiver, type StoredStream, type StreamConfig, type StreamStatus } from './streams';
import { parseConfigJson } from '../../config';

/** Transmitter configuration. */
export interface SsfTransmitterConfig {
  /** Our issuer URL (iss of every SET; the well-known document lives under it). */
  issuer: string;
  /** Directory holding the signing key. */
  dataDir: string;
  /** Receivers from configuration. */
  receivers?: StaticReceiver[];
  /** Token guarding the stream-management API (in addition to the API token). */
  managementToken?: string;
  /** Sender tuning. */
  pollMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  maxAttempts?: number;
  timeoutMs?: number;
  /** Hears every failed delivery attempt (the server counts them in tether_outbox_delivery_failures_total). */
  onDeliveryFailed?: (streamId: string) => void;
}

/** Reads the transmitter configuration (always on: no receiver, no SETs). */
export function ssfTransmitterConfigFromEnv(env: NodeJS.ProcessEnv, dataDir: string, port: number): SsfTransmitterConfig {
  const issuer = env.TETHER_SSF_ISSUER || env.TETHER_PUBLIC_URL || `http://localhost:${port}`;
  return {
    issuer: issuer.replace(/\/$/, ''),
    dataDir,
    receivers: env.TETHER_SSF_RECEIVERS ? (parseConfigJson(env.TETHER_SSF_RECEIVERS, 'TETHER_SSF_RECEIVERS') as StaticReceiver[]) : [],
    managementToken: env.TETHER_SSF_MANAGEMENT_TOKEN || undefined,
  };
}

interface QueueRow extends QueuedRow {
  stream_id: string;
  claims: string;
}

/** The transmitter adapter. */
export class SsfTransmitter implements Adapter {
  readonly name = 'ssf-transmitter';
  readonly streams: StreamStore;
  private key?: Promise<SigningKey>;
  private readonly db: Database.Database;
  private readonly tracker: FreshnessTracker;
  private readonly st;
  private readonly queue: DeliveryQueue<QueueRow>;
  private running = false;
  private detach: Array<() => void> = [];
  private attached = false;
  constructor(
    private readonly store: StateStore,
    private readonly cfg: SsfTransmitterConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.db = store.db;
    this.streams = new StreamStore(this.db);
    this.db.exec(`CREATE TABLE IF NOT EXISTS ssf_outbox (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, stream_id TEXT NOT NULL, jti TEXT NOT NULL, claims TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL, created_at INTEGER NOT NULL, last_error TEXT);
      CREATE INDEX IF NOT EXISTS ssf_outbox_due ON ssf_outbox(next_attempt_at);`);
    this.st = {
      insert: this.db.prepare('INSERT INTO ssf_outbox (stream_id, jti, claims, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?)'),
      dropStream: this.db.prepare('DELETE FROM ssf_outbox WHERE stream_id = ?'),
    };
    this.tracker = new FreshnessTracker('ssf transmitter', { now });
    this.queue = new DeliveryQueue<QueueRow>({
      db: this.db,
      table: 'ssf_outbox',
      columns: 'stream_id, claims',
      deliver: (row) => this.deliver(row),
      isOpen: () => this.store.isOpen,
      now,
      pollMs: cfg.pollMs,
      baseDelayMs: cfg.baseDelayMs,
      maxDelayMs: cfg.maxDelayMs,
      // Never given up by default (as the lifecycle webhooks): a revocation an IdP never hears of keeps its
      // sessions alive. Only a receiver's 400 (resending cannot help) drops a SET.
      maxAttempts: cfg.maxAttempts,
      onDelivered: () => this.tracker.success(),
      onFailed: (row, error) => {
        this.tracker.failure(`delivery to stream ${row.stream_id} failed: ${error.split(' ').slice(0, 2).join(' ')}`);
        this.cfg.onDeliveryFailed?.(row.stream_id);
      },
    });
    for (const r of cfg.receivers ?? []) {
      const id = StreamStore.staticId(r);
      const delivery = { method: PUSH_METHOD, endpoint_url: r.endpoint_url, ...(r.authorization_header && { authorization_header: r.authorization_header }) };
      const prev = this.streams.get(id);
      this.streams.save({ config: StreamStore.newConfig(cfg.issuer, delivery, r.events_requested ?? [], { aud: r.aud, id }), status: prev?.status ?? 'enabled', static: true });
    }
  }

  /** The signing key (generated under the data dir on first use; start() warms it up). */
  signingKey(): Promise<SigningKey> {
    this.key ??= loadOrCreateSigningKey(this.cfg.dataDir);
    this.key.catch(() => (this.key = undefined)); // a failed load is retried next time
    return this.key;
  }

  /** SETs waiting for delivery. */
  depth(): number {
    return this.queue.depth();
  }

  /** SETs delivered since start. */
  get delivered(): number {
    return this.queue.delivered;
  }

  /** SETs given up since start (refused with a 400, or out of attempts). */
  get dropped(): number {
    return this.queue.dropped;
  }

  /**
   * Queues one SET per enabled or paused stream that wants this event type. Call inside the
   * transaction of the change that caused it (the outbox listener runs there).
   */
  enqueue(ev: OutgoingEvent, onlyStream?: string): number {
    let n = 0;
    const nowMs = this.now();
    for (const s of this.streams.list()) {
      if (onlyStream !== undefined && s.config.stream_id !== onlyStream) continue;
      if (s.status === 'disabled') continue;
      // Verification events are always delivered (SSF §8.1.4); others only when the stream asked for them.
      if (ev.eventType !== EVENT_TYPES.verification && !s.config.events_delivered.includes(ev.eventType)) continue;
      const claims = setClaims(this.cfg.issuer, s.config.aud, ev, Math.floor(nowMs / 1000));
      this.st.insert.run(s.config.stream_id, claims.jti, JSON.stringify(claims), nowMs, nowMs);
      n++;
    }
    if (n > 0) this.queue.wake();
    return n;
  }

  /** Handles one lifecycle event (the outbox listener). */
  onLifecycleEvent(e: RevocationLike): void {
    const ev = revocationToCaep(e, (id) => this.store.getIdentity(id));
    if (ev) this.enqueue(ev);
  }

  /**
   * Subscribes to revocations: through the lifecycle outbox when the service has one (so expiry
   * sweeps count too), else straight from the store's change feed with the same trigger rules.
   */
  attach(source: { onEvent(l: (e: RevocationLike) => void): void } | undefined, fallback: () => () => void): void {
    if (this.attached) return;
    this.attached = true;
    if (source) source.onEvent((e) => this.onLifecycleEvent(e));
    else this.detach.push(fallback());
  }

  /** Signs and pushes one queued SET (RFC 8935): 2xx done, 400 refused (dropped), else retried. */
  private async deliver(row: QueueRow): Promise<DeliveryOutcome> {
    const stream = this.streams.get(row.stream_id);
    if (!stream) return { gone: true };
    if (stream.status === 'paused') return { deferUntil: this.now() + (this.cfg.pollMs ?? 1000), note: 'stream paused' };
    try {
      const key = await this.signingKey();
      const jwt = await new SignJWT(JSON.parse(row.claims) as Record<string, unknown>)
        .setProtectedHeader({ alg: key.alg, typ: 'secevent+jwt', kid: key.kid })
        .sign(key.privateKey);
      const headers: Record<string, string> = { 'content-type': 'application/secevent+jwt', accept: 'application/json', 'user-agent': 'tether-ssf' };
      if (stream.config.delivery.authorization_header) headers.authorization = stream.config.delivery.authorization_header;
      const res = await fetch(stream.config.delivery.endpoint_url, {
        method: 'POST',
        headers,
        body: jwt,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.cfg.timeoutMs ?? 5000),
      });
      const text = await res.text().catch(() => '');
      if (res.status >= 200 && res.status < 300) return { ok: true };
      // RFC 8935 §2.3: a 400 with an error body is the receiver refusing this SET; resending cannot help.
      return { error: `HTTP ${res.status}${text ? ' ' + text.slice(0, 200) : ''}`, permanent: res.status === 400 };
    } catch (err) {
      return { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
    }
  }

  /** Attempts every due SET now and waits (tests, shutdown). */
  flush(): Promise<void> {
    return this.queue.flush();
  }

  async start(): Promise<void> {
    // Key generation runs in the background: start never waits for it, the first SET does.
    this.signingKey().catch((err: Error) => this.tracker.failure(`signing key unavailable: ${err.message}`));
    this.running = true;
    this.tracker.markStarted();
    this.queue.start();
  }

  async stop(): Promise<void> {
    this.running = false;
    const hadFallback = this.detach.length > 0;
    for (const d of this.detach.splice(0)) d();
    if (hadFallback) this.attached = false; // the outbox offers no unsubscribe: that listener stays (and stays single)
    await this.queue.stop();
    await this.key?.catch(() => undefined); // never leave a key generation writing after stop
    this.tracker.markStopped();
  }

  status(): AdapterStatus {
    const s = this.tracker.status();
    if (s.state === 'OK' && this.running) {
      const depth = this.depth();
      if (depth > 0) return { ...s, message: `${s.message}; ${depth} SET(s) queued` };
    }
    return s;
  }

  /** Transmitter metadata (SSF 1.0 §7). */
  metadata(): Record<string, unknown> {
    const base = this.cfg.issuer;
    return {
      spec_version: '1_0',
      issuer: base,
      jwks_uri: `${base}/ssf/jwks.json`,
      delivery_methods_supported: [PUSH_METHOD],
      configuration_endpoint: `${base}/ssf/streams`,
      status_endpoint: `${base}/ssf/status`,
      add_subject_endpoint: `${base}/ssf/subjects/add`,
      remove_subject_endpoint: `${base}/ssf/subjects/remove`,
      verification_endpoint: `${base}/ssf/verify`,
      authorization_schemes: [{ spec_urn: 'urn:ietf:rfc:6749' }], // OAuth (protocols.md §8.7)
      default_subjects: 'ALL',
    };
  }

  /**
   * Routes: well-known metadata and JWKS (open), stream management (bearer `isAuthorized`). The
   * metadata advertises every endpoint under the issuer (`<issuer>/ssf/...`); when the issuer has a
   * path (https://host/tenant1) the endpoints are served under that path too, so the advertised URLs
   * work whether or not a proxy in front strips the prefix (`/ssf/...` stays served).
   */
  router(isAuthorized: (req: Request) => boolean): Router {
    const r = Router();
    const issuerPath = new URL(this.cfg.issuer).pathname.replace(/\/$/, '');
    const at = (p: string): string[] => (issuerPath ? [p, `${issuerPath}${p}`] : [p]);
    r.get(['/.well-known/ssf-configuration', `/.well-known/ssf-configuration${issuerPath}`], (_req, res) => {
      res.json(this.metadata());
    });
    r.get(at('/ssf/jwks.json'), (_req, res, next) => {
      this.signingKey().then((key) => {
        res.setHeader('Cache-Control', 'public, max-age=300');
        res.json(jwksOf(key));
      }, next);
    });
    const guard = (req: Request, res: Response, next: NextFunction) => {
      if (isAuthorized(req)) return parseDeferredBody(req, next);
      res.setHeader('WWW-Authenticate', 'Bearer realm="tether-ssf"');
      next(new ApiError('unauthorized', 'a valid bearer token is required for stream management'));
    };
    const body = (req: Request): Record<string, unknown> => {
      if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) throw invalidInput([{ path: '', message: 'must be a JSON object' }]);
      return req.body as Record<string, unknown>;
    };
    const mustStream = (id: unknown): StoredStream => {
      if (typeof id !== 'string' || id === '') throw invalidInput([{ path: '/stream_id', message: 'is required' }]);
      const s = this.streams.get(id);
      if (!s) throw new ApiError('not_found', `stream ${id} not found`);
      return s;
    };
    const wrap = (fn: (req: Request, res: Response) => void) => (req: Request, res: Response, next: NextFunction) => {
      try {
        fn(req, res);
      } catch (err) {
        next(err);
      }
    };
    const parseReceiverFields = (b: Record<string, unknown>, prev?: StreamConfig): Pick<StreamConfig, 'delivery' | 'events_requested' | 'description'> => {
      const errors: { path: string; message: string }[] = [];
      let delivery = prev?.delivery;
      if (b.delivery !== undefined || !prev) {
        const d = b.delivery as Record<string, unknown> | undefined;
        if (!d || typeof d !== 'object') errors.push({ path: '/delivery', message: 'is required (poll delivery is not offered)' });
        else {
          if (d.method === POLL_METHOD) errors.push({ path: '/delivery/method', message: 'poll delivery (urn:ietf:rfc:8936) is not supported' });
          else if (d.method !== PUSH_METHOD) errors.push({ path: '/delivery/method', message: `must be ${PUSH_METHOD}` });
          let url: URL | undefined;
          try {
            url = new URL(String(d.endpoint_url));
          } catch {
            errors.push({ path: '/delivery/endpoint_url', message: 'must be an absolute URL' });
          }
          if (url && url.protocol !== 'https:' && url.protocol !== 'http:') errors.push({ path: '/delivery/endpoint_url', message: 'must be http(s)' });
          if (d.authorization_header !== undefined && typeof d.authorization_header !== 'string') errors.push({ path: '/delivery/authorization_header', message: 'must be a string' });
          delivery = { method: PUSH_METHOD, endpoint_url: String(d.endpoint_url), ...(typeof d.authorization_header === 'string' && { authorization_header: d.authorization_header }) };
        }
      }
      let requested = prev?.events_requested ?? [];
      if (b.events_requested !== undefined) {
        if (!Array.isArray(b.events_requested) || !b.events_requested.every((e) => typeof e === 'string')) errors.push({ path: '/events_requested', message: 'must be an array of event type URIs' });
        else requested = b.events_requested as string[];
      }
      if (b.description !== undefined && typeof b.description !== 'string') errors.push({ path: '/description', message: 'must be a string' });
      if (errors.length) throw invalidInput(errors);
      const description = typeof b.description === 'string' ? b.description : prev?.description;
      return { delivery: delivery!, events_requested: requested, ...(description !== undefined && { description }) };
    };

    r.post(at('/ssf/streams'), guard, wrap((req, res) => {
      const f = parseReceiverFields(body(req));
      const config = StreamStore.newConfig(this.cfg.issuer, f.delivery, f.events_requested, { description: f.description });
      this.streams.save({ config, status: 'enabled', static: false });
      res.status(201).json(config);
    }));
    r.get(at('/ssf/streams'), guard, wrap((req, res) => {
      if (req.query.stream_id !== undefined) res.json(mustStream(req.query.stream_id).config);
      else res.json(this.streams.list().map((s) => s.config));
    }));
    const update = (replace: boolean) => wrap((req, res) => {
      const b = body(req);
      const s = mustStream(b.stream_id);
      const f = parseReceiverFields(b, replace ? undefined : s.config);
      const config: StreamConfig = { ...s.config, ...f, events_delivered: eventsDelivered(f.events_requested) };
      if (replace && f.description === undefined) delete config.description;
      this.streams.save({ ...s, config });
      res.json(config);
    });
    r.patch(at('/ssf/streams'), guard, update(false));
    r.put(at('/ssf/streams'), guard, update(true));
    r.delete(at('/ssf/streams'), guard, wrap((req, res) => {
      const s = mustStream(req.query.stream_id);
      // A configured stream would come back at the next start: refuse rather than pretend.
      if (s.static) {
        throw invalidInput(
          [{ path: '/stream_id', message: 'names a stream configured by TETHER_SSF_RECEIVERS; remove it from the configuration, or stop it with POST /ssf/status {"status": "disabled"}' }],
          `stream ${s.config.stream_id} is configured statically and cannot be deleted through the API`,
        );
      }
      this.store.transaction(() => {
        this.streams.delete(s.config.stream_id);
        this.st.dropStream.run(s.config.stream_id);
      });
      res.status(204).end();
    }));
    r.get(at('/ssf/status'), guard, wrap((req, res) => {
      const s = mustStream(req.query.stream_id);
      res.json({ stream_id: s.config.stream_id, status: s.status, ...(s.reason && { reason: s.reason }) });
    }));
    r.post(at('/ssf/status'), guard, wrap((req, res) => {
      const b = body(req);
      const s = mustStream(b.stream_id);
      if (!['enabled', 'paused', 'disabled'].includes(b.status as string)) throw invalidInput([{ path: '/status', message: 'must be enabled, paused or disabled' }]);
      const status = b.status as StreamStatus;
      const reason = typeof b.reason === 'string' ? b.reason : undefined;
      this.store.transaction(() => {
        this.streams.save({ ...s, status, reason });
        if (status === 'disabled') this.st.dropStream.run(s.config.stream_id); // disabled streams drop their events
      });
      if (status === 'enabled') this.queue.wake();
      res.json({ stream_id: s.config.stream_id, status, ...(reason && { reason }) });
    }));
    r.post(at('/ssf/subjects/add'), guard, wrap((req, res) => {
      const b = body(req);
      mustStream(b.stream_id);
      if (typeof b.subject !== 'object' || b.subject === null) throw invalidInput([{ path: '/subject', message: 'is required' }]);
      res.status(200).end(); // default_subjects is ALL: every subject is already included
    }));
    r.post(at('/ssf/subjects/remove'), guard, wrap((req, res) => {
      const b = body(req);
      mustStream(b.stream_id);
      if (typeof b.subject !== 'object' || b.subject === null) throw invalidInput([{ path: '/subject', message: 'is required' }]);
      res.status(204).end();
    }));
    r.post(at('/ssf/verify'), guard, wrap((req, res) => {
      const b = body(req);
      const s = mustStream(b.stream_id);
      const event: Record<string, unknown> = {};
      if (b.state !== undefined) {
        if (typeof b.state !== 'string') throw invalidInput([{ path: '/state', message: 'must be a string' }]);
        event.state = b.state;
      }
      const nowSec = Math.floor(this.now() / 1000);
      this.store.transaction(() =>
        this.enqueue({ eventType: EVENT_TYPES.verification, subject: { format: 'opaque', id: s.config.stream_id }, event, txn: `verify-${nowSec}`, eventTimestamp: nowSec }, s.config.stream_id),
      );
      res.status(204).end();
    }));
    return r;
  }
}

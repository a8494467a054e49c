/**
 * CAEP/SSF receiver: the RFC 8935 push endpoint. Verifies each Security Event Token with jose
 * against the transmitter's JWKS, issuer and audience (typ secevent+jwt, no sub/exp), drops
 * replayed jtis, applies the event, and answers 202 or 400 {"err", "description"}.
 */
import express, { Router, type Request, type Response } from 'express';
import { tokenMatches } from '../../api/auth';
import { bodyReader } from '../../api/body-reader';
import { fetchErrorCode } from '../../api/redact';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { StateStore } from '../../state/store';
import { FreshnessTracker, type Adapter, type AdapterStatus } from '../adapter';
import { deviceAliases, type DeviceAliases } from '../device-aliases';
import { applyCaepEvent, type ApplyResult } from './apply-event';
import { JtiStore } from './jti-store';
import { parseSetClaims, SetError, type ParsedSet } from './set-claims';
import { parseConfigJson } from '../../config';

/** Path of the push endpoint. */
export const SSF_PUSH_PATH = '/v1/adapters/ssf/events';

/** How long received jtis are remembered (replay detection) unless configured. */
const DEFAULT_JTI_RETENTION_MS = 30 * 24 * 3600 * 1000;
/** A SET's iat may be this far ahead of our clock, seconds. */
const IAT_FUTURE_SKEW_S = 300;
/** iat must be at least this much younger than the jti retention, seconds (at most half the retention). */
const IAT_RETENTION_MARGIN_S = 3600;

/** Trust in one transmitter. */
export interface TransmitterTrust {
  /** Expected `iss`. */
  issuer: string;
  /** Inline JWKS, or… */
  jwks?: JSONWebKeySet;
  /** …the transmitter's jwks_uri (fetched and cached by jose). */
  jwksUri?: string;
  /** Audience values that identify us. */
  audience: string | string[];
  /** Bearer token the transmitter must send (the stream's delivery.authorization_header). */
  token?: string;
  /** Accepted signing algorithms (default RS256 and friends; never "none"). */
  algorithms?: string[];
}

/** Receiver configuration. */
export interface SsfReceiverConfig {
  transmitters: TransmitterTrust[];
  /** Forget jtis after this many ms (default 30 days). */
  jtiRetentionMs?: number;
  /** Silence after which the receiver is flagged stale (unset: no deadline). */
  maxSilenceMs?: number;
  /** Hears of SETs answered 500 (the server logs them; the answer says only "internal error"). */
  onInternalError?: (err: unknown) => void;
}

/** Reads one transmitter from TETHER_SSF_RECEIVER_* (or a JSON list in TETHER_SSF_TRANSMITTERS); undefined = off. */
export function ssfReceiverConfigFromEnv(env: NodeJS.ProcessEnv = process.env): SsfReceiverConfig | undefined {
  const list: TransmitterTrust[] = [];
  if (env.TETHER_SSF_TRANSMITTERS) list.push(...(parseConfigJson(env.TETHER_SSF_TRANSMITTERS, 'TETHER_SSF_TRANSMITTERS') as TransmitterTrust[]));
  if (env.TETHER_SSF_RECEIVER_ISSUER && (env.TETHER_SSF_RECEIVER_JWKS || env.TETHER_SSF_RECEIVER_JWKS_URI)) {
    list.push({
      issuer: env.TETHER_SSF_RECEIVER_ISSUER,
      jwks: env.TETHER_SSF_RECEIVER_JWKS ? (parseConfigJson(env.TETHER_SSF_RECEIVER_JWKS, 'TETHER_SSF_RECEIVER_JWKS') as JSONWebKeySet) : undefined,
      jwksUri: env.TETHER_SSF_RECEIVER_JWKS_URI || undefined,
      audience: (env.TETHER_SSF_RECEIVER_AUDIENCE ?? '').split(',').map((s) => s.trim()).filter(Boolean),
      token: env.TETHER_SSF_RECEIVER_TOKEN || undefined,
    });
  }
  if (list.length === 0) return undefined;
  for (const t of list) {
    const aud = Array.isArray(t.audience) ? t.audience : [t.audience];
    if (aud.length === 0 || aud.some((a) => !a)) throw new Error(`ssf_config_invalid: transmitter ${t.issuer} needs an audience (TETHER_SSF_RECEIVER_AUDIENCE)`);
    if (!t.jwks && !t.jwksUri) throw new Error(`ssf_config_invalid: transmitter ${t.issuer} needs a JWKS`);
    // An empty token would match no request at all (tokens are compared as secrets, never empty): say so at start.
    if (t.token !== undefined && (typeof t.token !== 'string' || t.token === ''))
      throw new Error(`ssf_config_invalid: transmitter ${t.issuer} needs a non-empty string as its token (leave "token" out for none)`);
  }
  const silence = Number(env.TETHER_SSF_RECEIVER_MAX_SILENCE_SECONDS ?? '');
  return { transmitters: list, maxSilenceMs: silence > 0 ? silence * 1000 : undefined };
}

const DEFAULT_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];

interface Trusted extends TransmitterTrust {
  keys: JWTVerifyGetKey;
}

/** Shortest RSA modulus accepted, bits (the CAEP interoperability profile: RS256 with ≥ 2048-bit keys). */
const MIN_RSA_BITS = 2048;

/**
 * The transmitter's key for a SET, refused as `invalid_key` when it is an RSA key shorter than
 * MIN_RSA_BITS: RFC 8935 §2.4's code for a key "unacceptable to the SET Recipient". (jose refuses
 * such a key too, but with a TypeError that would read as a malformed SET, invalid_request.)
 */
function acceptableKeys(keys: JWTVerifyGetKey, remote: boolean): JWTVerifyGetKey {
  return async (header, token) => {
    let key: Awaited<ReturnType<JWTVerifyGetKey>>;
    try {
      key = await keys(header, token);
    } catch (err) {
      if (remote && keyFetchFailed(err)) throw new KeysUnavailableError(`the transmitter's JWKS could not be fetched (${fetchErrorCode(err)})`);
      throw err;
    }
    const bits = (key as { algorithm?: { modulusLength?: unknown } }).algorithm?.modulusLength;
    if (typeof bits === 'number' && bits < MIN_RSA_BITS) {
      throw new SetError('invalid_key', `the transmitter's key ${JSON.stringify(header.kid ?? null)} is a ${bits}-bit RSA key; at least ${MIN_RSA_BITS} bits are required`);
    }
    return key;
  };
}

/**
 * The transmitter's keys could not be fetched (network, timeout, a non-200 answer): no fault of the SET.
 * Answered 503 with Retry-After, so the transmitter sends it again; RFC 8935's 400 is final, and would
 * drop the event (a not-compliant verdict among them) for an outage of the transmitter's key endpoint.
 */
export class KeysUnavailableError extends Error {}

// jose's codes for a fetch that failed; anything without a jose code is the fetch itself failing.
function keyFetchFailed(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === 'ERR_JWKS_TIMEOUT' || code === 'ERR_JOSE_GENERIC' || typeof code !== 'string' || !code.startsWith('ERR_J');
}

/** Maps a jose verification failure to an RFC 8935 error code. */
export function joseToSetError(err: unknown): SetError {
  if (err instanceof SetError) return err;
  const e = err as { code?: string; claim?: string; message?: string };
  switch (e.code) {
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (e.claim === 'iss') return new SetError('invalid_issuer', 'iss does not match the configured issuer');
      if (e.claim === 'aud') return new SetError('invalid_audience', 'aud does not identify this receiver');
      if (e.claim === 'typ') return new SetError('invalid_request', 'typ header must be secevent+jwt');
      return new SetError('invalid_request', `claim ${e.claim ?? ''} is invalid`);
    case 'ERR_JWT_EXPIRED':
      return new SetError('invalid_request', 'the SET is expired (and SETs must not carry exp)');
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new SetError('invalid_key', 'signature verification failed');
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
    case 'ERR_JWK_INVALID':
    case 'ERR_JWKS_INVALID':
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return new SetError('invalid_key', 'no acceptable key for this SET');
    default:
      return new SetError('invalid_request', 'the SET is not a valid signed JWT');
  }
}

/** The CAEP receiver: verification, replay protection, state changes. */
export class SsfReceiver implements Adapter {
  readonly name = 'ssf-receiver';
  readonly router: Router;
  private readonly trusted: Map<string, Trusted>;
  private readonly jtis: JtiStore;
  private readonly aliases: DeviceAliases;
  private readonly tracker: FreshnessTracker;
  private pruneTimer?: NodeJS.Timeout;

  constructor(
    private readonly store: StateStore,
    private readonly cfg: SsfReceiverConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.trusted = new Map(
      cfg.transmitters.map((t) => [
        t.issuer,
        { ...t, keys: acceptableKeys(t.jwks ? createLocalJWKSet(t.jwks) : createRemoteJWKSet(new URL(t.jwksUri!), { timeoutDuration: 3000, cooldownDuration: 30_000 }), !t.jwks) },
      ]),
    );
    this.jtis = new JtiStore(store.db);
    this.aliases = deviceAliases(store);
    this.tracker = new FreshnessTracker('ssf receiver', { intervalMs: cfg.maxSilenceMs, now });
    this.router = this.buildRouter();
  }

  /** Verifies a compact SET: signature, typ, iss, aud, and the SSF claim profile. Throws SetError. */
  async verify(token: string, authorization?: string): Promise<ParsedSet> {
    let unverified: Record<string, unknown>;
    try {
      unverified = decodeJwt(token) as Record<string, unknown>;
    } catch {
      throw new SetError('invalid_request', 'the body is not a compact JWS');
    }
    const t = typeof unverified.iss === 'string' ? this.trusted.get(unverified.iss) : undefined;
    if (!t) throw new SetError('invalid_issuer', 'iss is not a configured transmitter');
    if (t.token !== undefined) {
      const given = (authorization ?? '').replace(/^bearer\s+/i, '');
      if (!tokenMatches(given, t.token)) throw new SetError('authentication_failed', 'missing or invalid authorization');
    }
    let payload: Record<string, unknown>;
    try {
      const res = await jwtVerify(token, t.keys, {
        issuer: t.issuer,
        audience: t.audience,
        typ: 'secevent+jwt',
        algorithms: t.algorithms ?? DEFAULT_ALGS,
      });
      payload = res.payload as Record<string, unknown>;
    } catch (err) {
      if (err instanceof KeysUnavailableError) throw err;
      throw joseToSetError(err);
    }
    const set = parseSetClaims(payload);
    this.checkIat(set.iat);
    return set;
  }

  /**
   * Bounds iat: replays are caught by the remembered jti only while it is remembered (the retention),
   * so a SET issued longer ago than the retention minus a margin is refused, and so is one issued
   * more than IAT_FUTURE_SKEW_S ahead of this clock (it would outlive its jti the same way).
   */
  private checkIat(iat: number): void {
    const nowS = this.now() / 1000;
    const retentionS = this.jtiRetentionMs() / 1000;
    const maxAgeS = retentionS - Math.min(IAT_RETENTION_MARGIN_S, retentionS / 2);
    if (iat > nowS + IAT_FUTURE_SKEW_S) throw new SetError('invalid_request', `iat is in the future (more than ${IAT_FUTURE_SKEW_S} s ahead of the receiver's clock)`);
    if (iat < nowS - maxAgeS) throw new SetError('invalid_request', `iat is too old (more than ${Math.floor(maxAgeS)} s ago; jtis are remembered for ${Math.floor(retentionS)} s)`);
  }

  private jtiRetentionMs(): number {
    return this.cfg.jtiRetentionMs ?? DEFAULT_JTI_RETENTION_MS;
  }

  /** Records the jti and applies the event in one transaction; a replay is accepted and changes nothing. */
  accept(set: ParsedSet): ApplyResult | 'replay' {
    const nowMs = this.now();
    const result = this.store.transaction(() => {
      if (!this.jtis.remember(set.iss, set.jti, nowMs)) return 'replay' as const;
      return applyCaepEvent(this.store, this.aliases, set, nowMs);
    });
    this.tracker.success();
    return result;
  }

  private buildRouter(): Router {
    const r = Router();
    const fail = (res: Response, e: SetError) => {
      res.status(400).type('application/json').send(JSON.stringify({ err: e.err, description: e.description }));
    };
    r.post(SSF_PUSH_PATH, bodyReader({ as: 'text', limit: '256kb' }), async (req: Request, res: Response) => {
      try {
        const type = (req.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
        if (type !== 'application/secevent+jwt') throw new SetError('invalid_request', 'Content-Type must be application/secevent+jwt');
        const token = typeof req.body === 'string' ? req.body.trim() : '';
        const set = await this.verify(token, req.get('authorization'));
        this.accept(set);
        res.status(202).end();
      } catch (err) {
        if (err instanceof SetError) return fail(res, err);
        if (err instanceof KeysUnavailableError) {
          this.tracker.failure(err.message);
          return void res.status(503).set('Retry-After', '30').type('application/json').send(JSON.stringify({ err: 'temporarily_unavailable', description: err.message }));
        }
        this.tracker.failure('internal error while applying a SET');
        this.cfg.onInternalError?.(err);
        res.status(500).type('application/json').send(JSON.stringify({ err: 'internal_error', description: 'internal error' }));
      }
    });
    // Body-parser failures (too large, bad encoding) in RFC 8935's shape too.
    r.use(SSF_PUSH_PATH, (err: unknown, _req: Request, res: Response, _next: express.NextFunction) => {
      void _next;
      const e = err as { type?: string };
      fail(res, new SetError('invalid_request', e.type === 'entity.too.large' ? 'SET too large' : 'unreadable request body'));
    });
    return r;
  }

  async start(): Promise<void> {
    this.tracker.markStarted();
    const retention = this.jtiRetentionMs();
    this.pruneTimer = setInterval(() => {
      try {
        this.jtis.pruneBefore(this.now() - retention);
      } catch {
        // store closed or busy: next round
      }
    }, 3600 * 1000);
    this.pruneTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.tracker.markStopped();
  }

  status(): AdapterStatus {
    return this.tracker.status();
  }
}

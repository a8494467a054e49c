// Bearer-JWT verification for callers (proxy users, Okta OAuth hooks, Entra's events service) through jose:
// signature against a JWKS (remote or inline), issuer, audience, expiry. A remote JWKS is fetched at start
// and refreshed in the background every `jwks_refresh_seconds` (default 300), so requests never wait on a
// routine refresh. A request waits on a fetch only when the cache cannot answer it — a kid the cached set
// lacks, or no usable set at all — and such request-triggered fetches are rate-limited per JWKS (one per
// KEY_REFETCH_MIN_INTERVAL_MS), so a flood of tokens naming random kids cannot hammer the IdP. The wait
// is bounded by KEY_FETCH_TIMEOUT_MS and by the caller's budget. close() stops all of it (a discarded
// configuration must not keep fetching); the server closes them on shutdown (KeyFetchHooks.closeWith).
import { createLocalJWKSet, createRemoteJWKSet, customFetch, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { fetchErrorCode } from '../api/redact';
import type { JwtVerifierConfig } from './config';

/** Why a bearer credential was refused; `code` is stable and safe to log (never the token). */
export class CredentialError extends Error {
  constructor(readonly code: 'credential_missing' | 'credential_invalid' | 'caller_not_allowed', message: string) {
    super(message);
  }
}

/**
 * The signing keys could not be had (JWKS fetch failed or timed out, or a refetch was refused by the
 * rate limit after a failed one): the PDP's failure, not a bad credential. Callers answer it like a
 * decider failure (`decision_unavailable`), never as a 401.
 */
export class KeysUnavailable extends Error {
  readonly code = 'decision_unavailable';
  constructor(readonly causeCode: string) {
    super(`signing keys unavailable (${causeCode})`);
  }
}

/**
 * Verifies one compact JWT and returns its payload, or throws CredentialError / KeysUnavailable.
 * close() (idempotent) stops a remote JWKS's refresh and retry timers and aborts a fetch in flight; keys
 * already fetched still verify, but no fetch starts again.
 */
export type JwtVerifier = ((token: string) => Promise<JWTPayload>) & { close(): void };

/** Bound on one JWKS fetch (jose aborts it). */
export const KEY_FETCH_TIMEOUT_MS = 2000;
/** Default background refresh period of a remote JWKS, seconds (`jwks_refresh_seconds`). */
export const DEFAULT_JWKS_REFRESH_SECONDS = 300;
/** Default background refresh period of a remote JWKS (timer unref'd: it never keeps the process alive). */
export const KEY_REFRESH_INTERVAL_MS = DEFAULT_JWKS_REFRESH_SECONDS * 1000;
/**
 * Per JWKS, the least time between two fetches a request may start (a kid the cache lacks, or no usable
 * keys). A kid still missing after such a fetch less than this long ago is unknown (credential_invalid)
 * without another fetch (keys unavailable if that fetch failed); a request joins a fetch in flight.
 * Background refreshes do not count, so a key rotated right after one is fetched at once.
 */
export const KEY_REFETCH_MIN_INTERVAL_MS = 30_000;
/** While no usable key set is held (start, expiry), failed fetches are retried from this delay, doubling to KEY_RETRY_MAX_MS. */
export const KEY_RETRY_MIN_MS = 1000;
export const KEY_RETRY_MAX_MS = 30_000;
/**
 * How long a fetched JWKS is used without a successful refresh: far longer than the refresh period, so
 * only a failing JWKS endpoint (a day of failed background refreshes) makes requests refetch.
 */
export const KEY_CACHE_MAX_AGE_MS = 24 * 60 * 60_000;

/** A fetch failure as KeysUnavailable, its code safe to log. */
function fetchFailure(err: unknown): KeysUnavailable {
  return err instanceof KeysUnavailable ? err : new KeysUnavailable(fetchErrorCode(err));
}

/**
 * A remote key set refreshed in the background. jose's remote set is used only to fetch (it never runs
 * on the request path, so its own refetch-on-miss cannot bypass the rate limit); lookups go to a local
 * set built from the last successful fetch. Fetch failures surface as KeysUnavailable.
 */
/** A failed JWKS fetch, for the log: which key set, why, and how old the keys still in use are (null: none). */
export interface KeyFetchFailure {
  uri: string;
  code: string;
  keysAgeSeconds: number | null;
}

function remoteKeys(uri: string, refreshMs: number, retryMinMs: number, onFetchError: (f: KeyFetchFailure) => void): { keys: JWTVerifyGetKey; close(): void } {
  // Aborted by close(), so a fetch in flight does not outlive the verifier (jose's timeout still applies).
  const closed = new AbortController();
  const remote = createRemoteJWKSet(new URL(uri), {
    timeoutDuration: KEY_FETCH_TIMEOUT_MS,
    [customFetch]: (url, init) => fetch(url, { ...init, signal: AbortSignal.any([init.signal, closed.signal]) }),
  });
  let local: JWTVerifyGetKey | undefined;
  let fetchedAt = -Infinity; // last successful fetch
  let refetchedAt = -Infinity; // last fetch a request started, successful or not
  let pending: Promise<void> | undefined;
  let retryDelay = retryMinMs;
  let retryTimer: NodeJS.Timeout | undefined;
  const usable = () => local !== undefined && Date.now() - fetchedAt < KEY_CACHE_MAX_AGE_MS;

  /** One fetch at a time: callers join the one in flight. */
  const fetchKeys = (): Promise<void> => {
    // After close() nothing fetches: not the refresh timer, a retry, nor a request.
    if (closed.signal.aborted) return Promise.reject(new KeysUnavailable('jwks_closed'));
    pending ??= remote.reload()
      .then(() => {
        const set = remote.jwks();
        if (set) {
          local = createLocalJWKSet(set);
          fetchedAt = Date.now();
          retryDelay = retryMinMs;
        }
      })
      .catch((err: unknown) => {
        // Closed while in flight (aborted, or failed anyway): not the IdP's failure, and nothing to retry.
        if (closed.signal.aborted) throw new KeysUnavailable('jwks_closed');
        const failure = fetchFailure(err);
        onFetchError({ uri, code: failure.causeCode, keysAgeSeconds: local ? Math.round((Date.now() - fetchedAt) / 1000) : null });
        // Without usable keys every token fails: retry soon (backoff), not at the next refresh period.
        if (!usable() && !retryTimer) {
          retryTimer = setTimeout(() => { retryTimer = undefined; refresh(); }, retryDelay);
          retryTimer.unref?.();
          retryDelay = Math.min(retryDelay * 2, Math.max(retryMinMs, KEY_RETRY_MAX_MS));
        }
        throw failure;
      })
      .finally(() => { pending = undefined; });
    return pending;
  };
  /** A fetch on a request's behalf: the one in flight, else a new one unless one was started recently. */
  const refetch = async (): Promise<void> => {
    if (!pending) {
      const now = Date.now();
      if (now - refetchedAt < KEY_REFETCH_MIN_INTERVAL_MS) throw new KeysUnavailable('jwks_refetch_rate_limited');
      refetchedAt = now;
    }
    await fetchKeys();
  };

  const refresh = () => { fetchKeys().catch(() => undefined); }; // failures keep the cached keys
  refresh(); // warm the cache at start, not on the first request
  const timer = setInterval(refresh, refreshMs);
  timer.unref?.();

  const close = () => {
    closed.abort();
    clearInterval(timer);
    clearTimeout(retryTimer);
    retryTimer = undefined;
  };

  const keys: JWTVerifyGetKey = async (protectedHeader, token) => {
    if (!usable()) {
      await refetch();
      if (!usable()) throw new KeysUnavailable('jwks_unavailable');
    }
    try {
      return await local!(protectedHeader, token);
    } catch (err) {
      // Anything but a missing kid is about the token (bad alg, several matching keys…): credential_invalid.
      if ((err as { code?: unknown }).code !== 'ERR_JWKS_NO_MATCHING_KEY') throw err;
      // A kid still missing after a fetch a request started moments ago is not the IdP's (a forged or
      // random one): unknown without another fetch. Only request-started fetches count, so a key the IdP
      // rotated right after a background refresh is fetched and accepted at once. A fetch in flight is joined.
      if (!pending && Date.now() - refetchedAt < KEY_REFETCH_MIN_INTERVAL_MS) {
        if (fetchedAt >= refetchedAt) throw err;
        throw new KeysUnavailable('jwks_refetch_rate_limited'); // that fetch failed: the kid may be a real new key
      }
      await refetch(); // maybe a rotation the background refresh has not seen yet
      return local!(protectedHeader, token); // still unknown: ERR_JWKS_NO_MATCHING_KEY
    }
  };
  return { keys, close };
}

/** What the verifier's owner hears: failed fetches, and the close() of a remote JWKS to call when it stops. */
export interface KeyFetchHooks {
  /** Hears of every failed JWKS fetch (the server logs it: keys that cannot be refreshed expire after a day). */
  onFetchError?: (f: KeyFetchFailure) => void;
  /** Given the close() of each verifier with a remote JWKS (the server calls them on shutdown or a failed start). */
  closeWith?: (close: () => void) => void;
}

/** Options of createJwtVerifier. */
export interface JwtVerifierOptions extends KeyFetchHooks {
  /** Overrides the background refresh period (tests; default `cfg.jwks_refresh_seconds`). */
  refreshMs?: number;
  /** First retry delay while no usable keys are held (tests; default KEY_RETRY_MIN_MS). */
  retryMinMs?: number;
}

/** Builds a verifier from configuration. A remote JWKS is refreshed every `cfg.jwks_refresh_seconds`. */
export function createJwtVerifier(cfg: JwtVerifierConfig, opts: JwtVerifierOptions = {}): JwtVerifier {
  const remote = cfg.jwks_uri
    ? remoteKeys(
        cfg.jwks_uri,
        opts.refreshMs ?? (cfg.jwks_refresh_seconds ?? DEFAULT_JWKS_REFRESH_SECONDS) * 1000,
        opts.retryMinMs ?? KEY_RETRY_MIN_MS,
        opts.onFetchError ?? (() => undefined),
      )
    : undefined;
  const keys: JWTVerifyGetKey = remote?.keys ?? createLocalJWKSet(cfg.jwks as Parameters<typeof createLocalJWKSet>[0]);
  const close = remote?.close ?? (() => undefined);
  if (remote) opts.closeWith?.(close);
  const verify = async (token: string): Promise<JWTPayload> => {
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: cfg.issuer,
        audience: cfg.audience,
        algorithms: cfg.algorithms,
        clockTolerance: cfg.clock_tolerance_s ?? 30,
      });
      return payload;
    } catch (err) {
      if (err instanceof KeysUnavailable) throw err;
      // jose error codes (ERR_JWT_EXPIRED, ERR_JWS_SIGNATURE_VERIFICATION_FAILED…) say why without leaking the token.
      const code = (err as { code?: string }).code ?? 'ERR_JWT_INVALID';
      throw new CredentialError('credential_invalid', `bearer token rejected (${code})`);
    }
  };
  return Object.assign(verify, { close });
}

/** Extracts the token from an `Authorization: Bearer <token>` header value; undefined when absent. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const m = /^Bearer[ \t]+([A-Za-z0-9\-_.~+/]+=*)[ \t]*$/i.exec(authorization);
  return m ? m[1] : undefined;
}

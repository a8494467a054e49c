// Bearer-JWT verification for callers (proxy users, Okta OAuth hooks, Entra's events service) through jose:
// signature against a JWKS (remote or inline), issuer, audience, expiry. A remote JWKS is fetched at start
// and refreshed in the background, so requests never wait on a routine refresh; only a token naming a kid
// the cached set lacks waits (bounded by KEY_FETCH_TIMEOUT_MS and the caller's budget) for a refetch.
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { JwtVerifierConfig } from './config';

/** Why a bearer credential was refused; `code` is stable and safe to log (never the token). */
export class CredentialError extends Error {
  constructor(readonly code: 'credential_missing' | 'credential_invalid' | 'caller_not_allowed', message: string) {
    super(message);
  }
}

/**
 * The signing keys could not be had (JWKS fetch failed or timed out): the PDP's failure, not a bad
 * credential. Callers answer it like a decider failure (`decision_unavailable`), never as a 401.
 */
export class KeysUnavailable extends Error {
  readonly code = 'decision_unavailable';
  constructor(readonly causeCode: string) {
    super(`signing keys unavailable (${causeCode})`);
  }
}

/** Verifies one compact JWT and returns its payload, or throws CredentialError / KeysUnavailable. */
export type JwtVerifier = (token: string) => Promise<JWTPayload>;

/** Bound on one JWKS fetch (jose aborts it). */
export const KEY_FETCH_TIMEOUT_MS = 2000;
/** Background refresh period of a remote JWKS (timer unref'd: it never keeps the process alive). */
export const KEY_REFRESH_INTERVAL_MS = 5 * 60_000;
/**
 * How long a fetched JWKS is used without a refetch on the request path: far longer than the refresh
 * period, so only a failing JWKS endpoint (a day of failed background refreshes) makes requests refetch.
 */
export const KEY_CACHE_MAX_AGE_MS = 24 * 60 * 60_000;

/** jose errors that say something about the token rather than about fetching the keys. */
const TOKEN_KEY_ERRORS = new Set(['ERR_JWKS_NO_MATCHING_KEY', 'ERR_JWKS_MULTIPLE_MATCHING_KEYS', 'ERR_JOSE_NOT_SUPPORTED', 'ERR_JWS_INVALID', 'ERR_JWT_INVALID', 'ERR_JOSE_ALG_NOT_ALLOWED']);

/** A remote key set refreshed in the background; key-fetch failures surface as KeysUnavailable. */
function remoteKeys(uri: string, refreshMs: number): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(new URL(uri), {
    timeoutDuration: KEY_FETCH_TIMEOUT_MS,
    cooldownDuration: 30_000,
    cacheMaxAge: KEY_CACHE_MAX_AGE_MS,
  });
  const refresh = () => { remote.reload().catch(() => undefined); }; // failures keep the cached keys
  refresh(); // warm the cache at start, not on the first request
  const timer = setInterval(refresh, refreshMs);
  timer.unref?.();
  return async (protectedHeader, token) => {
    try {
      return await remote(protectedHeader, token);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && TOKEN_KEY_ERRORS.has(code)) throw err;
      throw new KeysUnavailable(typeof code === 'string' ? code : (err as Error)?.name ?? 'fetch_failed');
    }
  };
}

/** Builds a verifier from configuration; `refreshMs` overrides the background refresh period (tests). */
export function createJwtVerifier(cfg: JwtVerifierConfig, opts: { refreshMs?: number } = {}): JwtVerifier {
  const keys: JWTVerifyGetKey = cfg.jwks_uri
    ? remoteKeys(cfg.jwks_uri, opts.refreshMs ?? KEY_REFRESH_INTERVAL_MS)
    : createLocalJWKSet(cfg.jwks as Parameters<typeof createLocalJWKSet>[0]);
  return async (token) => {
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
}

/** Extracts the token from an `Authorization: Bearer <token>` header value; undefined when absent. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const m = /^Bearer[ \t]+([A-Za-z0-9\-_.~+/]+=*)[ \t]*$/i.exec(authorization);
  return m ? m[1] : undefined;
}

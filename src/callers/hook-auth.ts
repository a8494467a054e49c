// Authenticates IdP hook calls: Okta's static registered header or bearer JWT, Entra's bearer JWT with
// the caller pinned by azp/appid (protocols.md §5.2, §6.3). Secrets are compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { EntraAuthConfig, OktaAuthConfig } from './config';
import { bearerToken, CredentialError, createJwtVerifier, type JwtVerifier, type KeyFetchHooks } from './jwt';
import { header } from './proxy-request';

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** Checks one hook request; resolves when authentic, rejects with CredentialError otherwise. */
export type HookAuthenticator = (headers: IncomingHttpHeaders) => Promise<void>;

/** Okta: `header` compares the registered header value verbatim; `jwt` verifies Okta's OAuth 2.0 bearer JWT. */
export function oktaAuthenticator(cfg: OktaAuthConfig, keyFetch: KeyFetchHooks = {}): HookAuthenticator {
  if (cfg.type === 'header') {
    // Compared as SHA-256 digests so lengths match and timing says nothing about the secret.
    const expected = sha256(cfg.secret);
    return async (headers) => {
      const given = header(headers, cfg.header);
      if (given === undefined) throw new CredentialError('credential_missing', `missing ${cfg.header} header`);
      if (!timingSafeEqual(sha256(given), expected)) throw new CredentialError('credential_invalid', `${cfg.header} does not match the registered secret`);
    };
  }
  const verify = createJwtVerifier(cfg, keyFetch);
  return async (headers) => {
    const token = bearerToken(header(headers, 'authorization'));
    if (!token) throw new CredentialError('credential_missing', 'missing bearer token');
    await verify(token);
  };
}

/** Entra: bearer JWT from the tenant, and the caller (azp for v2 tokens, appid for v1) must be allowed. */
export function entraAuthenticator(cfg: EntraAuthConfig, keyFetch: KeyFetchHooks = {}): HookAuthenticator {
  if (cfg.type === 'none') return async () => undefined;
  const verify: JwtVerifier = createJwtVerifier(cfg, keyFetch);
  const allowed = new Set(cfg.allowed_callers);
  return async (headers) => {
    const token = bearerToken(header(headers, 'authorization'));
    if (!token) throw new CredentialError('credential_missing', 'missing bearer token');
    const claims = await verify(token);
    const caller = typeof claims.azp === 'string' ? claims.azp : typeof claims.appid === 'string' ? claims.appid : undefined;
    if (!caller || !allowed.has(caller)) {
      throw new CredentialError('caller_not_allowed', 'token was not issued to the Entra authentication events service');
    }
  };
}

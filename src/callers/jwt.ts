// Bearer-JWT verification for callers (proxy users, Okta OAuth hooks, Entra's events service) through jose:
// signature against a JWKS (remote, cached by jose, or inline), issuer, audience, expiry.
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { JwtVerifierConfig } from './config';

/** Why a bearer credential was refused; `code` is stable and safe to log (never the token). */
export class CredentialError extends Error {
  constructor(readonly code: 'credential_missing' | 'credential_invalid' | 'caller_not_allowed', message: string) {
    super(message);
  }
}

/** Verifies one compact JWT and returns its payload, or throws CredentialError. */
export type JwtVerifier = (token: string) => Promise<JWTPayload>;

/** Builds a verifier from configuration; the remote JWKS is fetched lazily and cached by jose. */
export function createJwtVerifier(cfg: JwtVerifierConfig): JwtVerifier {
  const keys: JWTVerifyGetKey = cfg.jwks_uri
    ? createRemoteJWKSet(new URL(cfg.jwks_uri), { timeoutDuration: 2000, cooldownDuration: 30_000 })
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

// Who is asking, for proxy checks: a verified bearer JWT (issuer, audience, JWKS) or, failing that, a
// trusted header set by an upstream authenticator (oauth2-proxy's X-Auth-Request-Email and the like).
import type { IncomingHttpHeaders } from 'node:http';
import type { ProxyConfig } from './config';
import { bearerToken, CredentialError, createJwtVerifier, type JwtVerifier, type KeyFetchHooks } from './jwt';
import { header } from './proxy-request';

/** The resolved subject and how we know it. */
export interface ResolvedSubject {
  subject: string;
  via: 'jwt' | 'header';
}

/** Resolves proxy subjects; build once per configuration (it holds the JWKS cache). */
export class SubjectResolver {
  private readonly verify?: JwtVerifier;

  constructor(private readonly cfg: ProxyConfig, keyFetch: KeyFetchHooks = {}) {
    if (cfg.jwt) this.verify = createJwtVerifier(cfg.jwt, keyFetch);
  }

  /**
   * A bearer token, when JWT verification is configured, must verify (an invalid one is never
   * overridden by the header). Without one, the trusted header. Throws CredentialError otherwise.
   */
  async resolve(headers: IncomingHttpHeaders): Promise<ResolvedSubject> {
    const token = this.verify ? bearerToken(header(headers, 'authorization')) : undefined;
    if (this.verify && token) {
      const claims = await this.verify(token);
      const name = this.cfg.jwt!.subject_claim;
      const value = claims[name];
      if (typeof value !== 'string' || value.trim() === '') {
        throw new CredentialError('credential_invalid', `bearer token has no string claim ${name}`);
      }
      return { subject: value.trim(), via: 'jwt' };
    }
    if (this.cfg.subject_header) {
      const value = header(headers, this.cfg.subject_header);
      if (value !== undefined) return { subject: value.slice(0, 512), via: 'header' };
    }
    throw new CredentialError('credential_missing', 'no credential: send a bearer token or the configured subject header');
  }
}

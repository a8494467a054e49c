// A stand-in identity provider for tests (a third-party service): an ES256 key pair, its JWKS served
// over loopback HTTP exactly as IdPs publish it, and signed JWTs with chosen claims.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';

/** A test IdP with a JWKS endpoint on 127.0.0.1. */
export interface TestIdp {
  issuer: string;
  jwksUri: string;
  jwks: { keys: JWK[] };
  /** Signs a JWT with this IdP's key (iat now, exp in 5 minutes unless `claims.exp` is given). */
  sign(claims: JWTPayload & { aud: string | string[] }, opts?: { issuer?: string }): Promise<string>;
  /** Signs with a key the JWKS does not publish (a forged token). */
  forge(claims: JWTPayload & { aud: string | string[] }): Promise<string>;
  /** Signs with the published key but names `kid` in the header (a kid the JWKS does not list). */
  signWithKid(claims: JWTPayload & { aud: string | string[] }, kid: string): Promise<string>;
  /** Signs with a second key the JWKS publishes only after rotate() (a key rotation at the IdP). */
  signRotated(claims: JWTPayload & { aud: string | string[] }): Promise<string>;
  /** Publishes the rotated key in the JWKS (alongside the first). */
  rotate(): void;
  /** JWKS behaviour: answer after `delayMs`, fail (`down`: 503), or never answer (`hang`). */
  jwksBehaviour: { delayMs: number; down: boolean; hang: boolean };
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  close(): Promise<void>;
}

/** Starts a test IdP; `issuer` defaults to its own base URL. */
export async function startIdp(issuer?: string): Promise<TestIdp> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const other = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key-1', alg: 'ES256', use: 'sig' };
  const rotated = await generateKeyPair('ES256');
  const rotatedJwk = { ...(await exportJWK(rotated.publicKey)), kid: 'test-key-2', alg: 'ES256', use: 'sig' };
  const jwks: { keys: JWK[] } = { keys: [jwk] };
  const behaviour = { delayMs: 0, down: false, hang: false };
  let fetches = 0;
  const server = http.createServer((req, res) => {
    if (req.url === '/keys') {
      fetches++;
      const { delayMs, down, hang } = behaviour;
      if (hang) return; // the connection stays open, unanswered, until the client gives up or close()
      const send = () => {
        if (res.destroyed) return;
        if (down) res.writeHead(503).end();
        else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
      };
      if (delayMs > 0) setTimeout(send, delayMs); else send();
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const iss = issuer ?? base;
  const signWith = (key: Parameters<SignJWT['sign']>[0], kid: string, claims: JWTPayload, issOverride?: string) => {
    let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' }).setIssuer(issOverride ?? iss).setIssuedAt();
    if (claims.exp === undefined) jwt = jwt.setExpirationTime('5m');
    return jwt.sign(key);
  };
  return {
    issuer: iss,
    jwksUri: `${base}/keys`,
    jwks,
    sign: (claims, opts) => signWith(privateKey, 'test-key-1', claims, opts?.issuer),
    forge: (claims) => signWith(other.privateKey, 'test-key-1', claims),
    signWithKid: (claims, kid) => signWith(privateKey, kid, claims),
    signRotated: (claims) => signWith(rotated.privateKey, 'test-key-2', claims),
    rotate: () => { if (!jwks.keys.some((k) => k.kid === 'test-key-2')) jwks.keys.push(rotatedJwk); },
    jwksBehaviour: behaviour,
    jwksFetches: () => fetches,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/**
 * Tether's SET signing key: an RSA-2048 key (RS256, as the CAEP interoperability profile requires)
 * generated on first start and kept under the data dir (mode 0600); published as a JWKS.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** The signing key pair and its public JWK. */
export interface SigningKey {
  kid: string;
  alg: 'RS256';
  privateKey: KeyObject;
  publicJwk: Record<string, unknown>;
}

function b64url(buf: Buffer): string {
  return buf.toString('base64url');
}

/** RFC 7638 thumbprint of an RSA public JWK (the kid). */
export function rsaThumbprint(jwk: { e: string; n: string }): string {
  return b64url(createHash('sha256').update(JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n })).digest());
}

function fromPrivateJwk(jwk: Record<string, unknown>): SigningKey {
  const privateKey = createPrivateKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  const pub = createPublicKey(privateKey).export({ format: 'jwk' }) as { e: string; n: string; kty: string };
  const kid = rsaThumbprint(pub);
  return { kid, alg: 'RS256', privateKey, publicJwk: { kty: 'RSA', n: pub.n, e: pub.e, kid, alg: 'RS256', use: 'sig' } };
}

/** Loads `<dataDir>/ssf/signing-key.jwk`, generating it (off the event loop) on first use. */
export async function loadOrCreateSigningKey(dataDir: string): Promise<SigningKey> {
  const dir = path.join(dataDir, 'ssf');
  const file = path.join(dir, 'signing-key.jwk');
  try {
    return fromPrivateJwk(JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`ssf_signing_key_unreadable: ${file}`);
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const privateKey = await new Promise<KeyObject>((resolve, reject) =>
    generateKeyPair('rsa', { modulusLength: 2048 }, (err, _pub, priv) => (err ? reject(err) : resolve(priv))),
  );
  // Another start may have won the race: keep the key already on disk.
  if (fs.existsSync(file)) return fromPrivateJwk(JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>);
  const jwk = privateKey.export({ format: 'jwk' }) as Record<string, unknown>;
  // Write-then-rename so a crash never leaves a half-written key.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(jwk), { mode: 0o600 });
  fs.renameSync(tmp, file);
  return fromPrivateJwk(jwk);
}

/** The public JWKS document. */
export function jwksOf(key: SigningKey): { keys: Record<string, unknown>[] } {
  return { keys: [key.publicJwk] };
}

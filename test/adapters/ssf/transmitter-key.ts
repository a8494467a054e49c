// The signing key of a test SSF transmitter: SETs signed with `key` verify against `jwk` (kid k1, RS256).
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

export async function transmitterKey(): Promise<{ key: CryptoKey; jwk: JWK }> {
  const pair = await generateKeyPair('RS256', { extractable: true });
  return { key: pair.privateKey, jwk: { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' } };
}

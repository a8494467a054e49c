// A test SSF transmitter: its signing key (SETs signed with `key` verify against `jwk`, kid k1, RS256) and
// the CAEP device-compliance-change SET the MDM-vs-verdict suites push.
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export async function transmitterKey(): Promise<{ key: CryptoKey; jwk: JWK }> {
  const pair = await generateKeyPair('RS256', { extractable: true });
  return { key: pair.privateKey, jwk: { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' } };
}

const CAEP_COMPLIANCE = 'https://schemas.openid.net/secevent/caep/event-type/device-compliance-change';

/** A signed device-compliance-change SET about `deviceId` (an opaque id in a complex subject). */
export function complianceVerdictSet(
  key: CryptoKey,
  o: { iss: string; aud: string; jti: string; deviceId: string; status: 'compliant' | 'not-compliant'; eventTimestampS: number },
): Promise<string> {
  return new SignJWT({
    jti: o.jti,
    sub_id: { format: 'complex', device: { format: 'opaque', id: o.deviceId } },
    events: { [CAEP_COMPLIANCE]: { current_status: o.status, previous_status: o.status === 'compliant' ? 'not-compliant' : 'compliant', event_timestamp: o.eventTimestampS } },
  })
    .setProtectedHeader({ alg: 'RS256', typ: 'secevent+jwt', kid: 'k1' })
    .setIssuer(o.iss)
    .setAudience(o.aud)
    .setIssuedAt()
    .sign(key);
}

/** HMAC-SHA256 body signatures for the generic MDM webhook (`X-Tether-Signature: sha256=<hex>`). */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying the signature. */
export const SIGNATURE_HEADER = 'x-tether-signature';

/** The signature header value for a raw body. */
export function signBody(secret: string, body: Buffer | string): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

/** True when `header` is a valid signature of `body` (constant-time; accepts bare hex too). */
export function verifyBody(secret: string, body: Buffer, header: string | undefined): boolean {
  if (!header) return false;
  const hex = header.trim().replace(/^sha256=/i, '');
  if (!/^[0-9a-f]{64}$/i.test(hex)) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(hex, 'hex'));
}
